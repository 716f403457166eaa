"""What waits for an operator's removal decision: listings in removal review, with the open
application if there is one (the table above the `review-removals` form)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col

from registry.models import Listing, RemovalApplication, Subject
from registry.models import ListingState as S


@dataclass(frozen=True)
class PendingRemoval:
    """One listing in removal review: expired under the legacy rule, or applied for."""

    id: int
    name: str
    rule_set: str
    removal_reason: str | None
    expires_on: date | None
    application_id: int | None


def pending_removals(session: Session) -> list[PendingRemoval]:
    """Listings in removal review, by id."""
    rows = session.execute(
        sa.select(
            col(Listing.id),
            col(Subject.name),
            col(Listing.rule_set),
            col(Listing.removal_reason),
            col(Listing.expires_on),
            col(RemovalApplication.id).label("application_id"),
        )
        .join(Subject, col(Subject.id) == col(Listing.subject_id))
        .outerjoin(
            RemovalApplication,
            sa.and_(
                col(RemovalApplication.listing_id) == col(Listing.id),
                col(RemovalApplication.state) == "open",
            ),
        )
        .where(col(Listing.state) == S.REMOVAL_REVIEW.value)
        .order_by(col(Listing.id))
    ).all()
    return [PendingRemoval(**row._mapping) for row in rows]
