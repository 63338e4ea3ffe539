"""Graphemes as the reference segment calculator cuts them.

Twilio's calculator never splits a grapheme (a ZWJ emoji family, a flag, a letter with
combining marks) across SMS parts, so counting parts needs its graphemes: those of
grapheme-splitter 1.0.4 (Unicode 10 rules, quirks included), ported here. Python's stdlib
has no grapheme segmentation and the PyPI libraries follow newer Unicode rules, which split
some emoji differently. "\\r\\n" counts as two graphemes, as in the reference.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

_SURROGATE_RE = re.compile("[\ud800-\udfff]")

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

