"""The apps are layered and imports only go down (docs: ../shared/DESIGN.md, "Layers").

Every import of every app module is read from its source, at module level and inside
functions alike, so an upward import cannot hide in a function body.
"""

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Lowest first; an app may import only the apps before it.
LAYERS = ["shop", "smsnotify", "credits", "templates_sms", "campaigns"]
# The project's wiring sits above every app (the admin site's frame, with the credits badge, too).
WIRING = {"smsnotify/settings.py", "smsnotify/urls.py", "smsnotify/celery.py", "smsnotify/wsgi.py",
          "smsnotify/templates/admin/base_site.html", "smsnotify/templates/admin/language_picker.html"}
# What a template reaches: another template ("credits/admin/badge.html", "admin/campaigns/…")
# or a URL name ("admin:credits_purchase_buy").
TEMPLATE_USE = re.compile(r"""{%\s*(?:include|extends)\s+["']([^"']+)["']|{%\s*url\s+["']admin:([a-z_]+)""")


def imported_apps(path: pathlib.Path) -> set[tuple[str, int]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in LAYERS:
                found.add((top, node.lineno))
    return found


def template_apps(path: pathlib.Path) -> set[tuple[str, int]]:
    found = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        for included, url_app in TEMPLATE_USE.findall(line):
            if included:
                parts = included.split("/")
                target = parts[1] if parts[0] == "admin" and len(parts) > 2 else parts[0]
            else:
                target = next((app for app in sorted(LAYERS, key=len, reverse=True)
                               if url_app.startswith(app + "_")), url_app)
            if target in LAYERS:
                found.add((target, number))
    return found


def app_templates(app: str):
    for path in sorted((ROOT / app / "templates").rglob("*.html")):
        relative = path.relative_to(ROOT).as_posix()
        if relative not in WIRING:
            yield path, relative


def app_modules(app: str):
    for path in sorted((ROOT / app).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if "/migrations/" not in relative and relative not in WIRING:
            yield path, relative


def upward_imports() -> list[str]:
    problems = []
    for rank, app in enumerate(LAYERS):
        allowed = set(LAYERS[: rank + 1])
        for path, relative in app_modules(app):
            for target, line in sorted(imported_apps(path)):
                if target not in allowed:
                    problems.append(f"{relative}:{line} imports {target} (above {app})")
        for path, relative in app_templates(app):
            for target, line in sorted(template_apps(path)):
                if target not in allowed:
                    problems.append(f"{relative}:{line} uses a template or page of {target} (above {app})")
    return problems


def test_imports_only_go_down():
    assert upward_imports() == []


def test_the_check_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from campaigns import receivers\n    import credits.ledger\n")
    assert imported_apps(module) == {("campaigns", 2), ("credits", 3)}


def test_the_check_sees_templates_and_pages_of_other_apps(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('{% include "credits/admin/badge.html" %}\n<a href="{% url \'admin:templates_sms_smstemplate_preview\' %}">'
                    '\n{% extends "admin/templates_sms/base.html" %}\n{% url "admin:index" %}')
    assert template_apps(page) == {("credits", 1), ("templates_sms", 2), ("templates_sms", 3)}


@pytest.mark.parametrize("app", LAYERS)
def test_every_app_has_modules_to_check(app):
    assert any(True for _ in app_modules(app))
