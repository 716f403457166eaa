"""`review-removals` on the Prefect engine: automatic removal at expiry, and the operator's form
for the legacy listing nobody applied for."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
import sqlalchemy as sa
from prefect.flow_runs import aresume_flow_run

from flows.removal import review_removals
from memoranda.loader import Catalogue
from registry.clock import FrozenClock
from registry.routing import Routing
from tests.factories.flow_runs import paused_run
from tests.factories.listings import REVIEWER, clock_at, in_force, states


async def test_expiry_removes_automatically_and_asks_about_the_legacy_listing(
    prefect_server: None,
    database: sa.Engine,
    catalogue: Catalogue,
    routing: Routing,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _b, current = in_force(database, catalogue, clock, routing, published=date(2023, 11, 20))
    _b, legacy = in_force(
        database,
        catalogue,
        clock,
        routing,
        published=date(2025, 11, 3),
        rule_set="saws-2017-sanction",
    )
    clock_at(clock, date(2026, 11, 27))
    monkeypatch.setenv("JOINTCREDIT_NOW", clock.now().isoformat())

    running = asyncio.create_task(review_removals(decision_poll_seconds=1))
    paused = await paused_run()
    await aresume_flow_run(paused.id, run_input={"reviewer": REVIEWER, "approve": legacy})
    result = await asyncio.wait_for(running, timeout=120)

    assert result["review"]["moved"] == 2
    assert (result["pending"], result["decided"]) == (0, 1)
    assert states(database, current) == {"removed": 1}
    assert states(database, legacy) == {"removed": 1}
    again = await review_removals(wait_for_operator=False)
    assert again["review"]["moved"] == 0
