"""`record-responses`: a department's 响应 / 反馈 / 解除确认, entered by an operator.

Given the department, the kind and the listings (or a batch) as parameters, it records them at
once; otherwise it shows a short form — paused (the run keeps its process) when started by
hand, suspended (no process held, re-run from the top on resume) when started from a
deployment, as `route-batch` does. The rules are `registry.responses`, the same ones
`jointcredit respond` and returned spreadsheets go through. A form's answer is recorded all or
nothing: a refused one (a listing never sent to the department, a lift never requested) records
nothing and the form comes back with the reasons above it. Given as parameters, a refused
answer fails the run after the rest was recorded and the artifact written, so whoever started
it sees exactly what to correct.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact
from prefect.input import RunInput
from pydantic import Field

from flows.operator_ui import (
    POLL_HELP,
    TIMEOUT_HELP,
    ask_until_accepted,
    choice_of,
    form_with,
    parameter,
    retyped,
    with_errors,
)
from flows.run_names import responses_name
from notifications.artifacts import markdown_cell, responses_report
from registry.responses import ResponseRefused, ResponseRequestError, ResponseResult, parse_kind
from registry.vocabulary import RESPONSE_KIND_LABELS, ResponseKind
from tasks.form_answers import AnswerRefused
from tasks.responses import (
    SOURCE,
    department_choices,
    record_department_responses,
    record_form_response,
)

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
| 反馈 | 措施实施情况 | 反馈内容；措施不适用的打开“措施不适用”并在反馈内容中写明理由 |
| 解除确认 | 收到解除函后已解除措施 | — |

名单编号即推送函中的编号，可填数字或“批次编号-名单编号”；也可只填批次编号。
逾期答复照常记录，并标记为逾期；是否逾期按“答复日期”（部门实际答复之日，留空为今天）判断。
"""


def response_form(
    departments: Mapping[str, str], errors: Sequence[str] = (), **defaults: Any
) -> type[ResponseForm]:
    """The form with the catalogue's departments as a select, each code named below it."""
    form = ResponseForm
    choice = choice_of(list(departments))
    if choice is not None:
        named = "；".join(f"{code}：{name}" for code, name in departments.items())
        form = retyped(ResponseForm, {"department": f"部门代码与名称：{named}"}, department=choice)
        if defaults.get("department") not in departments:
            defaults["department"] = ""  # a name or a typo: the operator picks the code
    return form_with(form, with_errors(errors, FORM_DESCRIPTION), **defaults)


def _kind_label(response: str) -> str:
    """The form's 答复类型 for a kind given as a parameter (响应 when none or unreadable)."""
    try:
        return RESPONSE_KIND_LABELS[parse_kind(response) if response else ResponseKind.ACK]
    except ResponseRequestError:
        return RESPONSE_KIND_LABELS[ResponseKind.ACK]


def _recorder(recorded_by: str) -> str:
    who = recorded_by.strip()
    return f"{SOURCE}:{who}" if who else SOURCE


LEAVE_EMPTY = "留空则在表单中填写"


@flow(name="record-responses", flow_run_name=responses_name)
async def record_responses(
    department: Annotated[
        str,
        Field(
            json_schema_extra={
                "title": "部门",
                "description": f"答复的部门代码（如 mem、ndrc）或名称；{LEAVE_EMPTY}",
            }
        ),
    ] = "",
    response: Annotated[
        str,
        Field(
            json_schema_extra={
                "title": "答复类型",
                "description": f"响应、反馈 或 解除确认（或 ack、feedback、lift）；{LEAVE_EMPTY}",
            }
        ),
    ] = "",
    listing_ids: Annotated[
        str,
        Field(
            json_schema_extra={
                "title": "名单编号",
                "description": "推送函中的名单编号，多个用逗号或空格分隔，可写“批次编号-名单编号”；"
                "按批次答复时留空",
            }
        ),
    ] = "",
    batch_id: Annotated[
        int,
        Field(
            ge=0,
            json_schema_extra={
                "title": "批次编号",
                "description": "答复该部门在本批次的全部名单；按名单编号答复时填 0",
            },
        ),
    ] = 0,
    feedback: Annotated[
        str,
        Field(
            json_schema_extra={
                "title": "反馈内容",
                "description": "仅反馈填写：措施实施情况；措施不适用时写明理由",
            }
        ),
    ] = "",
    measures_not_applicable: Annotated[
        bool,
        Field(
            json_schema_extra={
                "title": "措施不适用",
                "description": "仅反馈：部门认为备忘录措施不适用时勾选，并在反馈内容中写明理由",
            }
        ),
    ] = False,
    recorded_by: Annotated[
        str,
        Field(json_schema_extra={"title": "录入人", "description": "录入本次答复的人员姓名"}),
    ] = "",
    answered_on: Annotated[
        str,
        Field(
            json_schema_extra={
                "title": "答复日期",
                "description": "部门实际答复之日，格式 YYYY-MM-DD；留空为今天，按此判断是否逾期",
            }
        ),
    ] = "",
    form_timeout_hours: Annotated[
        float,
        Field(
            gt=0,
            json_schema_extra={
                "title": "表单等待时限（小时）",
                "description": TIMEOUT_HELP.format(after="，不记录任何内容"),
            },
        ),
    ] = 24.0,
    form_poll_seconds: Annotated[int, parameter("查看表单间隔（秒）", POLL_HELP, ge=1)] = 10,
) -> dict[str, Any]:
    """录入部门答复：给出部门、答复类型和名单或批次时直接记录，否则填写表单。"""
    listings = [listing_ids] if listing_ids.strip() else []
    if not (department and response and (listings or batch_id)):
        departments = department_choices()

        def form(errors: Sequence[str]) -> type[ResponseForm]:
            return response_form(
                departments,
                errors,
                department=department,
                response=_kind_label(response),
                listing_ids=listing_ids,
                batch_id=batch_id,
                feedback=feedback,
                measures_not_applicable=measures_not_applicable,
                recorded_by=recorded_by,
                answered_on=answered_on,
            )

        def record(answer: ResponseForm) -> tuple[ResponseForm, ResponseResult] | AnswerRefused:
            outcome = record_form_response(
                answer.department,
                parse_kind(answer.response).value,
                [answer.listing_ids],
                answer.batch_id or None,
                answer.feedback,
                answer.measures_not_applicable,
                _recorder(answer.recorded_by),
                answer.answered_on or None,
            )
            return outcome if isinstance(outcome, AnswerRefused) else (answer, outcome)

        answered = await ask_until_accepted(
            form,
            record,
            key=FORM_KEY,
            timeout_hours=form_timeout_hours,
            poll_seconds=form_poll_seconds,
            unanswered="{hours} 小时内无人填写部门答复，未记录任何内容",
            waiting="录入部门答复",
        )
        if answered is None:
            return {"status": "no_input"}
        answer, result = answered
        kind = parse_kind(answer.response)
        await _report(answer.department, kind, result)
        return {
            "status": "recorded",
            "department": answer.department,
            "kind": kind.value,
            **result.as_dict(),
        }
    kind = parse_kind(response)
    result = record_department_responses(
        department,
        kind.value,
        listings,
        batch_id or None,
        feedback,
        measures_not_applicable,
        _recorder(recorded_by),
        answered_on or None,
    )
    await _report(department, kind, result)
    if result.refused:
        raise ResponseRefused(
            result.refused, recorded=len(result.recorded), already=len(result.already)
        )
    return {"status": "recorded", "department": department, "kind": kind.value, **result.as_dict()}


async def _report(department: str, kind: ResponseKind, result: ResponseResult) -> None:
    await acreate_markdown_artifact(
        key=f"responses-{re.sub(r'[^a-z0-9-]+', '-', department.lower())}",
        markdown=responses_report(department, RESPONSE_KIND_LABELS[kind], result),
        description=f"{markdown_cell(department)} {RESPONSE_KIND_LABELS[kind]}："
        f"记录 {len(result.recorded)} 条",
    )
