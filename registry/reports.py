"""Monthly typical-case report figures (DOMAIN.md §1 典型案例 ≥ 50 %, §7 规律可循).

Definitions (what every table of the report counts):

- **Reported in the month** (报送): a listing whose `proposed_at` falls in the calendar month in
  Asia/Shanghai time — the moment the jurisdiction put it forward, which never changes later.
  Listings refused at confirmation (`rejected`, 不予列入) never became entries and are left out;
  every other state counts, so a later removal or revocation does not rewrite a past month.
- **Jurisdiction** (辖区): the province-level division of the subject's 6-digit region code
  (first two digits + `0000`); a person without a region code takes their unit's. A missing
  code, or one whose first two digits are not one of the 31 provincial-level divisions, is
  `未标注地区`.
- **Typical-case ratio** (典型案例占比): typical cases / (red + black entries) of the jurisdiction
  in the month; below the target (default 50 %) is flagged; no entries → no ratio (`—`), and
  no flag.
- **Department timeliness** (部门办理时效), over the actions dispatched in the month (by the
  business date of `dispatched_at`), as of the report date:
  - 按时响应率 = acknowledged on time / actions whose acknowledgement is settled — answered
    (on time or late), or unanswered past its due date; an action not yet due is not judged.
    The same for 按时反馈率 with the feedback clock.
  - 逾期未办 = still open and overdue on any clock today (the SLA sweep's own condition);
    已督办 = reached escalation (level 2, 督办).
  `registry.sla_report` counts every action ever dispatched and has no on-time ratios, so the
  month's figures are computed here, reusing the sweep's definitions of open and overdue.
- **By ground / by industry**: the month's entries; a listing with two grounds counts under
  each (so the ground counts can add up to more than the entries). Industry falls back to the
  unit's, then `未标注行业`.
- **Trend**: the same entry and typical counts for the 12 months ending at the report month.

Queries are set-based (one GROUP BY per table, a handful of rows back per month); the rest is
pure aggregation. Grouping is on plain columns or on expressions without bound parameters, so
the SQL is valid on PostgreSQL's strict GROUP BY too. Nothing here writes or commits.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session

from memoranda.loader import Catalogue
from registry.clock import BUSINESS_TZ
from registry.errors import JointcreditError
from registry.models import DepartmentAction, Listing, ListingState, ListType, Subject
from registry.sla import OverdueLevel
from registry.sla_sweep import OPEN_STATES, overdue_condition

LISTING = cast(sa.Table, sa.inspect(Listing).local_table)
SUBJECT = cast(sa.Table, sa.inspect(Subject).local_table)
ACTION = cast(sa.Table, sa.inspect(DepartmentAction).local_table)
UNIT = SUBJECT.alias("unit")
"""A person's unit: where their region and industry come from when their own are blank."""

TYPICAL_TARGET = 0.5
"""The seed notice's target: typical cases ≥ 50 % of the red/black entries reported."""
TREND_MONTHS = 12
UNKNOWN_REGION = "未标注地区"
UNKNOWN_INDUSTRY = "未标注行业"
NO_RATIO = "—"

PROVINCES: dict[str, str] = {
    "11": "北京市",
    "12": "天津市",
    "13": "河北省",
    "14": "山西省",
    "15": "内蒙古自治区",
    "21": "辽宁省",
    "22": "吉林省",
    "23": "黑龙江省",
    "31": "上海市",
    "32": "江苏省",
    "33": "浙江省",
    "34": "安徽省",
    "35": "福建省",
    "36": "江西省",
    "37": "山东省",
    "41": "河南省",
    "42": "湖北省",
    "43": "湖南省",
    "44": "广东省",
    "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市",
    "51": "四川省",
    "52": "贵州省",
    "53": "云南省",
    "54": "西藏自治区",
    "61": "陕西省",
    "62": "甘肃省",
    "63": "青海省",
    "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
}
"""The 31 provincial-level divisions (GB/T 2260, first two digits of a region code)."""

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


class ReportMonthError(JointcreditError):
    """A report month is not `YYYY-MM`."""


# --- the month ---------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class ReportMonth:
    """A calendar month in Asia/Shanghai: the unit of the report."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12 and 2000 <= self.year <= 2999):
            raise ReportMonthError(
                f"报告月份无效（invalid report month）：{self.year}-{self.month}",
                year=self.year,
                month=self.month,
            )

    @classmethod
    def parse(cls, text: str) -> ReportMonth:
        """`2026-10` (or `2026-1`) → the month; anything else is refused with a clear message."""
        found = _MONTH.match(text)
        if not found:
            raise ReportMonthError(
                f"报告月份应写作 YYYY-MM，例如 2026-10（expected YYYY-MM）：{text!r}", value=text
            )
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, day: date) -> ReportMonth:
        return cls(day.year, day.month)

    def shifted(self, months: int) -> ReportMonth:
        index = self.year * 12 + self.month - 1 + months
        return ReportMonth(index // 12, index % 12 + 1)

    @property
    def key(self) -> str:
        """`2026-10`: file folders, artifact keys, idempotency keys."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        """`2026年10月`: what a reader sees."""
        return f"{self.year}年{self.month}月"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def start(self) -> datetime:
        """The month's first instant (Shanghai midnight of day 1), as UTC."""
        return datetime(self.year, self.month, 1, tzinfo=BUSINESS_TZ).astimezone(UTC)

    def end(self) -> datetime:
        """The first instant of the next month, as UTC (exclusive bound)."""
        return self.shifted(1).start()

    def __str__(self) -> str:
        return self.key


def previous_month(today: date) -> ReportMonth:
    """The default report month: the one before `today`'s (a business date in Asia/Shanghai)."""
    return ReportMonth.of(today).shifted(-1)


def trend_months(month: ReportMonth, count: int = TREND_MONTHS) -> list[ReportMonth]:
    """`count` months ending at `month`, oldest first."""
    return [month.shifted(offset) for offset in range(1 - count, 1)]


# --- labels --------------------------------------------------------------------------------


def jurisdiction_of(region_code: str | None) -> tuple[str, str]:
    """(`510000`, `四川省`) for `510104`; (``, `未标注地区`) for none or an unknown prefix."""
    code = (region_code or "").strip()
    prefix = code[:2]
    if len(code) >= 2 and prefix in PROVINCES:
        return f"{prefix}0000", PROVINCES[prefix]
    return "", UNKNOWN_REGION


def ratio_of(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide (never a division by zero)."""
    return part / whole if whole else None


def percent_text(ratio: float | None) -> str:
    """0.4286 → `42.9%`, 0.5 → `50%`, None → `—` (the same rule as the notices' filter)."""
    if ratio is None:
        return NO_RATIO
    return f"{ratio * 100:.1f}".removesuffix(".0") + "%"


# --- figures -------------------------------------------------------------------------------


class _Figures:
    def as_dict(self) -> dict[str, Any]:
        return asdict(cast(Any, self))


@dataclass(frozen=True)
class JurisdictionFigures(_Figures):
    """One jurisdiction's entries in the month and its typical-case ratio."""

    code: str  # `510000`; empty for 未标注地区; `*` for the total
    name: str
    red: int
    black: int
    typical: int
    ratio: float | None
    below_target: bool

    @property
    def entries(self) -> int:
        return self.red + self.black


@dataclass(frozen=True)
class DepartmentFigures(_Figures):
    """One department's timeliness over the actions dispatched to it in the month."""

    department: str
    name: str
    actions: int
    ack_settled: int
    ack_on_time: int
    ack_on_time_ratio: float | None
    feedback_settled: int
    feedback_on_time: int
    feedback_on_time_ratio: float | None
    overdue_open: int
    escalated: int


@dataclass(frozen=True)
class CountLine(_Figures):
    """Entries of the month under one ground or one industry."""

    key: str
    label: str
    entries: int
    typical: int


@dataclass(frozen=True)
class TrendPoint(_Figures):
    month: str  # `2026-10`
    label: str  # `2026年10月`
    red: int
    black: int
    typical: int
    ratio: float | None

    @property
    def entries(self) -> int:
        return self.red + self.black


@dataclass(frozen=True)
class MonthlyReport:
    """Everything the monthly report shows, for one month, as of one date."""

    month: ReportMonth
    as_of: date
    target: float
    jurisdictions: tuple[JurisdictionFigures, ...]
    total: JurisdictionFigures
    departments: tuple[DepartmentFigures, ...]
    grounds: tuple[CountLine, ...]
    industries: tuple[CountLine, ...]
    trend: tuple[TrendPoint, ...]

    @property
    def below_target(self) -> list[JurisdictionFigures]:
        return [row for row in self.jurisdictions if row.below_target]

    @property
    def department_total(self) -> DepartmentFigures:
        return department_total(self.departments)

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month.key,
            "month_label": self.month.label,
            "as_of": self.as_of.isoformat(),
            "target": self.target,
            "jurisdictions": [row.as_dict() for row in self.jurisdictions],
            "total": self.total.as_dict(),
            "below_target": [row.name for row in self.below_target],
            "departments": [row.as_dict() for row in self.departments],
            "grounds": [row.as_dict() for row in self.grounds],
            "industries": [row.as_dict() for row in self.industries],
            "trend": [row.as_dict() for row in self.trend],
        }


# --- query rows ----------------------------------------------------------------------------


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


# --- SQL -----------------------------------------------------------------------------------


def monthly_report(
    session: Session,
    *,
    month: ReportMonth,
    catalogue: Catalogue,
    today: date,
    target: float = TYPICAL_TARGET,
) -> MonthlyReport:
    """The report's figures for `month`, department timeliness as of `today`."""
    jurisdictions = jurisdiction_figures(region_rows(session, month), target=target)
    window = trend_months(month)
    return MonthlyReport(
        month=month,
        as_of=today,
        target=target,
        jurisdictions=tuple(jurisdictions),
        total=total_figures(jurisdictions, target=target),
        departments=tuple(
            department_figures(
                action_rows(session, month, today),
                names={code: d.short_name for code, d in catalogue.departments.items()},
            )
        ),
        grounds=tuple(ground_lines(ground_rows(session, month), catalogue=catalogue)),
        industries=tuple(industry_lines(industry_rows(session, month))),
        trend=tuple(trend_points(day_rows(session, window[0], month), window)),
    )


def _entries_between(start: ReportMonth, end: ReportMonth) -> sa.ColumnElement[bool]:
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
        .where(_entries_between(month, month))
        .group_by(*columns)
    ).all()
    return [RegionRow(row[0], row[1], row[2], bool(row[3]), int(row[4])) for row in rows]


def ground_rows(session: Session, month: ReportMonth) -> list[GroundRow]:
    # JSON has no equality on PostgreSQL; its text form groups (and parses) on both dialects.
    grounds = sa.cast(LISTING.c.grounds, sa.Text)
    columns = (LISTING.c.rule_set, grounds, LISTING.c.typical_case)
    rows = session.execute(
        sa.select(*columns, sa.func.count())
        .where(_entries_between(month, month))
        .group_by(*columns)
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
        .where(_entries_between(month, month))
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
        sa.select(*columns, sa.func.count()).where(_entries_between(first, last)).group_by(*columns)
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


# --- pure aggregation ----------------------------------------------------------------------


def _jurisdiction(
    code: str, name: str, red: int, black: int, typical: int, *, target: float
) -> JurisdictionFigures:
    entries = red + black
    return JurisdictionFigures(
        code=code,
        name=name,
        red=red,
        black=black,
        typical=typical,
        ratio=ratio_of(typical, entries),
        below_target=entries > 0 and typical < target * entries,
    )


def _tally(counts: dict[str, list[int]], key: str, list_type: str, typical: bool, n: int) -> None:
    """counts[key] = [red, black, typical]."""
    red_black_typical = counts.setdefault(key, [0, 0, 0])
    red_black_typical[0 if list_type == ListType.RED.value else 1] += n
    if typical:
        red_black_typical[2] += n


def jurisdiction_figures(
    rows: Iterable[RegionRow], *, target: float = TYPICAL_TARGET
) -> list[JurisdictionFigures]:
    """One line per jurisdiction with entries, in region-code order, 未标注地区 last."""
    counts: dict[str, list[int]] = {}
    names: dict[str, str] = {}
    for row in rows:
        region = row.region_code if (row.region_code or "").strip() else row.unit_region_code
        code, name = jurisdiction_of(region)
        names[code] = name
        _tally(counts, code, row.list_type, row.typical, row.count)
    return [
        _jurisdiction(code, names[code], *counts[code], target=target)
        for code in sorted(counts, key=lambda c: (c == "", c))
    ]


def total_figures(
    lines: Sequence[JurisdictionFigures], *, target: float = TYPICAL_TARGET
) -> JurisdictionFigures:
    return _jurisdiction(
        "*",
        "合计",
        sum(line.red for line in lines),
        sum(line.black for line in lines),
        sum(line.typical for line in lines),
        target=target,
    )


def department_figures(
    rows: Iterable[ActionCountRow], *, names: Mapping[str, str]
) -> list[DepartmentFigures]:
    """One line per department with actions dispatched in the month, departments.yml order."""
    order = {code: i for i, code in enumerate(names)}
    lines = [_department(row, names.get(row.department, row.department)) for row in rows]
    return sorted(lines, key=lambda line: (order.get(line.department, len(order)), line.department))


def _department(row: ActionCountRow, name: str) -> DepartmentFigures:
    return DepartmentFigures(
        department=row.department,
        name=name,
        actions=row.actions,
        ack_settled=row.ack_settled,
        ack_on_time=row.ack_on_time,
        ack_on_time_ratio=ratio_of(row.ack_on_time, row.ack_settled),
        feedback_settled=row.feedback_settled,
        feedback_on_time=row.feedback_on_time,
        feedback_on_time_ratio=ratio_of(row.feedback_on_time, row.feedback_settled),
        overdue_open=row.overdue_open,
        escalated=row.escalated,
    )


def department_total(lines: Sequence[DepartmentFigures]) -> DepartmentFigures:
    return _department(
        ActionCountRow(
            department="*",
            actions=sum(line.actions for line in lines),
            ack_settled=sum(line.ack_settled for line in lines),
            ack_on_time=sum(line.ack_on_time for line in lines),
            feedback_settled=sum(line.feedback_settled for line in lines),
            feedback_on_time=sum(line.feedback_on_time for line in lines),
            overdue_open=sum(line.overdue_open for line in lines),
            escalated=sum(line.escalated for line in lines),
        ),
        "合计",
    )


def _sorted_lines(counts: Mapping[str, list[int]], labels: Mapping[str, str]) -> list[CountLine]:
    lines = [CountLine(key, labels[key], n, typical) for key, (n, typical) in counts.items()]
    return sorted(lines, key=lambda line: (-line.entries, line.key))


def ground_lines(rows: Iterable[GroundRow], *, catalogue: Catalogue) -> list[CountLine]:
    """Entries per ground (`rule-set:code`), most frequent first; labelled from the catalogue."""
    counts: dict[str, list[int]] = {}
    labels: dict[str, str] = {}
    for row in rows:
        for raw in dict.fromkeys(row.grounds):
            prefix, _, code = str(raw).rpartition(":")
            rule_set = prefix or row.rule_set
            key = f"{rule_set}:{code}"
            tally = counts.setdefault(key, [0, 0])
            tally[0] += row.count
            tally[1] += row.count if row.typical else 0
            labels[key] = _ground_label(catalogue, rule_set, code)
    return _sorted_lines(counts, labels)


def _ground_label(catalogue: Catalogue, rule_set: str, code: str) -> str:
    rules = catalogue.rule_sets.get(rule_set)
    ground = next((g for g in rules.grounds if g.code == code), None) if rules else None
    return f"{code} {ground.title}" if ground else code


def industry_lines(rows: Iterable[IndustryRow]) -> list[CountLine]:
    """Entries per industry (the unit's when a person has none), most frequent first."""
    counts: dict[str, list[int]] = {}
    for row in rows:
        industry = (row.industry or "").strip() or (row.unit_industry or "").strip()
        key = industry or UNKNOWN_INDUSTRY
        tally = counts.setdefault(key, [0, 0])
        tally[0] += row.count
        tally[1] += row.count if row.typical else 0
    return _sorted_lines(counts, {key: key for key in counts})


def trend_points(rows: Iterable[DayRow], months: Sequence[ReportMonth]) -> list[TrendPoint]:
    """One point per month of `months`, empty months included (ratio None)."""
    counts: dict[str, list[int]] = {month.key: [0, 0, 0] for month in months}
    for row in rows:
        key = ReportMonth.of(row.day).key
        if key in counts:
            _tally(counts, key, row.list_type, row.typical, row.count)
    return [
        TrendPoint(
            month=month.key,
            label=month.label,
            red=counts[month.key][0],
            black=counts[month.key][1],
            typical=counts[month.key][2],
            ratio=ratio_of(counts[month.key][2], counts[month.key][0] + counts[month.key][1]),
        )
        for month in months
    ]


# --- what people read ----------------------------------------------------------------------


def _status(line: JurisdictionFigures) -> str:
    if line.ratio is None:
        return NO_RATIO
    return "未达标" if line.below_target else "达标"


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def report_csvs(report: MonthlyReport) -> dict[str, str]:
    """The report's tables as CSV texts by file name (write them UTF-8 with a BOM for Excel).

    `report.csv` is the per-jurisdiction table (with the total); the other tables each have
    their own file, so every file is one rectangular table a spreadsheet opens as it is.
    """
    return {
        "report.csv": _csv(
            ["辖区代码", "辖区", "红名单", "黑名单", "合计", "典型案例", "占比", "是否达标"],
            [
                [
                    line.code if line.code != "*" else "",
                    line.name,
                    line.red,
                    line.black,
                    line.entries,
                    line.typical,
                    percent_text(line.ratio),
                    _status(line),
                ]
                for line in [*report.jurisdictions, report.total]
            ],
        ),
        "departments.csv": _csv(
            [
                "部门代码",
                "部门",
                "推送事项",
                "应响应事项",
                "按时响应",
                "按时响应率",
                "应反馈事项",
                "按时反馈",
                "按时反馈率",
                "逾期未办",
                "已督办",
            ],
            [
                [
                    line.department if line.department != "*" else "",
                    line.name,
                    line.actions,
                    line.ack_settled,
                    line.ack_on_time,
                    percent_text(line.ack_on_time_ratio),
                    line.feedback_settled,
                    line.feedback_on_time,
                    percent_text(line.feedback_on_time_ratio),
                    line.overdue_open,
                    line.escalated,
                ]
                for line in (
                    [*report.departments, report.department_total] if report.departments else []
                )
            ],
        ),
        "grounds.csv": _csv(
            ["认定依据代码", "认定依据", "名单数", "其中典型案例"],
            [[g.key, g.label, g.entries, g.typical] for g in report.grounds],
        ),
        "industries.csv": _csv(
            ["行业", "名单数", "其中典型案例"],
            [[i.label, i.entries, i.typical] for i in report.industries],
        ),
        "trend.csv": _csv(
            ["月份", "红名单", "黑名单", "合计", "典型案例", "典型案例占比"],
            [
                [p.month, p.red, p.black, p.entries, p.typical, percent_text(p.ratio)]
                for p in report.trend
            ],
        ),
    }


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "／").split())


def report_markdown(report: MonthlyReport, *, location: str | None = None) -> str:
    """The headline table of the run's artifact: each jurisdiction's ratio, then the total."""
    target = percent_text(report.target)
    lines = [
        f"## {report.month.label}典型案例月报",
        "",
        f"典型案例占比目标：不低于 {target}；报送月份以名单提出时间（北京时间）为准。",
        "",
        "| 辖区 | 红名单 | 黑名单 | 典型案例 | 占比 | 是否达标 |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for line in [*report.jurisdictions, report.total]:
        status = "**未达标**" if line.below_target else _status(line)
        lines.append(
            f"| {_cell(line.name)} | {line.red} | {line.black} | {line.typical} "
            f"| {percent_text(line.ratio)} | {status} |"
        )
    below = report.below_target
    lines += [
        "",
        f"未达标辖区：{'、'.join(b.name for b in below)}（{len(below)} 个）"
        if below
        else ("各辖区均已达标。" if report.jurisdictions else "本月各辖区未报送红、黑名单。"),
    ]
    sla = report.department_total
    if report.departments:
        lines += [
            "",
            f"部门办理时效（截至 {report.as_of.isoformat()}）：推送事项 {sla.actions} 项，"
            f"按时响应率 {percent_text(sla.ack_on_time_ratio)}，"
            f"按时反馈率 {percent_text(sla.feedback_on_time_ratio)}，"
            f"逾期未办 {sla.overdue_open} 项，已督办 {sla.escalated} 项。",
        ]
    if location:
        lines += ["", f"完整报告（HTML、CSV）：`{location}`"]
    return "\n".join(lines) + "\n"
