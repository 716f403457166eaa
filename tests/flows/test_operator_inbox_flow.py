"""What an operator finds in the Prefect UI without searching, on the real engine: runs named
after their batch, the waiting confirmation form in the `operator-inbox` artifact with a link to
its run, no artifact from a delivery tick that did nothing, and runs whose outcome a failing
inbox refresh (a slow Prefect API) does not change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
import sqlalchemy as sa
from prefect.client.orchestration import PrefectClient, get_client
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
from prefect.flow_runs import aresume_flow_run

import tasks.inbox
from flows.deliver import deliver_notices
from flows.route import route_batch
from flows.route_sweep import route_due_batches
from memoranda.loader import Catalogue
from notifications.inbox import INBOX_KEY
from notifications.sink import message_id_counts, running_sink
from registry.clock import FrozenClock
from tasks.inbox import run_link
from tests.factories.flow_runs import paused_run
from tests.factories.listings import REVIEWER, proposed_batch
from tests.factories.outbox import notices, queue_notices


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


async def _slow_api(*args: object, **kwargs: object) -> NoReturn:
    raise httpx.ReadTimeout("Prefect API did not answer in time")


def _not_refreshed(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "本次未更新操作员待办" in r.getMessage()]


@pytest.mark.parametrize(
    "boundary",
    [
        (tasks.inbox, "read_waiting_forms"),  # listing the waiting forms
        (PrefectClient, "read_latest_artifacts"),  # comparing with the inbox already written
    ],
    ids=["forms", "artifact"],
)
async def test_a_slow_prefect_api_leaves_the_inbox_as_it_was_and_the_delivery_stands(
    prefect_server: None,
    database: sa.Engine,
    clock: FrozenClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    boundary: tuple[object, str],
) -> None:
    caplog.set_level(logging.INFO)
    queue_notices(database, clock, 3)
    versions = len(await _artifacts(INBOX_KEY))
    mail = tmp_path / "mail"
    with running_sink(mail) as sink:
        monkeypatch.setenv("JOINTCREDIT_SMTP_HOST", sink.host)
        monkeypatch.setenv("JOINTCREDIT_SMTP_PORT", str(sink.port))
        monkeypatch.setattr(*boundary, _slow_api)

        state = await deliver_notices(return_state=True)

    assert state.is_completed(), state.message
    assert (await state.aresult())["sent"] == 3
    assert len(message_id_counts(mail)) == 3
    assert {row.state for row in notices(database)} == {"sent"}
    assert len(await _artifacts(INBOX_KEY)) == versions
    (warning,) = _not_refreshed(caplog)
    assert warning.levelno == logging.WARNING
    assert "ReadTimeout" in warning.getMessage()
    assert "下一次巡检会重试" in warning.getMessage()


async def test_route_batch_shows_its_form_although_the_inbox_cannot_be_refreshed(
    prefect_server: None,
    database: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    batch, _ = proposed_batch(
        database, catalogue, clock, rule_set="saws-2017-incentive", units=1, persons=0
    )
    assert (await route_batch(batch, wait_for_operator=False))["waiting_on"] == "operator"
    monkeypatch.setattr(tasks.inbox, "read_waiting_forms", _slow_api)

    running = asyncio.create_task(route_batch(batch, confirmation_poll_seconds=1))
    paused = await paused_run()
    await aresume_flow_run(
        paused.id, run_input={"reviewer": REVIEWER, "approve_others": True, "rejections": []}
    )
    result = await asyncio.wait_for(running, timeout=120)

    assert result["waiting_on"] == "nothing"
    assert len(_not_refreshed(caplog)) == 1
