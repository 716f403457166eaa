"""`jointcredit report monthly [--month 2026-10]`: the monthly typical-case report.

Runs the `monthly-report` flow once on the Prefect engine — the same run the schedule starts —
so the files are written, the artifact shown in the UI and the mail enqueued once, whether the
operator or the schedule got there first. The default month is the previous one.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.table import Table

from deployments.console import JsonFlag, emit_json, err, out, reported
from registry.reporting import NO_RATIO, ReportMonth, percent_text
from service import require_ready_database

report_app = typer.Typer(
    help="统计报告：典型案例月报（reports: the monthly typical-case report）",
    no_args_is_help=True,
)


@report_app.command("monthly")
def monthly(
    month: Annotated[
        str | None,
        typer.Option("--month", help="报告月份 YYYY-MM，默认为上个月（report month）"),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """生成典型案例月报（HTML、CSV），并向领导报送（run monthly-report once）。"""
    with reported(as_json):
        if month:
            ReportMonth.parse(month)  # refuse a bad month before starting Prefect
        require_ready_database()
        from flows.report import monthly_report  # Prefect only for the commands that run it

        result = asyncio.run(monthly_report(month or ""))
    if as_json:
        emit_json(result)
        return
    _show(result)


def _show(result: dict[str, Any]) -> None:
    figures = result["figures"]
    table = Table(title=f"{figures['month_label']}典型案例月报（typical cases by jurisdiction）")
    for title in ("辖区", "红名单", "黑名单", "典型案例", "占比", "是否达标"):
        left = title in ("辖区", "是否达标")
        table.add_column(title, justify="left" if left else "right", overflow="fold")
    for row in [*figures["jurisdictions"], figures["total"]]:
        status = (
            "[bold red]未达标[/]"
            if row["below_target"]
            else ("达标" if row["ratio"] is not None else NO_RATIO)
        )
        table.add_row(
            row["name"],
            str(row["red"]),
            str(row["black"]),
            str(row["typical"]),
            percent_text(row["ratio"]),
            status,
        )
    out.print(table)
    if not figures["jurisdictions"]:
        err.print("[yellow]本月各辖区未报送红、黑名单（no entries this month）[/]")
    cases = Table(title="当事人异议与移出申请（party cases received this month）")
    for title in ("事项", "收到", "按时答复", "逾期答复", "未逾期待答复", "逾期未答复"):
        cases.add_column(title, justify="left" if title == "事项" else "right")
    for case in figures["party_cases"]:
        cases.add_row(
            case["label"],
            *(
                str(case[key])
                for key in (
                    "received",
                    "answered_on_time",
                    "answered_late",
                    "open_on_time",
                    "open_overdue",
                )
            ),
        )
    out.print(cases)
    out.print(f"报告文件：{result['files']['report.html']}")
    mail = result["mail"]
    if mail["queued"]:
        out.print(f"月报邮件已入队 {mail['queued']} 封：{'、'.join(mail['recipients'])}")
    else:
        out.print("月报邮件此前已入队，本次未重复发送（mail already queued）")
