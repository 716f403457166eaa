"""Prefect flow runs as tests wait for them."""

from __future__ import annotations

import asyncio
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
