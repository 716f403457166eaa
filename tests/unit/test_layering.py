"""DESIGN.md §2 and §8: the layers import only downwards, and the core imports no shell.

`memoranda` ← `registry` ← `notifications` ← `service` ← `tasks` ← `flows` ← `deployments`:
each package may import the ones to its left, never one to its right. `registry/` and
`memoranda/` import no Prefect, Jinja2 or SMTP library; `notifications/render.py` is pure too
(Jinja2 is its whole point, but no Prefect, no SMTP, no database).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

FORBIDDEN = {"prefect", "jinja2", "aiosmtplib", "aiosmtpd"}
RENDER_FORBIDDEN = {"prefect", "aiosmtplib", "aiosmtpd", "sqlalchemy", "sqlmodel"}
RENDER = REPO / "notifications" / "render.py"
LAYERS = ("memoranda", "registry", "notifications", "service", "tasks", "flows", "deployments")
"""Lowest first: a package may import those before it in this tuple, never those after it."""


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def package_files(package: str) -> list[Path]:
    return sorted(REPO.joinpath(package).rglob("*.py"))


def core_files() -> list[Path]:
    return [*package_files("registry"), *package_files("memoranda")]


def upward_imports(package: str, files: list[Path]) -> dict[str, list[str]]:
    """File → the packages above `package` that it imports."""
    above = set(LAYERS[LAYERS.index(package) + 1 :])
    return {
        str(path.relative_to(path.parents[1])): sorted(_imports(path) & above)
        for path in files
        if _imports(path) & above
    }


def test_the_core_imports_no_shell() -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(_imports(path) & FORBIDDEN)
        for path in core_files()
        if _imports(path) & FORBIDDEN
    }
    assert offenders == {}


def test_the_service_layer_imports_no_prefect() -> None:
    """`service/` is how a unit of work runs, shared by tasks and the CLI: no orchestrator."""
    files = package_files("service")
    assert files, "service/ is missing"
    offenders = {
        str(path.relative_to(REPO)): sorted(_imports(path) & {"prefect"})
        for path in files
        if "prefect" in _imports(path)
    }
    assert offenders == {}


def test_rendering_is_pure() -> None:
    assert RENDER.exists()
    assert _imports(RENDER) & RENDER_FORBIDDEN == set()


def test_the_detector_sees_an_offence(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("from prefect import flow\nimport jinja2.sandbox\n", encoding="utf-8")
    assert _imports(sample) & FORBIDDEN == {"prefect", "jinja2"}


@pytest.mark.parametrize("package", LAYERS[:-1])
def test_no_layer_imports_one_above_it(package: str) -> None:
    """memoranda imports nothing from registry (its errors are its own), and so on upwards."""
    assert upward_imports(package, package_files(package)) == {}


def test_the_layer_check_sees_an_upward_import(tmp_path: Path) -> None:
    sample = tmp_path / "loader.py"
    sample.write_text("from registry.errors import CatalogueError\n", encoding="utf-8")
    assert upward_imports("memoranda", [sample]) == {f"{tmp_path.name}/loader.py": ["registry"]}
