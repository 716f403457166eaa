"""DESIGN.md §2: the core imports no shell.

`registry/` and `memoranda/` import no Prefect, Jinja2 or SMTP library; `notifications/render.py`
is pure too (Jinja2 is its whole point, but no Prefect, no SMTP, no database).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

FORBIDDEN = {"prefect", "jinja2", "aiosmtplib", "aiosmtpd"}
RENDER_FORBIDDEN = {"prefect", "aiosmtplib", "aiosmtpd", "sqlalchemy", "sqlmodel"}
RENDER = REPO / "notifications" / "render.py"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def core_files() -> list[Path]:
    return [*REPO.joinpath("registry").rglob("*.py"), *REPO.joinpath("memoranda").rglob("*.py")]


def test_the_core_imports_no_shell() -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(_imports(path) & FORBIDDEN)
        for path in core_files()
        if _imports(path) & FORBIDDEN
    }
    assert offenders == {}


def test_rendering_is_pure() -> None:
    assert RENDER.exists()
    assert _imports(RENDER) & RENDER_FORBIDDEN == set()


def test_the_detector_sees_an_offence(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("from prefect import flow\nimport jinja2.sandbox\n", encoding="utf-8")
    assert _imports(sample) & FORBIDDEN == {"prefect", "jinja2"}


def test_registry_imports_nothing_above_it() -> None:
    above = {"notifications", "tasks", "flows", "deployments"}
    offenders = {
        str(path.relative_to(REPO)): sorted(_imports(path) & above)
        for path in core_files()
        if _imports(path) & above
    }
    assert offenders == {}
