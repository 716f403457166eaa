"""`route-batch`: advance a batch as far as it can go, asking an operator where the law requires.

Re-entrant (DESIGN.md §1): every step acts only on listings ready for it, so a second run, or a
run after a crash between steps, finishes the work without repeating any of it. The run never
sleeps through a defence window — it returns, and the 15-minute sweep runs it again. Where the
batch waits on an operator it shows the confirmation form: paused (the run keeps its process)
when started by hand, suspended (no process held, re-run from the top on resume) when started
from a deployment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from pydantic import Field

from flows.operator_ui import (
    POLL_HELP,
    TIMEOUT_HELP,
    ConfirmationForm,
    ask_until_accepted,
    confirmation_form,
    parameter,
    settle_answers,
    unapplied_answer,
)
from flows.run_names import route_batch_name
from notifications.artifacts import batch_report, batch_report_description
from registry.free_text import clean_single_line, mask_resident_ids
from registry.routing import DecisionError, StepResult, Waiting, reasons_by_listing
from tasks.form_answers import AnswerRefused
from tasks.inbox import refresh_operator_inbox
from tasks.routing import (
    apply_decision,
    close_defence_windows,
    decision_that_stands,
    dispatch_departments,
    listings_awaiting_decision,
    notify_parties,
    publish_listings,
    read_position,
    review_table,
)
from tasks.views import read_batch_view

ACTOR = "flow:route-batch"


@flow(name="route-batch", flow_run_name=route_batch_name)
async def route_batch(
    batch_id: Annotated[
        int,
        Field(
            ge=1,
            json_schema_extra={
                "title": "批次编号",
                "description": "要推进的批次编号（见导入结果、操作员待办或"
                " jointcredit batch show）",
            },
        ),
    ],
    wait_for_operator: Annotated[
        bool,
        Field(
            json_schema_extra={
                "title": "需要时等待操作员确认",
                "description": "一般无需修改。开启时，批次待确认则显示确认表单并等待；"
                "关闭时只推进无需人工的步骤（定时推进使用）",
            }
        ),
    ] = True,
    confirmation_timeout_hours: Annotated[
        float,
        Field(
            gt=0,
            json_schema_extra={
                "title": "确认表单等待时限（小时）",
                "description": TIMEOUT_HELP.format(after="，批次仍待确认"),
            },
        ),
    ] = 24.0,
    confirmation_poll_seconds: Annotated[
        int, parameter("查看表单间隔（秒）", POLL_HELP, ge=1)
    ] = 10,
) -> dict[str, Any]:
    """推进批次：告知 → 陈述申辩期满 → 操作员确认 → 公开 → 向备忘录各部门推送。"""
    steps = [notify_parties(batch_id, ACTOR), close_defence_windows(batch_id, ACTOR)]
    position = read_position(batch_id)
    key = f"confirm-batch-{batch_id}"
    if wait_for_operator and position.waiting_on is not Waiting.OPERATOR:
        # Re-run after the form was submitted, but `jointcredit confirm` decided in between:
        # the answer changes nothing, and the log says so and whose decision stands.
        lost = await unapplied_answer(key)
        if lost is not None:
            answer, attempt = lost
            get_run_logger().warning(
                "批次 %s（编号 %d）在表单提交后已由他人决定，以其决定为准：%s。"
                "表单中由 %s 提交的答复未生效（the form's answer was not applied）",
                position.reference,
                batch_id,
                decision_that_stands(batch_id),
                mask_resident_ids(clean_single_line(str(answer.get("reviewer", "")))),
            )
            await settle_answers(key, attempt)
    if position.waiting_on is Waiting.OPERATOR and wait_for_operator:

        def form(errors: Sequence[str]) -> type[ConfirmationForm]:
            return confirmation_form(
                review_table(batch_id), listings_awaiting_decision(batch_id), errors
            )

        def decide(answer: ConfirmationForm) -> StepResult | AnswerRefused:
            try:
                rejections = reasons_by_listing((r.listing_id, r.reason) for r in answer.rejections)
            except DecisionError as twice:
                return AnswerRefused.of(twice)
            return apply_decision(batch_id, answer.reviewer, "", rejections, answer.approve_others)

        await refresh_operator_inbox(this_run_waits=True)
        decided = await ask_until_accepted(
            form,
            decide,
            key=key,
            timeout_hours=confirmation_timeout_hours,
            poll_seconds=confirmation_poll_seconds,
            unanswered=f"批次 {batch_id} 在 {{hours}} 小时内无人确认，仍在等待",
            waiting=f"确认批次 {position.reference}（编号 {batch_id}）",
        )
        if decided is not None:
            steps.append(decided)
    steps += [publish_listings(batch_id, ACTOR), dispatch_departments(batch_id, ACTOR)]
    position = read_position(batch_id)
    view = read_batch_view(batch_id)  # what `jointcredit batch show` prints
    await acreate_markdown_artifact(
        key=f"batch-{batch_id}",
        markdown=batch_report(view, steps),
        description=batch_report_description(view),
    )
    return {**position.as_dict(), "steps": [step.as_dict() for step in steps]}
