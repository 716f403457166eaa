"""`review-removals` (daily): every listing whose term ended leaves the list lawfully.

Automatic where the rule-set says so (current rule, red lists); under the legacy rule an
expired listing nobody applied for, and every application, waits for an operator — in the
form this run shows (paused by hand, suspended from a deployment) or `jointcredit removal
decide`. Every removal queues the removal notice and a lift request to each department.
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
    RemovalForm,
    ask_until_accepted,
    parameter,
    removal_form,
    settle_answers,
    unapplied_answer,
)
from flows.run_names import removals_name
from notifications.artifacts import removal_report, removal_review_markdown
from registry.free_text import clean_single_line, mask_resident_ids
from registry.routing import StepResult
from tasks.form_answers import AnswerRefused
from tasks.inbox import refresh_operator_inbox
from tasks.removal import apply_removal_decisions, pending_decisions, review_expired_listings

ACTOR = "flow:review-removals"
FORM_KEY = "removals"


@flow(name="review-removals", flow_run_name=removals_name)
async def review_removals(
    wait_for_operator: Annotated[
        bool,
        Field(
            json_schema_extra={
                "title": "有待决定的移出时等待操作员",
                "description": "一般无需修改。开启时，有待决定的移出则显示移出决定表单并等待；"
                "关闭时只做期满自动移出（也可用 jointcredit removal decide 决定）",
            }
        ),
    ] = True,
    decision_timeout_hours: Annotated[
        float,
        Field(
            gt=0,
            json_schema_extra={
                "title": "移出决定表单等待时限（小时）",
                "description": TIMEOUT_HELP.format(after="，待决定的移出留待下次运行"),
            },
        ),
    ] = 24.0,
    decision_poll_seconds: Annotated[int, parameter("查看表单间隔（秒）", POLL_HELP, ge=1)] = 10,
) -> dict[str, Any]:
    """移出审查：期满自动移出或提交操作员决定，发出移出告知和解除函。"""
    review = review_expired_listings(ACTOR)
    pending = pending_decisions()
    decided = 0
    if not pending and wait_for_operator:
        # Re-run after the form was submitted, but `jointcredit removal decide` decided every
        # pending removal in between: the answer changes nothing, and the log says so.
        lost = await unapplied_answer(FORM_KEY)
        if lost is not None:
            answer, attempt = lost
            get_run_logger().warning(
                "移出决定表单提交后，待决定的移出已由他人办理（jointcredit removal decide），"
                "以其决定为准；表单中由 %s 提交的答复未生效（the form's answer was not applied）",
                mask_resident_ids(clean_single_line(str(answer.get("reviewer", "")))),
            )
            await settle_answers(FORM_KEY, attempt)
    if pending and wait_for_operator:

        def form(errors: Sequence[str]) -> type[RemovalForm]:
            waiting = pending_decisions()
            return removal_form(removal_review_markdown(waiting), [p.id for p in waiting], errors)

        def decide(answer: RemovalForm) -> list[StepResult] | AnswerRefused:
            refused = [(r.listing_id, r.reason) for r in answer.refusals]
            return apply_removal_decisions(answer.reviewer, answer.approve, refused)

        await refresh_operator_inbox(this_run_waits=True)
        results = await ask_until_accepted(
            form,
            decide,
            key=FORM_KEY,
            timeout_hours=decision_timeout_hours,
            poll_seconds=decision_poll_seconds,
            unanswered="移出决定在 {hours} 小时内无人处理，仍在等待",
            waiting=f"决定 {len(pending)} 条待决定的移出",
        )
        if results is not None:
            decided = sum(len(r.moved) for r in results)
            pending = pending_decisions()
    await acreate_markdown_artifact(
        key="review-removals",
        markdown=removal_report(review, pending, decided),
        description="移出审查结果（removal review）",
    )
    await refresh_operator_inbox()
    return {"review": review.as_dict(), "pending": len(pending), "decided": decided}
