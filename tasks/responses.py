"""Prefect task of `record-responses`: one transaction through `registry.responses`, then events.

Events are `jointcredit.action.<state reached>` for the department resource
`jointcredit.department.<code>`, one per (kind, department) with the count and the first ids —
never one per listing.
"""

from __future__ import annotations

from collections.abc import Sequence

from prefect import get_run_logger, task
from prefect.events import emit_event

from registry.responses import (
    RULES,
    ResponseRefused,
    ResponseRequestError,
    ResponseResult,
    parse_kind,
    response_request,
)
from registry.vocabulary import RESPONSE_KIND_LABELS
from service.runtime import opened_runtime
from service.steps import record_response
from tasks.form_answers import AnswerRefused

SOURCE = "flow:record-responses"
EVENT_IDS_SHOWN = 50


def emit_response_events(result: ResponseResult) -> None:
    groups: dict[tuple[str, str], list[int]] = {}
    late: dict[tuple[str, str], int] = {}
    for recorded in result.recorded:
        key = (recorded.department, RULES[recorded.kind].target.value)
        groups.setdefault(key, []).append(recorded.listing_id)
        late[key] = late.get(key, 0) + int(recorded.late)
    for (department, state), ids in sorted(groups.items()):
        emit_event(
            event=f"jointcredit.action.{state}",
            resource={"prefect.resource.id": f"jointcredit.department.{department}"},
            payload={
                "count": len(ids),
                "late": late[(department, state)],
                "listing_ids": ids[:EVENT_IDS_SHOWN],
            },
        )


@task(name="record-department-responses")
def record_department_responses(
    department: str,
    kind: str,
    listings: Sequence[str],
    batch_id: int | None,
    feedback: str,
    not_applicable: bool,
    recorded_by: str,
    answered_on: str | None = None,
) -> ResponseResult:
    """响应 / 反馈 / 解除确认 for the listings (or the whole batch) of one department."""
    return _recorded(
        department, kind, listings, batch_id, feedback, not_applicable, recorded_by, answered_on
    )


@task(name="record-form-response")
def record_form_response(
    department: str,
    kind: str,
    listings: Sequence[str],
    batch_id: int | None,
    feedback: str,
    not_applicable: bool,
    recorded_by: str,
    answered_on: str | None = None,
) -> ResponseResult | AnswerRefused:
    """A form's answer, all or nothing: any refusal (an unknown listing, one never sent to the
    department, a lift never requested, a malformed id) records none of it and is returned —
    the form asks again with the reasons — instead of failing the run half recorded."""
    try:
        return _recorded(
            department,
            kind,
            listings,
            batch_id,
            feedback,
            not_applicable,
            recorded_by,
            answered_on,
            all_or_nothing=True,
        )
    except (ResponseRequestError, ResponseRefused) as refused:
        return AnswerRefused.of(refused)


def _recorded(
    department: str,
    kind: str,
    listings: Sequence[str],
    batch_id: int | None,
    feedback: str,
    not_applicable: bool,
    recorded_by: str,
    answered_on: str | None,
    *,
    all_or_nothing: bool = False,
) -> ResponseResult:
    """Record one department's answer through the core, then its events and its log line."""
    response = response_request(
        department=department,
        kind=kind,
        listings=listings,
        batch_id=batch_id,
        feedback=feedback,
        not_applicable=not_applicable,
        answered_on=answered_on,
    )
    with opened_runtime() as runtime:
        result = record_response(
            runtime,
            response,
            recorded_by=recorded_by,
            source=SOURCE,
            all_or_nothing=all_or_nothing,
        )
    emit_response_events(result)
    get_run_logger().info("%s", response_line(department, kind, result))
    return result


def response_line(department: str, kind: str, result: ResponseResult) -> str:
    """One Chinese line for the log: what was recorded for whom, how much of it late."""
    label = RESPONSE_KIND_LABELS[parse_kind(kind)]
    recorded = sorted({r.listing_id for r in result.recorded})
    shown = "、".join(map(str, recorded[:EVENT_IDS_SHOWN]))
    more = " 等" if len(recorded) > EVENT_IDS_SHOWN else ""
    return (
        f"已记录部门 {department} 的{label} {len(result.recorded)} 条"
        + (f"（名单 {shown}{more}）" if recorded else "")
        + f"，其中逾期 {len(result.late)} 条，此前已记录 {len(result.already)} 条"
    )


@task(name="department-choices")
def department_choices() -> dict[str, str]:
    """The catalogue's departments, code → short name: the choices of the form's 部门."""
    with opened_runtime() as runtime:
        return {code: d.short_name for code, d in runtime.catalogue.departments.items()}
