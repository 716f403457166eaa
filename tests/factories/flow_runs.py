"""Prefect flow runs as tests wait for them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import StateType


async def paused_run(name: str = "route-batch") -> Any:
    """The first paused flow run, waited for up to 30 s."""
    async with get_client() as client:
        for _ in range(300):
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
                )
            )
            if runs:
                return runs[0]
            await asyncio.sleep(0.1)
    raise AssertionError("route-batch never paused for the operator")


async def form_defaults(flow_run_id: Any, key: str) -> dict[str, Any]:
    """The defaults of each field of the form a paused run shows under pause key `key`: what
    the form shows filled in."""
    async with get_client() as client:
        shown = await client.filter_flow_run_input(
            flow_run_id=flow_run_id, key_prefix=f"paused-{key}-", limit=10, exclude_keys=set()
        )
    schema = next(json.loads(k.value) for k in shown if k.key == f"paused-{key}-schema")
    return {
        name: field["default"] for name, field in schema["properties"].items() if "default" in field
    }


async def form_description(flow_run_id: Any, key: str) -> str:
    """The Markdown above the form a paused run shows under pause key `key`, waited for up to
    60 s (a refused answer is followed by the same form under the next key)."""
    async with get_client() as client:
        for _ in range(600):
            run = await client.read_flow_run(flow_run_id)
            shown = await client.filter_flow_run_input(
                flow_run_id=flow_run_id, key_prefix=f"paused-{key}-", limit=10, exclude_keys=set()
            )
            described = [k.value for k in shown if k.key == f"paused-{key}-description"]
            if described and run.state is not None and run.state.is_paused():
                return str(json.loads(described[0]))
            await asyncio.sleep(0.1)
    raise AssertionError(f"the run never showed the form {key}")
