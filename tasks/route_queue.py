"""Prefect tasks of `route-due-batches`: find the batches to move, and put a confirmation form in
front of the operator for every batch that waits on one.

The form is a run of the `route-batch` deployment — never a subflow of the sweep: Prefect
suspends only top-level runs of a deployment ("Cannot suspend subflows"), and a paused subflow
would hold the sweep's process for a day. A batch that already has an open run of that
deployment (scheduled, pending, running, paused or suspended) gets no second one, whether the
sweep or an operator started it — except a run left Running for over an hour: routing takes
minutes, so such a run died with its machine (nothing marks it Crashed when the whole host goes
down), and the batch would otherwise never see a form again. A suspended run waits without a
time limit (`flows.operator_ui.ask_operator`), so it holds the batch's form until answered — or
until the batch is decided elsewhere (`jointcredit confirm`): the sweep then cancels it, with a
message saying why, so the inbox no longer lists a form nobody needs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from prefect import get_run_logger, task
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled

from registry.route_queue import (
    FormRequests,
    batches_awaiting_operator,
    dispatchable_rule_sets,
    due_batches,
    still_awaiting_operator,
)
from service.runtime import opened_runtime
from service.steps import run_query

OPEN_STATES = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.PAUSED]
PAGE = 200
STALE_RUNNING = timedelta(hours=1)
NO_LONGER_NEEDED = "批次已由他人决定，此表单不再需要（the batch was decided elsewhere）"


def holds_form(run: FlowRun, now: datetime) -> bool:
    """Whether a run of `route-batch` is, or will be, showing the batch's form."""
    if run.state is None or run.state.type not in OPEN_STATES:
        return False
    if run.state.type is StateType.RUNNING:
        return now - run.state.timestamp < STALE_RUNNING
    return True


@task(name="find-due-batches")
def find_due_batches(limit: int) -> list[int]:
    """Batches with listings ready for a step that needs no operator (oldest first)."""
    with opened_runtime() as runtime:
        dispatchable = dispatchable_rule_sets(runtime.catalogue)
        return run_query(
            runtime,
            lambda session: due_batches(
                session,
                today=runtime.clock.today(),
                dispatchable_rule_sets=dispatchable,
                limit=limit,
            ),
        )


@task(name="find-batches-awaiting-operator")
def find_batches_awaiting_operator(limit: int) -> list[int]:
    with opened_runtime() as runtime:
        return run_query(runtime, lambda session: batches_awaiting_operator(session, limit=limit))


@task(name="request-confirmation-forms")
async def request_confirmation_forms(batch_ids: list[int], deployment: str) -> FormRequests:
    """Start a run of `deployment` (it suspends on the form) for each batch without one; cancel
    the suspended form of a batch no longer awaiting the operator."""
    report = FormRequests()
    async with get_client() as client:
        try:
            target = await client.read_deployment_by_name(deployment)
        except ObjectNotFound:
            if batch_ids:
                get_run_logger().warning(
                    "部署 %s 不存在，无法在界面生成确认表单；请用 jointcredit confirm 确认批次 %s"
                    "（deployment missing: confirm from the command line）",
                    deployment,
                    "、".join(map(str, batch_ids)),
                )
                report.deployment_missing = True
            return report
        open_batches: set[int] = set()
        suspended: dict[int, list[FlowRun]] = {}
        for run in await _runs_holding_forms(client, target.id):
            batch_id = int(run.parameters["batch_id"])
            open_batches.add(batch_id)
            if run.state is not None and run.state.type is StateType.PAUSED:
                suspended.setdefault(batch_id, []).append(run)
        # `batch_ids` is capped by the sweep's limit: a batch beyond it may still wait.
        unlisted = set(suspended) - set(batch_ids)
        waiting = _still_awaiting(unlisted) if unlisted else set()
        for batch_id in sorted(unlisted - waiting):
            for run in suspended[batch_id]:
                await client.set_flow_run_state(run.id, Cancelled(message=NO_LONGER_NEEDED))
            report.cancelled.append(batch_id)
        for batch_id in batch_ids:
            if batch_id in open_batches:
                report.already_open.append(batch_id)
                continue
            await client.create_flow_run_from_deployment(
                target.id,
                parameters={"batch_id": batch_id},
                name=f"batch-{batch_id}-确认",
                tags=["confirmation", f"batch-{batch_id}"],
            )
            report.requested.append(batch_id)
    if report.cancelled:
        get_run_logger().info(
            "批次 %s 已由他人决定，已撤销其等待中的确认表单",
            "、".join(map(str, report.cancelled)),
        )
    return report


async def _runs_holding_forms(client: PrefectClient, deployment_id: UUID) -> list[FlowRun]:
    """The deployment's runs that hold a batch's form (`holds_form`), every page of them."""
    holding: list[FlowRun] = []
    offset = 0
    while True:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=OPEN_STATES))
            ),
            limit=PAGE,
            offset=offset,
        )
        now = datetime.now(UTC)
        holding += [
            run
            for run in runs
            if isinstance(run.parameters.get("batch_id"), int) and holds_form(run, now)
        ]
        if len(runs) < PAGE:
            return holding
        offset += PAGE


def _still_awaiting(batch_ids: set[int]) -> set[int]:
    with opened_runtime() as runtime:
        return run_query(runtime, lambda session: still_awaiting_operator(session, batch_ids))
