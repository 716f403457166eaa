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
        "party_cases.csv": _csv(
            ["事项", "收到", "按时答复", "逾期答复", "未逾期待答复", "逾期未答复"],
            [
                [
                    c.label,
                    c.received,
                    c.answered_on_time,
                    c.answered_late,
                    c.open_on_time,
                    c.open_overdue,
                ]
                for c in report.party_cases
            ],
        ),
    }
