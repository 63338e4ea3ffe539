"""smsnotify.encoding: segment counts exactly as Twilio's calculator, and transliteration.

The reference fixture fixtures/segments_reference.json comes from Twilio's open-source
calculator (npm sms-segments-calculator, pinned in fixtures/package.json). To regenerate it
(node_modules stays out of the repository):

    mkdir -p /tmp/segref && cp tests/smsnotify/fixtures/package.json /tmp/segref/
    npm install --prefix /tmp/segref
    REFERENCE_NODE_PREFIX=/tmp/segref node tests/smsnotify/fixtures/make_segments_reference.mjs

The header of make_segments_reference.mjs says what each column holds.

No database and no Django settings needed.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsnotify import encoding
from smsnotify.encoding import (
    GSM7,
    TRANSLITERATIONS,
    UCS2,
    SegmentInfo,
    is_gsm7,
    non_gsm_characters,
    segment_info,
    transliterate,
)

FIXTURES = Path(__file__).parent / "fixtures"

FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # 7 code points, 11 UTF-16 units, one grapheme
FLAG_PL = "🇵🇱"  # two regional indicators, 4 units, one grapheme


# --------------------------------------------------------------------------- boundaries

# (id, text, encoding, segments, units_used, units_left). Every row was checked against
# the reference as well; the fixture covers the same ground more widely.
BOUNDARY_ROWS = [
    ("empty", "", GSM7, 1, 0, 160),
    ("gsm-153", "a" * 153, GSM7, 1, 153, 7),
    ("gsm-154", "a" * 154, GSM7, 1, 154, 6),
    ("gsm-160", "a" * 160, GSM7, 1, 160, 0),
    ("gsm-161", "a" * 161, GSM7, 2, 161, 145),
    ("gsm-306", "a" * 306, GSM7, 2, 306, 0),
    ("gsm-307", "a" * 307, GSM7, 3, 307, 152),
    ("gsm-ext-fits-single", "a" * 152 + "€", GSM7, 1, 154, 6),
    ("gsm-ext-overflows-single", "a" * 159 + "€", GSM7, 2, 161, 145),
    # The escape pair would straddle septets 153/154: it moves whole to part 2, leaving
    # septet 153 of part 1 empty, so 306 septets need 3 parts, not 2.
    ("gsm-ext-straddles", "a" * 152 + "€" + "a" * 152, GSM7, 3, 306, 152),
    ("gsm-ext-just-fits", "a" * 151 + "€" + "a" * 153, GSM7, 2, 306, 0),
    ("gsm-brace-straddles", "a" * 152 + "{" + "b" * 10, GSM7, 2, 164, 141),
    ("gsm-form-feed", "\f" * 80, GSM7, 1, 160, 0),
    # Escape pairs alone: part 1 ends on septet 152, one septet unused.
    ("gsm-all-ext-161", "€" * 80 + "a", GSM7, 2, 161, 144),
    ("gsm-crlf", "a" * 158 + "\r\n", GSM7, 1, 160, 0),
    # \r\n is two graphemes to the reference, so it may be split across parts.
    ("gsm-crlf-split", "a" * 152 + "\r\n" + "a" * 152, GSM7, 2, 306, 0),
    ("gsm-accents", "Größe: Äpfel, Öl, Übung, é è ñ Ç à ø å Æ ß £ ¥ § ¿ ¡", GSM7, 1, 52, 108),
    ("ucs-67", "ł" * 67, UCS2, 1, 67, 3),
    ("ucs-68", "ł" * 68, UCS2, 1, 68, 2),
    ("ucs-70", "ł" * 70, UCS2, 1, 70, 0),
    ("ucs-71", "ł" * 71, UCS2, 2, 71, 63),
    ("ucs-134", "ł" * 134, UCS2, 2, 134, 0),
    ("ucs-135", "ł" * 135, UCS2, 3, 135, 66),
    ("ucs-ext-one-unit", "ł" + "€{}", UCS2, 1, 4, 66),
    ("ucs-lowercase-c-cedilla", "ç", UCS2, 1, 1, 69),
    ("gsm-capital-c-cedilla", "Ç", GSM7, 1, 1, 159),
    ("ucs-tab", "a\tb", UCS2, 1, 3, 67),
    ("ucs-backtick", "`", UCS2, 1, 1, 69),
    ("ucs-acute-vowels", "áíóú", UCS2, 1, 4, 66),
    ("emoji-fits-single", "ł" * 68 + "😀", UCS2, 1, 70, 0),
    ("emoji-overflows-single", "ł" * 69 + "😀", UCS2, 2, 71, 63),
    # The surrogate pair would straddle units 67/68 of part 1: it moves whole to part 2.
    ("emoji-straddles", "ł" * 66 + "😀" + "ł" * 66, UCS2, 3, 134, 66),
    ("emoji-at-part-2-end", "ł" * 67 + "ł" * 66 + "😀", UCS2, 3, 135, 65),
    ("zwj-family", FAMILY, UCS2, 1, 11, 59),
    ("zwj-family-after-60", "ł" * 60 + FAMILY, UCS2, 2, 71, 56),
    ("zwj-family-straddles", "ł" * 60 + FAMILY + "ł" * 63, UCS2, 3, 134, 60),
    ("flag", FLAG_PL, UCS2, 1, 4, 66),
    ("flag-fits", "ł" * 66 + FLAG_PL, UCS2, 1, 70, 0),
    ("flag-straddles", "ł" * 65 + FLAG_PL + "ł" * 65, UCS2, 3, 134, 65),
    ("three-regional-indicators", "🇺🇸🇵", UCS2, 1, 6, 64),
    ("skin-tone", "👍🏽" * 17, UCS2, 1, 68, 2),
    ("combining-mark", "e\u0301", UCS2, 1, 2, 68),
    ("combining-straddles", "ł" * 66 + "e\u0301\u0301" + "ł" * 65, UCS2, 3, 134, 66),
    # One grapheme bigger than a part: the reference leaves part 1 empty and lets part 2
    # overflow.
    ("grapheme-bigger-than-a-part", "e" + "\u0301" * 100, UCS2, 2, 101, 0),
    ("mixed-scripts", "Привет, Łódź! 你好 😀 Olá", UCS2, 1, 23, 47),
    ("ucs-crlf", "ł" * 66 + "\r\n" + "ł" * 67, UCS2, 3, 135, 66),
]


@pytest.mark.parametrize(
    ("text", "enc", "segments", "used", "left"),
    [row[1:] for row in BOUNDARY_ROWS],
    ids=[row[0] for row in BOUNDARY_ROWS],
)
def test_boundaries(text: str, enc: str, segments: int, used: int, left: int) -> None:
    info = segment_info(text)
    assert (info.encoding, info.segments, info.units_used, info.units_left) == (
        enc, segments, used, left)
    assert is_gsm7(text) == (enc == GSM7)


def test_non_gsm_chars_are_graphemes_in_order_of_first_appearance() -> None:
    info = segment_info("Łódź e\u0301 ł 😀 Łódź " + FAMILY + " €")
    assert info.non_gsm_chars == ("Ł", "ó", "ź", "e\u0301", "ł", "😀", FAMILY)
    assert non_gsm_characters("Zażółć") == ("ż", "ó", "ł", "ć")
    assert segment_info("Größe € {}").non_gsm_chars == ()
    assert non_gsm_characters("plain") == ()


@pytest.mark.parametrize(
    ("text", "graphemes"),
    [
        ("a\r\n🇵🇱🇺🇸🇵e\u0301" + FAMILY, ["a", "\r", "\n", "🇵🇱", "🇺🇸", "🇵", "e\u0301", FAMILY]),
        ("❤\ufe0f👍\U0001f3fd1\ufe0f\u20e3", ["❤\ufe0f", "👍\U0001f3fd", "1\ufe0f\u20e3"]),
        ("\u1100\u1161\u11a8한", ["\u1100\u1161\u11a8", "한"]),
        # The reference's splitter predates Unicode 11's emoji rules: it cuts this ZWJ
        # sequence ("people holding hands") in three, and so does the port.
        ("🧑\u200d🤝\u200d🧑", ["🧑\u200d", "🤝\u200d", "🧑"]),
    ],
)
def test_graphemes_are_the_reference_splitters(text: str, graphemes: list[str]) -> None:
    assert encoding.split_graphemes(text) == graphemes


def test_segment_info_is_a_frozen_value() -> None:
    info = segment_info("ł" * 80)
    assert info == SegmentInfo(UCS2, 2, 80, 54, ("ł",))
    assert hash(info) == hash(SegmentInfo(UCS2, 2, 80, 54, ("ł",)))
    with pytest.raises(AttributeError):
        info.segments = 1  # type: ignore[misc]


def test_split_surrogates_count_like_the_pair() -> None:
    # Python can hold a surrogate pair as two code points; JavaScript sees one character.
    split = "ł" * 69 + "\ud83d\ude00"
    assert segment_info(split) == segment_info("ł" * 69 + "😀")
    lone = segment_info("a\ud83d")
    assert (lone.encoding, lone.segments, lone.units_used) == (UCS2, 1, 2)


# --------------------------------------------------------------------------- reference fixture

@lru_cache(maxsize=1)
def _fixture() -> dict:
    with (FIXTURES / "segments_reference.json").open(encoding="utf-8") as handle:
        return json.load(handle)


def test_fixture_is_from_the_pinned_reference() -> None:
    meta = _fixture()["meta"]
    package = json.loads((FIXTURES / "package.json").read_text(encoding="utf-8"))
    version = package["dependencies"]["sms-segments-calculator"]
    assert meta["reference"].startswith(f"sms-segments-calculator@{version} ")
    assert meta["options"] == {"encoding": "auto", "smartEncoding": False}
    assert meta["columns"] == ["text", "encoding", "segments", "units_used", "units_left", "non_gsm"]
    assert meta["count"] == len(_fixture()["rows"]) >= 2000


def test_matches_reference_on_the_whole_corpus() -> None:
    mismatches = []
    for text, enc, segments, used, left, non_gsm in _fixture()["rows"]:
        info = segment_info(text)
        got = (info.encoding, info.segments, info.units_used, info.units_left,
               list(info.non_gsm_chars))
        if got != (enc, segments, used, left, non_gsm):
            mismatches.append((text, got, (enc, segments, used, left, non_gsm)))
    assert not mismatches, f"{len(mismatches)} rows differ, first: {mismatches[:3]!r}"


def test_corpus_covers_the_cases_that_matter() -> None:
    rows = _fixture()["rows"]
    kinds = {(enc, min(segments, 3)) for _, enc, segments, *_ in rows}
    assert kinds == {(GSM7, 1), (GSM7, 2), (GSM7, 3), (UCS2, 1), (UCS2, 2), (UCS2, 3)}
    texts = [row[0] for row in rows]
    for needle in ["€", "\r\n", "\u200d", "\U0001f1f5", "\u0301", "\U0001f3fd", "ł", "Ж"]:
        assert sum(needle in t for t in texts) >= 20, needle


def test_grapheme_break_table_matches_the_reference_splitter() -> None:
    ranges = []
    for cp in range(0x110000):
        prop = encoding.PROPERTY_NAMES[encoding.grapheme_break_property(cp)]
        if ranges and ranges[-1][2] == prop and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        elif prop != "Other":
            ranges.append([cp, cp, prop])
    assert ranges == _fixture()["meta"]["grapheme_break_ranges"]


# --------------------------------------------------------------------------- properties

# A literal port of the reference: split the whole text with the splitter's rules, then
# fill parts bit by bit as SegmentedMessage._buildSegments does. No fast path, no zones.
def _naive_reference(text: str) -> tuple[str, int, int, int]:
    text = encoding._pair_surrogates(text)
    props = [encoding.grapheme_break_property(ord(c)) for c in text]
    graphemes, pos = [], 0
    for length in encoding._cluster_lengths(props):
        cluster = text[pos:pos + length]
        graphemes.extend(cluster if cluster == "\r\n" else [cluster])
        pos += length
    gsm = all(len(g) == 1 and g in encoding._GSM_CHARS for g in graphemes)
    if gsm:
        unit_bits, sizes = 7, [7 * (2 if g in encoding._EXTENSION_CHARS else 1) for g in graphemes]
    else:
        unit_bits = 16
        sizes = [16 * (len(g.encode("utf-16-le", "surrogatepass")) // 2) for g in graphemes]
    header = 48
    segments = [[]]  # each: list of sizes; a header counts as one 48-bit entry
    for size in sizes:
        if 1120 - sum(segments[-1]) < size:
            segments.append([header])
            if len(segments) == 2:
                first = segments[0]
                first.insert(0, header)
                moved = []
                while 1120 - sum(first) < 0:
                    moved.insert(0, first.pop())
                segments[-1].extend(moved)
        segments[-1].append(size)
    used = sum(sizes) // unit_bits
    left = max((1120 - sum(segments[-1])) // unit_bits, 0)
    return (GSM7 if gsm else UCS2), len(segments), used, left


INTERESTING = [
    "a", " ", "\n", "\r\n", "\r", "€", "{", "\f", "é", "Ç", "ç", "ł", "Ж", "\t", "`",
    "😀", "👍", "\U0001f3fd", FAMILY, "\u200d", "\u2764", "\ufe0f", FLAG_PL, "\U0001f1fa",
    "\u0301", "\u0308", "e\u0301", "\u1100", "\u1161", "\u11a8", "한", "\u0600", "\u093f",
    "你", "\U00020000",
]
any_char = st.characters(exclude_categories=("Cs",))
interesting_text = st.lists(
    st.one_of(st.sampled_from(INTERESTING), any_char),
    max_size=180,
).map("".join)
long_text = st.builds(
    lambda base, n, tail: base * n + tail,
    st.sampled_from(["a", "ł", "ab€", "😀", "ł\u0301"]),
    st.integers(0, 160),
    interesting_text,
)
any_text = st.one_of(interesting_text, long_text)
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(QUICK, max_examples=300)
@given(any_text)
def test_fast_paths_agree_with_a_literal_port(text: str) -> None:
    encoding._ANALYSIS_CACHE.clear()
    info = segment_info(text)
    got = (info.encoding, info.segments, info.units_used, info.units_left)
    assert got == _naive_reference(text)
    assert segment_info(text) == info  # again, through the analysis cache


@QUICK
@given(any_text, st.one_of(st.sampled_from(INTERESTING), any_char))
def test_appending_never_lowers_the_segment_count(text: str, extra: str) -> None:
    assert segment_info(text + extra).segments >= segment_info(text).segments


@QUICK
@given(any_text)
def test_at_least_one_segment_even_when_empty(text: str) -> None:
    # The reference counts the empty text as one (empty) part too.
    info = segment_info(text)
    assert info.segments >= 1
    assert info.units_left >= 0
    assert (info.non_gsm_chars == ()) == (info.encoding == GSM7)


MAPPED_OR_GSM = sorted(set(encoding.GSM_BASIC + encoding.GSM_EXTENSION) | set(TRANSLITERATIONS))


@QUICK
@given(st.text(alphabet=st.sampled_from(MAPPED_OR_GSM), max_size=120))
def test_transliterated_text_is_gsm7_when_every_char_has_a_mapping(text: str) -> None:
    assert is_gsm7(transliterate(text))


@QUICK
@given(st.one_of(any_text, st.lists(st.sampled_from(MAPPED_OR_GSM + INTERESTING)).map("".join)))
def test_transliterate_is_idempotent(text: str) -> None:
    once = transliterate(text)
    assert transliterate(once) == once


@QUICK
@given(st.text(alphabet=st.sampled_from(encoding.GSM_BASIC + encoding.GSM_EXTENSION)))
def test_transliterate_keeps_gsm7_text(text: str) -> None:
    assert transliterate(text) == text


# --------------------------------------------------------------------------- transliteration

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zażółć gęślą jaźń. ZAŻÓŁĆ GĘŚLĄ JAŹŃ", "Zazolc gesla jazn. ZAZOLC GESLA JAZN"),
        ("Zamówienie wysłane z Łodzi do Gdańska, dziękujemy!",
         "Zamowienie wyslane z Lodzi do Gdanska, dziekujemy!"),
        ("Příliš žluťoučký kůň úpěl ďábelské ódy", "Prilis zlutoucky kun upel dabelské ody"),
        ("Ťava Ňadro Ďateľ ý Ý", "Tava Nadro Datel y Y"),
        ("Olá João, o seu pedido nº 5 está a caminho: pão, açúcar e limões. Você",
         "Ola Joao, o seu pedido no 5 esta a caminho: pao, acucar e limoes. Voce"),
        ("âêô ÂÊÔ ãõ ÃÕ áíóú ÁÍÓÚ ç Ç", "aeo AEO ao AO aiou AIOU c Ç"),
        ("Română: ăâîșț ĂÂÎȘȚ şţ", "Romana: aaist AAIST st"),
        ("Magyar: őű ŐŰ", "Magyar: ou OU"),
        ("Türkçe: ğışçöü İĞŞ", "Türkce: giscöü IGS"),
        ("„Cytat” ‘single’ “double” «guillemets»", '"Cytat" \'single\' "double" "guillemets"'),
        ("en – em — ellipsis… bullet •", "en - em - ellipsis... bullet -"),
        ("no\u00a0break\u2009thin\u202fnarrow\ttab `tick`", "no break thin narrow tab 'tick'"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("e\u0301 decomposed, a\u0328 ogonek, C\u0327", "é decomposed, a ogonek, Ç"),
    ],
)
def test_transliteration_table(text: str, expected: str) -> None:
    assert transliterate(text) == expected
    assert is_gsm7(expected)


def test_gsm_characters_are_preserved() -> None:
    gsm = encoding.GSM_BASIC + encoding.GSM_EXTENSION
    assert transliterate(gsm) == gsm
    assert transliterate("Größe Äpfel Öl Übung ß é è ñ Ñ à ò ù ì Ç Ø Å Æ £ ¥ € {}") == (
        "Größe Äpfel Öl Übung ß é è ñ Ñ à ò ù ì Ç Ø Å Æ £ ¥ € {}")


def test_characters_without_look_alike_stay() -> None:
    text = "Привет 你好 😀 " + FAMILY + " " + FLAG_PL + " ❤️"
    assert transliterate(text) == text
    assert transliterate("Łódź 😀") == "Lodz 😀"


def test_transliteration_values_are_gsm7_and_keys_are_not() -> None:
    for char, value in TRANSLITERATIONS.items():
        assert not is_gsm7(char), char
        assert is_gsm7(value), (char, value)
    # Twilio's Smart Encoding table is one input; a few of its entries are overridden.
    assert TRANSLITERATIONS["\u201e"] == '"'
    assert TRANSLITERATIONS["\u00a0"] == " "  # Twilio: two spaces
    assert TRANSLITERATIONS["\t"] == " "  # Twilio: seven spaces


def test_transliteration_shrinks_segment_count() -> None:
    text = ("Zamówienie nr 12345 zostało wysłane. "
            "Dziękujemy za zakupy w naszym sklepie internetowym!")
    assert segment_info(text).encoding == UCS2 and segment_info(text).segments == 2
    after = segment_info(transliterate(text))
    assert (after.encoding, after.segments) == (GSM7, 1)

