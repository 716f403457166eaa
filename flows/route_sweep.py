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

from typing import Any

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact

from flows.route import route_batch
from registry.errors import JointcreditError
from tasks.route_queue import (
    find_batches_awaiting_operator,
    find_due_batches,
    request_confirmation_forms,
)

ROUTE_BATCH_DEPLOYMENT = "route-batch/route-batch"


class BatchesFailed(JointcreditError):
    """Some batches could not be routed; the others were."""


@flow(name="route-due-batches")
async def route_due_batches(limit: int = 20, ask_operator: bool = True) -> dict[str, Any]:
    """定时推进批次：申辩期满、已确认待公开、已生效待推送的批次逐一推进；待确认的批次生成确认表单。"""
    due = find_due_batches(limit)
    routed: list[dict[str, Any]] = []
    failed: list[int] = []
    for batch_id in due:
        state = await route_batch(batch_id, wait_for_operator=False, return_state=True)
        if state.is_completed():
            result = await state.aresult()
            routed.append(
                {
                    "batch_id": batch_id,
                    "reference": result["reference"],
                    "waiting_label": result["waiting_label"],
                    "moved": sum(step["moved"] for step in result["steps"]),
                }
            )
        else:
            failed.append(batch_id)
    forms: dict[str, Any] = {"requested": [], "already_open": [], "deployment_missing": False}
    if ask_operator:
        waiting = find_batches_awaiting_operator(limit)
        forms = await request_confirmation_forms(waiting, ROUTE_BATCH_DEPLOYMENT)
    await acreate_markdown_artifact(
        key="route-due-batches",
        markdown=sweep_report(routed, failed, forms),
        description=f"定时推进：{len(routed)} 个批次，新确认表单 {len(forms['requested'])} 份"
        "（routing sweep）",
    )
    if failed:
        raise BatchesFailed(
            f"以下批次推进失败，其余已完成（batches failed）：{'、'.join(map(str, failed))}",
            batch_ids=failed,
        )
    return {"due": due, "routed": routed, "forms": forms}


def sweep_report(routed: list[dict[str, Any]], failed: list[int], forms: dict[str, Any]) -> str:
    """The run's artifact: each batch moved and where it waits now; the forms put up."""
    lines = [
        "## 定时推进批次",
        "",
        "| 批次 | 本次推进名单 | 当前 |",
        "|---|---:|---|",
        *(
            f"| {r['reference']}（{r['batch_id']}） | {r['moved']} | {r['waiting_label']} |"
            for r in routed
        ),
    ]
    if not routed:
        lines.append("| — | 0 | 无到期批次 |")
    stuck = [r for r in routed if r["moved"] == 0]
    if stuck:
        lines += ["", "未能推进的批次（请查看批次报告中的原因）："]
        lines += [f"- {r['reference']}（{r['batch_id']}）" for r in stuck]
    if failed:
        lines += ["", f"推进失败的批次：{'、'.join(map(str, failed))}"]
    lines += ["", f"新生成的确认表单：{'、'.join(map(str, forms['requested'])) or '无'}"]
    if forms["already_open"]:
        lines.append(f"已有待处理表单的批次：{'、'.join(map(str, forms['already_open']))}")
    if forms["deployment_missing"]:
        lines.append("未找到 route-batch 部署：请用 `jointcredit confirm` 确认等待中的批次。")
    return "\n".join(lines) + "\n"
