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

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact

from flows.operator_ui import ConfirmationForm, ask_operator, form_with
from flows.run_names import route_batch_name
from notifications.artifacts import batch_report, batch_report_description
from registry.routing import Waiting
from tasks.inbox import refresh_operator_inbox
from tasks.routing import (
    apply_decision,
    close_defence_windows,
    dispatch_departments,
    notify_parties,
    publish_listings,
    read_position,
    review_table,
)
from tasks.views import read_batch_view

ACTOR = "flow:route-batch"


@flow(name="route-batch", flow_run_name=route_batch_name)
async def route_batch(
    batch_id: int,
    wait_for_operator: bool = True,
    confirmation_timeout_hours: float = 24.0,
    confirmation_poll_seconds: int = 10,
) -> dict[str, Any]:
    """推进批次：告知 → 陈述申辩期满 → 操作员确认 → 公开 → 向备忘录各部门推送。"""
    steps = [notify_parties(batch_id, ACTOR), close_defence_windows(batch_id, ACTOR)]
    position = read_position(batch_id)
    if position.waiting_on is Waiting.OPERATOR and wait_for_operator:
        await refresh_operator_inbox(this_run_waits=True)
        form = await ask_operator(
            form_with(ConfirmationForm, review_table(batch_id)),
            key=f"confirm-batch-{batch_id}",
            timeout_hours=confirmation_timeout_hours,
            poll_seconds=confirmation_poll_seconds,
            unanswered=f"批次 {batch_id} 在 {{hours}} 小时内无人确认，仍在等待",
        )
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
    view = read_batch_view(batch_id)  # what `jointcredit batch show` prints
    await acreate_markdown_artifact(
        key=f"batch-{batch_id}",
        markdown=batch_report(view, steps),
        description=batch_report_description(view),
    )
    return {**position.as_dict(), "steps": [step.as_dict() for step in steps]}
