"""The GSM 03.38 alphabet: which characters an SMS can carry in GSM-7.

Shared by the segment counter (a text with any other character goes as UCS-2) and the
transliterator (which only ever maps to these characters).
"""

from __future__ import annotations

import re

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# The GSM 03.38 default alphabet (127 characters; the 128th position is the escape) and
# the extension table characters that have a Unicode equivalent, as the reference has them.
# Ç is at 0x09 in 03.38; lowercase ç, á, í, ó, ú, tab and backtick are not GSM-7.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\f^{}\\[~]|€"
_GSM_CHARS = frozenset(GSM_BASIC + GSM_EXTENSION)
_EXTENSION_CHARS = frozenset(GSM_EXTENSION)

_NON_GSM_RE = re.compile("[^" + re.escape(GSM_BASIC + GSM_EXTENSION) + "]")
_EXTENSION_RE = re.compile("[" + re.escape(GSM_EXTENSION) + "]")
