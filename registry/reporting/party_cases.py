"""The party's cases in the SLA figures (issue 14 item 4): objections (异议) and removal
applications (移出申请) — received, answered on time, answered late, open and overdue.

One set-based query per kind of case. "On time" compares the business date (Asia/Shanghai) of
the decision with the due date copied onto the row when it was filed (`registry.removal`):
answered by the end of the due date is on time. An open case is overdue once its due date has
passed (the condition `registry.party_deadlines` sweeps on).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from registry.party_deadlines import CASES
from registry.reporting.sla import business_date_sql

CASE_LABELS = {"objection": "异议", "removal_application": "移出申请"}


@dataclass(frozen=True)
class PartyCaseFigures:
    case: str
    label: str
    received: int
    answered_on_time: int
    answered_late: int
    open_on_time: int
    open_overdue: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def party_case_figures(
    session: Session, *, today: date, since: datetime | None = None, until: datetime | None = None
) -> list[PartyCaseFigures]:
    """Per kind of case, those filed in [since, until) (all when not given), as of `today`."""
    figures: list[PartyCaseFigures] = []
    dialect = session.get_bind().dialect.name
    for case in CASES:
        t = case.table
        filed = t.c[case.filed]
        due = t.c[case.due]
        answered = t.c.state != "open"
        on_time = sa.or_(due.is_(None), business_date_sql(t.c.decided_at, dialect) <= due)
        count = sa.func.count
        row = session.execute(
            sa.select(
                count(),
                count().filter(answered, on_time),
                count().filter(answered, sa.not_(on_time)),
                count().filter(sa.not_(answered), sa.or_(due.is_(None), due >= today)),
                count().filter(sa.not_(answered), due < today),
            ).where(
                filed >= since if since is not None else sa.true(),
                filed < until if until is not None else sa.true(),
            )
        ).one()
        figures.append(PartyCaseFigures(case.kind, CASE_LABELS[case.kind], *map(int, row)))
    return figures
