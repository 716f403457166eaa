"""The house rules a newcomer relies on: public faces only, and rooms small enough to read.

- No module imports another module's underscore names (`from x import _y`, or `x._y` after
  `import x`): what a module shares it names publicly, so a reader sees every seam.
- No module in `registry/` is over ~500 lines unless its docstring says why
  ("Over 500 lines because …").
- One helper owns SQLite's bind-parameter chunk size (`registry.db.in_list_chunks`): no other
  module slices id lists by its own number.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO

PROJECT = ("memoranda", "registry", "notifications", "service", "tasks", "flows", "deployments")
CHECKED = (*PROJECT, "bench", "tests")
MODULE_LINES = 500
SIZE_REASON = "Over 500 lines because"


def project_files() -> list[Path]:
    return sorted(p for top in CHECKED for p in REPO.joinpath(top).rglob("*.py"))


def private_imports(path: Path) -> list[str]:
    """Every underscore name of a project module that `path` imports or reaches into."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    ours = (*CHECKED,)
    modules: set[str] = set()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] not in ours:
                continue
            found += [
                f"{node.module}.{a.name}"
                for a in node.names
                if a.name.startswith("_") and not a.name.startswith("__")
            ]
            modules.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ours:
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_no_module_imports_another_modules_underscore_names() -> None:
    offenders = {
        str(path.relative_to(REPO)): names
        for path in project_files()
        if (names := private_imports(path))
    }
    assert offenders == {}


def test_the_import_check_sees_an_underscore_name(tmp_path: Path) -> None:
    sample = tmp_path / "sheets.py"
    sample.write_text(
        "from registry.spreadsheet import _blank, Column\n"
        "from registry import audit\n"
        "audit._chain()\n"
        "from prefect.cli.deploy import _schedules\n",
        encoding="utf-8",
    )
    assert private_imports(sample) == ["registry.spreadsheet._blank", "audit._chain"]


def oversized(paths: list[Path]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if lines > MODULE_LINES and SIZE_REASON not in docstring:
            sizes[path.name] = lines
    return sizes


def test_no_registry_module_is_over_500_lines_without_saying_why() -> None:
    modules = [p for p in REPO.joinpath("registry").rglob("*.py") if "migrations" not in p.parts]
    assert oversized(modules) == {}


def test_the_size_check_sees_a_long_module(tmp_path: Path) -> None:
    long = tmp_path / "long.py"
    long.write_text('"""A long module."""\n' + "x = 1\n" * 600, encoding="utf-8")
    excused = tmp_path / "excused.py"
    excused.write_text(f'"""A long module.\n\n{SIZE_REASON} it must be."""\n' + "x = 1\n" * 600)
    assert oversized([long, excused]) == {"long.py": 601}


CHUNK_OWNER = REPO / "registry" / "db.py"
OWN_CHUNK = re.compile(r"\b(?:900|999)\b")
"""A literal SQLite bind-parameter limit (or the margin under it) typed anywhere but its owner."""


def own_chunk_sizes(paths: list[Path]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        hits = [n for n, line in enumerate(lines, start=1) if OWN_CHUNK.search(line)]
        if hits:
            found[path.name] = hits
    return found


def test_one_helper_owns_the_sqlite_chunk_size() -> None:
    code = [
        p
        for top in PROJECT
        for p in REPO.joinpath(top).rglob("*.py")
        if p != CHUNK_OWNER and "migrations" not in p.parts
    ]
    assert own_chunk_sizes(code) == {}


def test_the_chunk_check_sees_a_private_chunk_size(tmp_path: Path) -> None:
    sample = tmp_path / "outbox.py"
    sample.write_text("for start in range(0, len(ids), 900):\n    pass\n", encoding="utf-8")
    assert own_chunk_sizes([sample]) == {"outbox.py": [1]}
