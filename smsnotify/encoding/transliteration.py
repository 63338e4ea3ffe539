"""GSM-7 look-alikes for characters GSM-7 lacks, so a text can go in the cheaper encoding.

Polish, Czech, Portuguese, Romanian, Hungarian, Turkish letters lose their accents, smart
quotes and dashes become ASCII, starting from Twilio's Smart Encoding table.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from types import MappingProxyType

from .alphabet import _GSM_CHARS, _NON_GSM_RE

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
