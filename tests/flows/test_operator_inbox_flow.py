"""What an operator finds in the Prefect UI without searching, on the real engine: runs named
after their batch, the waiting confirmation form in the `operator-inbox` artifact with a link to
its run, and no artifact from a delivery tick that did nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
)
from prefect.client.schemas.sorting import ArtifactSort
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow

from flows.deliver import deliver_notices
from flows.route import route_batch
from flows.route_sweep import route_due_batches
from memoranda.loader import Catalogue
from notifications.inbox import INBOX_KEY
from registry.clock import FrozenClock
from tasks.inbox import run_link
from tests.factories.listings import proposed_batch


@pytest.fixture
async def route_batch_deployment(prefect_server: None) -> AsyncIterator[Any]:
    """The `route-batch` deployment registered; the test runs its form run in-process."""
    deployment = await route_batch.ato_deployment(name="route-batch")
    deployment_id = await deployment.apply()
    yield deployment_id
    async with get_client() as client:
        for run in await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        ):
            await client.delete_flow_run(run.id)
        await client.delete_deployment(deployment_id)


async def _artifacts(key: str) -> list[str]:
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
        )
    return [str(artifact.data) for artifact in found]  # the latest first


async def test_runs_are_named_after_their_batch_and_the_waiting_form_is_in_the_inbox(
    prefect_server: None,
    route_batch_deployment: Any,
    database: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
) -> None:
    red, _ = proposed_batch(
        database, catalogue, clock, rule_set="saws-2017-incentive", units=1, persons=0
    )

    sweep = await route_due_batches(limit=10, return_state=True)

    sweep_id = sweep.state_details.flow_run_id
    async with get_client() as client:
        sweep_run = await client.read_flow_run(sweep_id)
        subflows = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[sweep_id])
            )
        )
        (form_run,) = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[route_batch_deployment]))
        )
    assert sweep_run.name.startswith("route-due-")
    assert [run.name for run in subflows] == [f"batch-{red}-推进"]  # routes, never waits
    assert form_run.name == f"batch-{red}-确认"

    # What a worker does with the requested run: it starts, names itself, suspends on the form.
    with pytest.raises(Pause):  # the engine ends an in-process suspended run this way
        await run_flow(route_batch, flow_run=form_run, return_type="state")  # type: ignore[misc]

    async with get_client() as client:
        suspended = await client.read_flow_run(form_run.id)
    assert suspended.state is not None
    assert suspended.state.name == "Suspended"
    assert suspended.name == f"batch-{red}-确认"
    inbox = (await _artifacts(INBOX_KEY))[0]
    assert "### 待填写的表单（1）" in inbox
    assert f"- [batch-{red}-确认]({run_link(form_run.id)})：批次 " in inbox
    assert "列入确认（待确认 1 条），已等待 0 小时" in inbox
    assert run_link(form_run.id).endswith(f"/runs/flow-run/{form_run.id}")
    assert not run_link(form_run.id).startswith("/")

    versions = len(await _artifacts(INBOX_KEY))
    await deliver_notices()  # nothing changed: no second version of the inbox
    assert len(await _artifacts(INBOX_KEY)) == versions


async def test_a_delivery_that_did_nothing_leaves_no_artifact(
    prefect_server: None, database: sa.Engine
) -> None:
    before = len(await _artifacts("deliver-notices"))

    result = await deliver_notices()

    assert result["claimed"] == 0
    assert len(await _artifacts("deliver-notices")) == before
