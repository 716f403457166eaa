"""Which `route-batch` runs still hold a batch's confirmation form (tasks.route_queue).

A run killed with its machine stays Running in Prefect for good; counting it as an open form
would leave the batch without one forever (found by the crash/restart suite).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from prefect.client.schemas.objects import FlowRun, State, StateType

from tasks.route_queue import STALE_RUNNING, holds_form

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def _run(state: StateType, age: timedelta) -> FlowRun:
    return FlowRun(
        flow_id=uuid4(),
        parameters={"batch_id": 7},
        state=State(type=state, timestamp=NOW - age),
    )


@pytest.mark.parametrize(
    ("state", "age", "holds"),
    [
        (StateType.SCHEDULED, timedelta(days=3), True),
        (StateType.PENDING, timedelta(minutes=5), True),
        (StateType.PAUSED, timedelta(hours=20), True),  # suspended on the form for a day
        (StateType.RUNNING, timedelta(minutes=10), True),  # routing now
        (StateType.RUNNING, STALE_RUNNING + timedelta(minutes=1), False),  # died with its host
        (StateType.CRASHED, timedelta(minutes=1), False),
        (StateType.FAILED, timedelta(minutes=1), False),
        (StateType.COMPLETED, timedelta(minutes=1), False),
    ],
)
def test_a_run_holds_the_form_unless_it_ended_or_died_running(
    state: StateType, age: timedelta, holds: bool
) -> None:
    assert holds_form(_run(state, age), NOW) is holds
