"""`record-responses` on the Prefect engine: the pause form answered with a real RunInput
payload; the same answer given as flow parameters (no form); a refused answer fails the run."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import aresume_flow_run
from sqlmodel import col

from flows.responses import record_responses
from memoranda.loader import Catalogue
from registry.audit import verify
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.models import AuditEvent, DepartmentAction
from registry.responses import ResponseRefused
from registry.routing import Decision
from service.runtime import opened_runtime
from service.steps import record_decision, run_step
from tests.factories.flow_runs import form_description
from tests.factories.listings import REVIEWER, proposed_batch


def dispatched(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock
) -> tuple[int, list[int]]:
    """A red-list batch routed to dispatch through the steps the flows use (no defence window)."""
    batch, ids = proposed_batch(
        engine, catalogue, clock, rule_set="saws-2017-incentive", units=2, persons=0
    )
    with opened_runtime() as runtime:
        run_step(runtime, batch, "notify", actor="test", source="test")
        record_decision(runtime, batch, Decision(REVIEWER), source="test")
        for step in ("publish", "dispatch"):
            run_step(runtime, batch, step, actor="test", source="test")
    return batch, ids


def states(engine: sa.Engine, ids: list[int], department: str) -> list[str]:
    with session_scope(engine) as session:
        return list(
            session.execute(
                sa.select(col(DepartmentAction.state))
                .where(
                    col(DepartmentAction.listing_id).in_(ids),
                    col(DepartmentAction.department) == department,
                )
                .order_by(col(DepartmentAction.listing_id))
            ).scalars()
        )


async def paused_run() -> Any:
    async with get_client() as client:
        for _ in range(300):
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["record-responses"])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
                ),
            )
            if runs:
                return runs[0]
            await asyncio.sleep(0.1)
    raise AssertionError("record-responses never paused for the form")


async def test_the_operator_fills_in_the_form(
    prefect_server: None, database: sa.Engine, catalogue: Catalogue, clock: FrozenClock
) -> None:
    _batch, ids = dispatched(database, catalogue, clock)

    running = asyncio.create_task(record_responses(form_poll_seconds=1))
    paused = await paused_run()
    async with get_client() as client:
        keys = await client.filter_flow_run_input(
            flow_run_id=paused.id, key_prefix="", limit=10, exclude_keys=set()
        )
    shown = " ".join(json.loads(k.value) for k in keys if k.key.endswith("description"))
    assert "录入部门答复" in shown
    await aresume_flow_run(
        paused.id,
        run_input={
            "department": "mem",
            "response": "反馈",
            "listing_ids": f"{ids[0]}，{ids[1]}",
            "batch_id": 0,
            "feedback": "已开通绿色通道，减少检查频次",
            "measures_not_applicable": False,
            "recorded_by": "录入员 赵敏",
        },
    )
    result = await asyncio.wait_for(running, timeout=120)

    assert (result["recorded"], result["refused"]) == (2, 0)
    assert states(database, ids, "mem") == ["feedback_reported"] * 2
    with session_scope(database) as session:
        after = session.execute(
            sa.select(col(AuditEvent.after)).where(col(AuditEvent.action) == "action.feedback")
        ).scalars()
        assert {a["recorded_by"] for a in after} == {"flow:record-responses:录入员 赵敏"}
        assert verify(session).ok


async def test_parameters_given_record_at_once_and_a_refusal_fails_the_run(
    prefect_server: None, database: sa.Engine, catalogue: Catalogue, clock: FrozenClock
) -> None:
    batch, ids = dispatched(database, catalogue, clock)

    result = await asyncio.wait_for(
        record_responses(department="ndrc", response="ack", batch_id=batch), timeout=60
    )
    assert (result["status"], result["recorded"]) == ("recorded", 2)
    assert states(database, ids, "ndrc") == ["acknowledged"] * 2

    with pytest.raises(ResponseRefused) as raised:
        await record_responses(
            department="ndrc", response="lift", listing_ids=" ".join(map(str, ids))
        )
    assert "未收到解除函" in raised.value.message
    assert states(database, ids, "ndrc") == ["acknowledged"] * 2


async def test_a_refused_form_answer_records_nothing_and_the_form_asks_again(
    prefect_server: None, database: sa.Engine, catalogue: Catalogue, clock: FrozenClock
) -> None:
    """Issue 15: a lift never requested is refused in the form; nothing is recorded, the run
    stays paused with the reason above the form, and a good answer then completes it."""
    _batch, ids = dispatched(database, catalogue, clock)

    running = asyncio.create_task(record_responses(form_poll_seconds=1))
    paused = await paused_run()
    answer = {"department": "ndrc", "listing_ids": f"{ids[0]} {ids[1]}", "recorded_by": "赵敏"}
    await aresume_flow_run(paused.id, run_input={**answer, "response": "解除确认"})
    again = await form_description(paused.id, "record-responses-2")
    assert again.startswith("### 表单有误，请修改后重新提交")
    assert "未收到解除函" in again
    assert states(database, ids, "ndrc") == ["dispatched"] * 2
    assert not running.done()

    await aresume_flow_run(paused.id, run_input={**answer, "response": "响应"})
    result = await asyncio.wait_for(running, timeout=120)
    assert (result["recorded"], result["refused"]) == (2, 0)
    assert states(database, ids, "ndrc") == ["acknowledged"] * 2
