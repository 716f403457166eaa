"""`review-removals` (daily): every listing whose term ended leaves the list lawfully.

Automatic where the rule-set says so (current rule, red lists); under the legacy rule an
expired listing nobody applied for, and every application, waits for an operator — in the
form this run shows (paused by hand, suspended from a deployment) or `jointcredit removal
decide`. Every removal queues the removal notice and a lift request to each department.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact

from flows.operator_ui import RemovalForm, ask_operator, form_with
from flows.run_names import removals_name
from notifications.artifacts import removal_report, removal_review_markdown
from tasks.inbox import refresh_operator_inbox
from tasks.removal import apply_removal_decisions, pending_decisions, review_expired_listings

ACTOR = "flow:review-removals"


@flow(name="review-removals", flow_run_name=removals_name)
async def review_removals(
    wait_for_operator: bool = True,
    decision_timeout_hours: float = 24.0,
    decision_poll_seconds: int = 10,
) -> dict[str, Any]:
    """移出审查：期满自动移出或提交操作员决定，发出移出告知和解除函。"""
    review = review_expired_listings(ACTOR)
    pending = pending_decisions()
    decided = 0
    if pending and wait_for_operator:
        form = await ask_operator(
            form_with(RemovalForm, removal_review_markdown(pending)),
            key="removals",
            timeout_hours=decision_timeout_hours,
            poll_seconds=decision_poll_seconds,
            unanswered="移出决定在 {hours} 小时内无人处理，仍在等待",
        )
        if form is not None:
            results = apply_removal_decisions(
                form.reviewer, form.approve, {r.listing_id: r.reason for r in form.refusals}
            )
            decided = sum(len(r.moved) for r in results)
            pending = pending_decisions()
    await acreate_markdown_artifact(
        key="review-removals",
        markdown=removal_report(review, pending, decided),
        description="移出审查结果（removal review）",
    )
    await refresh_operator_inbox()
    return {"review": review.as_dict(), "pending": len(pending), "decided": decided}
