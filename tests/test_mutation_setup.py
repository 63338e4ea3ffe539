"""`make mutation`'s pieces: the mutated files are the core, and the "wording only" rule is mechanical."""

import ast
import importlib.machinery
import importlib.util
import os
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


def test_a_mutants_pytest_session_starts_from_the_migrated_template_and_leaves_it_as_it_was(tmp_path):
    import sqlite3
    import subprocess
    import sys

    template = tmp_path / "template.sqlite3"
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL", "CI"}}
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True,
                   env={**env, "DATABASE_URL": f"sqlite:///{template}"})
    with sqlite3.connect(template) as db:  # a row only the template has: the session must see it
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("INSERT INTO auth_group (name) VALUES ('from the template')")
    before = template.read_bytes()
    # as tests/conftest.py has it (a conftest's fixture overrides pytest-django's)
    (tmp_path / "conftest.py").write_text("from tests.plugins.template_db import django_db_setup  # noqa: F401\n")
    test = tmp_path / "test_from_template.py"
    test.write_text(
        "import pytest\n"
        "from django.contrib.auth.models import Group\n\n"
        "@pytest.mark.django_db\n"
        "def test_it():\n"
        "    assert list(Group.objects.values_list('name', flat=True)) == ['from the template']\n"
        "    Group.objects.all().delete()\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--rootdir={ROOT}",
                          "-c", str(ROOT / "pytest.ini"), str(test)],
                         cwd=ROOT, env={**env, "SMSNOTIFY_TEST_DB_TEMPLATE": str(template)},
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert template.read_bytes() == before
