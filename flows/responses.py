"""`record-responses`: a department's 响应 / 反馈 / 解除确认, entered by an operator.

Given the department, the kind and the listings (or a batch) as parameters, it records them at
once; otherwise it shows a short form — paused (the run keeps its process) when started by
hand, suspended (no process held, re-run from the top on resume) when started from a
deployment, as `route-batch` does. The rules are `registry.responses`, the same ones
`jointcredit respond` and returned spreadsheets go through. A refused answer (unknown
department, a listing never sent to it, a lift never requested) fails the run after the rest
was recorded and the artifact written, so the operator sees exactly what to correct.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact
from prefect.input import RunInput
from pydantic import Field

from flows.operator_ui import ask_operator, form_with
from flows.run_names import responses_name
from notifications.artifacts import responses_report
from registry.responses import ResponseRefused, parse_kind
from registry.vocabulary import RESPONSE_KIND_LABELS, ResponseKind
from tasks.responses import SOURCE, record_department_responses

FORM_KEY = "record-responses"


class ResponseForm(RunInput):
    """The form: seven short fields; the one boolean is named to read well (the UI shows names)."""

    department: str = Field(title="部门代码（如 mem、ndrc）", min_length=1, max_length=40)
    response: Literal["响应", "反馈", "解除确认"] = Field(title="答复类型", default="响应")
    listing_ids: str = Field(
        title="名单编号（多个用逗号或空格分隔；按批次答复时留空）",
        default="",
        max_length=20_000,
        pattern=r"^[0-9A-Za-z_\s,，、;；-]*$",
    )
    batch_id: int = Field(
        title="批次编号（答复该部门在本批次的全部名单；不按批次填 0）", default=0, ge=0
    )
    feedback: str = Field(title="反馈内容（措施不适用时须写明理由）", default="", max_length=4000)
    measures_not_applicable: bool = Field(title="措施不适用", default=False)
    recorded_by: str = Field(title="录入人", default="", max_length=80)
    answered_on: str = Field(
        title="答复日期（YYYY-MM-DD；留空为今天，按此判断是否逾期）",
        default="",
        pattern=r"^\s*([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})?\s*$",
    )


FORM_DESCRIPTION = """### 录入部门答复（响应 / 反馈 / 解除确认）

| 答复类型 | 含义 | 另需填写 |
|---|---|---|
| 响应 | 部门已收到推送函 | — |
| 反馈 | 措施实施情况 | 反馈内容；措施不适用的勾选 measures_not_applicable 并写明理由 |
| 解除确认 | 收到解除函后已解除措施 | — |

名单编号即推送函中的编号，可填数字或“批次编号-名单编号”；也可只填批次编号。
逾期答复照常记录，并标记为逾期；是否逾期按“答复日期”（部门实际答复之日，留空为今天）判断。
"""


@flow(name="record-responses", flow_run_name=responses_name)
async def record_responses(
    department: str | None = None,
    response: str | None = None,
    listing_ids: list[int | str] | None = None,
    batch_id: int | None = None,
    feedback: str = "",
    measures_not_applicable: bool = False,
    recorded_by: str | None = None,
    answered_on: str | None = None,
    form_timeout_hours: float = 24.0,
    form_poll_seconds: int = 10,
) -> dict[str, Any]:
    """录入部门答复：给出部门、答复类型（ack/feedback/lift）和名单或批次时直接记录，否则填写表单。"""
    listings = [str(i) for i in listing_ids or []]
    if not (department and response and (listings or batch_id)):
        form = await ask_operator(
            form_with(
                ResponseForm,
                FORM_DESCRIPTION,
                department=department or "",
                response=RESPONSE_KIND_LABELS[
                    parse_kind(response) if response else ResponseKind.ACK
                ],
                listing_ids="，".join(listings),
                batch_id=batch_id or 0,
                feedback=feedback,
                measures_not_applicable=measures_not_applicable,
                recorded_by=recorded_by or "",
                answered_on=answered_on or "",
            ),
            key=FORM_KEY,
            timeout_hours=form_timeout_hours,
            poll_seconds=form_poll_seconds,
            unanswered="{hours} 小时内无人填写部门答复，未记录任何内容",
        )
        if form is None:
            return {"status": "no_input"}
        department, response, listings = form.department, form.response, [form.listing_ids]
        batch_id, feedback = form.batch_id or None, form.feedback
        measures_not_applicable, recorded_by = form.measures_not_applicable, form.recorded_by
        answered_on = form.answered_on
    kind = parse_kind(response)
    who = recorded_by.strip() if recorded_by else ""
    result = record_department_responses(
        department,
        kind.value,
        listings,
        batch_id,
        feedback,
        measures_not_applicable,
        f"{SOURCE}:{who}" if who else SOURCE,
        answered_on or None,
    )
    await acreate_markdown_artifact(
        key=f"responses-{re.sub(r'[^a-z0-9-]+', '-', department.lower())}",
        markdown=responses_report(department, RESPONSE_KIND_LABELS[kind], result),
        description=f"{department} {RESPONSE_KIND_LABELS[kind]}：记录 {len(result.recorded)} 条",
    )
    if result.refused:
        raise ResponseRefused(
            result.refused, recorded=len(result.recorded), already=len(result.already)
        )
    return {"status": "recorded", "department": department, "kind": kind.value, **result.as_dict()}
