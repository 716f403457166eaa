"""`route-batch` from a real deployment, waiting on the confirmation form: suspended, re-run from
the top on resume (executed in this process as a worker would, as test_suspended_form.py does).

Found by attacking the forms (issue 15): a suspended form timed out yet still showed Suspended, a
late answer failed the run and was lost; an answer overtaken by `jointcredit confirm` vanished
without a word; a listing rejected twice kept only the last reason; and Prefect kept the raw
resident ID number an operator typed into a reason."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow_async
from prefect.flow_runs import aresume_flow_run
from prefect.states import Cancelled
from stdnum.cn import ric

from flows.route import route_batch
from memoranda.loader import Catalogue
from registry.clock import FrozenClock
from registry.route_queue import FormRequests
from registry.routing import Decision
from service.runtime import opened_runtime
from service.steps import record_decision
from tasks.route_queue import NO_LONGER_NEEDED, request_confirmation_forms
from tests.factories.listings import REVIEWER, proposed_batch, states

DEPLOYMENT = "route-batch/suspended-form-tests"
"""A deployment of its own: other tests count the runs of `route-batch/route-batch`."""


@flow(name="confirmation-forms-probe")
async def sweep(batch_ids: list[int]) -> FormRequests:
    """The sweep's form requests, in a flow run as in `route-due-batches`."""
    return await request_confirmation_forms(batch_ids, DEPLOYMENT)


@pytest.fixture
async def deployment(prefect_server: None) -> AsyncIterator[Any]:
    yield await (await route_batch.ato_deployment(name=DEPLOYMENT.split("/")[1])).apply()
    # A suspended run waits for good now: none may be left for another test's `paused_run`.
    async with get_client() as client:
        for run in await client.read_flow_runs():
            if run.state is not None and run.state.is_paused():
                await client.set_flow_run_state(run.id, Cancelled(), force=True)


@pytest.fixture
async def batch(
    database: sa.Engine, catalogue: Catalogue, clock: FrozenClock
) -> tuple[int, list[int]]:
    """A red batch (no defence window) waiting on the operator's decision."""
    batch_id, ids = proposed_batch(
        database, catalogue, clock, rule_set="saws-2017-incentive", units=3, persons=0
    )
    waiting = await route_batch(batch_id, wait_for_operator=False)
    assert waiting["waiting_on"] == "operator"
    return batch_id, ids


async def _run(flow_run: Any) -> Any:
    try:
        return await run_flow_async(
            route_batch, flow_run=flow_run, parameters=flow_run.parameters, return_type="state"
        )
    except Pause:
        return None  # suspended: the process would exit here


async def _start(deployment: Any, batch_id: int, **parameters: Any) -> Any:
    async with get_client() as client:
        flow_run = await client.create_flow_run_from_deployment(
            deployment, parameters={"batch_id": batch_id, **parameters}
        )
        assert await _run(flow_run) is None
        flow_run = await client.read_flow_run(flow_run.id)
    assert flow_run.state.name == "Suspended"
    return flow_run


async def _rerun(flow_run_id: Any) -> Any:
    async with get_client() as client:
        return await _run(await client.read_flow_run(flow_run_id))


async def _inputs(flow_run_id: Any) -> dict[str, Any]:
    async with get_client() as client:
        stored = await client.filter_flow_run_input(
            flow_run_id=flow_run_id, key_prefix="", limit=200, exclude_keys=set()
        )
    return {k.key: json.loads(k.value) for k in stored}


def _resident_id() -> str:
    body = "11010519900307123"
    return body + ric.calc_check_digit(body)


async def test_a_suspended_form_has_no_time_limit(
    deployment: Any, batch: tuple[int, list[int]], database: sa.Engine
) -> None:
    """The timeout is for a run paused by hand (it holds a process): a suspended one stays
    answerable, the sweep makes no second form for it, and a late answer is applied."""
    batch_id, ids = batch
    flow_run = await _start(deployment, batch_id, confirmation_timeout_hours=0.0006)  # ~2 s
    assert flow_run.state.state_details.pause_timeout is None
    await asyncio.sleep(3)

    forms = await sweep([batch_id])
    assert (forms.requested, forms.already_open) == ([], [batch_id])

    await aresume_flow_run(flow_run.id, run_input={"reviewer": REVIEWER})
    state = await _rerun(flow_run.id)
    assert state.is_completed(), state
    assert states(database, ids) == {"in_force": 3}


async def test_the_sweep_withdraws_a_form_decided_elsewhere(
    deployment: Any, batch: tuple[int, list[int]]
) -> None:
    batch_id, _ids = batch
    flow_run = await _start(deployment, batch_id)
    with opened_runtime() as runtime:
        record_decision(runtime, batch_id, Decision("另一审核人 王五"), source="cli")

    forms = await sweep([])

    assert forms.cancelled == [batch_id]
    async with get_client() as client:
        state = (await client.read_flow_run(flow_run.id)).state
    assert state.is_cancelled()
    assert state.message == NO_LONGER_NEEDED
    again = await sweep([])
    assert again.cancelled == []


async def test_a_form_answer_overtaken_by_the_command_line_is_logged(
    deployment: Any,
    batch: tuple[int, list[int]],
    database: sa.Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Operator A submits the form; before the run is re-run, B confirms with the CLI."""
    batch_id, ids = batch
    flow_run = await _start(deployment, batch_id)
    await aresume_flow_run(
        flow_run.id,
        run_input={
            "reviewer": "审核人 李娜",
            "rejections": [{"listing_id": ids[0], "reason": "与登记不符，不予列入"}],
        },
    )
    with opened_runtime() as runtime:
        record_decision(runtime, batch_id, Decision("另一审核人 王五"), source="cli")

    state = await _rerun(flow_run.id)

    assert state.is_completed(), state
    assert states(database, ids) == {"in_force": 3}  # B's decision stands
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    lost = [m for m in warnings if "答复未生效" in m]
    assert len(lost) == 1, warnings
    assert "另一审核人 王五" in lost[0]  # whose decision stands
    assert "审核人 李娜" in lost[0]  # whose answer was not applied
    assert "北京时间" in lost[0]


async def test_a_listing_rejected_twice_is_refused_in_the_form(
    deployment: Any, batch: tuple[int, list[int]], database: sa.Engine
) -> None:
    batch_id, ids = batch
    flow_run = await _start(deployment, batch_id)
    twice = [
        {"listing_id": ids[0], "reason": "第一条理由：仍有未履行的行政处罚"},
        {"listing_id": ids[0], "reason": "第二条理由"},
    ]
    await aresume_flow_run(flow_run.id, run_input={"reviewer": REVIEWER, "rejections": twice})

    assert await _rerun(flow_run.id) is None  # the form again, nothing recorded
    assert states(database, ids) == {"awaiting_confirmation": 3}
    inputs = await _inputs(flow_run.id)
    shown = inputs[f"suspended-confirm-batch-{batch_id}-2-description"]
    assert f"名单 {ids[0]} 填写了两次，请只保留一条" in shown

    await aresume_flow_run(flow_run.id, run_input={"reviewer": REVIEWER, "rejections": twice[:1]})
    assert (await _rerun(flow_run.id)).is_completed()
    assert states(database, ids) == {"rejected": 1, "in_force": 2}


async def test_no_resident_id_number_stays_in_prefect(
    deployment: Any, batch: tuple[int, list[int]]
) -> None:
    """Typed into a refused answer and into the accepted one: masked in every stored input."""
    batch_id, ids = batch
    number = _resident_id()
    reason = f"当事人身份证号 {number} 与登记不符"
    flow_run = await _start(deployment, batch_id)
    refused = [{"listing_id": ids[0], "reason": reason}, {"listing_id": ids[0], "reason": "重复"}]
    await aresume_flow_run(flow_run.id, run_input={"reviewer": REVIEWER, "rejections": refused})
    assert await _rerun(flow_run.id) is None
    await aresume_flow_run(
        flow_run.id,
        run_input={"reviewer": REVIEWER, "rejections": [{"listing_id": ids[0], "reason": reason}]},
    )
    assert (await _rerun(flow_run.id)).is_completed()

    inputs = await _inputs(flow_run.id)
    assert f"suspended-confirm-batch-{batch_id}-2-response" in inputs
    held = [key for key, value in inputs.items() if number in json.dumps(value, ensure_ascii=False)]
    assert held == []
    masked = inputs[f"suspended-confirm-batch-{batch_id}-2-response"]["rejections"][0]["reason"]
    assert masked.startswith("当事人身份证号 110105")
    assert masked != reason
