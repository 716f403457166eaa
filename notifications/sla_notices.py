"""From SLA sweep requests to outbox drafts: the 催办函 to a department, the 督办 to the office.

`registry.sla_sweep` decides which digests are owed (the actions that reached a level in this
sweep); this module reads what the letters name — the listing reference and the subject of each
action, in one query per `IN (…)` chunk of listings — fills `ReminderContext` /
`EscalationContext` and enqueues them in the caller's transaction, keyed by
`registry.sla_sweep.sla_digest_step`, so a digest is queued once however often the sweep runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from notifications.compose import Issuer
from notifications.contexts import (
    DueDate,
    EscalationContext,
    Letterhead,
    OverdueItem,
    ReminderContext,
)
from notifications.outbox import EnqueueResult, NoticeDraft, NoticeKey, Recipient, enqueue_notices
from registry.clock import Clock
from registry.contacts import department_mailbox
from registry.db import in_list_chunks
from registry.models import Batch, Listing, Subject
from registry.sla_sweep import SlaNoticeEnqueuer, SlaNoticeRequest
from registry.vocabulary import NoticeKind


def department_scope(department: str) -> str:
    """The notice key's scope of a department digest (`NoticeKey.scope`)."""
    return f"department:{department}"


def compose_sla_notices(
    session: Session,
    requests: Sequence[SlaNoticeRequest],
    *,
    catalogue: Catalogue,
    issuer: Issuer,
    today: date,
) -> Iterator[NoticeDraft]:
    """One draft per request, built as it is consumed: a letter may list hundreds of actions,
    so the caller holds one letter at a time, not the whole sweep's."""
    if not requests:
        return
    listings = listing_lines(session, sorted({a.listing_id for r in requests for a in r.actions}))
    letterhead = Letterhead(issuer=issuer.name, issued_on=today)
    office = catalogue.supervising_office
    # A digest lists hundreds of actions that share a few due dates: one DueDate per date.
    dues: dict[tuple[date, bool], DueDate] = {}
    for request in requests:
        department = catalogue.departments[request.department]
        items = [
            OverdueItem(
                listing_reference=listings[a.listing_id][0],
                subject_name=listings[a.listing_id][1],
                step=a.clock,
                due=dues.get((a.due, a.provisional))
                or dues.setdefault(
                    (a.due, a.provisional), DueDate(due=a.due, provisional=a.provisional)
                ),
                overdue_wd=a.overdue_wd,
            )
            for a in request.actions
        ]
        if request.kind is NoticeKind.REMINDER:
            if request.reply_due is None:
                raise ValueError("a reminder request needs its reply due date")
            kind = NoticeKind.REMINDER
            recipient = Recipient(department_mailbox(session, department), department.name)
            context: ReminderContext | EscalationContext = ReminderContext(
                letterhead=letterhead,
                department=department.name,
                items=items,
                reply_due=DueDate.model_validate(request.reply_due, from_attributes=True),
                supervising_office=office.name,
                contact=issuer.contact(),
            )
        else:
            kind = NoticeKind.ESCALATION
            recipient = Recipient(office.mailbox, office.name)
            context = EscalationContext(
                letterhead=letterhead,
                office=office.name,
                department=department.name,
                items=items,
                reminder_sent_on=request.reminded_on or today,
                contact=issuer.contact(),
            )
        yield NoticeDraft(
            kind=kind,
            recipient=recipient,
            context=context,
            key=NoticeKey(kind, department_scope(department.code), recipient.address, request.step),
            department_code=department.code,
            listing_ids=tuple(a.listing_id for a in request.actions),
        )


def listing_lines(session: Session, listing_ids: list[int]) -> dict[int, tuple[str, str]]:
    """Listing id → (reference as the dispatch letter gave it, subject name)."""
    lines: dict[int, tuple[str, str]] = {}
    for chunk in in_list_chunks(listing_ids):
        rows = session.execute(
            sa.select(col(Listing.id), col(Batch.reference), col(Subject.name))
            .join(Subject, col(Subject.id) == col(Listing.subject_id))
            .join(Batch, col(Batch.id) == col(Listing.batch_id))
            .where(col(Listing.id).in_(chunk))
        )
        for listing_id, reference, name in rows:
            lines[listing_id] = (f"{reference}-{listing_id}", name)
    return lines


def enqueue_sla_requests(
    session: Session,
    requests: Sequence[SlaNoticeRequest],
    *,
    catalogue: Catalogue,
    issuer: Issuer,
    clock: Clock,
) -> EnqueueResult:
    """Compose and enqueue the sweep's digests in the caller's transaction, one at a time."""
    new_ids: list[int] = []
    already_queued = 0
    for draft in compose_sla_notices(
        session, requests, catalogue=catalogue, issuer=issuer, today=clock.today()
    ):
        result = enqueue_notices(
            session,
            [draft],
            now=clock.now(),
            message_id_domain=issuer.message_id_domain,
            numbering=issuer.numbering,
        )
        new_ids += result.new_ids
        already_queued += result.already_queued
    return EnqueueResult(new_ids=sorted(new_ids), already_queued=already_queued)


def sla_notice_enqueuer(*, catalogue: Catalogue, issuer: Issuer, clock: Clock) -> SlaNoticeEnqueuer:
    """The enqueue step `registry.sla_sweep.Sweep` calls once the levels have moved."""

    def enqueue(session: Session, requests: Sequence[SlaNoticeRequest]) -> int:
        result = enqueue_sla_requests(
            session, requests, catalogue=catalogue, issuer=issuer, clock=clock
        )
        return len(result.new_ids)

    return enqueue
