"""`make mutation`'s pieces: the mutated files are the core, and the "wording only" rule is mechanical."""

import ast
import importlib.machinery
import importlib.util
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _report_module():
    loader = importlib.machinery.SourceFileLoader("mutation_report", str(ROOT / "bin" / "mutation-report"))
    spec = importlib.util.spec_from_loader("mutation_report", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


report = _report_module()


def test_mutmut_mutates_exactly_the_core_the_report_scores():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    assert sorted(config["only_mutate"]) == sorted(report.CORE)
    for path in report.CORE:
        assert (ROOT / path).is_file(), path
        assert any(path.startswith(source) for source in config["source_paths"]), path


def test_every_listed_equivalent_says_what_it_changes_and_why():
    entries = report.read_equivalents()
    for key, (line, why) in entries.items():
        assert any(key.startswith(report.module_name(path) + ".") for path in report.CORE), key
        assert "__mutmut_" in key and line and len(why) > 10, key


def _pair(original: str, mutant: str):
    return ast.parse(f"def f():\n    {original}\n").body[0], ast.parse(f"def f():\n    {mutant}\n").body[0]


@pytest.mark.parametrize(("original", "mutant"), [
    ('raise ValidationError(_("Too short."))', 'raise ValidationError(_("XXToo short.XX"))'),
    ('x = ngettext("%(n)s part", "%(n)s parts", n) % {"n": n}', 'x = ngettext("%(n)s part", "XX%(n)s partsXX", n) % {"n": n}'),
    ('x = pgettext("ticket status", "Open")', 'x = pgettext("TICKET STATUS", "Open")'),
    ('logger.warning("lookup failed for %s", pk)', 'logger.warning("LOOKUP FAILED FOR %s", pk)'),
    ('raise ValueError("unknown kind")', 'raise ValueError("XXunknown kindXX")'),
])
def test_a_changed_sentence_is_wording(original, mutant):
    assert report.wording_only(*_pair(original, mutant))


@pytest.mark.parametrize(("original", "mutant"), [
    # a placeholder that no longer matches its parameters makes formatting raise
    ('x = _("Minimum %(minimum)s.") % {"minimum": m}', 'x = _("MINIMUM %(MINIMUM)S.") % {"minimum": m}'),
    # a value the code compares or stores is behaviour, not wording
    ('status = "failed"', 'status = "XXfailedXX"'),
    ('x = f("failed", _("Failed."))', 'x = f("FAILED", _("Failed."))'),
    ('logger.warning("lookup failed", extra={"key": "k"})', 'logger.warning("lookup failed", extra={"key": "K"})'),
    ('raise ValidationError(_("Too short."), code="short")', 'raise ValidationError(_("Too short."), code="SHORT")'),
    ('raise ValidationError(_("Too short."))', 'raise ValidationError(None)'),
    ('raise ValidationError(_("Too short."))', 'raise ValidationError(_("Too short."))'),
])
def test_anything_else_is_not_wording(original, mutant):
    assert not report.wording_only(*_pair(original, mutant))
