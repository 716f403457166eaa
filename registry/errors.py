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
        super().__init__(
            f"状态变更 {event} 被拒绝（transition refused）：{refusal_summary(self.refusals)}",
            event=event,
            refusals={str(k): v for k, v in self.refusals.items()},
        )


SHOWN_IDS = 10
"""Listing ids named in a refusal that applies to many; the rest are counted (`--json` has all)."""


def refusal_summary(refusals: Mapping[int, Sequence[str]]) -> str:
    """Each reason once, with the listings it applies to: a batch of 30 proposed by the
    reviewer is one "审核人不得为提出人" for 30 listings, not the same sentence 30 times."""
    by_reason: dict[str, list[int]] = {}
    for listing_id, reasons in refusals.items():
        for reason in reasons:
            by_reason.setdefault(reason, []).append(listing_id)
    parts = []
    for reason, ids in by_reason.items():
        if len(ids) == 1:
            parts.append(f"名单 {ids[0]}：{reason}")
            continue
        shown = "、".join(map(str, ids[:SHOWN_IDS])) + (" 等" if len(ids) > SHOWN_IDS else "")
        parts.append(f"{reason}，涉及 {len(ids)} 条名单：{shown}")
    return "；".join(parts)


class NotFound(JointcreditError):
    """A referenced row does not exist."""
