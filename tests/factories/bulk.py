"""A realistic SLA backlog in seconds: subjects, listings and department actions written with
SQLAlchemy Core bulk inserts (DESIGN.md §1.3: the ORM is 25× slower), plus queued notices.

The same idea as `bench/sla.py`'s seed (tests do not import bench), but shaped for a test that
lets time run: instead of one steady-state day, the actions fall due *over the coming weeks*,
so a clock moved forward keeps producing new reminders, then escalations of them, then
feedback reminders — work for concurrent sweeps to race for on every simulated day.

Every action is in exactly one `Situation`, chosen by a multiplicative hash of its number so
each situation is spread over all listings and departments (no department gets all the late
ones). Each step commits on its own (the seed is set-up, not the subject of a test), and the
rows carry a random reference, so a shared database can hold several seeds.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session

from memoranda.loader import Catalogue
from notifications.outbox import NoticeDraft, NoticeKey, Recipient, enqueue_notices
from registry.audit import EventDraft, append_events
from registry.calendar import WorkingCalendar
from registry.clock import BUSINESS_TZ
from registry.db import session_scope
from registry.models import ActionState, DepartmentAction, Listing, ListingState, Subject
from registry.repository import add_batch
from registry.vocabulary import NoticeKind
from tests.factories.notices import unnumbered

MEMORANDUM = "mem-2023-art78"  # the memorandum of `mem-2023-serious` (7 departments)
RULE_SET = "mem-2023-serious"
CHUNK = 10_000
SUBJECT = cast(sa.Table, sa.inspect(Subject).local_table)
LISTING = cast(sa.Table, sa.inspect(Listing).local_table)
ACTION = cast(sa.Table, sa.inspect(DepartmentAction).local_table)


class Situation(StrEnum):
    """Where an action stands on the first day; the days are calendar days before that day."""

    ANSWERED = "answered"  # feedback reported 6–8 weeks ago: a sweep must never touch it
    LATE = "late"  # dispatched 12–16 days ago, never reminded: the first sweep reminds it
    REMINDED = "reminded"  # reminded 1–9 days ago, still silent: escalations over week one
    COMING_DUE = "coming_due"  # dispatched 0–7 days ago: ack falls due over the first week
    ACKNOWLEDGED = "acknowledged"  # acknowledged; feedback falls due over the next 3 weeks


DEFAULT_MIX: dict[Situation, int] = {
    Situation.LATE: 20,
    Situation.REMINDED: 20,
    Situation.COMING_DUE: 100,
    Situation.ACKNOWLEDGED: 40,
    Situation.ANSWERED: 820,
}
"""Per mille of actions in each situation: ~18 % move during a month of sweeps, the steady
state of a regulator whose departments mostly answer (a larger share is a backlog, DESIGN)."""


@dataclass(frozen=True)
class Backlog:
    batch_id: int
    listings: int
    actions: int
    by_situation: dict[str, int]
    notice_ids: list[int]


def seed_backlog(
    engine: sa.Engine,
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    *,
    listings: int,
    first_day: date,
    queued_notices: int = 0,
    mix: dict[Situation, int] | None = None,
) -> Backlog:
    """`listings` in-force black listings, each dispatched to the memorandum's departments, in
    the situations of `mix` as seen on `first_day`; then `queued_notices` dispatch notices."""
    mix = mix or DEFAULT_MIX
    if sum(mix.values()) != 1000:
        raise ValueError("the mix is per mille and must add up to 1000")
    departments = catalogue.departments_of(MEMORANDUM)
    run = uuid.uuid4().hex[:10]
    created = _at(first_day, -70)
    with session_scope(engine) as session:
        batch_id = add_batch(
            session,
            reference=f"BULK-{run}",
            list_type="black",
            rule_set=RULE_SET,
            source_kind="test",
            proposed_by="并发测试",
            catalogue_hash=catalogue.content_hash,
            created_at=created,
            accepted_count=listings,
        )
        # Intake audits every batch it creates; so does the seed, which also means the chain
        # exists before any test step runs, as it does in every database past its first import.
        append_events(
            session,
            [
                EventDraft(
                    "并发测试",
                    "batch.import",
                    "batch",
                    batch_id,
                    None,
                    {"reference": f"BULK-{run}", "accepted": listings, "source": "bulk seed"},
                    "test:bulk-seed",
                )
            ],
            at=created,
        )
    for first in range(0, listings, CHUNK):
        with session_scope(engine) as session:
            _insert_listings(
                session,
                catalogue,
                batch_id,
                run,
                range(first, min(first + CHUNK, listings)),
                created=created,
            )
    with session_scope(engine) as session:
        listing_ids = [
            int(i)
            for i in session.execute(
                sa.select(LISTING.c.id).where(LISTING.c.batch_id == batch_id).order_by(LISTING.c.id)
            ).scalars()
        ]
    actions = _Actions(catalogue, calendar, first_day, mix)
    rows = actions.rows(listing_ids, departments)
    for chunk in _chunks(rows, CHUNK):
        with session_scope(engine) as session:
            session.execute(sa.insert(ACTION), chunk)
    notice_ids = _queue_dispatch_notices(
        engine, catalogue, listing_ids, departments, queued_notices, at=_at(first_day, 0)
    )
    return Backlog(
        batch_id=batch_id,
        listings=len(listing_ids),
        actions=sum(actions.counts.values()),
        by_situation=dict(actions.counts),
        notice_ids=notice_ids,
    )


def _insert_listings(
    session: Session,
    catalogue: Catalogue,
    batch_id: int,
    run: str,
    numbers: range,
    *,
    created: datetime,
) -> None:
    """Plain executemany, then SELECT the ids: psycopg 3 pipelines an executemany, while
    `RETURNING` makes SQLAlchemy send multi-row statements that are several times slower."""
    prefix = f"91{int(run[:6], 16) % 10**7:07d}"  # USCCs unique per run: 18 characters
    session.execute(
        sa.insert(SUBJECT),
        [
            {
                "kind": "unit",
                "name": f"并发测试危险化学品有限公司{i:05d}",
                "uscc": f"{prefix}{i:09d}",
                "uscc_status": "valid",
                "region_code": "510100",
                "created_at": created,
            }
            for i in numbers
        ],
    )
    mine = SUBJECT.c.uscc.between(f"{prefix}{numbers[0]:09d}", f"{prefix}{numbers[-1]:09d}")
    subjects = session.execute(
        sa.select(SUBJECT.c.id).where(mine).order_by(SUBJECT.c.uscc)
    ).scalars()
    session.execute(
        sa.insert(LISTING),
        [
            {
                "subject_id": subject,
                "batch_id": batch_id,
                "list_type": "black",
                "rule_set": RULE_SET,
                "grounds": ["S2.6"],
                "decision_number": f"川应急信决〔2026〕{n + 1}号",
                "typical_case": False,
                "needs_review": False,
                "warnings": [],
                "state": ListingState.IN_FORCE.value,
                "proposed_at": created,
                "proposed_by": "并发测试",
                "defence_provisional": False,
                "catalogue_hash": catalogue.content_hash,
                "updated_at": created,
            }
            for n, subject in zip(numbers, subjects, strict=True)
        ],
    )


class _Actions:
    """Action rows for each listing × department, due dates from the department's SLA."""

    def __init__(
        self,
        catalogue: Catalogue,
        calendar: WorkingCalendar,
        first_day: date,
        mix: dict[Situation, int],
    ) -> None:
        self.catalogue, self.calendar, self.first_day = catalogue, calendar, first_day
        self.bounds: list[tuple[int, Situation]] = []
        total = 0
        for situation, share in mix.items():
            total += share
            self.bounds.append((total, situation))
        self.counts: Counter[str] = Counter()
        self._due: dict[tuple[date, int], date] = {}

    def due(self, day: date, working_days: int) -> date:
        if (day, working_days) not in self._due:
            self._due[day, working_days] = self.calendar.add_working_days(day, working_days).due
        return self._due[day, working_days]

    def situation(self, n: int) -> tuple[Situation, int]:
        """Which situation action `n` is in, and a second hash to spread it over days."""
        spread = n * 2654435761 % 2**32  # Knuth's multiplicative hash: no pattern by department
        per_mille = (spread >> 8) % 1000
        return next(s for bound, s in self.bounds if per_mille < bound), spread >> 20

    def rows(
        self, listing_ids: Sequence[int], departments: Sequence[str]
    ) -> Iterator[dict[str, Any]]:
        n = 0
        for listing in listing_ids:
            for department in departments:
                situation, spread = self.situation(n)
                n += 1
                self.counts[situation.value] += 1
                yield self.row(listing, department, situation, spread)

    def row(
        self, listing: int, department: str, situation: Situation, spread: int
    ) -> dict[str, Any]:
        sla = self.catalogue.sla_for(department)
        ago = {
            Situation.ANSWERED: 42 + spread % 18,
            Situation.LATE: 12 + spread % 5,
            Situation.REMINDED: 20 + spread % 6,
            Situation.COMING_DUE: spread % 8,
            Situation.ACKNOWLEDGED: 10 + spread % 18,
        }[situation]
        dispatched = self.first_day - timedelta(days=ago)
        row: dict[str, Any] = {
            "listing_id": listing,
            "department": department,
            "memorandum": MEMORANDUM,
            "measures": [],
            "state": ActionState.DISPATCHED.value,
            "escalation_level": 0,
            "dispatched_at": _at(dispatched, 0),
            "ack_from": dispatched,
            "ack_wd": sla.ack_wd,
            "ack_due": self.due(dispatched, sla.ack_wd),
            "ack_provisional": False,
            "feedback_from": dispatched,
            "feedback_wd": sla.feedback_wd,
            "feedback_due": self.due(dispatched, sla.feedback_wd),
            "feedback_provisional": False,
            "lift_provisional": False,
            "ack_late": False,
            "feedback_late": False,
            "lift_late": False,
            # every row names every column: an executemany takes its columns from the first
            "acknowledged_at": None,
            "feedback_at": None,
            "reminded_at": None,
            "escalated_at": None,
        }
        if situation is Situation.ANSWERED:
            row.update(
                state=ActionState.FEEDBACK_REPORTED.value,
                acknowledged_at=_at(dispatched, 1),
                feedback_at=_at(dispatched, 9),
            )
        elif situation is Situation.ACKNOWLEDGED:
            row.update(state=ActionState.ACKNOWLEDGED.value, acknowledged_at=_at(dispatched, 2))
        elif situation is Situation.REMINDED:
            row.update(escalation_level=1, reminded_at=_at(self.first_day, -(1 + spread % 9)))
        return row


def _queue_dispatch_notices(
    engine: sa.Engine,
    catalogue: Catalogue,
    listing_ids: Sequence[int],
    departments: Sequence[str],
    count: int,
    *,
    at: datetime,
) -> list[int]:
    """Dispatch letters still in the outbox (the production enqueue: rendered, keyed)."""
    kind = NoticeKind.DEPARTMENT_DISPATCH
    drafts = []
    for n in range(count):
        listing = listing_ids[n // len(departments)]
        department = catalogue.departments[departments[n % len(departments)]]
        drafts.append(
            NoticeDraft(
                kind=kind,
                recipient=Recipient(department.mailbox, department.name),
                context=unnumbered(kind),
                key=NoticeKey.for_listing(kind, listing, department.mailbox, "dispatch"),
                department_code=department.code,
            )
        )
    ids: list[int] = []
    for start in range(0, len(drafts), 500):
        with session_scope(engine) as session:
            ids += enqueue_notices(session, drafts[start : start + 500], now=at).new_ids
    return ids


def _at(day: date, days_later: int) -> datetime:
    """10:00 Beijing time `days_later` days after `day`, as stored (UTC)."""
    moved = day + timedelta(days=days_later)
    return datetime.combine(moved, time(10), tzinfo=BUSINESS_TZ).astimezone(UTC)


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
