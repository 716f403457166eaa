"""The one error tree of jointcredit.

Every error carries a Chinese message for the user and structured fields for code and logs, so
the CLI, the Prefect UI and tests can all say exactly which row, field or file is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class JointcreditError(Exception):
    """Base class: `message` is what a user reads (Chinese first), `fields` what code reads."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, Any] = fields

    def as_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": self.message, **self.fields}


class ConfigurationError(JointcreditError):
    """A setting is missing, malformed or not allowed in this environment."""


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


class IdentifierError(JointcreditError):
    """An identifier (USCC, resident ID number) cannot be accepted."""


class CalendarError(JointcreditError):
    """A working-day computation cannot be made (bad arguments, not an unknown year)."""


class TransitionRefused(JointcreditError):
    """A lifecycle transition was refused by the table or a guard.

    `refusals` maps listing id to the reasons (Chinese) it could not move.
    """

    def __init__(self, event: str, refusals: Mapping[int, Sequence[str]]) -> None:
        self.event = event
        self.refusals = {k: list(v) for k, v in refusals.items()}
        detail = "；".join(f"名单 {k}：{'、'.join(v)}" for k, v in self.refusals.items())
        super().__init__(
            f"状态变更 {event} 被拒绝（transition refused）：{detail}",
            event=event,
            refusals={str(k): v for k, v in self.refusals.items()},
        )


class NotFound(JointcreditError):
    """A referenced row does not exist."""
