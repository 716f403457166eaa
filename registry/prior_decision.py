"""Who already decided a batch, and what: told to the operator whose decision came second.

The operator's decision on a batch is given once (`registry.routing.decide`): in the Prefect
form or with `jointcredit confirm`, whichever commits first. The one that comes second changes
nothing, and must say so with the first decision — who, when, which decision number, what was
refused and why — or an operator would believe their `--reject` had been applied.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from registry.clock import BUSINESS_TZ
from registry.db import in_list_chunks
from registry.free_text import mask_resident_ids  # not views.scrub: the batch view imports us
from registry.models import AuditEvent, Listing
from registry.models import ListingState as S

UNDECIDED = (S.PROPOSED.value, S.NOTIFIED.value, S.AWAITING_CONFIRMATION.value)


@dataclass(frozen=True)
class PriorDecision:
    """The decision already recorded on (some of) a batch's listings."""

    batch_id: int
    reviewers: list[str] = field(default_factory=list)
    decided_at: datetime | None = None
    decision_numbers: list[str] = field(default_factory=list)
    confirmed: list[int] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.confirmed and not self.rejected

    def summary_zh(self) -> str:
        who = "、".join(self.reviewers) or "他人"
        when = (
            self.decided_at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")
            if self.decided_at
            else "此前"
        )
        parts = []
        if self.confirmed:
            numbers = "、".join(self.decision_numbers)
            parts.append(f"确认 {len(self.confirmed)} 条" + (f"（{numbers}）" if numbers else ""))
        if self.rejected:
            reasons = "；".join(f"名单 {i}：{r}" for i, r in sorted(self.rejected.items()))
            parts.append(f"不予列入 {len(self.rejected)} 条（{reasons}）")
        return f"{who} 于 {when}（北京时间）决定：{'，'.join(parts) or '无'}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "reviewers": self.reviewers,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "decision_numbers": self.decision_numbers,
            "confirmed": self.confirmed,
            "rejected": {str(k): v for k, v in sorted(self.rejected.items())},
        }


def prior_decision(
    session: Session, batch_id: int, listing_ids: Collection[int] | None = None
) -> PriorDecision:
    """The decision recorded on the batch's decided listings (or on `listing_ids` of it)."""
    where = [col(Listing.batch_id) == batch_id, col(Listing.state).not_in(UNDECIDED)]
    if listing_ids is not None:
        where.append(col(Listing.id).in_(sorted(listing_ids)))
    rows = session.execute(
        sa.select(
            col(Listing.id),
            col(Listing.state),
            col(Listing.decided_by),
            col(Listing.decided_at),
            col(Listing.decision_number),
        )
        .where(*where)
        .order_by(col(Listing.id))
    ).all()
    reviewers: dict[str, None] = {}
    numbers: dict[str, None] = {}
    times: list[datetime] = []
    confirmed: list[int] = []
    rejected_ids: list[int] = []
    for listing_id, state, decided_by, decided_at, number in rows:
        if state == S.REJECTED.value:
            rejected_ids.append(listing_id)
            continue
        if decided_at is None:
            continue  # a listing that never went through a decision (not from this batch's form)
        confirmed.append(listing_id)
        times.append(decided_at)
        if decided_by:
            reviewers[decided_by] = None
        if number:
            numbers[number] = None
    rejected: dict[int, str] = {}
    for chunk in in_list_chunks([str(i) for i in rejected_ids]):
        events = session.execute(
            sa.select(
                col(AuditEvent.entity_id),
                col(AuditEvent.actor),
                col(AuditEvent.at),
                col(AuditEvent.after),
            )
            .where(
                col(AuditEvent.entity_type) == "listing",
                col(AuditEvent.action) == "listing.reject",
                col(AuditEvent.entity_id).in_(chunk),
            )
            .order_by(col(AuditEvent.seq))
        ).all()
        for entity_id, actor, at, after in events:
            rejected[int(entity_id)] = mask_resident_ids(str((after or {}).get("reason") or ""))
            reviewers[actor] = None
            times.append(at)
    for listing_id in rejected_ids:
        rejected.setdefault(listing_id, "")
    return PriorDecision(
        batch_id=batch_id,
        reviewers=[mask_resident_ids(r) for r in reviewers],
        decided_at=max(times) if times else None,
        decision_numbers=list(numbers),
        confirmed=confirmed,
        rejected=rejected,
    )
