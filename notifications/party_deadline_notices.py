"""From party-deadline requests to outbox drafts: the 催办 to our own office (the authority's
mailbox, settings `authority_email`) and the 督办 to the supervising office.

`registry.party_deadlines` decides which letters are owed; this module reads the listing
reference and subject name of each case (one query per `IN (…)` chunk), fills the contexts and
enqueues them keyed by the request's step, so a letter is queued once however often the sweep
runs. Each letter is linked to the listings it names (`notice_listing`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from memoranda.loader import Catalogue
from notifications.compose import Issuer
from notifications.contexts import (
    DueDate,
    Letterhead,
    PartyCaseItem,
    PartyDeadlineEscalationContext,
    PartyDeadlineReminderContext,
)
from notifications.outbox import NoticeDraft, NoticeKey, Recipient, enqueue_notices
from notifications.sla_notices import listing_lines
from registry.clock import Clock
from registry.party_deadlines import PartyDeadlineRequest, PartyNoticeEnqueuer
from registry.vocabulary import NoticeKind


def party_deadline_drafts(
    session: Session,
    requests: Sequence[PartyDeadlineRequest],
    *,
    catalogue: Catalogue,
    issuer: Issuer,
    clock: Clock,
) -> list[NoticeDraft]:
    if not requests:
        return []
    lines = listing_lines(session, sorted({c.listing_id for r in requests for c in r.cases}))
    letterhead = Letterhead(issuer=issuer.name, issued_on=clock.today())
    handling = f"{issuer.name}{issuer.office}"
    office = catalogue.supervising_office
    drafts: list[NoticeDraft] = []
    for request in requests:
        items = [
            PartyCaseItem(
                case=c.case,
                case_id=c.case_id,
                listing_reference=lines[c.listing_id][0],
                subject_name=lines[c.listing_id][1],
                filed_on=c.filed_on,
                due=DueDate(due=c.due, provisional=c.provisional),
                overdue_wd=c.overdue_wd,
            )
            for c in request.cases
        ]
        if request.kind is NoticeKind.PARTY_DEADLINE_REMINDER:
            recipient = Recipient(issuer.email, handling)
            context: PartyDeadlineReminderContext | PartyDeadlineEscalationContext = (
                PartyDeadlineReminderContext(
                    letterhead=letterhead,
                    office=handling,
                    items=items,
                    escalate_after_wd=max(request.escalate_after_wd, 1),
                    supervising_office=office.name,
                    contact=issuer.contact(),
                )
            )
        else:
            recipient = Recipient(office.mailbox, office.name)
            context = PartyDeadlineEscalationContext(
                letterhead=letterhead,
                office=office.name,
                handling_office=handling,
                items=items,
                reminder_sent_on=request.reminded_on or clock.today(),
                contact=issuer.contact(),
            )
        drafts.append(
            NoticeDraft(
                kind=request.kind,
                recipient=recipient,
                context=context,
                key=NoticeKey(request.kind, "party-deadlines", recipient.address, request.step),
                listing_ids=tuple(sorted({c.listing_id for c in request.cases})),
            )
        )
    return drafts


def party_notice_enqueuer(
    *, catalogue: Catalogue, issuer: Issuer, clock: Clock
) -> PartyNoticeEnqueuer:
    """The enqueue step `registry.party_deadlines.sweep_party_deadlines` calls."""

    def enqueue(session: Session, requests: Sequence[PartyDeadlineRequest]) -> int:
        drafts = party_deadline_drafts(
            session, requests, catalogue=catalogue, issuer=issuer, clock=clock
        )
        result = enqueue_notices(
            session, drafts, now=clock.now(), message_id_domain=issuer.message_id_domain
        )
        return len(result.new_ids)

    return enqueue
