"""The one error tree of jointcredit (its root lives in `memoranda.errors`, the lowest layer).

Every error carries a Chinese message for the user and structured fields for code and logs, so
the CLI, the Prefect UI and tests can all say exactly which row, field or file is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from memoranda.errors import CatalogueError, CatalogueProblem, JointcreditError

__all__ = [
    "CalendarError",
    "CatalogueError",
    "CatalogueProblem",
    "ConfigurationError",
    "IdentifierError",
    "JointcreditError",
    "NotFound",
    "TransitionRefused",
]


class ConfigurationError(JointcreditError):
    """A setting is missing, malformed or not allowed in this environment."""


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
