"""Prefect tasks of `review-removals`: expiry review, the pending decisions, applying them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from prefect import task
from sqlmodel import col

from registry import db
from registry.faults import boundary_hook
from registry.models import Listing, RemovalApplication, Subject
from registry.models import ListingState as S
from registry.removal import check_removal_form, review_expired
from service.runtime import opened_runtime
from service.steps import removal_decision, run_core

SOURCE = "flow:review-removals"
FLOW = "review-removals"


@task(name="review-expired")
def review_expired_listings(actor: str) -> dict[str, Any]:
    """Term ended: removed where the rule-set says so, otherwise queued for an operator."""
    with opened_runtime() as runtime:
        hook = boundary_hook(runtime.settings.kill_at, FLOW)
        return run_core(
            runtime, review_expired, actor=actor, source=SOURCE, on_boundary=hook, step="review"
        ).as_dict()


@task(name="pending-removal-decisions")
def pending_decisions() -> list[dict[str, Any]]:
    """Listings in removal review: expired under the legacy rule, or applied for."""
    with opened_runtime() as runtime, db.session_scope(runtime.engine) as session:
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
    return [dict(row._mapping) for row in rows]


@task(name="apply-removal-decisions")
def apply_removal_decisions(
    reviewer: str, approve: list[int], refusals: dict[int, str]
) -> list[dict[str, Any]]:
    check_removal_form(approve, refusals)
    decisions = [removal_decision(approve, approve=True, reviewer=reviewer, reason=None)]
    decisions += [
        removal_decision([listing_id], approve=False, reviewer=reviewer, reason=reason)
        for listing_id, reason in refusals.items()
    ]
    with opened_runtime() as runtime:
        hook = boundary_hook(runtime.settings.kill_at, FLOW)
        return [
            run_core(
                runtime, decision, actor=reviewer, source=SOURCE, on_boundary=hook, step="decide"
            ).as_dict()
            for decision in (decisions if approve else decisions[1:])
        ]
