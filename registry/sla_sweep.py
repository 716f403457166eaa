"""The SLA sweep: department actions past due get a reminder (催办函), then an escalation (督办).

An action is overdue on a clock when its state has not reached that step and the business date
is past the due date copied onto the action at dispatch (DESIGN.md §3):

- 响应 (ack):        state = dispatched                     and ack_due < today
- 反馈 (feedback):   state in (dispatched, acknowledged)     and feedback_due < today
- 解除确认 (lift):   state = lift_requested                  and lift_due < today

Levels (`registry.sla.OverdueLevel`), one counter per action (`escalation_level`):

- 0 → 1: overdue on any clock → one reminder digest to the department per sweep, listing every
  action that reached level 1 in this sweep.
- 1 → 2: still overdue, and `catalogue.time_limits.escalate_after_wd` (N) working days have
  passed since the later of the reminder date and the due date of the overdue clock → one
  escalation digest to the supervising office per department (and reminder date).

The counter applies to whatever clock is overdue now. A department reminded about its
acknowledgement that then acknowledges but misses the feedback date is not reminded a second
time: it was already warned that a further delay is escalated, and it still gets N working days
past the feedback due date before the escalation. Reminding once per clock would need a level
per clock (a schema change). A lift request (`registry.removal`) restarts the level at 0, so the
lift clock gets its own reminder; each reminder re-stamps `reminded_at`.

Letters are issued on working days only: an official letter is dated on a working day, and on
a non-working day no working day of a department's time passes, so waiting for the next working
day costs the department nothing and keeps "overdue by n working days" at least 1.

Exactly once: each level is a guarded set-based `UPDATE … WHERE escalation_level = <from> AND
<overdue> RETURNING`; only the actions it actually moved produce notices and audit events, all
in the caller's transaction. On PostgreSQL the candidates are taken `FOR UPDATE SKIP LOCKED`,
so two sweeps at once split the work instead of waiting; SQLite serialises writers and the
UPDATE is the transaction's first statement, so the guard alone is enough. Nothing commits here.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, Protocol, cast

import sqlalchemy as sa
from sqlmodel import Session

from memoranda.loader import Catalogue
from registry.audit import EventDraft, append_events
from registry.calendar import Deadline, WorkingCalendar
from registry.clock import BUSINESS_TZ, Clock, business_date
from registry.models import ActionState, DepartmentAction
from registry.sla import OverdueLevel
from registry.vocabulary import NoticeKind, ResponseKind

ACTION = cast(sa.Table, sa.inspect(DepartmentAction).local_table)

OPEN_STATES = (
    ActionState.DISPATCHED.value,
    ActionState.ACKNOWLEDGED.value,
    ActionState.LIFT_REQUESTED.value,
)
"""States in which a department still owes a step."""


SlaNoticeKind = Literal[NoticeKind.REMINDER, NoticeKind.ESCALATION]
"""The notices the sweep causes (`notifications.sla_notices` fills them)."""


DUE_COLUMNS: dict[ResponseKind, sa.Column[Any]] = {
    ResponseKind.ACK: ACTION.c.ack_due,
    ResponseKind.FEEDBACK: ACTION.c.feedback_due,
    ResponseKind.LIFT: ACTION.c.lift_due,
}


def overdue_clauses(today: date) -> dict[ResponseKind, sa.ColumnElement[bool]]:
    """Per clock, the SQL condition "overdue today"; each fits its index (state, *_due)."""
    return {
        ResponseKind.ACK: sa.and_(
            ACTION.c.state == ActionState.DISPATCHED.value, ACTION.c.ack_due < today
        ),
        ResponseKind.FEEDBACK: sa.and_(
            ACTION.c.state.in_([ActionState.DISPATCHED.value, ActionState.ACKNOWLEDGED.value]),
            ACTION.c.feedback_due < today,
        ),
        ResponseKind.LIFT: sa.and_(
            ACTION.c.state == ActionState.LIFT_REQUESTED.value, ACTION.c.lift_due < today
        ),
    }


def overdue_condition(today: date) -> sa.ColumnElement[bool]:
    return sa.or_(*overdue_clauses(today).values())


@dataclass(frozen=True)
class ClockDue:
    clock: ResponseKind
    due: date
    provisional: bool


_OWED_BY_STATE: dict[str, tuple[ResponseKind, ...]] = {
    ActionState.DISPATCHED.value: (ResponseKind.ACK, ResponseKind.FEEDBACK),
    ActionState.ACKNOWLEDGED.value: (ResponseKind.FEEDBACK,),
    ActionState.LIFT_REQUESTED.value: (ResponseKind.LIFT,),
}
"""The clocks still running in each state, in the order a department owes them."""


def overdue_clock(
    state: str,
    dues: dict[ResponseKind, tuple[date | None, bool]],
    today: date,
) -> ClockDue | None:
    """The first clock (ack, feedback, lift) the action is overdue on today, if any."""
    for clock in _OWED_BY_STATE.get(state, ()):
        due, provisional = dues.get(clock, (None, False))
        if due is not None and due < today:
            return ClockDue(clock, due, provisional)
    return None


def escalation_cutoff(calendar: WorkingCalendar, today: date, working_days: int) -> date:
    """The latest anchor date from which `working_days` working days have passed by `today`.

    `anchor <= cutoff` exactly when `overdue_level(calendar, anchor, today,
    escalate_after_wd=working_days)` is ESCALATION, so the rule can be asked of SQL as a date
    comparison: walk back from today to the `working_days`-th working day; the day before it.
    """
    if working_days <= 0:
        return today - timedelta(days=1)
    day, counted = today, 0
    while True:
        if calendar.is_working_day(day):
            counted += 1
            if counted == working_days:
                return day - timedelta(days=1)
        day -= timedelta(days=1)


def business_day_start(day: date) -> datetime:
    """00:00 in Beijing on `day`, as an aware instant (for comparing stored UTC times)."""
    return datetime.combine(day, time(), tzinfo=BUSINESS_TZ)


# --- what the sweep owes -------------------------------------------------------------------


@dataclass(frozen=True)
class OverdueAction:
    """One action as a 催办函 / 督办 lists it: which step is late, since when, by how much."""

    action_id: int
    listing_id: int
    department: str
    clock: ResponseKind
    due: date
    provisional: bool
    overdue_wd: int
    reminded_on: date | None


@dataclass(frozen=True)
class SlaNoticeRequest:
    """A digest owed to a department (reminder) or to the supervising office (escalation)."""

    kind: SlaNoticeKind
    department: str
    actions: tuple[OverdueAction, ...]
    reply_due: Deadline | None = None  # reminder: answer by this date to avoid escalation
    reminded_on: date | None = None  # escalation: when the department was reminded

    @property
    def level(self) -> int:
        if self.kind is NoticeKind.REMINDER:
            return OverdueLevel.REMINDER
        return OverdueLevel.ESCALATION

    @property
    def step(self) -> str:
        """The notice key's step: the level and exactly which actions the digest covers."""
        return sla_digest_step(self.level, [a.action_id for a in self.actions])


def sla_digest_step(level: int, action_ids: Sequence[int]) -> str:
    """`level-1-<hash of the action ids>`: each (action, level) is in exactly one digest, so
    a repeat of the same digest is recognised by the outbox and never queued twice."""
    joined = ",".join(map(str, sorted(action_ids)))
    return f"level-{level}-" + hashlib.sha256(joined.encode()).hexdigest()[:16]


class SlaNoticeEnqueuer(Protocol):
    """Renders the requests into the outbox in the caller's transaction
    (`notifications.sla_notices`); returns how many notices were queued."""

    def __call__(self, session: Session, requests: Sequence[SlaNoticeRequest]) -> int: ...


@dataclass
class SweepResult:
    today: date
    working_day: bool
    reminded: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    notices: list[SlaNoticeRequest] = field(default_factory=list)
    notices_queued: int = 0
    unknown_departments: dict[str, int] = field(default_factory=dict)
    party: dict[str, int] = field(default_factory=dict)
    """The party-deadline sweep of the same transaction (`registry.party_deadlines`)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.party,
            "today": self.today.isoformat(),
            "working_day": self.working_day,
            "reminded": len(self.reminded),
            "escalated": len(self.escalated),
            "notices": len(self.notices),
            "notices_queued": self.notices_queued,
            "reminders_by_department": _by_department(self.notices, NoticeKind.REMINDER),
            "escalations_by_department": _by_department(self.notices, NoticeKind.ESCALATION),
            "unknown_departments": dict(self.unknown_departments),
        }


def _by_department(notices: Sequence[SlaNoticeRequest], kind: SlaNoticeKind) -> dict[str, int]:
    counts: dict[str, int] = {}
    for notice in notices:
        if notice.kind is kind:
            counts[notice.department] = counts.get(notice.department, 0) + len(notice.actions)
    return dict(sorted(counts.items()))


@dataclass(frozen=True)
class Sweep:
    """What the sweep needs besides the session; the notices go to the injected enqueuer, so
    the core imports no notification code."""

    catalogue: Catalogue
    calendar: WorkingCalendar
    clock: Clock
    actor: str
    source: str
    enqueue: SlaNoticeEnqueuer


# --- the sweep -----------------------------------------------------------------------------

_RETURNED = (
    ACTION.c.id,
    ACTION.c.listing_id,
    ACTION.c.department,
    ACTION.c.state,
    ACTION.c.ack_due,
    ACTION.c.ack_provisional,
    ACTION.c.feedback_due,
    ACTION.c.feedback_provisional,
    ACTION.c.lift_due,
    ACTION.c.lift_provisional,
    ACTION.c.reminded_at,
)


def sweep_overdue(session: Session, sweep: Sweep) -> SweepResult:
    """One sweep: escalate what was reminded long enough ago, then remind what is newly late.

    Escalation runs first so that an action reminded in this sweep is never escalated in it.
    """
    today, now = sweep.clock.today(), sweep.clock.now()
    result = SweepResult(today=today, working_day=sweep.calendar.is_working_day(today))
    if not result.working_day:
        return result
    known = sorted(sweep.catalogue.departments)
    after_wd = sweep.catalogue.time_limits.escalate_after_wd
    cutoff = escalation_cutoff(sweep.calendar, today, after_wd)
    late = overdue_clauses(today)
    escalate_when = sa.and_(
        ACTION.c.department.in_(known),
        # anchor = the later of the reminder date and the late clock's due date, <= cutoff
        ACTION.c.reminded_at < business_day_start(cutoff + timedelta(days=1)),
        sa.or_(*(sa.and_(late[clock], DUE_COLUMNS[clock] <= cutoff) for clock in ResponseKind)),
    )
    escalated = _move(
        session, OverdueLevel.REMINDER, OverdueLevel.ESCALATION, escalate_when, now, known
    )
    # The reminder pass also meets the overdue actions of departments no longer in
    # departments.yml: nobody to remind, so they stay at level 0 and are counted for the operator
    # instead of being skipped silently — in the same scan, not a second one.
    newly_late = _move(
        session, OverdueLevel.ON_TIME, OverdueLevel.REMINDER, overdue_condition(today), now, known
    )
    known_set = set(known)
    reminded = [row for row in newly_late if row.department in known_set]
    result.unknown_departments = dict(
        sorted(Counter(r.department for r in newly_late if r.department not in known_set).items())
    )

    counter = _OverdueDays(sweep.calendar, today)
    for department, rows in _grouped(escalated).items():
        by_reminder: dict[date, list[OverdueAction]] = {}
        for row in rows:
            item = counter.item(row)
            by_reminder.setdefault(item.reminded_on or today, []).append(item)
        for reminded_on, items in sorted(by_reminder.items()):
            result.notices.append(
                SlaNoticeRequest(
                    NoticeKind.ESCALATION,
                    department,
                    tuple(items),
                    reminded_on=reminded_on,
                )
            )
    reply_due = sweep.calendar.add_working_days(today, max(after_wd - 1, 0))
    for department, rows in _grouped(reminded).items():
        result.notices.append(
            SlaNoticeRequest(
                NoticeKind.REMINDER,
                department,
                tuple(counter.item(row) for row in rows),
                reply_due=reply_due,
            )
        )
    result.escalated = sorted(int(row.id) for row in escalated)
    result.reminded = sorted(int(row.id) for row in reminded)
    if result.notices:
        append_events(session, [_event(n, sweep, today) for n in result.notices], at=now)
        result.notices_queued = sweep.enqueue(session, result.notices)
    return result


def _move(
    session: Session,
    from_level: int,
    to_level: int,
    condition: sa.ColumnElement[bool],
    now: datetime,
    known: Sequence[str],
) -> list[sa.Row[Any]]:
    """The guarded UPDATE: rows still at `from_level` that meet `condition` are returned; those
    of a `known` department move to `to_level`, the others are left as they are."""
    guard = sa.and_(ACTION.c.escalation_level == from_level, condition)
    if session.get_bind().dialect.name == "postgresql":
        pick = sa.select(ACTION.c.id).where(guard).with_for_update(skip_locked=True)
        guard = sa.and_(ACTION.c.id.in_(pick.scalar_subquery()), guard)
    stamp = "escalated_at" if to_level == OverdueLevel.ESCALATION else "reminded_at"
    is_known = ACTION.c.department.in_(known)
    statement = (
        sa.update(ACTION)
        .where(guard)
        .values(
            {
                "escalation_level": sa.case((is_known, to_level), else_=ACTION.c.escalation_level),
                stamp: sa.case(
                    (is_known, sa.literal(now, type_=ACTION.c[stamp].type)), else_=ACTION.c[stamp]
                ),
            }
        )
        .returning(*_RETURNED)
    )
    return list(session.execute(statement).all())


def _grouped(rows: Sequence[sa.Row[Any]]) -> dict[str, list[sa.Row[Any]]]:
    groups: dict[str, list[sa.Row[Any]]] = {}
    for row in sorted(rows, key=lambda r: (r.department, r.listing_id, r.id)):
        groups.setdefault(row.department, []).append(row)
    return groups


class _OverdueDays:
    """Working days overdue, counted once per distinct due date (a digest shares a few)."""

    def __init__(self, calendar: WorkingCalendar, today: date) -> None:
        self.calendar, self.today = calendar, today
        self._days: dict[date, int] = {}
        self._dates: dict[datetime, date] = {}

    def days(self, due: date) -> int:
        if due not in self._days:
            self._days[due] = self.calendar.working_days_between(due, self.today).days
        return self._days[due]

    def item(self, row: sa.Row[Any]) -> OverdueAction:
        found = overdue_clock(
            row.state,
            {
                ResponseKind.ACK: (row.ack_due, row.ack_provisional),
                ResponseKind.FEEDBACK: (row.feedback_due, row.feedback_provisional),
                ResponseKind.LIFT: (row.lift_due, row.lift_provisional),
            },
            self.today,
        )
        if found is None:  # the UPDATE's condition guarantees a clock; keep mypy and us honest
            raise AssertionError(f"action {row.id} moved without an overdue clock")
        return OverdueAction(
            action_id=row.id,
            listing_id=row.listing_id,
            department=row.department,
            clock=found.clock,
            due=found.due,
            provisional=found.provisional,
            overdue_wd=max(self.days(found.due), 1),
            reminded_on=self.reminded_on(row.reminded_at),
        )

    def reminded_on(self, reminded_at: datetime | None) -> date | None:
        """The business date of a reminder; a sweep stamps one instant on all it moves."""
        if reminded_at is None:
            return None
        if reminded_at not in self._dates:
            self._dates[reminded_at] = business_date(_aware(reminded_at))
        return self._dates[reminded_at]


def _aware(value: datetime) -> datetime:
    """Stored times are UTC; be explicit should a driver hand back a naive one."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _event(notice: SlaNoticeRequest, sweep: Sweep, today: date) -> EventDraft:
    action = "action.remind" if notice.kind is NoticeKind.REMINDER else "action.escalate"
    return EventDraft(
        actor=sweep.actor,
        action=action,
        entity_type="department",
        entity_id=notice.department,
        before={"escalation_level": notice.level - 1},
        after={
            "escalation_level": notice.level,
            "on": today,
            "step": notice.step,
            "action_ids": [a.action_id for a in notice.actions],
            "listing_ids": sorted({a.listing_id for a in notice.actions}),
        },
        source=sweep.source,
    )
