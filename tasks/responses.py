"""Prefect task of `record-responses`: one transaction through `registry.responses`, then events.

Events are `jointcredit.action.<state reached>` for the department resource
`jointcredit.department.<code>`, one per (kind, department) with the count and the first ids —
never one per listing.
"""

from __future__ import annotations

from collections.abc import Sequence

from prefect import task
from prefect.events import emit_event

from registry.responses import RULES, ResponseResult, response_request
from service.runtime import opened_runtime
from service.steps import record_response

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
        result = record_response(runtime, response, recorded_by=recorded_by, source=SOURCE)
    emit_response_events(result)
    return result
