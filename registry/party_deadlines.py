"""The party's own deadlines (issue 14 item 4): objections and removal applications we owe an
answer on.

An objection (异议) is answered within `objection_wd` working days (`objection.answer_due`), a
removal application decided within `early_removal_decide_wd` (`removal_application.decide_due`),
both copied onto the row when it was filed (`registry.removal`). Like a department's action
(`registry.sla_sweep`), a case still open past its due date gets one reminder to our own office
(催办, stamped `reminded_at`), and `escalate_after_wd` working days after the later of the
reminder and the due date one escalation to the supervising office (督办, `escalated_at`).

Exactly once: each level is a guarded set-based `UPDATE … WHERE <stamp> IS NULL AND state =
'open' AND <due> RETURNING`; only the rows it moved produce the notice and their audit events,
in the caller's transaction. Letters are issued on working days only, as the department sweep's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol, cast

import sqlalchemy as sa
from sqlmodel import Session

from registry.audit import EventDraft, append_events
from registry.clock import business_date
from registry.models import Objection, RemovalApplication
from registry.sla_sweep import Sweep, business_day_start, escalation_cutoff
from registry.vocabulary import NoticeKind

OBJECTION = cast(sa.Table, sa.inspect(Objection).local_table)
APPLICATION = cast(sa.Table, sa.inspect(RemovalApplication).local_table)

CaseKind = Literal["objection", "removal_application"]
PartyNoticeKind = Literal[NoticeKind.PARTY_DEADLINE_REMINDER, NoticeKind.PARTY_DEADLINE_ESCALATION]


@dataclass(frozen=True)
class _Case:
    """Where each kind of case keeps its columns."""

    kind: CaseKind
    table: sa.Table
    filed: str
    due: str
    provisional: str


CASES = (
    _Case("objection", OBJECTION, "filed_at", "answer_due", "answer_provisional"),
    _Case("removal_application", APPLICATION, "applied_at", "decide_due", "decide_provisional"),
)


@dataclass(frozen=True)
class OverdueCase:
    """One open case as the 催办 / 督办 lists it."""

    case: CaseKind
    case_id: int
    listing_id: int
    filed_on: date
    due: date
    provisional: bool
    overdue_wd: int
    reminded_on: date | None


@dataclass(frozen=True)
class PartyDeadlineRequest:
    """One letter owed: the reminder to our office, or an escalation per reminder date."""

    kind: PartyNoticeKind
    cases: tuple[OverdueCase, ...]
    escalate_after_wd: int
    reminded_on: date | None = None

    @property
    def step(self) -> str:
        """The notice key's step: the level and exactly which cases the letter covers."""
        joined = ",".join(sorted(f"{c.case}:{c.case_id}" for c in self.cases))
        level = 1 if self.kind is NoticeKind.PARTY_DEADLINE_REMINDER else 2
        return f"party-level-{level}-" + hashlib.sha256(joined.encode()).hexdigest()[:16]


class PartyNoticeEnqueuer(Protocol):
    """Renders the requests into the outbox in the caller's transaction
    (`notifications.party_deadline_notices`); returns how many notices were queued."""

    def __call__(self, session: Session, requests: Sequence[PartyDeadlineRequest]) -> int: ...


@dataclass
class PartySweepResult:
    reminded: list[tuple[str, int]] = field(default_factory=list)
    escalated: list[tuple[str, int]] = field(default_factory=list)
    notices: list[PartyDeadlineRequest] = field(default_factory=list)
    notices_queued: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "party_reminded": len(self.reminded),
            "party_escalated": len(self.escalated),
            "party_notices_queued": self.notices_queued,
        }


def sweep_party_deadlines(
    session: Session, sweep: Sweep, enqueue: PartyNoticeEnqueuer
) -> PartySweepResult:
    """Escalate what was reminded long enough ago, then remind what is newly overdue."""
    result = PartySweepResult()
    today, now = sweep.clock.today(), sweep.clock.now()
    if not sweep.calendar.is_working_day(today):
        return result
    after_wd = sweep.catalogue.time_limits.escalate_after_wd
    cutoff = escalation_cutoff(sweep.calendar, today, after_wd)
    escalated: list[OverdueCase] = []
    reminded: list[OverdueCase] = []
    for case in CASES:
        t = case.table
        open_late = sa.and_(t.c.state == "open", t.c[case.due] < today)
        escalated += _move(
            session,
            case,
            sa.and_(
                open_late,
                t.c.reminded_at.is_not(None),
                t.c.escalated_at.is_(None),
                t.c.reminded_at < business_day_start(cutoff + timedelta(days=1)),
                t.c[case.due] <= cutoff,
            ),
            "escalated_at",
            now,
            sweep,
        )
        reminded += _move(
            session, case, sa.and_(open_late, t.c.reminded_at.is_(None)), "reminded_at", now, sweep
        )
    by_reminder: dict[date, list[OverdueCase]] = {}
    for item in escalated:
        by_reminder.setdefault(item.reminded_on or today, []).append(item)
    for reminded_on, items in sorted(by_reminder.items()):
        result.notices.append(
            PartyDeadlineRequest(
                NoticeKind.PARTY_DEADLINE_ESCALATION, tuple(items), after_wd, reminded_on
            )
        )
    if reminded:
        result.notices.append(
            PartyDeadlineRequest(NoticeKind.PARTY_DEADLINE_REMINDER, tuple(reminded), after_wd)
        )
    result.reminded = [(c.case, c.case_id) for c in reminded]
    result.escalated = [(c.case, c.case_id) for c in escalated]
    events = [_event(item, "remind", sweep, today) for item in reminded] + [
        _event(item, "escalate", sweep, today) for item in escalated
    ]
    if events:
        append_events(session, events, at=now)
        result.notices_queued = enqueue(session, result.notices)
    return result


def _move(
    session: Session,
    case: _Case,
    condition: sa.ColumnElement[bool],
    stamp: str,
    now: datetime,
    sweep: Sweep,
) -> list[OverdueCase]:
    t = case.table
    rows = session.execute(
        sa.update(t)
        .where(condition)
        .values({stamp: now})
        .returning(
            t.c.id,
            t.c.listing_id,
            t.c[case.filed],
            t.c[case.due],
            t.c[case.provisional],
            t.c.reminded_at,
        )
    ).all()
    today = sweep.clock.today()
    return [
        OverdueCase(
            case=case.kind,
            case_id=int(row[0]),
            listing_id=int(row[1]),
            filed_on=business_date(row[2]),
            due=row[3],
            provisional=bool(row[4]),
            overdue_wd=max(sweep.calendar.working_days_between(row[3], today).days, 1),
            reminded_on=business_date(row[5]) if stamp == "escalated_at" else None,
        )
        for row in sorted(rows, key=lambda r: int(r[0]))
    ]


def _event(item: OverdueCase, level: str, sweep: Sweep, today: date) -> EventDraft:
    return EventDraft(
        actor=sweep.actor,
        action=f"{item.case}.{level}",
        entity_type=item.case,
        entity_id=item.case_id,
        before=None,
        after={"listing_id": item.listing_id, "due": item.due, "on": today, "level": level},
        source=sweep.source,
    )
