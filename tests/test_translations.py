"""Every product string is translated, and the compiled catalogs say what the .po files say.

"Everything a merchant reads is in the shop's language": an empty or fuzzy msgstr shows English to a
Polish or Portuguese shop (Django ignores fuzzy entries), and a .po edited without compilemessages
changes nothing at run time. Both fail here, naming the strings.
"""

import ast
import gettext
import re
from pathlib import Path

import pytest

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = ["pl", "pt"]

_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$')


def _string(quoted: str) -> str:
    # A PO string is a C string literal in double quotes; these escapes are Python's too.
    return ast.literal_eval(quoted)


def parse_po(path: Path) -> list[dict]:
    """The entries of a .po file (obsolete ones left out), header included as msgid ""."""
    entries, entry, field = [], None, None

    def close():
        if entry is not None and "msgid" in entry:
            entries.append(entry)

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            if not line:
                close()
                entry, field = None, None
            continue
        if entry is None:
            entry = {"flags": set(), "msgctxt": None, "msgid_plural": None, "msgstr": {}, "line": number}
        if line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif match := _KEYWORD.match(line):
            keyword, index, quoted = match.groups()
            if keyword.startswith("msgstr"):
                field = ("msgstr", int(index) if index is not None else None)
                entry["msgstr"][field[1]] = _string(quoted)
            else:
                field = (keyword, None)
                entry[keyword] = _string(quoted)
        elif line.startswith('"') and field is not None:
            if field[0] == "msgstr":
                entry["msgstr"][field[1]] += _string(line)
            else:
                entry[field[0]] += _string(line)
        else:
            raise AssertionError(f"{path}:{number}: cannot read {raw!r}")
    close()
    return entries


def _label(entry: dict) -> str:
    context = f"[{entry['msgctxt']}] " if entry["msgctxt"] is not None else ""
    return f"line {entry['line']}: {context}{entry['msgid']!r}"


def _po(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "django.po"


def _nplurals(entries: list[dict]) -> int:
    header = next(entry for entry in entries if entry["msgid"] == "")
    match = re.search(r"nplurals\s*=\s*(\d+)", header["msgstr"][None])
    assert match, "the .po header has no Plural-Forms"
    return int(match.group(1))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_product_string_is_translated(language):
    entries = parse_po(_po(language))
    nplurals = _nplurals(entries)
    empty, fuzzy, wrong_forms = [], [], []
    for entry in entries:
        if entry["msgid"] == "":
            continue
        if "fuzzy" in entry["flags"]:
            fuzzy.append(_label(entry))
        forms = entry["msgstr"]
        if entry["msgid_plural"] is not None and sorted(forms) != list(range(nplurals)):
            wrong_forms.append(f"{_label(entry)} has forms {sorted(forms)}, expected 0..{nplurals - 1}")
        if any(text == "" for text in forms.values()):
            empty.append(_label(entry))
    problems = (
        [f"untranslated ({len(empty)}):", *empty] if empty else []
    ) + (
        [f"fuzzy ({len(fuzzy)}):", *fuzzy] if fuzzy else []
    ) + (
        ["wrong plural forms:", *wrong_forms] if wrong_forms else []
    )
    assert not problems, f"locale/{language}/LC_MESSAGES/django.po\n" + "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalog_matches_the_po_file(language):
    """A forgotten `manage.py compilemessages` leaves the .mo saying something else."""
    po = _po(language)
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run manage.py compilemessages"
    with mo.open("rb") as handle:
        catalog = dict(gettext.GNUTranslations(handle)._catalog)

    expected = {}
    for entry in parse_po(po):
        if "fuzzy" in entry["flags"] or entry["msgid"] == "":
            continue  # msgfmt leaves fuzzy entries out; the header is checked by gettext itself
        key = entry["msgid"] if entry["msgctxt"] is None else f"{entry['msgctxt']}\x04{entry['msgid']}"
        if entry["msgid_plural"] is None:
            if entry["msgstr"][None]:
                expected[key] = entry["msgstr"][None]
        elif all(entry["msgstr"].values()):
            expected.update({(key, index): text for index, text in entry["msgstr"].items()})
    catalog.pop("", None)

    stale = sorted(str(key) for key in expected if catalog.get(key) != expected[key])
    extra = sorted(str(key) for key in catalog if key not in expected)
    assert not stale and not extra, (
        f"{mo} does not match {po.name}: run manage.py compilemessages\n"
        + "\n".join([f"differs or missing: {key}" for key in stale] + [f"not in the .po: {key}" for key in extra])
    )


def test_polish_addresses_the_merchant_with_a_capital_twoj():
    """Pages said "Twój numer" and "od twojego nadawcy": the polite address is capitalised throughout."""
    lowercase = re.compile(r"(?<!\w)tw(?:ój|oja|oje|ojego|ojej|ojemu|oim|oimi|oją|oich)(?!\w)")
    found = [text for entry in parse_po(_po("pl")) for text in entry["msgstr"].values() if lowercase.search(text)]
    assert not found, found
