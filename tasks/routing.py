"""Prefect tasks of `route-batch`: one task per step, each a transaction, each emitting events.

A step's events are `jointcredit.listing.<state>` (and `jointcredit.listing.dispatched`) for the
batch resource `jointcredit.batch.<id>`, one per state reached with the count and the first ids —
one event per step, not per listing, so a 10,000-listing batch costs a handful of events.
"""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.events import emit_event

from notifications.artifacts import review_markdown
from registry.errors import JointcreditError, TransitionRefused
from registry.faults import boundary_hook
from registry.free_text import clean_single_line
from registry.prior_decision import prior_decision
from registry.routing import (
    AlreadyDecided,
    BatchPosition,
    Decision,
    DecisionError,
    StepResult,
    awaiting_decision,
    awaiting_review,
)
from registry.vocabulary import NOTICE_KIND_LABELS, Step, label
from service.runtime import opened_runtime
from service.steps import position, record_decision, run_query, run_step, states_of
from tasks.form_answers import AnswerRefused

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
) -> StepResult | AnswerRefused:
    """The operator's decision, all or nothing. One the rules refuse (a listing not awaiting a
    decision, the reviewer proposed the batch, a reason missing) changes no listing and is
    returned, not raised: the form asks again (its attempt stays on the audit trail)."""
    decision = Decision(reviewer, decision_number, rejections, approve_others)
    logger = get_run_logger()
    with opened_runtime() as runtime:
        hook = boundary_hook(runtime.settings.kill_at, FLOW)
        try:
            result = record_decision(runtime, batch_id, decision, source=SOURCE, on_boundary=hook)
        except AlreadyDecided as lost:
            # `jointcredit confirm` answered first: the form's answer changes nothing, the run
            # routes on with the decision that stands, and the log says whose it is.
            logger.warning("%s", lost.message)
            return StepResult(Step.DECIDE)
        except (DecisionError, TransitionRefused) as refused:
            return AnswerRefused.of(refused)
        states = states_of(runtime, result.moved)
        reference = position(runtime, batch_id).reference
    if result.moved:
        _emit(batch_id, Step.DECIDE, states, result)
    logger.info("%s", decision_line(reference, batch_id, decision, result))
    return result


def decision_line(reference: str, batch_id: int, decision: Decision, result: StepResult) -> str:
    """One Chinese line for the log: who decided, how many confirmed, which rejected and why
    (free text masked as it is stored: an ID number typed into a reason never reaches a log)."""
    moved = set(result.moved)
    rejected = [(i, r) for i, r in sorted(decision.rejections.items()) if i in moved]
    why = "；".join(f"名单 {i}：{clean_single_line(r).strip()}" for i, r in rejected)
    reviewer = clean_single_line(decision.reviewer)
    return (
        f"批次 {reference}（编号 {batch_id}）已决定：审核人 {reviewer}，"
        f"确认列入 {len(moved) - len(rejected)} 条，不予列入 {len(rejected)} 条"
        + (f"（{why}）" if why else "")
    )


@task(name="decision-that-stands")
def decision_that_stands(batch_id: int) -> str:
    """Who decided the batch, when and what (`PriorDecision.summary_zh`), for a log line."""
    with opened_runtime() as runtime:
        prior = run_query(runtime, lambda session: prior_decision(session, batch_id))
    return prior.summary_zh()


@task(name="listings-awaiting-decision")
def listings_awaiting_decision(batch_id: int) -> list[int]:
    """The choices of the confirmation form's 名单编号."""
    with opened_runtime() as runtime:
        return run_query(runtime, lambda session: awaiting_decision(session, batch_id))


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
