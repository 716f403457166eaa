"""What each flow run is called in the Prefect UI: after what it works on, never a random name.

Prefect calls a flow's `flow_run_name` when the run starts (also a run created from a
deployment, whatever name it was created with), inside the run's context, so these read the
run's own parameters through `prefect.runtime`. The parameters there are the ones given: a
parameter left at its default is absent, so each name falls back to the flow's default.

Scheduled sweeps are named after their scheduled time in Beijing time, so a morning's runs of
`deliver-notices` read as a timetable (`deliver-2026-11-27-0915`).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import PureWindowsPath

from prefect.runtime import flow_run

from registry.clock import BUSINESS_TZ
from registry.reporting import ReportMonth


def _parameter(name: str, default: object = None) -> object:
    return flow_run.parameters.get(name, default)


def _scheduled() -> datetime:
    when: datetime = flow_run.scheduled_start_time
    return when.astimezone(BUSINESS_TZ)


def route_batch_name() -> str:
    """`batch-12-确认` when the run will wait for the operator's confirmation form (started
    by an operator, or requested by the sweep for a batch awaiting confirmation);
    `batch-12-推进` when it only advances the batch (the sweep's subflows)."""
    waits = _parameter("wait_for_operator", True)
    return f"batch-{_parameter('batch_id')}-{'确认' if waits else '推进'}"


def intake_name() -> str:
    """`intake-<file name>`: the reported file, without its folder (either path style)."""
    return f"intake-{PureWindowsPath(str(_parameter('path', ''))).name}"


def route_sweep_name() -> str:
    return f"route-due-{_scheduled():%Y-%m-%d-%H%M}"


def deliver_name() -> str:
    return f"deliver-{_scheduled():%Y-%m-%d-%H%M}"


def sla_sweep_name() -> str:
    return f"sla-{_scheduled():%Y-%m-%d-%H%M}"


def removals_name() -> str:
    return f"removals-{_scheduled():%Y-%m-%d}"


def report_name() -> str:
    """`report-2026-10`: the month asked for, else the month before the scheduled day (the
    flow's own default)."""
    month = str(_parameter("month", "") or "").strip()
    if not month:
        month = ReportMonth.of(_scheduled().date()).shifted(-1).key
    return f"report-{month}"


def responses_name() -> str:
    """`responses-mem`; `responses-表单` when the department is to be filled in the form."""
    department = str(_parameter("department", "") or "").strip().lower()
    return f"responses-{re.sub(r'[^a-z0-9-]+', '-', department) or '表单'}"
