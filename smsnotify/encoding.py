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
  rules, quirks included), ported below. Python's stdlib has no grapheme segmentation and
  the PyPI libraries follow newer Unicode rules, which split some emoji differently.
* The empty text is one GSM-7 part with 160 units left, as in the reference.
* A grapheme larger than a whole part (a letter with dozens of combining marks) is put in
  one part that then overflows, as the reference does; ``units_left`` is 0 then.

Most texts never reach the per-grapheme port: plain GSM-7 and UCS-2 texts without
combining marks, ZWJ, variation selectors, flags or skin tones are counted with one
bytes.translate, a small cache keyed by their odd characters, and arithmetic. Texts that
have such characters are split into graphemes only around them.

``transliterate`` maps characters GSM-7 lacks to look-alikes (Polish, Czech, Portuguese,
Romanian, Hungarian, Turkish letters lose their accents, smart quotes and dashes become
ASCII), starting from Twilio's Smart Encoding table.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import filterfalse
from types import MappingProxyType
from typing import NamedTuple

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

GSM7 = "GSM-7"
UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """How a text is sent as SMS.

    ``units_used`` counts septets for GSM-7 (an extension character counts 2) and UTF-16
    code units for UCS-2, over the whole text (headers excluded). ``units_left`` is what
    still fits in the last part before another part is needed. ``non_gsm_chars`` lists the
    graphemes that forced UCS-2 (a ZWJ sequence or a letter with a combining mark is one
    entry), each once, in order of first appearance; it is empty for GSM-7.
    """

    encoding: str
    segments: int
    units_used: int
    units_left: int
    non_gsm_chars: tuple[str, ...]


# --------------------------------------------------------------------------- alphabets

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
_SURROGATE_RE = re.compile("[\ud800-\udfff]")

# (single part, each part of a multipart message), in units of the encoding.
_GSM_LIMITS = (160, 153)
_UCS_LIMITS = (70, 67)

# --------------------------------------------------------------------------- graphemes

# Grapheme break properties of grapheme-splitter 1.0.4 (what the reference splits with),
# every code point that is not "Other", as hex ranges. Hangul syllables (LV / LVT) are
# left out and computed below. tests/smsnotify/test_encoding.py checks this table against
# the one make_segments_reference.mjs reads out of the reference.
_BREAK_TABLE = """
0-9:C A:n B-C:C D:r E-1F:C 7F-9F:C AD:C 300-36F:X 483-489:X 591-5BD:X 5BF:X 5C1-5C2:X
5C4-5C5:X 5C7:X 600-605:P 610-61A:X 61C:C 64B-65F:X 670:X 6D6-6DC:X 6DD:P 6DF-6E4:X
6E7-6E8:X 6EA-6ED:X 70F:P 711:X 730-74A:X 7A6-7B0:X 7EB-7F3:X 816-819:X 81B-823:X 825-827:X
829-82D:X 859-85B:X 8D4-8E1:X 8E2:P 8E3-902:X 903:S 93A:X 93B:S 93C:X 93E-940:S 941-948:X
949-94C:S 94D:X 94E-94F:S 951-957:X 962-963:X 981:X 982-983:S 9BC:X 9BE:X 9BF-9C0:S
9C1-9C4:X 9C7-9C8:S 9CB-9CC:S 9CD:X 9D7:X 9E2-9E3:X A01-A02:X A03:S A3C:X A3E-A40:S
A41-A42:X A47-A48:X A4B-A4D:X A51:X A70-A71:X A75:X A81-A82:X A83:S ABC:X ABE-AC0:S
AC1-AC5:X AC7-AC8:X AC9:S ACB-ACC:S ACD:X AE2-AE3:X AFA-AFF:X B01:X B02-B03:S B3C:X
B3E-B3F:X B40:S B41-B44:X B47-B48:S B4B-B4C:S B4D:X B56-B57:X B62-B63:X B82:X BBE:X BBF:S
BC0:X BC1-BC2:S BC6-BC8:S BCA-BCC:S BCD:X BD7:X C00:X C01-C03:S C3E-C40:X C41-C44:S
C46-C48:X C4A-C4D:X C55-C56:X C62-C63:X C81:X C82-C83:S CBC:X CBE:S CBF:X CC0-CC1:S CC2:X
CC3-CC4:S CC6:X CC7-CC8:S CCA-CCB:S CCC-CCD:X CD5-CD6:X CE2-CE3:X D00-D01:X D02-D03:S
D3B-D3C:X D3E:X D3F-D40:S D41-D44:X D46-D48:S D4A-D4C:S D4D:X D4E:P D57:X D62-D63:X
D82-D83:S DCA:X DCF:X DD0-DD1:S DD2-DD4:X DD6:X DD8-DDE:S DDF:X DF2-DF3:S E31:X E33:S
E34-E3A:X E47-E4E:X EB1:X EB3:S EB4-EB9:X EBB-EBC:X EC8-ECD:X F18-F19:X F35:X F37:X F39:X
F3E-F3F:S F71-F7E:X F7F:S F80-F84:X F86-F87:X F8D-F97:X F99-FBC:X FC6:X 102D-1030:X 1031:S
1032-1037:X 1039-103A:X 103B-103C:S 103D-103E:X 1056-1057:S 1058-1059:X 105E-1060:X
1071-1074:X 1082:X 1084:S 1085-1086:X 108D:X 109D:X 1100-115F:L 1160-11A7:V 11A8-11FF:T
135D-135F:X 1712-1714:X 1732-1734:X 1752-1753:X 1772-1773:X 17B4-17B5:X 17B6:S 17B7-17BD:X
17BE-17C5:S 17C6:X 17C7-17C8:S 17C9-17D3:X 17DD:X 180B-180D:X 180E:C 1885-1886:X 18A9:X
1920-1922:X 1923-1926:S 1927-1928:X 1929-192B:S 1930-1931:S 1932:X 1933-1938:S 1939-193B:X
1A17-1A18:X 1A19-1A1A:S 1A1B:X 1A55:S 1A56:X 1A57:S 1A58-1A5E:X 1A60:X 1A62:X 1A65-1A6C:X
1A6D-1A72:S 1A73-1A7C:X 1A7F:X 1AB0-1ABE:X 1B00-1B03:X 1B04:S 1B34:X 1B35:S 1B36-1B3A:X
1B3B:S 1B3C:X 1B3D-1B41:S 1B42:X 1B43-1B44:S 1B6B-1B73:X 1B80-1B81:X 1B82:S 1BA1:S
1BA2-1BA5:X 1BA6-1BA7:S 1BA8-1BA9:X 1BAA:S 1BAB-1BAD:X 1BE6:X 1BE7:S 1BE8-1BE9:X
1BEA-1BEC:S 1BED:X 1BEE:S 1BEF-1BF1:X 1BF2-1BF3:S 1C24-1C2B:S 1C2C-1C33:X 1C34-1C35:S
1C36-1C37:X 1CD0-1CD2:X 1CD4-1CE0:X 1CE1:S 1CE2-1CE8:X 1CED:X 1CF2-1CF3:S 1CF4:X 1CF7:S
1CF8-1CF9:X 1DC0-1DF9:X 1DFB-1DFF:X 200B:C 200C:X 200D:Z 200E-200F:C 2028-202E:C
2060-206F:C 20D0-20F0:X 261D:B 2640:G 2642:G 2695-2696:G 26F9:B 2708:G 270A-270D:B 2764:G
2CEF-2CF1:X 2D7F:X 2DE0-2DFF:X 302A-302F:X 3099-309A:X A66F-A672:X A674-A67D:X A69E-A69F:X
A6F0-A6F1:X A802:X A806:X A80B:X A823-A824:S A825-A826:X A827:S A880-A881:S A8B4-A8C3:S
A8C4-A8C5:X A8E0-A8F1:X A926-A92D:X A947-A951:X A952-A953:S A960-A97C:L A980-A982:X A983:S
A9B3:X A9B4-A9B5:S A9B6-A9B9:X A9BA-A9BB:S A9BC:X A9BD-A9C0:S A9E5:X AA29-AA2E:X
AA2F-AA30:S AA31-AA32:X AA33-AA34:S AA35-AA36:X AA43:X AA4C:X AA4D:S AA7C:X AAB0:X
AAB2-AAB4:X AAB7-AAB8:X AABE-AABF:X AAC1:X AAEB:S AAEC-AAED:X AAEE-AAEF:S AAF5:S AAF6:X
ABE3-ABE4:S ABE5:X ABE6-ABE7:S ABE8:X ABE9-ABEA:S ABEC:S ABED:X D7B0-D7C6:V D7CB-D7FB:T
D800-DFFF:C FB1E:X FE00-FE0F:X FE20-FE2F:X FEFF:C FF9E-FF9F:X FFF0-FFFB:C 101FD:X 102E0:X
10376-1037A:X 10A01-10A03:X 10A05-10A06:X 10A0C-10A0F:X 10A38-10A3A:X 10A3F:X 10AE5-10AE6:X
11000:S 11001:X 11002:S 11038-11046:X 1107F-11081:X 11082:S 110B0-110B2:S 110B3-110B6:X
110B7-110B8:S 110B9-110BA:X 110BD:P 11100-11102:X 11127-1112B:X 1112C:S 1112D-11134:X
11173:X 11180-11181:X 11182:S 111B3-111B5:S 111B6-111BE:X 111BF-111C0:S 111C2-111C3:P
111CA-111CC:X 1122C-1122E:S 1122F-11231:X 11232-11233:S 11234:X 11235:S 11236-11237:X
1123E:X 112DF:X 112E0-112E2:S 112E3-112EA:X 11300-11301:X 11302-11303:S 1133C:X 1133E:X
1133F:S 11340:X 11341-11344:S 11347-11348:S 1134B-1134D:S 11357:X 11362-11363:S
11366-1136C:X 11370-11374:X 11435-11437:S 11438-1143F:X 11440-11441:S 11442-11444:X 11445:S
11446:X 114B0:X 114B1-114B2:S 114B3-114B8:X 114B9:S 114BA:X 114BB-114BC:S 114BD:X 114BE:S
114BF-114C0:X 114C1:S 114C2-114C3:X 115AF:X 115B0-115B1:S 115B2-115B5:X 115B8-115BB:S
115BC-115BD:X 115BE:S 115BF-115C0:X 115DC-115DD:X 11630-11632:S 11633-1163A:X 1163B-1163C:S
1163D:X 1163E:S 1163F-11640:X 116AB:X 116AC:S 116AD:X 116AE-116AF:S 116B0-116B5:X 116B6:S
116B7:X 1171D-1171F:X 11720-11721:S 11722-11725:X 11726:S 11727-1172B:X 11A01-11A06:X
11A07-11A08:S 11A09-11A0A:X 11A33-11A38:X 11A39:S 11A3A:P 11A3B-11A3E:X 11A47:X
11A51-11A56:X 11A57-11A58:S 11A59-11A5B:X 11A86-11A89:P 11A8A-11A96:X 11A97:S 11A98-11A99:X
11C2F:S 11C30-11C36:X 11C38-11C3D:X 11C3E:S 11C3F:X 11C92-11CA7:X 11CA9:S 11CAA-11CB0:X
11CB1:S 11CB2-11CB3:X 11CB4:S 11CB5-11CB6:X 11D31-11D36:X 11D3A:X 11D3C-11D3D:X
11D3F-11D45:X 11D46:P 11D47:X 16AF0-16AF4:X 16B30-16B36:X 16F51-16F7E:S 16F8F-16F92:X
1BC9D-1BC9E:X 1BCA0-1BCA3:C 1D165:X 1D166:S 1D167-1D169:X 1D16D:S 1D16E-1D172:X
1D173-1D17A:C 1D17B-1D182:X 1D185-1D18B:X 1D1AA-1D1AD:X 1D242-1D244:X 1DA00-1DA36:X
1DA3B-1DA6C:X 1DA75:X 1DA84:X 1DA9B-1DA9F:X 1DAA1-1DAAF:X 1E000-1E006:X 1E008-1E018:X
1E01B-1E021:X 1E023-1E024:X 1E026-1E02A:X 1E8D0-1E8D6:X 1E944-1E94A:X 1F1E6-1F1FF:R 1F308:G
1F33E:G 1F373:G 1F385:B 1F393:G 1F3A4:G 1F3A8:G 1F3C2-1F3C4:B 1F3C7:B 1F3CA-1F3CC:B 1F3EB:G
1F3ED:G 1F3FB-1F3FF:M 1F442-1F443:B 1F446-1F450:B 1F466-1F469:E 1F46E:B 1F470-1F478:B
1F47C:B 1F481-1F483:B 1F485-1F487:B 1F48B:G 1F4AA:B 1F4BB-1F4BC:G 1F527:G 1F52C:G
1F574-1F575:B 1F57A:B 1F590:B 1F595-1F596:B 1F5E8:G 1F645-1F647:B 1F64B-1F64F:B 1F680:G
1F692:G 1F6A3:B 1F6B4-1F6B6:B 1F6C0:B 1F6CC:B 1F918-1F91C:B 1F91E-1F91F:B 1F926:B
1F930-1F939:B 1F93D-1F93E:B 1F9D1-1F9DD:B E0000-E001F:C E0020-E007F:X E0080-E00FF:C
E0100-E01EF:X E01F0-E0FFF:C
"""

(_CR, _LF, _CONTROL, _EXTEND, _RI, _SPACING_MARK, _L, _V, _T, _LV, _LVT, _OTHER, _PREPEND,
 _E_BASE, _E_MODIFIER, _ZWJ, _GLUE_AFTER_ZWJ, _E_BASE_GAZ) = range(18)
_PROPERTY_CODES = {
    "r": _CR, "n": _LF, "C": _CONTROL, "X": _EXTEND, "R": _RI, "S": _SPACING_MARK, "L": _L,
    "V": _V, "T": _T, "P": _PREPEND, "B": _E_BASE, "M": _E_MODIFIER, "Z": _ZWJ,
    "G": _GLUE_AFTER_ZWJ, "E": _E_BASE_GAZ,
}
PROPERTY_NAMES = ("CR", "LF", "Control", "Extend", "Regional_Indicator", "SpacingMark", "L",
                  "V", "T", "LV", "LVT", "Other", "Prepend", "E_Base", "E_Modifier", "ZWJ",
                  "Glue_After_Zwj", "E_Base_GAZ")
_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3


def _parse_break_table(table: str) -> tuple[list[int], list[int], list[int]]:
    starts: list[int] = []
    ends: list[int] = []
    props: list[int] = []
    for token in table.split():
        span, code = token.split(":")
        first, _, last = span.partition("-")
        starts.append(int(first, 16))
        ends.append(int(last or first, 16))
        props.append(_PROPERTY_CODES[code])
    return starts, ends, props


_BREAK_STARTS, _BREAK_ENDS, _BREAK_PROPS = _parse_break_table(_BREAK_TABLE)


def grapheme_break_property(cp: int) -> int:
    """The reference splitter's grapheme break property of a code point (an index into
    PROPERTY_NAMES)."""
    if _HANGUL_FIRST <= cp <= _HANGUL_LAST:
        return _LV if (cp - _HANGUL_FIRST) % 28 == 0 else _LVT
    i = bisect_right(_BREAK_STARTS, cp) - 1
    if i >= 0 and cp <= _BREAK_ENDS[i]:
        return _BREAK_PROPS[i]
    return _OTHER


# Without a character of one of these properties every code point is a grapheme of its own
# in the reference splitter (CR LF aside, which it splits again anyway): every rule that
# joins two code points needs one of them on either side. Surrogate code points are in the
# set too, to send such texts down the path that pairs them up first.
_TRIGGER_PROPERTIES = frozenset({_EXTEND, _ZWJ, _SPACING_MARK, _PREPEND, _RI, _E_MODIFIER,
                                 _L, _V, _T})
_TRIGGER_RANGES = [(s, e) for s, e, p in zip(_BREAK_STARTS, _BREAK_ENDS, _BREAK_PROPS, strict=True)
                   if p in _TRIGGER_PROPERTIES] + [(0xD800, 0xDFFF)]
_TRIGGER_CHARS = frozenset(chr(cp) for s, e in _TRIGGER_RANGES for cp in range(s, e + 1))
_TRIGGER_RE = re.compile("[" + "".join(
    f"\\U{s:08x}" if s == e else f"\\U{s:08x}-\\U{e:08x}" for s, e in _TRIGGER_RANGES) + "]")


def _last_index(items: Sequence[int], value: int) -> int:
    for i in range(len(items) - 1, -1, -1):
        if items[i] == value:
            return i
    return -1


def _should_break(start: int, mid: list[int], end: int) -> bool:
    """grapheme-splitter's shouldBreak, rule for rule (its quirks are what the reference
    counts with): may a grapheme that began with `start` and went on with `mid` end
    before a code point of property `end`?"""
    seq = [start, *mid, end]
    previous = seq[-2]

    # Look-ahead terminators of GB10 and GB12/13: both always end in a break.
    e_modifier = _last_index(seq, _E_MODIFIER)
    if (e_modifier > 1 and all(p == _EXTEND for p in seq[1:e_modifier])
            and start not in (_EXTEND, _E_BASE, _E_BASE_GAZ)):
        return True
    regional = _last_index(seq, _RI)
    if (regional > 0 and all(p == _RI for p in seq[1:regional])
            and previous not in (_PREPEND, _RI)):
        return True

    if previous == _CR and end == _LF:  # GB3
        return False
    if previous in (_CONTROL, _CR, _LF) or end in (_CONTROL, _CR, _LF):  # GB4, GB5
        return True
    if previous == _L and end in (_L, _V, _LV, _LVT):  # GB6
        return False
    if previous in (_LV, _V) and end in (_V, _T):  # GB7
        return False
    if previous in (_LVT, _T) and end == _T:  # GB8
        return False
    if end in (_EXTEND, _ZWJ, _SPACING_MARK) or previous == _PREPEND:  # GB9, GB9a, GB9b
        return False

    # GB10, with the splitter's own idea of "the last non-Extend before the Extends".
    before = _last_index(seq, _EXTEND) - 1 if _EXTEND in seq else len(seq) - 2
    if (before >= 0 and seq[before] in (_E_BASE, _E_BASE_GAZ)
            and all(p == _EXTEND for p in seq[before + 1:-1]) and end == _E_MODIFIER):
        return False
    if previous == _ZWJ and end in (_GLUE_AFTER_ZWJ, _E_BASE_GAZ):  # GB11
        return False
    if _RI in mid:  # GB12, GB13
        return True
    return not (previous == _RI and end == _RI)


def _cluster_lengths(props: list[int]) -> list[int]:
    """Lengths (in code points) of the graphemes grapheme-splitter cuts `props` into."""
    lengths = []
    i, n = 0, len(props)
    while i < n:
        j, mid = i + 1, []
        while j < n and not _should_break(props[i], mid, props[j]):
            mid.append(props[j])
            j += 1
        lengths.append(j - i)
        i = j
    return lengths


def _trigger_zones(text: str, triggers: list[int]) -> list[tuple[int, int]]:
    """Spans [start, end) of code points that may group into multi-code-point graphemes.

    Two neighbours can only be joined when one of them is a trigger, so each trigger (at
    the sorted code point indices `triggers`) and its two neighbours make a zone; zones
    that share a code point merge. Between zones every code point is a grapheme of its
    own, and a zone starts and ends on a grapheme break.
    """
    zones: list[tuple[int, int]] = []
    n = len(text)
    for k in triggers:
        lo, hi = max(k - 1, 0), min(k + 2, n)
        if zones and lo < zones[-1][1]:
            zones[-1] = (zones[-1][0], hi)
        else:
            zones.append((lo, hi))
    return zones


def multi_code_point_graphemes(text: str, triggers: list[int] | None = None
                               ) -> list[tuple[int, int]]:
    """Spans [start, end) (code point indices) of the reference's graphemes that are more
    than one code point long, "\\r\\n" excepted (the reference splits it in two). Every
    other code point of `text` is a grapheme of its own. `triggers` (the sorted indices of
    the trigger characters) saves a scan when the caller knows them."""
    if triggers is None:
        triggers = [m.start() for m in _TRIGGER_RE.finditer(text)]
    spans = []
    for lo, hi in _trigger_zones(text, triggers):
        props = [grapheme_break_property(ord(c)) for c in text[lo:hi]]
        pos = lo
        for length in _cluster_lengths(props):
            if length > 1 and text[pos:pos + length] != "\r\n":
                spans.append((pos, pos + length))
            pos += length
    return spans


def split_graphemes(text: str) -> list[str]:
    """The graphemes the reference counts with (tests and debugging; slow)."""
    text = _pair_surrogates(text)
    out: list[str] = []
    pos = 0
    for lo, hi in multi_code_point_graphemes(text):
        out.extend(text[pos:lo])
        out.append(text[lo:hi])
        pos = hi
    out.extend(text[pos:])
    return out


def _pair_surrogates(text: str) -> str:
    # A JavaScript string is UTF-16: two surrogate code points in a row are one character
    # there. Join such pairs the same way; lone surrogates stay as they are.
    if _SURROGATE_RE.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


# --------------------------------------------------------------------------- packing


def _pack(total: int, limits: tuple[int, int], starts: list[int], ends: list[int]
          ) -> tuple[int, int, int]:
    """(segments, units in the last part, capacity of the last part).

    Mirrors the reference's _buildSegments on unit offsets. Every offset is a grapheme
    boundary except those strictly inside a wide grapheme [starts[i], ends[i]) (sorted).
    Part 1 is filled greedily; at the first grapheme that does not fit, part 1 gets its
    header and gives back graphemes from its end until it fits the multipart limit; these
    and the grapheme that did not fit open part 2 whatever their size. Later parts each
    start with the grapheme that did not fit in the one before.
    """
    single, multi = limits
    if total <= single:
        return 1, total, single
    if not starts:
        segments = -(-total // multi)
        return segments, total - multi * (segments - 1), multi

    def boundary_at_or_before(x: int) -> int:
        i = bisect_left(starts, x) - 1
        return starts[i] if i >= 0 and ends[i] > x else x

    def grapheme_end(x: int) -> int:
        i = bisect_left(starts, x)
        return ends[i] if i < len(starts) and starts[i] == x else x + 1

    overflow_at = boundary_at_or_before(single)
    start = boundary_at_or_before(min(overflow_at, multi))
    forced_end = grapheme_end(overflow_at)
    segments = 2
    while True:
        end = max(forced_end, boundary_at_or_before(min(start + multi, total)))
        if end >= total:
            return segments, total - start, multi
        segments += 1
        start = end
        forced_end = grapheme_end(start)


# --------------------------------------------------------------------------- segment_info

# The ASCII characters of the GSM-7 basic set, to delete with bytes.translate (C speed):
# what is left of a text's UTF-8 is its few "odd" characters, often nothing at all.
_BASIC_ASCII_BYTES = bytes(c for c in range(0x80) if chr(c) in GSM_BASIC)

_SINGLE_GSM, _MULTI_GSM = _GSM_LIMITS
_SINGLE_UCS, _MULTI_UCS = _UCS_LIMITS

# SegmentInfo is frozen: its generated __init__ goes through object.__setattr__ once per
# field, which is a good part of the time budget. Setting the slots directly is the same
# thing, faster.
_new_object = object.__new__
_set_encoding, _set_segments, _set_used, _set_left, _set_non_gsm = (
    SegmentInfo.__dict__[name].__set__  # type: ignore[attr-defined]
    for name in ("encoding", "segments", "units_used", "units_left", "non_gsm_chars"))


def _make(encoding: str, segments: int, used: int, left: int,
          non_gsm: tuple[str, ...]) -> SegmentInfo:
    info = _new_object(SegmentInfo)
    _set_encoding(info, encoding)
    _set_segments(info, segments)
    _set_used(info, used)
    _set_left(info, left)
    _set_non_gsm(info, non_gsm)
    return info


def _from_packing(encoding: str, total: int, packed: tuple[int, int, int],
                  non_gsm: tuple[str, ...]) -> SegmentInfo:
    segments, last_used, capacity = packed
    return _make(encoding, segments, total, max(capacity - last_used, 0), non_gsm)


# One immutable answer per length covers every single-part GSM-7 text.
_GSM_SINGLE = tuple(SegmentInfo(GSM7, 1, n, _SINGLE_GSM - n, ()) for n in range(161))


def _gsm_info(text: str, extension_count: int) -> SegmentInfo:
    total = len(text) + extension_count
    if total <= _SINGLE_GSM:
        return _GSM_SINGLE[total]
    if not extension_count:
        segments = -(-total // _MULTI_GSM)
        return _make(GSM7, segments, total, _MULTI_GSM * segments - total, ())
    # An escape pair is a 2-septet grapheme; its septet offset is its character index
    # plus one for each escape pair before it.
    starts = [m.start() + i for i, m in enumerate(_EXTENSION_RE.finditer(text))]
    ends = [s + 2 for s in starts]
    return _from_packing(GSM7, total, _pack(total, _GSM_LIMITS, starts, ends), ())


class _Analysis(NamedTuple):
    """What segment_info needs to know about the odd characters of a text: those that are
    not ASCII or not in the GSM-7 basic set (see _analyse)."""

    all_gsm: bool
    extension_count: int            # occurrences (GSM-7 texts only): 2 septets each
    non_gsm: tuple[str, ...]        # distinct, in order of first appearance
    triggers: tuple[str, ...]       # distinct characters that can join graphemes
    astral: tuple[str, ...]         # distinct characters outside the BMP (2 UTF-16 units)
    astral_count: int               # occurrences


# Notifications come from a few templates, so the same odd characters ("óęł", "ãç😀")
# recur across many texts; remembering their analysis skips the costly part (a Python
# string object per non-Latin-1 character). Bounded: cleared when full.
_ANALYSIS_CACHE: dict[bytes, _Analysis] = {}
_ANALYSIS_CACHE_SIZE = 4096
_ANALYSIS_CACHE_MAX_KEY = 256  # bytes; a whole Cyrillic text is not worth keeping


def _analyse(odd_utf8: bytes) -> _Analysis:
    """`odd_utf8`: the UTF-8 of a text less its ASCII GSM-7 basic characters, which still
    holds its other characters in order."""
    odd = odd_utf8.decode("utf-8", "surrogatepass")
    distinct = dict.fromkeys(odd)
    non_gsm = tuple(filterfalse(_GSM_CHARS.__contains__, distinct))
    # Positional arguments and C-level checks first: this runs once per new set of odd
    # characters, which is still often enough to matter.
    if not non_gsm:
        extension_count = sum(map(_EXTENSION_CHARS.__contains__, odd))
        analysis = _Analysis(True, extension_count, (), (), (), 0)
    else:
        triggers: tuple[str, ...] = ()
        if not _TRIGGER_CHARS.isdisjoint(non_gsm):
            triggers = tuple(filter(_TRIGGER_CHARS.__contains__, non_gsm))
        astral: tuple[str, ...] = ()
        astral_count = 0
        if max(non_gsm) > "\uffff":
            astral = tuple(c for c in non_gsm if c > "\uffff")
            astral_count = sum(map(odd.count, astral))
        analysis = _Analysis(False, 0, non_gsm, triggers, astral, astral_count)
    # A size of 0 turns the cache off (the benchmark measures both ways).
    if _ANALYSIS_CACHE_SIZE and len(odd_utf8) <= _ANALYSIS_CACHE_MAX_KEY:
        if len(_ANALYSIS_CACHE) >= _ANALYSIS_CACHE_SIZE:
            _ANALYSIS_CACHE.clear()
        _ANALYSIS_CACHE[odd_utf8] = analysis
    return analysis


def segment_info(text: str) -> SegmentInfo:
    """Encoding, number of SMS parts and units used / left, exactly as the reference."""
    odd_utf8 = text.encode("utf-8", "surrogatepass").translate(None, _BASIC_ASCII_BYTES)
    if not odd_utf8:  # plain GSM-7: the most common case by far
        n = len(text)
        return _GSM_SINGLE[n] if n <= _SINGLE_GSM else _gsm_info(text, 0)
    analysis = _ANALYSIS_CACHE.get(odd_utf8) or _analyse(odd_utf8)
    if analysis.all_gsm:
        return _gsm_info(text, analysis.extension_count)
    if analysis.triggers:
        return _ucs2_info_exact(text, analysis)

    # Every code point is a grapheme of its own: only surrogate pairs are 2 units wide.
    total = len(text) + analysis.astral_count
    if total <= _SINGLE_UCS:
        return _make(UCS2, 1, total, _SINGLE_UCS - total, analysis.non_gsm)
    if not analysis.astral:
        segments = -(-total // _MULTI_UCS)
        return _make(UCS2, segments, total, _MULTI_UCS * segments - total, analysis.non_gsm)
    starts = [k + i for i, k in enumerate(_positions(text, analysis.astral))]
    ends = [s + 2 for s in starts]
    return _from_packing(UCS2, total, _pack(total, _UCS_LIMITS, starts, ends),
                         analysis.non_gsm)


def _positions(text: str, chars: Sequence[str]) -> list[int]:
    """Sorted code point indices of every occurrence of `chars` in `text`."""
    found = []
    for char in chars:
        i = text.find(char)
        while i >= 0:
            found.append(i)
            i = text.find(char, i + 1)
    found.sort()
    return found


def _ucs2_info_exact(text: str, analysis: _Analysis) -> SegmentInfo:
    """UCS-2 texts with combining marks, ZWJ, variation selectors, flags, skin tones,
    Hangul jamo or surrogate code points: the reference's graphemes, found around the
    trigger characters only."""
    if any("\ud800" <= c <= "\udfff" for c in analysis.triggers):
        paired = _pair_surrogates(text)
        if paired != text:
            return segment_info(paired)
    spans = multi_code_point_graphemes(text, _positions(text, analysis.triggers))
    astral = _positions(text, analysis.astral)

    def unit(k: int) -> int:  # UTF-16 offset of code point k
        return k + bisect_left(astral, k)

    span_starts = [lo for lo, _ in spans]

    def inside_span(k: int) -> bool:
        i = bisect_right(span_starts, k) - 1
        return i >= 0 and k < spans[i][1]

    # Astral code points outside the multi-code-point graphemes are 2-unit graphemes.
    wide = [(unit(lo), unit(hi)) for lo, hi in spans]
    wide += [(unit(k), unit(k) + 2) for k in astral if not inside_span(k)]
    wide.sort()
    total = len(text) + len(astral)
    packed = _pack(total, _UCS_LIMITS, [s for s, _ in wide], [e for _, e in wide])

    # The non-GSM graphemes by first appearance: the multi-code-point ones, and the
    # first occurrence of each non-GSM character that stands alone.
    found = [(lo, text[lo:hi]) for lo, hi in spans]
    for char in analysis.non_gsm:
        i = text.find(char)
        while i >= 0 and inside_span(i):
            i = text.find(char, i + 1)
        if i >= 0:
            found.append((i, char))
    found.sort()
    return _from_packing(UCS2, total, packed, tuple(dict.fromkeys(g for _, g in found)))


def is_gsm7(text: str) -> bool:
    """True when the text is sent as GSM-7 (every character in the GSM 03.38 tables)."""
    odd = text.encode("utf-8", "surrogatepass").translate(None, _BASIC_ASCII_BYTES)
    return not odd or _GSM_CHARS.issuperset(odd.decode("utf-8", "surrogatepass"))


def non_gsm_characters(text: str) -> tuple[str, ...]:
    """The graphemes that force UCS-2, each once, in order of first appearance."""
    return segment_info(text).non_gsm_chars


# --------------------------------------------------------------------------- transliterate

# Twilio's Smart Encoding table (SmartEncodingMap.ts of the reference) less its spaces:
# it turns no-break and typographic spaces and C1 controls into two spaces and a tab into
# seven; _build_transliterations makes each one space, which reads the same and costs less.
_TWILIO_SMART_ENCODING = {
    "\u00ab": '"', "\u00bb": '"', "\u201c": '"', "\u201d": '"', "\u02ba": '"', "\u02ee": '"',
    "\u201f": '"', "\u201e": '"', "\u275d": '"', "\u275e": '"', "\u301d": '"', "\u301e": '"',
    "\uff02": '"', "\u2018": "'", "\u2019": "'", "\u02bb": "'", "\u02c8": "'", "\u02bc": "'",
    "\u02bd": "'", "\u02b9": "'", "\u201b": "'", "\uff07": "'", "\u00b4": "'", "\u02ca": "'",
    "\u0060": "'", "\u02cb": "'", "\u275b": "'", "\u275c": "'", "\u0313": "'", "\u0314": "'",
    "\ufe10": "'", "\ufe11": "'", "\u00f7": "/", "\u00bc": "1/4", "\u00bd": "1/2",
    "\u00be": "3/4", "\u29f8": "/", "\u0337": "/", "\u0338": "/", "\u2044": "/", "\u2215": "/",
    "\uff0f": "/", "\u29f9": "\\", "\u29f5": "\\", "\u20e5": "\\", "\ufe68": "\\",
    "\uff3c": "\\", "\u0332": "_", "\uff3f": "_", "\u20d2": "|", "\u20d3": "|", "\u2223": "|",
    "\uff5c": "|", "\u23b8": "|", "\u23b9": "|", "\u23d0": "|", "\u239c": "|", "\u239f": "|",
    "\u23bc": "-", "\u23bd": "-", "\u2015": "-", "\ufe63": "-", "\uff0d": "-", "\u2010": "-",
    "\u2043": "-", "\ufe6b": "@", "\uff20": "@", "\ufe69": "$", "\uff04": "$", "\u01c3": "!",
    "\ufe15": "!", "\ufe57": "!", "\uff01": "!", "\ufe5f": "#", "\uff03": "#", "\ufe6a": "%",
    "\uff05": "%", "\ufe60": "&", "\uff06": "&", "\u201a": ",", "\u0326": ",", "\ufe50": ",",
    "\ufe51": ",", "\uff0c": ",", "\uff64": ",", "\u2768": "(", "\u276a": "(", "\ufe59": "(",
    "\uff08": "(", "\u27ee": "(", "\u2985": "(", "\u2769": ")", "\u276b": ")", "\ufe5a": ")",
    "\uff09": ")", "\u27ef": ")", "\u2986": ")", "\u204e": "*", "\u2217": "*", "\u229b": "*",
    "\u2722": "*", "\u2723": "*", "\u2724": "*", "\u2725": "*", "\u2731": "*", "\u2732": "*",
    "\u2733": "*", "\u273a": "*", "\u273b": "*", "\u273c": "*", "\u273d": "*", "\u2743": "*",
    "\u2749": "*", "\u274a": "*", "\u274b": "*", "\u29c6": "*", "\ufe61": "*", "\uff0a": "*",
    "\u02d6": "+", "\ufe62": "+", "\uff0b": "+", "\u3002": ".", "\ufe52": ".", "\uff0e": ".",
    "\uff61": ".", "\u02d0": ":", "\u02f8": ":", "\u2982": ":", "\ua789": ":", "\ufe13": ":",
    "\uff1a": ":", "\u204f": ";", "\ufe14": ";", "\ufe54": ";", "\uff1b": ";", "\ufe64": "<",
    "\uff1c": "<", "\u0347": "=", "\ua78a": "=", "\ufe66": "=", "\uff1d": "=", "\ufe65": ">",
    "\uff1e": ">", "\ufe16": "?", "\ufe56": "?", "\uff1f": "?", "\u1d00": "A", "\u0299": "B",
    "\u1d04": "C", "\u1d05": "D", "\u1d07": "E", "\ua730": "F", "\u0262": "G", "\u029c": "H",
    "\u026a": "I", "\u1d0a": "J", "\u1d0b": "K", "\u029f": "L", "\u1d0d": "M", "\u0274": "N",
    "\u1d0f": "O", "\u1d18": "P", "\u0280": "R", "\ua731": "S", "\u1d1b": "T", "\u1d1c": "U",
    "\u1d20": "V", "\u1d21": "W", "\u028f": "Y", "\u1d22": "Z", "\u02c6": "^", "\u0302": "^",
    "\uff3e": "^", "\u1dcd": "^", "\u2774": "{", "\ufe5b": "{", "\uff5b": "{", "\u2775": "}",
    "\ufe5c": "}", "\uff5d": "}", "\uff3b": "[", "\uff3d": "]", "\u02dc": "~", "\u02f7": "~",
    "\u0303": "~", "\u0330": "~", "\u0334": "~", "\u223c": "~", "\uff5e": "~",
    "\u0010": "", "\u0000": "", "\u0003": "", "\u0004": "", "\u0017": "", "\u0019": "",
    "\u0011": "", "\u0012": "", "\u0013": "", "\u0014": "", "\u2060": "", "\u2017": "_",
    "\u2014": "-", "\u2013": "-", "\u2039": "<", "\u203a": ">", "\u203c": "!!",
    "\u2028": " ", "\u2029": " ", "\u2026": "...", "\u2001": " ", "\u200b": "", "\u200c": "",
    "\u3001": ",", "\ufeff": "", "\u2022": "-",
}

# Letters with no decomposition to strip, and punctuation Twilio's table misses.
_EXTRA = {
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH",
    "ı": "i", "ĸ": "k", "ŋ": "n", "Ŋ": "N", "ſ": "s", "ŧ": "t", "Ŧ": "T", "ħ": "h", "Ħ": "H",
    "œ": "oe", "Œ": "OE", "ƒ": "f", "ƀ": "b", "ɨ": "i", "ʉ": "u",
    "ª": "a", "º": "o", "©": "(c)", "®": "(R)", "™": "TM", "×": "x", "·": ".",
    "′": "'", "″": '"', "‒": "-", "−": "-", "\u2011": "-", "\u00ad": "", "‹": "<", "›": ">",
    "\t": " ", "\u000b": " ",
    # Greek capitals that are Latin look-alikes (the others are in GSM-7 already).
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}


def _strip_accents(char: str) -> str | None:
    """A Latin letter with diacritics -> its plain letter ("ą" -> "a"), else None."""
    decomposed = unicodedata.normalize("NFD", char)
    base = decomposed[0]
    if (len(decomposed) > 1 and base.isascii() and base.isalpha()
            and all(unicodedata.combining(c) for c in decomposed[1:])):
        return base
    return None


def _build_transliterations() -> dict[str, str]:
    table: dict[str, str] = {}
    # Latin-1 Supplement, Latin Extended-A/B, Latin Extended Additional: Polish, Czech,
    # Slovak, Portuguese, Romanian, Hungarian, Turkish, Vietnamese... lose their accents.
    for cp in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        plain = _strip_accents(chr(cp))
        if plain:
            table[chr(cp)] = plain
    # Fullwidth ASCII forms and Latin ligatures read the same in ASCII.
    for cp in [*range(0xFF01, 0xFF5F), *range(0xFB00, 0xFB07)]:
        compat = unicodedata.normalize("NFKC", chr(cp))
        if compat.isascii():
            table[chr(cp)] = compat
    table.update(_TWILIO_SMART_ENCODING)
    table.update(_EXTRA)
    # Spaces of every width (and C1 controls, which Twilio shows as spaces) -> one space.
    for cp in [0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000, *range(0x80, 0xA0)]:
        table[chr(cp)] = " "
    # Other invisible C0 controls and DEL; \n, \r and \f are GSM-7.
    for cp in [*range(0x00, 0x20), 0x7F]:
        table.setdefault(chr(cp), "")
    # A look-alike may itself lack from GSM-7 (fullwidth ` -> `): map it once more, and
    # keep only entries that end in GSM-7, so a second pass changes nothing.
    resolved = {}
    for char, value in table.items():
        value = "".join(c if c in _GSM_CHARS else table.get(c, c) for c in value)
        if char not in _GSM_CHARS and _GSM_CHARS.issuperset(value):
            resolved[char] = value
    return resolved


TRANSLITERATIONS: Mapping[str, str] = MappingProxyType(_build_transliterations())

# Combining marks are handled with the letter before them (see _transliterate_marks), so
# they stay out of the per-character table and are only mapped when they stand alone.
_TRANSLATE_TABLE = {ord(k): v for k, v in TRANSLITERATIONS.items()
                    if not unicodedata.combining(k)}
_LONE_MARKS = {k: v for k, v in TRANSLITERATIONS.items() if unicodedata.combining(k)}


def transliterate(text: str) -> str:
    """Replace characters GSM-7 lacks with GSM-7 look-alikes (ą -> a, “ -> ", … -> ...).

    Characters GSM-7 has (é, ü, Ç, ß...) are kept; characters with no look-alike (emoji,
    CJK, Cyrillic) are kept as they are, so the result may still need UCS-2.
    """
    out = text.translate(_TRANSLATE_TABLE)
    left = _NON_GSM_RE.findall(out)
    if left and any(unicodedata.combining(c) for c in set(left)):
        return _transliterate_marks(text)
    return out


def _transliterate_marks(text: str) -> str:
    # A combining mark after a GSM-7 letter either composes with it into a GSM-7 letter
    # ("e" + acute -> "é") or is dropped ("a" + ogonek -> "a", like "ą" -> "a"). Elsewhere
    # a mark stays, unless it is one Twilio maps on its own (a lone tilde -> "~").
    out: list[str] = []
    for char in text:
        if not unicodedata.combining(char):
            out.extend(TRANSLITERATIONS.get(char, char))
            continue
        last = out[-1] if out else ""
        if last in _GSM_CHARS and last.isalpha():
            composed = unicodedata.normalize("NFC", last + char)
            if composed in _GSM_CHARS:
                out[-1] = composed
            continue
        out.extend(_LONE_MARKS.get(char, char))
    return "".join(out)
