"""`route-batch`: advance a batch as far as it can go, asking an operator where the law requires.

Re-entrant (DESIGN.md §1): every step acts only on listings ready for it, so a second run, or a
run after a crash between steps, finishes the work without repeating any of it. The run never
sleeps through a defence window — it returns, and the 15-minute sweep runs it again. Where the
batch waits on an operator it shows the confirmation form: paused (the run keeps its process)
when started by hand, suspended (no process held, re-run from the top on resume) when started
from a deployment.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import apause_flow_run, asuspend_flow_run
from prefect.runtime import deployment

from flows.operator_ui import ConfirmationForm, batch_report, form_with
from tasks.routing import (
    apply_decision,
    close_defence_windows,
    dispatch_departments,
    notify_parties,
    publish_listings,
    read_position,
    review_table,
)

ACTOR = "flow:route-batch"


@flow(name="route-batch")
async def route_batch(
    batch_id: int,
    wait_for_operator: bool = True,
    confirmation_timeout_hours: float = 24.0,
    confirmation_poll_seconds: int = 10,
) -> dict[str, Any]:
    """推进批次：告知 → 陈述申辩期满 → 操作员确认 → 公开 → 向备忘录各部门推送。"""
    steps = [notify_parties(batch_id, ACTOR), close_defence_windows(batch_id, ACTOR)]
    position = read_position(batch_id)
    if position["waiting_on"] == "operator" and wait_for_operator:
        form = await _ask_operator(batch_id, confirmation_timeout_hours, confirmation_poll_seconds)
        if form is not None:
            steps.append(
                apply_decision(
                    batch_id,
                    form.reviewer,
                    form.decision_number,
                    {r.listing_id: r.reason for r in form.rejections},
                    form.approve_others,
                )
            )
    steps += [publish_listings(batch_id, ACTOR), dispatch_departments(batch_id, ACTOR)]
    position = read_position(batch_id)
    await acreate_markdown_artifact(
        key=f"batch-{batch_id}",
        markdown=batch_report(position, steps),
        description=f"批次 {position['reference']}：{position['waiting_label']}",
    )
    return {**position, "steps": steps}


async def _ask_operator(
    batch_id: int, timeout_hours: float, poll_seconds: int
) -> ConfirmationForm | None:
    """The confirmation form; None when nobody answered in time (the batch keeps waiting)."""
    form = form_with(ConfirmationForm, review_table(batch_id))
    timeout = int(timeout_hours * 3600)
    key = f"confirm-batch-{batch_id}"
    try:
        if deployment.id:
            return await asuspend_flow_run(wait_for_input=form, timeout=timeout, key=key)
        return await apause_flow_run(
            wait_for_input=form, timeout=timeout, poll_interval=poll_seconds, key=key
        )
    except FlowPauseTimeout:
        logger = get_run_logger()
        logger.warning("批次 %s 在 %.0f 小时内无人确认，仍在等待", batch_id, timeout_hours)
        return None
