"""DESIGN.md §2: the core imports no shell — no Prefect, Jinja2 or aiosmtplib."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

FORBIDDEN = {"prefect", "jinja2", "aiosmtplib"}


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
    files = [*REPO.joinpath("registry").rglob("*.py"), *REPO.joinpath("memoranda").rglob("*.py")]
    render = REPO / "notifications" / "render.py"
    return [*files, render] if render.exists() else files


def test_the_core_imports_no_shell() -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(_imports(path) & FORBIDDEN)
        for path in core_files()
        if _imports(path) & FORBIDDEN
    }
    assert offenders == {}


def test_the_detector_sees_an_offence(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("from prefect import flow\nimport jinja2.sandbox\n", encoding="utf-8")
    assert _imports(sample) & FORBIDDEN == {"prefect", "jinja2"}


def test_registry_imports_nothing_above_it() -> None:
    above = {"notifications", "tasks", "flows", "deployments"}
    offenders = {
        str(path.relative_to(REPO)): sorted(_imports(path) & above)
        for path in core_files()
        if path.parent.name != "notifications" and _imports(path) & above
    }
    assert offenders == {}
