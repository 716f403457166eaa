"""`route-due-batches` (every 15 minutes): the clock that moves batches nobody is watching.

`route-batch` never sleeps through a defence window (DESIGN.md §1): it returns, and this sweep
runs it again once the window lapsed — and for batches confirmed but not published or
published but not dispatched (after a crash, or a decision taken with `jointcredit confirm`).
Each due batch is one `route-batch` subflow that goes as far as it can without a person; a
batch that then waits on the operator gets its confirmation form as a run of the `route-batch`
deployment, which suspends until the form is submitted in the UI (a subflow cannot suspend).

At most `limit` batches per run, oldest first: the next run continues where this one stopped.
A batch whose subflow fails does not stop the others; the sweep fails at the end, naming it.
"""

from __future__ import annotations

from typing import Annotated, Any

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact

from flows.operator_ui import TECHNICAL, parameter
from flows.route import route_batch
from flows.run_names import route_sweep_name
from notifications.artifacts import sweep_report
from registry.errors import JointcreditError
from registry.route_queue import FormRequests, RoutedBatch
from tasks.inbox import refresh_operator_inbox
from tasks.route_queue import (
    find_batches_awaiting_operator,
    find_due_batches,
    request_confirmation_forms,
)

ROUTE_BATCH_DEPLOYMENT = "route-batch/route-batch"


class BatchesFailed(JointcreditError):
    """Some batches could not be routed; the others were."""


@flow(name="route-due-batches", flow_run_name=route_sweep_name)
async def route_due_batches(
    limit: Annotated[
        int,
        parameter(
            "本次最多推进批次数",
            f"{TECHNICAL}每次运行最多推进多少个批次（最早的优先），其余由下次运行继续",
            ge=1,
        ),
    ] = 20,
    ask_operator: Annotated[
        bool,
        parameter(
            "为待确认批次生成确认表单",
            f"{TECHNICAL}开启时，为等待操作员确认且尚无表单的批次启动一次 route-batch，"
            "在界面中显示确认表单",
        ),
    ] = True,
) -> dict[str, Any]:
    """定时推进批次：申辩期满、已确认待公开、已生效待推送的批次逐一推进；待确认的批次生成确认表单。"""
    due = find_due_batches(limit)
    routed: list[RoutedBatch] = []
    failed: list[int] = []
    for batch_id in due:
        state = await route_batch(batch_id, wait_for_operator=False, return_state=True)
        if state.is_completed():
            result = await state.aresult()
            routed.append(
                RoutedBatch(
                    batch_id=batch_id,
                    reference=result["reference"],
                    waiting_label=result["waiting_label"],
                    moved=sum(step["moved"] for step in result["steps"]),
                )
            )
        else:
            failed.append(batch_id)
    forms = FormRequests()
    if ask_operator:
        waiting = find_batches_awaiting_operator(limit)
        forms = await request_confirmation_forms(waiting, ROUTE_BATCH_DEPLOYMENT)
    await acreate_markdown_artifact(
        key="route-due-batches",
        markdown=sweep_report(routed, failed, forms),
        description=f"定时推进：{len(routed)} 个批次，新确认表单 {len(forms.requested)} 份"
        "（routing sweep）",
    )
    await refresh_operator_inbox()
    if failed:
        raise BatchesFailed(
            f"以下批次推进失败，其余已完成（batches failed）：{'、'.join(map(str, failed))}",
            batch_ids=failed,
        )
    return {"due": due, "routed": [r.as_dict() for r in routed], "forms": forms.as_dict()}
