"""`route-due-batches` on the Prefect engine: due batches routed as subflows, confirmation forms
requested as runs of the `route-batch` deployment (once per batch), failures collected."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from sqlmodel import col

from flows.route import route_batch
from flows.route_sweep import ROUTE_BATCH_DEPLOYMENT, BatchesFailed, route_due_batches
from memoranda.loader import Catalogue
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.models import Listing
from tests.factories.listings import proposed_batch


@pytest.fixture
async def route_batch_deployment(prefect_server: None) -> AsyncIterator[Any]:
    """The `route-batch` deployment registered (nothing executes its runs in these tests)."""
    deployment = await route_batch.ato_deployment(name="route-batch")
    deployment_id = await deployment.apply()
    yield deployment_id
    async with get_client() as client:
        for run in await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        ):
            await client.delete_flow_run(run.id)
        await client.delete_deployment(deployment_id)


def _states(engine: sa.Engine, batch: int) -> Counter[str]:
    with session_scope(engine) as session:
        rows = session.execute(sa.select(col(Listing.state)).where(col(Listing.batch_id) == batch))
        return Counter(rows.scalars())


async def test_due_batches_are_routed_and_each_waiting_batch_gets_one_form(
    prefect_server: None,
    route_batch_deployment: Any,
    database: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
) -> None:
    red, _ = proposed_batch(
        database, catalogue, clock, rule_set="saws-2017-incentive", units=1, persons=0
    )
    black, _ = proposed_batch(database, catalogue, clock, units=1, persons=1)

    first = await route_due_batches(limit=10)

    assert first["due"] == [red, black]
    assert _states(database, red) == {"awaiting_confirmation": 1}
    assert _states(database, black) == {"notified": 2}  # the defence window is running
    assert first["forms"]["requested"] == [red]

    second = await route_due_batches(limit=10)

    assert second["due"] == []  # nothing moved: the window is open, the form is up
    assert second["forms"] == {
        "requested": [],
        "already_open": [red],
        "deployment_missing": False,
        "cancelled": [],
    }
    async with get_client() as client:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[route_batch_deployment]))
        )
    assert [(r.parameters, r.parent_task_run_id) for r in runs] == [({"batch_id": red}, None)]


async def test_without_the_deployment_the_sweep_says_to_confirm_from_the_cli(
    prefect_server: None, database: sa.Engine, catalogue: Catalogue, clock: FrozenClock
) -> None:
    red, _ = proposed_batch(
        database, catalogue, clock, rule_set="saws-2017-incentive", units=1, persons=0
    )
    result = await route_due_batches(limit=10)
    assert result["forms"]["deployment_missing"] is True
    assert _states(database, red) == {"awaiting_confirmation": 1}
    assert ROUTE_BATCH_DEPLOYMENT == "route-batch/route-batch"


async def test_a_failing_batch_does_not_stop_the_others_and_fails_the_sweep(
    prefect_server: None,
    database: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, _ = proposed_batch(database, catalogue, clock, units=1, persons=0)
    second, _ = proposed_batch(database, catalogue, clock, units=1, persons=0)
    monkeypatch.setenv("JOINTCREDIT_FAULT_AFTER_STEP", "notify")

    with pytest.raises(BatchesFailed) as failed:
        await route_due_batches(limit=10, ask_operator=False)

    assert failed.value.fields["batch_ids"] == [first, second]
    assert _states(database, first) == _states(database, second) == {"notified": 1}
