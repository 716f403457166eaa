"""`monthly-report`: the typical-case report of a month — files, artifact, mail to leadership.

Scheduled early each month for the month before (the default month is the previous one in
Asia/Shanghai by the injected clock). Re-entrant: a second run for the same month rewrites the
files and the artifact with the current figures, and enqueues no second mail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact

from flows.operator_ui import parameter
from flows.run_names import report_name
from notifications.artifacts import monthly_markdown
from registry.reporting import ReportMonth
from tasks.report import HTML_FILE, enqueue_report_mail_task, monthly_figures, write_report_files


def artifact_key(month: ReportMonth) -> str:
    """`monthly-report-2026-10`: artifact keys are lower-case letters, digits and dashes."""
    return f"monthly-report-{month.key}"


@flow(name="monthly-report", flow_run_name=report_name)
async def monthly_report(
    month: Annotated[str, parameter("报告月份", "格式 YYYY-MM（如 2026-10）；留空为上个月")] = "",
) -> dict[str, Any]:
    """典型案例月报：各辖区典型案例占比、部门办理时效、近12个月趋势；生成文件并报送领导。"""
    if month:
        ReportMonth.parse(month)  # a bad month fails the run before any work
    report = monthly_figures(month or None)
    files = write_report_files(report)
    mail = enqueue_report_mail_task(report, files[HTML_FILE])
    folder = str(Path(files[HTML_FILE]).parent)
    await acreate_markdown_artifact(
        key=artifact_key(report.month),
        markdown=monthly_markdown(report, location=folder),
        description=f"{report.month.label}典型案例月报：未达标辖区 {len(report.below_target)} 个"
        "（monthly typical-case report）",
    )
    return {
        "month": report.month.key,
        "files": files,
        "mail": mail.as_dict(),
        "figures": report.as_dict(),
    }
