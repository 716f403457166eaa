"""Per-department SLA figures (DOMAIN.md §7: SLA compliance per department).

Two set-based queries — counts per department in one scan, and acknowledgements grouped by
(department, dispatch date, acknowledgement date) — then pure aggregation, so a million actions
cost two scans and a few thousand rows in Python, not a million objects.

Figures per department:
- actions: every action ever dispatched to it;
- open (未办结): a step is still owed (dispatched, acknowledged, lift_requested);
- on time (未逾期): open and not past any due date today; overdue (已逾期): open and past one
  (the clocks of `registry.sla_sweep.overdue_clauses`); on time + overdue = open;
- reminded (已催办) and escalated (已督办): actions ever reminded / escalated (their
  `reminded_at` / `escalated_at` stamps; `registry.removal` restarts the level at a lift request);
- median response (响应用时中位数): **working days** from the dispatch date to the
  acknowledgement date (business dates, Asia/Shanghai; 0 = acknowledged the day of dispatch),
  over every acknowledged action — the same unit as the acknowledgement SLA.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session

from memoranda.loader import Catalogue
from registry.calendar import WorkingCalendar
from registry.clock import BUSINESS_TZ
from registry.models import DepartmentAction
from registry.sla_sweep import OPEN_STATES, overdue_condition

ACTION = cast(sa.Table, sa.inspect(DepartmentAction).local_table)


@dataclass(frozen=True)
class DepartmentSla:
    department: str
    name: str
    actions: int
    open: int
    on_time: int
    overdue: int
    reminded: int
    escalated: int
    acknowledged: int
    median_ack_wd: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CountRow:
    """One department's counts as the first query returns them."""

    department: str
    actions: int
    open: int
    overdue: int
    reminded: int
    escalated: int
    acknowledged: int


@dataclass(frozen=True)
class ResponseGroup:
    """`count` actions of one department dispatched on one date and acknowledged on another."""

    department: str
    dispatched_on: date
    acknowledged_on: date
    count: int


# --- SQL -----------------------------------------------------------------------------------


def sla_report(
    session: Session, *, catalogue: Catalogue, calendar: WorkingCalendar, today: date
) -> list[DepartmentSla]:
    """The figures for every department with actions, in departments.yml order."""
    names = {code: d.short_name for code, d in catalogue.departments.items()}
    return aggregate(
        count_rows(session, today),
        response_groups(session),
        calendar=calendar,
        names=names,
    )


def _flag(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def count_rows(session: Session, today: date) -> list[CountRow]:
    is_open = ACTION.c.state.in_(OPEN_STATES)
    rows = session.execute(
        sa.select(
            ACTION.c.department,
            sa.func.count(),
            _flag(is_open),
            _flag(sa.and_(is_open, overdue_condition(today))),
            # the stamps, not the level: a lift request restarts the level at 0
            sa.func.count(ACTION.c.reminded_at),
            sa.func.count(ACTION.c.escalated_at),
            sa.func.count(ACTION.c.acknowledged_at),
        ).group_by(ACTION.c.department)
    ).all()
    return [CountRow(row[0], *(int(v or 0) for v in row[1:])) for row in rows]


def business_date_sql(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    """The Asia/Shanghai date of a stored UTC instant, computed by the database."""
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone(BUSINESS_TZ.key, column), sa.Date)
    # SQLite stores naive UTC text; Shanghai has kept UTC+8 without DST since 1991.
    return sa.func.date(column, "+8 hours")


def response_groups(session: Session) -> list[ResponseGroup]:
    dialect = session.get_bind().dialect.name
    dispatched = business_date_sql(ACTION.c.dispatched_at, dialect).label("dispatched_on")
    acknowledged = business_date_sql(ACTION.c.acknowledged_at, dialect).label("acknowledged_on")
    rows = session.execute(
        sa.select(ACTION.c.department, dispatched, acknowledged, sa.func.count())
        .where(ACTION.c.acknowledged_at.is_not(None))
        .group_by(ACTION.c.department, dispatched, acknowledged)
    ).all()
    return [ResponseGroup(row[0], _as_date(row[1]), _as_date(row[2]), int(row[3])) for row in rows]


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


# --- pure aggregation ----------------------------------------------------------------------


def aggregate(
    counts: Iterable[CountRow],
    responses: Iterable[ResponseGroup],
    *,
    calendar: WorkingCalendar,
    names: Mapping[str, str],
) -> list[DepartmentSla]:
    """Join the two queries' rows into one line per department (catalogue order first)."""
    histograms: dict[str, dict[int, int]] = {}
    for group in responses:
        days = calendar.working_days_between(group.dispatched_on, group.acknowledged_on).days
        histogram = histograms.setdefault(group.department, {})
        histogram[days] = histogram.get(days, 0) + group.count
    order = {code: i for i, code in enumerate(names)}
    lines = [
        DepartmentSla(
            department=row.department,
            name=names.get(row.department, row.department),
            actions=row.actions,
            open=row.open,
            on_time=row.open - row.overdue,
            overdue=row.overdue,
            reminded=row.reminded,
            escalated=row.escalated,
            acknowledged=row.acknowledged,
            median_ack_wd=histogram_median(histograms.get(row.department, {})),
        )
        for row in counts
    ]
    return sorted(lines, key=lambda line: (order.get(line.department, len(order)), line.department))


def histogram_median(histogram: Mapping[int, int]) -> float | None:
    """The median of values given as value → count (the lower and upper middles averaged)."""
    total = sum(histogram.values())
    if total == 0:
        return None
    lower_rank, upper_rank = (total - 1) // 2, total // 2
    lower = upper = None
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if lower is None and seen > lower_rank:
            lower = value
        if seen > upper_rank:
            upper = value
            break
    if lower is None or upper is None:  # unreachable: the ranks are below the total
        raise AssertionError("median ranks beyond the histogram")
    return statistics.fmean([lower, upper])


def totals(lines: Sequence[DepartmentSla]) -> DepartmentSla:
    """The sum over departments (the median is not additive, so it is left out)."""
    return DepartmentSla(
        department="*",
        name="合计",
        actions=sum(line.actions for line in lines),
        open=sum(line.open for line in lines),
        on_time=sum(line.on_time for line in lines),
        overdue=sum(line.overdue for line in lines),
        reminded=sum(line.reminded for line in lines),
        escalated=sum(line.escalated for line in lines),
        acknowledged=sum(line.acknowledged for line in lines),
        median_ack_wd=None,
    )


# --- what people read ----------------------------------------------------------------------

COLUMNS: tuple[tuple[str, str], ...] = (
    ("department", "部门代码（department）"),
    ("name", "部门（name）"),
    ("actions", "事项总数（actions）"),
    ("open", "未办结（open）"),
    ("on_time", "未逾期（on time）"),
    ("overdue", "已逾期（overdue）"),
    ("reminded", "已催办（reminded）"),
    ("escalated", "已督办（escalated）"),
    ("acknowledged", "已响应（acknowledged）"),
    ("median_ack_wd", "响应用时中位数·工作日（median WD to ack）"),
)


def median_label(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}".removesuffix(".0")


def report_csv(lines: Sequence[DepartmentSla]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([title for _, title in COLUMNS])
    for line in lines:
        values = line.as_dict()
        writer.writerow([("" if values[key] is None else values[key]) for key, _ in COLUMNS])
    return buffer.getvalue()
