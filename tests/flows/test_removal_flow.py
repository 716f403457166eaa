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
from tests.factories.flow_runs import form_description, paused_run
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


async def test_a_refused_removal_answer_is_answered_in_the_form(
    prefect_server: None,
    database: sa.Engine,
    catalogue: Catalogue,
    routing: Routing,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15: an approval beside a refusal without a reason records neither; the form comes
    back with the reason above it and the run stays paused until a good answer."""
    legacy = _two_legacy_listings_past_their_term(database, catalogue, routing, clock, monkeypatch)

    running = asyncio.create_task(review_removals(decision_poll_seconds=1))
    paused = await paused_run("review-removals")
    await aresume_flow_run(
        paused.id,
        run_input={
            "reviewer": REVIEWER,
            "approve": [legacy[0]],
            "refusals": [{"listing_id": legacy[1], "reason": "   "}],
        },
    )
    again = await form_description(paused.id, "removals-2")
    assert again.startswith("### 表单有误，请修改后重新提交")
    assert "不予移出须说明理由" in again
    assert states(database, legacy) == {"removal_review": 2}  # the approval was not recorded
    assert not running.done()

    # The re-shown form is filled in with the refused answer: the correction empties the list.
    await aresume_flow_run(
        paused.id, run_input={"reviewer": REVIEWER, "approve": legacy, "refusals": []}
    )
    result = await asyncio.wait_for(running, timeout=120)
    assert (result["pending"], result["decided"]) == (0, 2)
    assert states(database, legacy) == {"removed": 2}


async def test_a_listing_refused_twice_is_answered_in_the_form(
    prefect_server: None,
    database: sa.Engine,
    catalogue: Catalogue,
    routing: Routing,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two refusals of one listing kept only the last reason (a dict): refused in the form."""
    legacy = _two_legacy_listings_past_their_term(database, catalogue, routing, clock, monkeypatch)

    running = asyncio.create_task(review_removals(decision_poll_seconds=1))
    paused = await paused_run("review-removals")
    twice = [
        {"listing_id": legacy[0], "reason": "第一条理由：仍有未履行的行政处罚"},
        {"listing_id": legacy[0], "reason": "第二条理由"},
    ]
    await aresume_flow_run(paused.id, run_input={"reviewer": REVIEWER, "refusals": twice})
    again = await form_description(paused.id, "removals-2")
    assert f"名单 {legacy[0]} 填写了两次，请只保留一条" in again
    assert states(database, legacy) == {"removal_review": 2}

    # The re-shown form is filled in with the refused answer: the correction empties the list.
    await aresume_flow_run(
        paused.id, run_input={"reviewer": REVIEWER, "approve": legacy, "refusals": []}
    )
    result = await asyncio.wait_for(running, timeout=120)
    assert (result["pending"], result["decided"]) == (0, 2)


def _two_legacy_listings_past_their_term(
    database: sa.Engine,
    catalogue: Catalogue,
    routing: Routing,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> list[int]:
    """Two legacy-rule listings published a year ago, the clock moved past their term: the
    review puts both before the operator."""
    _b, legacy = in_force(
        database,
        catalogue,
        clock,
        routing,
        published=date(2025, 11, 3),
        rule_set="saws-2017-sanction",
        units=2,
    )
    clock_at(clock, date(2026, 11, 27))
    monkeypatch.setenv("JOINTCREDIT_NOW", clock.now().isoformat())
    return legacy
