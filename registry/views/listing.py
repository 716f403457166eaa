"""The listing view (`jointcredit listing show`): one listing, its actions, notices, history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session

from registry.errors import NotFound
from registry.references import listing_reference
from registry.views.common import (
    ACTION,
    BATCH,
    LISTING,
    SUBJECT,
    SUBJECT_COLUMNS,
    ActionLine,
    HistoryEntry,
    NoticeLine,
    ReadView,
    SubjectRef,
    action_lines,
    history_entries,
    listing_events,
    notice_lines,
    scrub,
    subject_ref,
)


@dataclass(frozen=True)
class ListingView(ReadView):
    """One listing: subject (masked), batch, every date, actions, notices, audit history.

    `notices` are the listing's own and the 推送函 that name it (`listing_id` None);
    `history` is every audit event on the listing, in chain (seq) order.
    """

    id: int
    reference: str
    subject: SubjectRef
    batch_id: int
    batch_reference: str
    list_type: str
    rule_set: str
    grounds: list[str]
    decision_number: str | None  # 列入决定文号: this listing's own (registry.numbering)
    penalty_number: str | None  # 处罚决定书文号: the penalty it rests on, from intake
    decision_date: date | None
    typical_case: bool
    needs_review: bool
    warnings: list[str]
    note: str | None
    state: str
    removal_reason: str | None
    proposed_at: datetime
    proposed_by: str
    notified_at: datetime | None
    defence_due: date | None
    defence_provisional: bool
    defence_received_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    published_at: datetime | None
    expires_on: date | None
    removed_at: datetime | None
    actions: list[ActionLine]
    notices: list[NoticeLine]
    history: list[HistoryEntry]


_LISTING_FIELDS = tuple(
    name
    for name in ListingView.__dataclass_fields__
    if name not in ("reference", "subject", "batch_reference", "actions", "notices", "history")
)


def listing_view(session: Session, listing_id: int) -> ListingView:
    """The listing `listing_id`; `NotFound` (Chinese) when there is none."""
    row = (
        session.execute(
            sa.select(
                *(LISTING.c[name] for name in _LISTING_FIELDS),
                BATCH.c.reference.label("batch_reference"),
                *(c.label(f"subject_{c.name}") for c in SUBJECT_COLUMNS),
            )
            .join(BATCH, BATCH.c.id == LISTING.c.batch_id)
            .join(SUBJECT, SUBJECT.c.id == LISTING.c.subject_id)
            .where(LISTING.c.id == listing_id)
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound(f"名单不存在：{listing_id}（listing not found）", listing_id=listing_id)
    subject = subject_ref({c.name: row[f"subject_{c.name}"] for c in SUBJECT_COLUMNS})
    values = {name: row[name] for name in _LISTING_FIELDS}
    values["note"] = scrub(values["note"])
    values["warnings"] = [scrub(w) or "" for w in values["warnings"] or []]
    actions = action_lines(session, ACTION.c.listing_id == listing_id)
    notices = notice_lines(session, [listing_id])
    return ListingView(
        **values,
        reference=listing_reference(row["batch_reference"], listing_id),
        subject=subject,
        batch_reference=row["batch_reference"],
        actions=actions,
        notices=notices,
        history=history_entries(session, listing_events([listing_id])),
    )
