"""Prefect tasks of `review-removals`: expiry review, the pending decisions, applying them."""

from __future__ import annotations

from prefect import task

from registry.faults import boundary_hook
from registry.removal import check_removal_form, review_expired
from registry.routing import StepResult
from registry.views.removal_review import PendingRemoval, pending_removals
from service.runtime import opened_runtime
from service.steps import removal_decision, run_core, run_query

SOURCE = "flow:review-removals"
FLOW = "review-removals"


@task(name="review-expired")
def review_expired_listings(actor: str) -> StepResult:
    """Term ended: removed where the rule-set says so, otherwise queued for an operator."""
    with opened_runtime() as runtime:
        hook = boundary_hook(runtime.settings.kill_at, FLOW)
        return run_core(
            runtime, review_expired, actor=actor, source=SOURCE, on_boundary=hook, step="review"
        )


@task(name="pending-removal-decisions")
def pending_decisions() -> list[PendingRemoval]:
    """Listings in removal review: expired under the legacy rule, or applied for."""
    with opened_runtime() as runtime:
        return run_query(runtime, pending_removals)


@task(name="apply-removal-decisions")
def apply_removal_decisions(
    reviewer: str, approve: list[int], refusals: dict[int, str]
) -> list[StepResult]:
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
            )
            for decision in (decisions if approve else decisions[1:])
        ]
