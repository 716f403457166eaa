"""One core step = one transaction: open it, run the step, commit, return the core's result.

Shared by the Prefect tasks (`tasks.routing`) and the CLI (`jointcredit confirm`), so the
operator's command line and the scheduled flow take exactly the same path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col

from registry import db
from registry.errors import TransitionRefused
from registry.faults import BoundaryHook
from registry.models import Listing
from registry.removal import decide_and_forfeit_red, decide_removal
from registry.responses import Response, ResponseResult, record_responses
from registry.routing import (
    AlreadyDecided,
    BatchPosition,
    Decision,
    Routing,
    StepResult,
    batch_position,
    close_defence_windows,
    dispatch_in_force,
    notify_proposed,
    publish_confirmed,
    record_refused_decision,
)
from registry.vocabulary import Step
from service.runtime import Runtime

RouteStep = Callable[[Session, int, Routing], StepResult]
T = TypeVar("T")

STEPS: dict[Step, RouteStep] = {
    Step.NOTIFY: notify_proposed,
    Step.CLOSE_DEFENCE: close_defence_windows,
    Step.PUBLISH: publish_confirmed,
    Step.DISPATCH: dispatch_in_force,
}
"""The automatic steps of `route-batch`, in order; the operator's decision sits between the
second and the third."""


def run_step(
    runtime: Runtime,
    batch_id: int,
    step: Step,
    *,
    actor: str,
    source: str,
    on_boundary: BoundaryHook | None = None,
) -> StepResult:
    """`on_boundary` is told `before-<step>-commit` and `after-<step>` (registry.faults)."""
    name = step.replace("_", "-")
    with db.session_scope(runtime.engine) as session:
        result = STEPS[step](session, batch_id, runtime.routing(actor=actor, source=source))
        if on_boundary is not None:
            on_boundary(f"before-{name}-commit")
    if on_boundary is not None:
        on_boundary(f"after-{name}")
    return result


def record_decision(
    runtime: Runtime,
    batch_id: int,
    decision: Decision,
    *,
    source: str,
    on_boundary: BoundaryHook | None = None,
) -> StepResult:
    """Apply the decision; a refused one — by a guard or because someone else decided first
    (`AlreadyDecided`) — is committed as an audit event, then raised.

    The core's decision includes its consequences (`decide_and_forfeit_red`: a subject
    confirmed on the black list forfeits its red listing in the same transaction).
    `on_boundary` is told `before-decide-commit` and `after-decide`.
    """
    routing = runtime.routing(actor=decision.reviewer, source=source)
    try:
        with db.session_scope(runtime.engine) as session:
            result = decide_and_forfeit_red(session, batch_id, decision, routing)
            if on_boundary is not None:
                on_boundary("before-decide-commit")
    except AlreadyDecided as lost:
        # The race was lost and its transaction rolled back: the attempt is recorded on its own,
        # as every refused decision is, then the caller is told whose decision stands.
        with db.session_scope(runtime.engine) as session:
            why = {"already_decided": True, "decision": lost.prior.as_dict()}
            record_refused_decision(session, batch_id, decision, routing, why=why)
        raise
    if on_boundary is not None:
        on_boundary("after-decide")
    if result.refused:
        raise TransitionRefused("confirm", result.refused)
    return result


def position(runtime: Runtime, batch_id: int) -> BatchPosition:
    with db.session_scope(runtime.engine) as session:
        return batch_position(session, batch_id, today=runtime.clock.today())


def states_of(runtime: Runtime, listing_ids: list[int]) -> dict[str, int]:
    """How many of these listings are now in each state (for the step's Prefect events)."""
    counts: dict[str, int] = {}
    with db.session_scope(runtime.engine) as session:
        for chunk in db.in_list_chunks(listing_ids):
            rows = session.execute(
                sa.select(col(Listing.state), sa.func.count())
                .where(col(Listing.id).in_(chunk))
                .group_by(col(Listing.state))
            ).all()
            for state, count in rows:
                counts[state] = counts.get(state, 0) + count
    return counts


def run_core(
    runtime: Runtime,
    operation: Callable[[Session, Routing], T],
    *,
    actor: str,
    source: str,
    on_boundary: BoundaryHook | None = None,
    step: str = "core",
) -> T:
    """Any core operation that needs a routing context (and enqueues its notices), in one
    transaction; `on_boundary` is told `before-<step>-commit` and `after-<step>`."""
    with db.session_scope(runtime.engine) as session:
        result = operation(session, runtime.routing(actor=actor, source=source))
        if on_boundary is not None:
            on_boundary(f"before-{step}-commit")
    if on_boundary is not None:
        on_boundary(f"after-{step}")
    return result


def run_query(runtime: Runtime, query: Callable[[Session], T]) -> T:
    """A core call that needs only a session (a read, or a write that enqueues no notice), in
    one transaction committed when it returns."""
    with db.session_scope(runtime.engine) as session:
        return query(session)


def removal_decision(
    listing_ids: list[int], *, approve: bool, reviewer: str, reason: str | None
) -> Callable[[Session, Routing], StepResult]:
    """The operator's decision on listings in removal review, ready for `run_core`."""

    def operation(session: Session, routing: Routing) -> StepResult:
        return decide_removal(
            session, listing_ids, approve=approve, reviewer=reviewer, reason=reason, routing=routing
        )

    return operation


def record_response(
    runtime: Runtime,
    response: Response,
    *,
    recorded_by: str,
    source: str,
    all_or_nothing: bool = False,
) -> ResponseResult:
    """One department's answer in one transaction: the CLI and `record-responses` share it.

    `all_or_nothing` (a form's answer): any refusal rolls the whole answer back and raises
    `ResponseRefused`, so the operator corrects the form and nothing is half recorded."""
    with db.session_scope(runtime.engine) as session:
        result = record_responses(
            session,
            responses=[response],
            catalogue=runtime.catalogue,
            clock=runtime.clock,
            recorded_by=recorded_by,
            source=source,
        )
        if all_or_nothing:
            result.raise_if_refused()
        return result
