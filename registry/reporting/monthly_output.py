"""The monthly report written out: CSV files for the supervising level, Markdown for Prefect."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from registry.reporting.monthly import (
    NO_RATIO,
    JurisdictionFigures,
    MonthlyReport,
    percent_text,
)


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


def markdown_cell(text: str) -> str:
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
            f"| {markdown_cell(line.name)} | {line.red} | {line.black} | {line.typical} "
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
