"""Prefect tasks of `review-removals`: expiry review, the pending decisions, applying them."""

from __future__ import annotations

from prefect import get_run_logger, task
from sqlmodel import Session

from registry.errors import NotFound, TransitionRefused
from registry.faults import boundary_hook
from registry.free_text import clean_single_line
from registry.removal import RemovalRefused, check_removal_form, review_expired
from registry.routing import Routing, StepResult
from registry.views.removal_review import PendingRemoval, pending_removals
from service.runtime import opened_runtime
from service.steps import removal_decision, run_core, run_query
from tasks.form_answers import AnswerRefused

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


class _Rehearsed(Exception):
    """Ends the rehearsal's transaction: every decision was accepted, none is kept."""


@task(name="apply-removal-decisions")
def apply_removal_decisions(
    reviewer: str, approve: list[int], refused: list[tuple[int, str]]
) -> list[StepResult] | AnswerRefused:
    """The form's decisions, all or nothing: rehearsed together in one transaction that is
    rolled back, so a refusal the rules make (a listing not in removal review, a refusal
    without a reason) leaves every listing as it was and is returned — the form asks again —
    instead of failing the run half applied. Then each decision is its own transaction, as
    `jointcredit removal decide` makes it (the crash suite's boundaries are per decision).
    `refused` is the form's (listing, reason) pairs as given: one listing twice is refused."""
    try:
        check_removal_form(approve, [listing_id for listing_id, _ in refused])
    except RemovalRefused as wrong:
        return AnswerRefused.of(wrong)
    refusals = dict(refused)
    decisions = [removal_decision(approve, approve=True, reviewer=reviewer, reason=None)]
    decisions = decisions if approve else []
    decisions += [
        removal_decision([listing_id], approve=False, reviewer=reviewer, reason=reason)
        for listing_id, reason in refusals.items()
    ]

    def rehearsal(session: Session, routing: Routing) -> None:
        for decision in decisions:
            decision(session, routing)
        raise _Rehearsed

    with opened_runtime() as runtime:
        try:
            run_core(runtime, rehearsal, actor=reviewer, source=SOURCE, step="rehearse")
        except (RemovalRefused, NotFound, TransitionRefused) as refused:
            return AnswerRefused.of(refused)
        except _Rehearsed:
            pass
        hook = boundary_hook(runtime.settings.kill_at, FLOW)
        results = [
            run_core(
                runtime, decision, actor=reviewer, source=SOURCE, on_boundary=hook, step="decide"
            )
            for decision in decisions
        ]
    get_run_logger().info("%s", removal_line(reviewer, approve, refusals))
    return results


def removal_line(reviewer: str, approve: list[int], refusals: dict[int, str]) -> str:
    """One Chinese line for the log; typed text masked as it is stored."""
    approved = "、".join(map(str, sorted(approve)))
    why = "；".join(
        f"名单 {i}：{clean_single_line(r).strip()}" for i, r in sorted(refusals.items())
    )
    return (
        f"移出决定：审核人 {clean_single_line(reviewer)}，同意移出 {len(approve)} 条"
        + (f"（名单 {approved}）" if approved else "")
        + f"，不予移出 {len(refusals)} 条"
        + (f"（{why}）" if why else "")
    )
