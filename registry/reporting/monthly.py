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
  `registry.reporting.sla` counts every action ever dispatched and has no on-time ratios, so the
  month's figures are computed here, reusing the sweep's definitions of open and overdue.
- **By ground / by industry**: the month's entries; a listing with two grounds counts under
  each (so the ground counts can add up to more than the entries). Industry falls back to the
  unit's, then `未标注行业`.
- **Trend**: the same entry and typical counts for the 12 months ending at the report month.
- **The party's cases** (当事人异议与移出申请, issue 14 item 4): objections and removal
  applications filed in the month (Shanghai time), answered on time / late, open and overdue as
  of the report date — `registry.reporting.party_cases`, the same figures as the SLA report's.
  Totals per kind of case, not per jurisdiction: the answer is owed by this office, not by the
  jurisdiction that reported the listing.

Queries are set-based (one GROUP BY per table, a handful of rows back per month); the rest is
pure aggregation. Grouping is on plain columns or on expressions without bound parameters, so
the SQL is valid on PostgreSQL's strict GROUP BY too. Nothing here writes or commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, cast

from sqlmodel import Session

from memoranda.loader import Catalogue
from registry.models import AuditHead, ListType
from registry.reporting.monthly_rows import (
    ActionCountRow,
    DayRow,
    GroundRow,
    IndustryRow,
    RegionRow,
    action_rows,
    day_rows,
    ground_rows,
    industry_rows,
    region_rows,
)
from registry.reporting.months import (
    ReportMonth,
    trend_months,
)
from registry.reporting.party_cases import PartyCaseFigures, party_case_figures

"""A person's unit: where their region and industry come from when their own are blank."""


TYPICAL_TARGET = 0.5


"""The seed notice's target: typical cases ≥ 50 % of the red/black entries reported."""


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
    party_cases: tuple[PartyCaseFigures, ...] = ()
    audit_head: tuple[int, str] | None = None
    """The audit chain's head (seq, hash) when the figures were read: printed in the report so
    the supervising office holds it and a later truncation of the trail shows
    (`jointcredit audit verify --head SEQ:HASH`, `registry.audit_anchor`)."""

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
            "party_cases": [row.as_dict() for row in self.party_cases],
            "audit_head": audit_head_line(self.audit_head),
        }


def monthly_report(
    session: Session,
    *,
    month: ReportMonth,
    catalogue: Catalogue,
    today: date,
    target: float = TYPICAL_TARGET,
) -> MonthlyReport:
    """The report's figures for `month`, department and party-case timeliness as of `today`."""
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
        party_cases=tuple(
            party_case_figures(session, today=today, since=month.start(), until=month.end())
        ),
        audit_head=_audit_head(session),
    )


def _audit_head(session: Session) -> tuple[int, str] | None:
    head = session.get(AuditHead, 1)
    return None if head is None or head.last_seq == 0 else (head.last_seq, head.last_hash)


def audit_head_line(head: tuple[int, str] | None) -> str | None:
    """`第 N 号 SEQ:HASH`, the form `jointcredit audit verify --head` takes."""
    if head is None:
        return None
    return f"审计链头：第 {head[0]} 号操作记录 {head[0]}:{head[1]}"


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
