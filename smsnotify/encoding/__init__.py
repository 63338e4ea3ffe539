"""SMS encoding: exact segment counts and a GSM-7 transliterator. Pure Python, no Django.

``segment_info`` gives the same answer as Twilio's open-source segment calculator
(npm ``sms-segments-calculator`` 1.3.0, ``new SegmentedMessage(text)``: encoding "auto",
smart encoding off), which is what Twilio bills by. The rules it follows:

* GSM-7 when every grapheme of the text is one character of the GSM 03.38 default
  alphabet or its extension table, else UCS-2 (really UTF-16: an emoji takes 2 units).
* GSM-7 holds 160 septets in one part, 153 in each part of a multipart message (the
  concatenation header takes 6 octets); an extension character (``^{}\\[~]|€`` and form
  feed) is an escape plus a septet, 2 units, and never split across parts.
* UCS-2 holds 70 UTF-16 code units in one part, 67 per part when multipart.
* Parts are filled grapheme by grapheme: a grapheme (a ZWJ emoji family, a flag, a letter
  with combining marks) is never split across parts. "\\r\\n" counts as two graphemes.
* Graphemes are those of the reference's splitter (grapheme-splitter 1.0.4, Unicode 10
  rules, quirks included), ported in ``graphemes``.
* The empty text is one GSM-7 part with 160 units left, as in the reference.
* A grapheme larger than a whole part (a letter with dozens of combining marks) is put in
  one part that then overflows, as the reference does; ``units_left`` is 0 then.

``transliterate`` maps characters GSM-7 lacks to look-alikes (Polish, Czech, Portuguese,
Romanian, Hungarian, Turkish letters lose their accents, smart quotes and dashes become
ASCII), starting from Twilio's Smart Encoding table.

The modules, by what each does: ``alphabet`` (the GSM 03.38 characters), ``graphemes``
(the reference's grapheme splitter), ``segments`` (encoding and parts of a text) and
``transliteration``. Import from this package; the underscored names below are the
package's insides, re-exported for the tests and the benchmark that check them. The
analysis cache's size is a global of ``segments``: change it there, not here.
"""

from .alphabet import _EXTENSION_CHARS, _GSM_CHARS, GSM7, GSM_BASIC, GSM_EXTENSION, UCS2
from .graphemes import (
    PROPERTY_NAMES,
    _cluster_lengths,
    _pair_surrogates,
    grapheme_break_property,
    multi_code_point_graphemes,
    split_graphemes,
)
from .segments import _ANALYSIS_CACHE, SegmentInfo, is_gsm7, non_gsm_characters, segment_info
from .transliteration import TRANSLITERATIONS, transliterate

__all__ = [
    "GSM7",
    "UCS2",
    "SegmentInfo",
    "TRANSLITERATIONS",
    "is_gsm7",
    "non_gsm_characters",
    "segment_info",
    "transliterate",
]

