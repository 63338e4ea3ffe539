"""Exact SMS segment counts: ``segment_info`` answers as Twilio's calculator does.

Most texts never reach the per-grapheme port (``graphemes``): plain GSM-7 and UCS-2 texts
without combining marks, ZWJ, variation selectors, flags or skin tones are counted with one
bytes.translate, a small cache keyed by their odd characters, and arithmetic. Texts that
have such characters are split into graphemes only around them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import filterfalse
from typing import NamedTuple

from .alphabet import _EXTENSION_CHARS, _EXTENSION_RE, _GSM_CHARS, GSM7, GSM_BASIC, UCS2
from .graphemes import _TRIGGER_CHARS, _pair_surrogates, multi_code_point_graphemes


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


# (single part, each part of a multipart message), in units of the encoding.
_GSM_LIMITS = (160, 153)
_UCS_LIMITS = (70, 67)

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
