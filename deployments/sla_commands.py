"""`jointcredit sla report` and `jointcredit sla sweep`: department SLA figures and the sweep.

`report` reads the figures straight from the database (no Prefect); `sweep` runs the
`sweep-sla` flow once on the Prefect engine — the same run a schedule starts — so reminders and
escalations are sent once whether the operator or the schedule got there first.
"""

from __future__ import annotations

import asyncio
import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from deployments.console import JsonFlag, emit_json, err, out, reported
from registry.reporting.sla import median_label, report_csv, totals
from service import opened_runtime, require_ready_database, sla_figures

sla_app = typer.Typer(
    help="部门办理时限：统计、催办与督办（department SLA: figures, reminders, escalation）",
    no_args_is_help=True,
)


TABLE_COLUMNS = (
    ("name", "部门"),
    ("actions", "事项"),
    ("open", "未办结"),
    ("on_time", "未逾期"),
    ("overdue", "已逾期"),
    ("reminded", "已催办"),
    ("escalated", "已督办"),
    ("acknowledged", "已响应"),
    ("median_ack_wd", "响应用时中位数（工作日）"),
)
"""Short titles for a terminal; `--format csv|json` carry codes and bilingual headers."""


class ReportFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


@sla_app.command("report")
def report(
    output: Annotated[
        ReportFormat,
        typer.Option("--format", help="输出格式：table、csv 或 json（output format）"),
    ] = ReportFormat.TABLE,
    as_json: JsonFlag = False,
) -> None:
    """各部门办理时限统计：未办结、未逾期、已逾期、催办、督办、响应用时（per-department SLA）。"""
    if as_json:
        output = ReportFormat.JSON
    with reported(output is ReportFormat.JSON), opened_runtime() as runtime:
        figures = sla_figures(runtime)
    today, lines = figures.today, figures.departments
    if output is ReportFormat.JSON:
        emit_json(figures.as_dict())
        return
    if output is ReportFormat.CSV:
        sys.stdout.write(report_csv(lines))
        return
    table = Table(title=f"各部门办理时限统计（SLA by department, {today.isoformat()}）")
    for _, title in TABLE_COLUMNS:
        table.add_column(title, justify="right", overflow="fold")
    for line in [*lines, totals(lines)] if lines else []:
        values = line.as_dict()
        table.add_row(
            *(
                median_label(values[key]) if key == "median_ack_wd" else str(values[key])
                for key, _ in TABLE_COLUMNS
            )
        )
    out.print(table)
    if not lines:
        err.print("[yellow]暂无部门事项（no department actions yet）[/]")
    cases = Table(title="当事人异议与移出申请答复时限（party cases）")
    for title in ("事项", "收到", "按时答复", "逾期答复", "未逾期待答复", "逾期未答复"):
        cases.add_column(title, justify="right")
    for case in figures.party_cases:
        cases.add_row(
            case.label,
            *map(
                str,
                (
                    case.received,
                    case.answered_on_time,
                    case.answered_late,
                    case.open_on_time,
                    case.open_overdue,
                ),
            ),
        )
    out.print(cases)


@sla_app.command("sweep")
def sweep(as_json: JsonFlag = False) -> None:
    """执行一次时限巡查：逾期事项催办、督办（run sweep-sla once）。"""
    with reported(as_json):
        require_ready_database()
        from flows.sla import sweep_sla  # Prefect is imported only by the commands that run it

        result = asyncio.run(sweep_sla())
    if as_json:
        emit_json(result)
        return
    if not result["working_day"]:
        out.print(f"{result['today']} 不是工作日，不发催办函、督办函（not a working day）")
        return
    out.print(
        f"{result['today']}：新催办 {result['reminded']} 项，新督办 {result['escalated']} 项，"
        f"入队通知 {result['notices_queued']} 份"
        f"（reminded {result['reminded']}, escalated {result['escalated']}）"
    )
    for code, count in sorted(result["unknown_departments"].items()):
        err.print(f"[yellow]部门 {code} 不在 departments.yml 中，{count} 项逾期事项无法催办[/]")
