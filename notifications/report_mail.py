"""The monthly report mail to leadership: who gets it, what it says, enqueued exactly once.

The mail is the `monthly_report` notice (`MonthlyReportContext`): the per-jurisdiction table,
the departments' timeliness, the party's objections and removal applications, two or three
highlights, and a link to the full HTML report. Its idempotency key is (month, recipient), so
running the report for a month again rewrites the files but never mails anyone twice
(DESIGN.md §1.4).

Recipients: the leadership mailboxes configured in the settings (`report_recipients`); when
none are configured, the supervising office of `departments.yml` (督办室), which exists in every
deployment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlmodel import Session

from memoranda.loader import Catalogue
from notifications.compose import Issuer
from notifications.contexts import (
    JurisdictionRow,
    Letterhead,
    MonthlyReportContext,
    PartyCaseCount,
    SlaRow,
)
from notifications.outbox import EnqueueResult, NoticeDraft, NoticeKey, Recipient, enqueue_notices
from registry.audit import EventDraft, append_events
from registry.reporting import MonthlyReport, percent_text
from registry.reporting.monthly import audit_head_line
from registry.vocabulary import NoticeKind

LEADERSHIP = "各位领导"
"""How the mail addresses configured leadership mailboxes (the office is addressed by name)."""
NO_ENTRIES_ROW = "全部辖区"
_SEPARATORS = re.compile(r"[,;，；\s]+")


def report_recipients(configured: object, catalogue: Catalogue) -> list[Recipient]:
    """The configured mailboxes (a list, or one string separated by commas/semicolons), else
    the supervising office of the catalogue."""
    if isinstance(configured, str):
        addresses = [a for a in _SEPARATORS.split(configured) if a]
    elif isinstance(configured, Iterable):
        addresses = [str(a).strip() for a in configured if str(a).strip()]
    else:
        addresses = []
    if not addresses:
        office = catalogue.supervising_office
        return [Recipient(office.mailbox, office.name)]
    return [Recipient(address) for address in dict.fromkeys(addresses)]


def report_key(month: str, recipient: Recipient) -> NoticeKey:
    """One mail per (month, recipient), whatever else changed between runs."""
    return NoticeKey(NoticeKind.MONTHLY_REPORT, f"month:{month}", recipient.address)


def highlights(report: MonthlyReport) -> list[str]:
    """The paragraphs of 情况说明: the month's totals and the departments' timeliness."""
    total = report.total
    lines = []
    if total.entries:
        lines.append(
            f"本月各辖区共报送红名单{total.red}条、黑名单{total.black}条，典型案例{total.typical}个，"
            f"总体占比{percent_text(total.ratio)}"
            + ("，低于目标。" if total.below_target else "，达到目标。")
        )
    else:
        lines.append("本月各辖区未报送红、黑名单。")
    if report.departments:
        sla = report.department_total
        lines.append(
            f"本月推送部门事项{sla.actions}项，按时响应率{percent_text(sla.ack_on_time_ratio)}，"
            f"按时反馈率{percent_text(sla.feedback_on_time_ratio)}，逾期未办{sla.overdue_open}项"
            f"（统计截至{report.as_of.year}年{report.as_of.month}月{report.as_of.day}日）。"
        )
    head = audit_head_line(report.audit_head)
    if head is not None:
        lines.append(f"{head}（请留存，用于核对审计记录是否被删改）。")
    return lines


def report_context(
    report: MonthlyReport,
    *,
    issuer: Issuer,
    addressee: str,
    full_report_url: str,
    today: date,
) -> MonthlyReportContext:
    jurisdictions = [
        JurisdictionRow(
            region=row.name,
            red=row.red,
            black=row.black,
            typical=row.typical,
            ratio=row.ratio,
            below_target=row.below_target,
        )
        for row in report.jurisdictions
    ] or [
        JurisdictionRow(
            region=NO_ENTRIES_ROW, red=0, black=0, typical=0, ratio=None, below_target=False
        )
    ]
    return MonthlyReportContext(
        letterhead=Letterhead(issuer=issuer.name, issued_on=today),
        addressee=addressee,
        month_label=report.month.label,
        typical_target=report.target,
        jurisdictions=jurisdictions,
        sla=[
            SlaRow(
                department=row.name,
                actions=row.actions,
                ack_on_time=row.ack_on_time_ratio,
                feedback_on_time=row.feedback_on_time_ratio,
                overdue_open=row.overdue_open,
                escalated=row.escalated,
            )
            for row in report.departments
        ],
        party_cases=[
            PartyCaseCount(
                case=row.label,
                received=row.received,
                answered_on_time=row.answered_on_time,
                answered_late=row.answered_late,
                open_on_time=row.open_on_time,
                open_overdue=row.open_overdue,
            )
            for row in report.party_cases
        ],
        highlights=highlights(report),
        full_report_url=full_report_url,
        contact=issuer.contact(),
    )


def report_drafts(
    report: MonthlyReport,
    *,
    recipients: Sequence[Recipient],
    issuer: Issuer,
    full_report_url: str,
    today: date,
) -> list[NoticeDraft]:
    drafts = []
    for recipient in recipients:
        context = report_context(
            report,
            issuer=issuer,
            addressee=recipient.name or LEADERSHIP,
            full_report_url=full_report_url,
            today=today,
        )
        drafts.append(
            NoticeDraft(
                kind=NoticeKind.MONTHLY_REPORT,
                recipient=recipient,
                context=context,
                key=report_key(report.month.key, recipient),
            )
        )
    return drafts


def enqueue_report_mail(
    session: Session,
    report: MonthlyReport,
    *,
    recipients: Sequence[Recipient],
    issuer: Issuer,
    full_report_url: str,
    now: datetime,
    today: date,
) -> EnqueueResult:
    """Enqueue the month's mail to each recipient that has not had it (caller commits)."""
    drafts = report_drafts(
        report, recipients=recipients, issuer=issuer, full_report_url=full_report_url, today=today
    )
    result = enqueue_notices(
        session,
        drafts,
        now=now,
        message_id_domain=issuer.message_id_domain,
        numbering=issuer.numbering,
    )
    if result.new_ids:  # the month's report was sent for the first time: on the record
        append_events(
            session,
            [
                EventDraft(
                    actor="flow:monthly-report",
                    action="report.monthly_mail",
                    entity_type="report",
                    entity_id=report.month.key,
                    before=None,
                    after={"notice_ids": result.new_ids, "recipients": len(result.new_ids)},
                    source="monthly-report",
                )
            ],
            at=now,
        )
    return result
