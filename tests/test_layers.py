"""The apps are layered and imports only go down (docs: ../shared/DESIGN.md, "Layers").

Every import of every app module is read from its source, at module level and inside
functions alike, so an upward import cannot hide in a function body.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Lowest first; an app may import only the apps before it.
LAYERS = ["shop", "smsnotify", "credits", "templates_sms", "campaigns"]
# The project's wiring sits above every app.
WIRING = {"smsnotify/settings.py", "smsnotify/urls.py", "smsnotify/celery.py", "smsnotify/wsgi.py"}


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
    return problems


def test_imports_only_go_down():
    assert upward_imports() == []


def test_the_check_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from campaigns import receivers\n    import credits.ledger\n")
    assert imported_apps(module) == {("campaigns", 2), ("credits", 3)}


@pytest.mark.parametrize("app", LAYERS)
def test_every_app_has_modules_to_check(app):
    assert any(True for _ in app_modules(app))
