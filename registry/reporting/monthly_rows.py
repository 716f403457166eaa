"""The monthly report's queries: one grouped SELECT per figure, rows as plain values."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session

from registry.clock import BUSINESS_TZ
from registry.models import DepartmentAction, Listing, ListingState, Subject
from registry.reporting.months import (
    ReportMonth,
)
from registry.sla import OverdueLevel
from registry.sla_sweep import OPEN_STATES, overdue_condition

LISTING = cast(sa.Table, sa.inspect(Listing).local_table)


SUBJECT = cast(sa.Table, sa.inspect(Subject).local_table)


ACTION = cast(sa.Table, sa.inspect(DepartmentAction).local_table)


UNIT = SUBJECT.alias("unit")


@dataclass(frozen=True)
class RegionRow:
    """`count` entries of one (own region, unit's region, list type, typical) combination."""

    region_code: str | None
    unit_region_code: str | None
    list_type: str
    typical: bool
    count: int


@dataclass(frozen=True)
class GroundRow:
    rule_set: str
    grounds: tuple[str, ...]
    typical: bool
    count: int


@dataclass(frozen=True)
class IndustryRow:
    industry: str | None
    unit_industry: str | None
    typical: bool
    count: int


@dataclass(frozen=True)
class DayRow:
    """`count` entries proposed on one business date with one list type and typical flag."""

    day: date
    list_type: str
    typical: bool
    count: int


@dataclass(frozen=True)
class ActionCountRow:
    department: str
    actions: int
    ack_settled: int
    ack_on_time: int
    feedback_settled: int
    feedback_on_time: int
    overdue_open: int
    escalated: int


def entries_between(start: ReportMonth, end: ReportMonth) -> sa.ColumnElement[bool]:
    """Listings proposed from the start of `start` to the end of `end`, refusals left out."""
    return sa.and_(
        LISTING.c.proposed_at >= start.start(),
        LISTING.c.proposed_at < end.end(),
        LISTING.c.state != ListingState.REJECTED.value,
    )


def region_rows(session: Session, month: ReportMonth) -> list[RegionRow]:
    unit = UNIT
    columns = (
        SUBJECT.c.region_code,
        unit.c.region_code,
        LISTING.c.list_type,
        LISTING.c.typical_case,
    )
    rows = session.execute(
        sa.select(*columns, sa.func.count())
        .select_from(
            LISTING.join(SUBJECT, SUBJECT.c.id == LISTING.c.subject_id).outerjoin(
                unit, unit.c.id == SUBJECT.c.unit_id
            )
        )
        .where(entries_between(month, month))
        .group_by(*columns)
    ).all()
    return [RegionRow(row[0], row[1], row[2], bool(row[3]), int(row[4])) for row in rows]


def ground_rows(session: Session, month: ReportMonth) -> list[GroundRow]:
    # JSON has no equality on PostgreSQL; its text form groups (and parses) on both dialects.
    grounds = sa.cast(LISTING.c.grounds, sa.Text)
    columns = (LISTING.c.rule_set, grounds, LISTING.c.typical_case)
    rows = session.execute(
        sa.select(*columns, sa.func.count()).where(entries_between(month, month)).group_by(*columns)
    ).all()
    return [
        GroundRow(row[0], tuple(json.loads(row[1] or "[]")), bool(row[2]), int(row[3]))
        for row in rows
    ]


def industry_rows(session: Session, month: ReportMonth) -> list[IndustryRow]:
    unit = UNIT
    columns = (SUBJECT.c.industry, unit.c.industry, LISTING.c.typical_case)
    rows = session.execute(
        sa.select(*columns, sa.func.count())
        .select_from(
            LISTING.join(SUBJECT, SUBJECT.c.id == LISTING.c.subject_id).outerjoin(
                unit, unit.c.id == SUBJECT.c.unit_id
            )
        )
        .where(entries_between(month, month))
        .group_by(*columns)
    ).all()
    return [IndustryRow(row[0], row[1], bool(row[2]), int(row[3])) for row in rows]


def business_day(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    """The Asia/Shanghai date of a stored UTC instant, without bound parameters (GROUP BY-safe)."""
    if dialect == "postgresql":
        zone: sa.ColumnClause[str] = sa.literal_column(f"'{BUSINESS_TZ.key}'")
        return sa.cast(sa.func.timezone(zone, column), sa.Date)
    # SQLite stores naive UTC text; Shanghai has kept UTC+8 without DST since 1991.
    return sa.func.date(column, sa.literal_column("'+8 hours'"))


def day_rows(session: Session, first: ReportMonth, last: ReportMonth) -> list[DayRow]:
    day = business_day(LISTING.c.proposed_at, session.get_bind().dialect.name)
    columns = (day, LISTING.c.list_type, LISTING.c.typical_case)
    rows = session.execute(
        sa.select(*columns, sa.func.count()).where(entries_between(first, last)).group_by(*columns)
    ).all()
    return [DayRow(_as_date(row[0]), row[1], bool(row[2]), int(row[3])) for row in rows]


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(value)


def _flag(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def action_rows(session: Session, month: ReportMonth, today: date) -> list[ActionCountRow]:
    acked = ACTION.c.acknowledged_at.is_not(None)
    reported = ACTION.c.feedback_at.is_not(None)
    rows = session.execute(
        sa.select(
            ACTION.c.department,
            sa.func.count(),
            _flag(sa.or_(acked, ACTION.c.ack_due < today)),
            _flag(sa.and_(acked, sa.not_(ACTION.c.ack_late))),
            _flag(sa.or_(reported, ACTION.c.feedback_due < today)),
            _flag(sa.and_(reported, sa.not_(ACTION.c.feedback_late))),
            _flag(sa.and_(ACTION.c.state.in_(OPEN_STATES), overdue_condition(today))),
            _flag(ACTION.c.escalation_level >= OverdueLevel.ESCALATION.value),
        )
        .where(ACTION.c.dispatched_at >= month.start(), ACTION.c.dispatched_at < month.end())
        .group_by(ACTION.c.department)
    ).all()
    return [ActionCountRow(row[0], *(int(value or 0) for value in row[1:])) for row in rows]
