"""A form in a run from a deployment: the run suspends (no process held), is re-run from the
top on resume, and `ask_until_accepted` replays its earlier answers — a refused one is not
applied twice — then asks again under the next key; an expected wait is not logged as ERROR.

The run executes in this process as a worker would execute it (`run_flow_async` on a flow run
of a real deployment), so Prefect's server really suspends it."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow_async
from prefect.flow_runs import aresume_flow_run

from flows.operator_ui import ConfirmationForm, ask_until_accepted, confirmation_form
from tasks.form_answers import AnswerRefused

APPLIED: list[str] = []


def _apply(answer: ConfirmationForm) -> str | AnswerRefused:
    APPLIED.append(answer.reviewer)
    if answer.reviewer == "提出人 张伟":
        return AnswerRefused(("审核人不得为提出人",))
    return answer.reviewer


def _form(errors: Sequence[str]) -> type[ConfirmationForm]:
    return confirmation_form("### 批次 T 待确认名单（共 2 条）", [11, 12], errors)


@flow(name="suspended-form-probe")
async def asks() -> str | None:
    return await ask_until_accepted(
        _form,
        _apply,
        key="probe",
        timeout_hours=1,
        poll_seconds=1,
        unanswered="{hours} 小时内无人确认",
        waiting="确认批次 T",
    )


async def _run(flow_run: Any) -> Any:
    try:
        return await run_flow_async(asks, flow_run=flow_run, return_type="state")
    except Pause:
        return None  # suspended: the process would exit here


async def _description(flow_run_id: Any, key: str) -> str:
    async with get_client() as client:
        shown = await client.filter_flow_run_input(
            flow_run_id=flow_run_id, key_prefix=key, limit=10, exclude_keys=set()
        )
    return str(json.loads(next(k.value for k in shown if k.key == f"{key}-description")))


async def test_suspend_replay_and_ask_again(
    prefect_server: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    APPLIED.clear()
    deployment = await (await asks.ato_deployment(name="probe")).apply()
    async with get_client() as client:
        flow_run = await client.create_flow_run_from_deployment(deployment)
        assert await _run(flow_run) is None
        assert (await client.read_flow_run(flow_run.id)).state.name == "Suspended"

        await aresume_flow_run(flow_run.id, run_input={"reviewer": "提出人 张伟"})
        assert await _run(await client.read_flow_run(flow_run.id)) is None
        again = await _description(flow_run.id, "suspended-probe-2")
        assert again.startswith("### 表单有误，请修改后重新提交\n\n- 审核人不得为提出人\n\n")
        assert "待确认名单" in again

        await aresume_flow_run(flow_run.id, run_input={"reviewer": "审核人 李娜"})
        state = await _run(await client.read_flow_run(flow_run.id))
    assert state.is_completed()
    assert await state.aresult() == "审核人 李娜"
    assert APPLIED == [
        "提出人 张伟",
        "审核人 李娜",
    ]  # the refused answer was replayed, not re-applied
    prefect_records = [r for r in caplog.records if r.name.startswith("prefect")]
    finished = [r for r in prefect_records if r.getMessage().startswith("Finished in state Susp")]
    assert len(finished) == 2
    assert {r.levelname for r in finished} == {"INFO"}
    assert [r.getMessage() for r in prefect_records if r.levelno >= logging.ERROR] == []
    waiting = [
        r.getMessage() for r in prefect_records if "等待操作员在表单中确认批次 T" in r.getMessage()
    ]
    assert len(waiting) == 2
    assert all("运行已挂起" in m for m in waiting)
