"""The root of jointcredit's one error tree, and the catalogue's own errors.

The root lives here, in the lowest layer, so that the catalogue can raise errors of the same tree
without importing `registry` (the layering test checks that no arrow runs back up);
`registry.errors` re-exports it and grows the rest of the tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class JointcreditError(Exception):
    """Base class: `message` is what a user reads (Chinese first), `fields` what code reads."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, Any] = fields

    def as_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": self.message, **self.fields}


class CatalogueError(JointcreditError):
    """A catalogue file (memoranda, departments, rule-sets, calendar) is invalid.

    `problems` lists every problem found, each naming the file and the key path.
    """

    def __init__(self, problems: Sequence[CatalogueProblem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"目录文件校验失败（catalogue invalid），共 {len(self.problems)} 处：\n{lines}",
            problems=[p.as_dict() for p in self.problems],
        )


class CatalogueProblem:
    """One problem in one catalogue file, at one key path such as `departments[3].code`."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        self.file = file
        self.key = key
        self.reason = reason

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "key": self.key, "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.file}: {self.key or '(文件)'}: {self.reason}"
