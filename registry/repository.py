"""Set-based queries over the tables. Keyword-only, take a session, never commit.

The caller owns the transaction (DESIGN.md §5, after full-stack-fastapi-template): a task opens
one session scope, calls one of these, and commits once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col

from memoranda.schema import TimeLimits
from registry.audit import EventDraft, append_events
from registry.calendar import Deadline, WorkingCalendar
from registry.models import (
    Batch,
    DepartmentAction,
    Listing,
    Objection,
    RemovalApplication,
    Subject,
)
from registry.sla import defence_deadline


def add_batch(session: Session, **values: Any) -> int:
    """Insert a batch; returns its id."""
    return int(
        session.execute(sa.insert(Batch).values(**values).returning(col(Batch.id))).scalar_one()
    )


def add_subject(session: Session, **values: Any) -> int:
    return int(
        session.execute(sa.insert(Subject).values(**values).returning(col(Subject.id))).scalar_one()
    )


def add_listings(session: Session, *, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert many listings with one statement; returns their ids in input order."""
    return insert_returning_ids(session, core_table(Listing), rows)


def insert_returning_ids(
    session: Session, table: sa.Table, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert many rows of a table with an integer `id`; return the new ids in row order.

    PostgreSQL batches `INSERT … RETURNING` in parameter order. On SQLite, SQLAlchemy cannot
    tell which returned id belongs to which row, so `sort_by_parameter_order` would fall back to
    one INSERT per row (measured 5× slower for an intake file). There the first row is inserted
    alone — which also takes the database's write lock — and the others get the ids after it
    explicitly, in one executemany: no other writer can insert in between, and were an id
    already taken, the primary key would fail the statement rather than mismatch a row.
    """
    if not rows:
        return []
    if session.get_bind().dialect.name != "sqlite":
        result = session.execute(
            sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)
        )
        return [int(i) for i in result.scalars()]
    first = int(session.execute(sa.insert(table).returning(table.c.id), rows[0]).scalar_one())
    ids = list(range(first, first + len(rows)))
    if len(rows) > 1:
        session.execute(
            sa.insert(table), [{**row, "id": i} for i, row in zip(ids[1:], rows[1:], strict=True)]
        )
    return ids


def core_table(model: type[SQLModel]) -> sa.Table:
    """The Core table of a model, for bulk statements that bypass the ORM."""
    return cast(sa.Table, sa.inspect(model).local_table)


def listing_states(session: Session, *, batch_id: int) -> dict[str, int]:
    """How many listings of a batch are in each state."""
    rows = session.execute(
        sa.select(col(Listing.state), sa.func.count())
        .where(col(Listing.batch_id) == batch_id)
        .group_by(col(Listing.state))
    )
    return {state: int(count) for state, count in rows}


@dataclass(frozen=True)
class DeadlineColumns:
    """One stored deadline: where it lives and how it is computed from its inputs."""

    table: type[SQLModel]
    name: str
    label: str
    compute: Callable[[WorkingCalendar, TimeLimits, date, int], Deadline]

    def column(self, suffix: str) -> Any:
        return getattr(self.table, f"{self.name}_{suffix}")


def _plain(calendar: WorkingCalendar, _limits: TimeLimits, start: date, wd: int) -> Deadline:
    return calendar.add_working_days(start, wd)


STORED_DEADLINES: tuple[DeadlineColumns, ...] = (
    DeadlineColumns(Listing, "defence", "陈述申辩期限", defence_deadline),
    DeadlineColumns(DepartmentAction, "ack", "响应期限", _plain),
    DeadlineColumns(DepartmentAction, "feedback", "反馈期限", _plain),
    DeadlineColumns(DepartmentAction, "lift", "解除确认期限", _plain),
    DeadlineColumns(Objection, "answer", "异议答复期限", _plain),
    DeadlineColumns(RemovalApplication, "decide", "提前移出决定期限", _plain),
)


@dataclass(frozen=True)
class RecomputedDeadlines:
    label: str
    checked: int
    settled: int
    still_provisional: int


def recompute_provisional_deadlines(
    session: Session, *, calendar: WorkingCalendar, limits: TimeLimits, actor: str, now: datetime
) -> list[RecomputedDeadlines]:
    """Recompute every provisional deadline with the calendar as it is now, and audit it.

    Grouped by (start date, working days): a handful of UPDATEs however many rows share them.
    """
    report: list[RecomputedDeadlines] = []
    for spec in STORED_DEADLINES:
        start, wd = spec.column("from"), spec.column("wd")
        due, provisional = spec.column("due"), spec.column("provisional")
        groups = session.execute(
            sa.select(start, wd, sa.func.count())
            .where(provisional.is_(True), start.is_not(None), wd.is_not(None))
            .group_by(start, wd)
        ).all()
        checked = settled = 0
        for start_day, working_days, count in groups:
            deadline = spec.compute(calendar, limits, start_day, working_days)
            session.execute(
                sa.update(spec.table)
                .where(provisional.is_(True), start == start_day, wd == working_days)
                .values({due: deadline.due, provisional: deadline.provisional})
            )
            checked += count
            settled += 0 if deadline.provisional else count
        report.append(RecomputedDeadlines(spec.label, checked, settled, checked - settled))
    append_events(
        session,
        [
            EventDraft(
                actor,
                "calendar.reload",
                "calendar",
                "provisional-deadlines",
                None,
                {"known_years": calendar.known_years, "deadlines": [r.__dict__ for r in report]},
                "calendar",
            )
        ],
        at=now,
    )
    return report
