"""Prefect tasks of `monthly-report`: the figures, the files, the mail.

Files go to `<data_dir>/reports/<YYYY-MM>/`: `report.html` (the document, charts inline),
`report.csv` (per jurisdiction, with the total) and `departments.csv`, `grounds.csv`,
`industries.csv`, `trend.csv`, `party_cases.csv` — each CSV one table, UTF-8 with a BOM so
Excel reads the Chinese. A re-run rewrites them (each written to a temporary file, then
renamed into place); the mail is enqueued once per (month, recipient).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from notifications.compose import Issuer
from notifications.report_html import report_html
from notifications.report_mail import enqueue_report_mail, report_recipients
from registry import db
from registry.reporting import (
    MonthlyReport,
    ReportMonth,
    monthly_report,
    previous_month,
    report_csvs,
)
from registry.settings import Settings
from service.runtime import opened_runtime

HTML_FILE = "report.html"


@dataclass(frozen=True)
class ReportMail:
    """The month's mail: who it goes to, the notices queued now, and those queued before."""

    recipients: list[str]
    notice_ids: list[int]
    already_queued: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "recipients": self.recipients,
            "notice_ids": self.notice_ids,
            "queued": len(self.notice_ids),
            "already_queued": self.already_queued,
        }


def report_dir(settings: Settings, month: ReportMonth) -> Path:
    return settings.data_dir / "reports" / month.key


def write_text(path: Path, text: str, *, encoding: str = "utf-8") -> None:
    """Replace `path` whole: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding=encoding, newline="")
    os.replace(partial, path)


def write_report(directory: Path, report: MonthlyReport, html: str) -> dict[str, str]:
    """Write the document and the CSVs; returns absolute paths by file name."""
    written = {HTML_FILE: directory / HTML_FILE}
    write_text(written[HTML_FILE], html)
    for name, text in report_csvs(report).items():
        written[name] = directory / name
        write_text(written[name], text, encoding="utf-8-sig")
    return {name: str(path.resolve()) for name, path in written.items()}


@task(name="monthly-figures")
def monthly_figures(month: str | None) -> MonthlyReport:
    """月报数据：各辖区典型案例占比、部门办理时效、认定依据与行业构成、近12个月趋势、
    当事人异议与移出申请答复时限。"""
    with opened_runtime() as runtime:
        today = runtime.clock.today()
        chosen = ReportMonth.parse(month) if month else previous_month(today)
        with db.session_scope(runtime.engine) as session:
            return monthly_report(session, month=chosen, catalogue=runtime.catalogue, today=today)


@task(name="write-report-files")
def write_report_files(report: MonthlyReport) -> dict[str, str]:
    """生成月报文件（HTML 与 CSV），重复运行时覆盖。"""
    with opened_runtime() as runtime:
        html = report_html(
            report, issuer=runtime.settings.authority_name, generated_on=runtime.clock.today()
        )
        return write_report(report_dir(runtime.settings, report.month), report, html)


@task(name="enqueue-report-mail")
def enqueue_report_mail_task(report: MonthlyReport, html_path: str) -> ReportMail:
    """月报邮件入队：每个月份、每个收件人只发一次。"""
    with opened_runtime() as runtime:
        settings = runtime.settings
        recipients = report_recipients(
            getattr(settings, "report_recipients", None), runtime.catalogue
        )
        with db.session_scope(runtime.engine) as session:
            result = enqueue_report_mail(
                session,
                report,
                recipients=recipients,
                issuer=Issuer.from_settings(settings),
                full_report_url=Path(html_path).resolve().as_uri(),
                now=runtime.clock.now(),
                today=runtime.clock.today(),
            )
    if result.already_queued:
        get_run_logger().info(
            "%s 月报邮件此前已入队 %d 封，不再重复发送", report.month.key, result.already_queued
        )
    return ReportMail(
        recipients=[r.address for r in recipients],
        notice_ids=result.new_ids,
        already_queued=result.already_queued,
    )
