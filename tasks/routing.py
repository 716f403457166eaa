"""Prefect tasks of `route-batch`: one task per step, each a transaction, each emitting events.

A step's events are `jointcredit.listing.<state>` (and `jointcredit.listing.dispatched`) for the
batch resource `jointcredit.batch.<id>`, one per state reached with the count and the first ids —
one event per step, not per listing, so a 10,000-listing batch costs a handful of events.
"""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.events import emit_event

from notifications.artifacts import review_markdown
from registry.errors import JointcreditError
from registry.faults import boundary_hook
from registry.routing import (
    AlreadyDecided,
    BatchPosition,
    Decision,
    StepResult,
    awaiting_review,
)
from registry.vocabulary import NOTICE_KIND_LABELS, Step, label
from service.runtime import opened_runtime
from service.steps import position, record_decision, run_query, run_step, states_of

SOURCE = "flow:route-batch"
FLOW = "route-batch"


class InjectedFault(JointcreditError):
    """A rehearsed crash (`JOINTCREDIT_FAULT_AFTER_STEP`): the step committed, the run stops."""


EVENT_IDS_SHOWN = 50


def _emit(batch_id: int, step: Step, states: dict[str, int], result: StepResult) -> None:
    resource = {"prefect.resource.id": f"jointcredit.batch.{batch_id}"}
    for state, count in states.items():
        emit_event(
            event=f"jointcredit.listing.{state}",
            resource=resource,
            payload={"step": step, "count": count, "listing_ids": result.moved[:EVENT_IDS_SHOWN]},
        )


def _routed(batch_id: int, step: Step, actor: str) -> StepResult:
    with opened_runtime() as runtime:
        hook = boundary_hook(runtime.settings.kill_at, FLOW)
        result = run_step(runtime, batch_id, step, actor=actor, source=SOURCE, on_boundary=hook)
        states = (
            {"dispatched": len(result.moved)}
            if step is Step.DISPATCH
            else states_of(runtime, result.moved)
        )
    if result.moved:
        _emit(batch_id, step, states, result)
    if runtime.settings.fault_after_step == step:
        raise InjectedFault(f"按设置在步骤 {step} 之后中断（injected fault after {step}）")
    if result.for_post:
        get_run_logger().warning(
            "%d 份文书须邮寄或直接送达（未同意电子送达或无邮箱），"
            "请用 jointcredit notice print 打印：%s",
            len(result.for_post),
            "、".join(
                f"名单 {listing} 的{label(NOTICE_KIND_LABELS, kind)}"
                for kind, listing in result.for_post[:EVENT_IDS_SHOWN]
            ),
        )
    return result


@task(name="notify-parties")
def notify_parties(batch_id: int, actor: str) -> StepResult:
    """告知: prior notices to black-listed parties; red listings go straight to confirmation."""
    return _routed(batch_id, Step.NOTIFY, actor)


@task(name="close-defence-windows")
def close_defence_windows(batch_id: int, actor: str) -> StepResult:
    return _routed(batch_id, Step.CLOSE_DEFENCE, actor)


@task(name="publish-listings")
def publish_listings(batch_id: int, actor: str) -> StepResult:
    return _routed(batch_id, Step.PUBLISH, actor)


@task(name="dispatch-departments")
def dispatch_departments(batch_id: int, actor: str) -> StepResult:
    return _routed(batch_id, Step.DISPATCH, actor)


@task(name="record-decision")
def apply_decision(
    batch_id: int,
    reviewer: str,
    decision_number: str,
    rejections: dict[int, str],
    approve_others: bool,
) -> StepResult:
    decision = Decision(reviewer, decision_number, rejections, approve_others)
    with opened_runtime() as runtime:
        hook = boundary_hook(runtime.settings.kill_at, FLOW)
        try:
            result = record_decision(runtime, batch_id, decision, source=SOURCE, on_boundary=hook)
        except AlreadyDecided as lost:
            # `jointcredit confirm` answered first: the form's answer changes nothing, the run
            # routes on with the decision that stands, and the log says whose it is.
            get_run_logger().warning("%s", lost.message)
            return StepResult(Step.DECIDE)
        states = states_of(runtime, result.moved)
    if result.moved:
        _emit(batch_id, Step.DECIDE, states, result)
    return result


@task(name="read-batch-position")
def read_position(batch_id: int) -> BatchPosition:
    with opened_runtime() as runtime:
        return position(runtime, batch_id)


@task(name="review-table")
def review_table(batch_id: int) -> str:
    """The Markdown shown above the confirmation form."""
    with opened_runtime() as runtime:
        current = position(runtime, batch_id)
        rows = run_query(
            runtime, lambda session: awaiting_review(session, batch_id, runtime.catalogue)
        )
    return review_markdown(current, rows)
