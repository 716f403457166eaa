"""What operators read in the Prefect UI: the confirmation form (a `RunInput`) and the reports.

The UI renders the form under the Markdown table of the batch; titles are Chinese, and the
boolean is named so that its field name reads well (the UI shows booleans by name).
"""

from __future__ import annotations

from typing import Any

from prefect.input import RunInput
from pydantic import BaseModel, Field


class Rejection(BaseModel):
    listing_id: int = Field(title="名单编号", ge=1)
    reason: str = Field(title="不予列入理由", min_length=2, max_length=2000)


class ConfirmationForm(RunInput):
    reviewer: str = Field(title="审核人（不得为提出人）", min_length=1, max_length=100)
    decision_number: str = Field(title="决定书文号", default="", max_length=100)
    approve_others: bool = Field(title="其余名单全部确认", default=True)
    rejections: list[Rejection] = Field(title="不予列入的名单", default_factory=list)


STATE_LABELS = {
    "proposed": "拟列入",
    "notified": "已告知",
    "awaiting_confirmation": "待确认",
    "confirmed": "已确认",
    "in_force": "已生效",
    "rejected": "不予列入",
    "removal_review": "移出审查",
    "removed": "已移出",
    "revoked": "已撤销",
}
STEP_LABELS = {
    "notify": "告知",
    "close_defence": "申辩期满",
    "decide": "操作员决定",
    "publish": "公开",
    "dispatch": "推送部门",
}


def batch_report(position: dict[str, Any], steps: list[dict[str, Any]]) -> str:
    """The run's Markdown artifact: where the batch stands and what each step did."""
    lines = [
        f"## 批次 {position['reference']}：{position['waiting_label']}",
        "",
        "| 状态 | 名单数 |",
        "|---|---:|",
        *(
            f"| {STATE_LABELS.get(state, state)} | {count} |"
            for state, count in position["states"].items()
        ),
        "",
        "| 步骤 | 变更名单 | 新建部门事项 | 入队通知 | 无邮箱须另行送达 |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {STEP_LABELS.get(s['step'], s['step'])} | {s['moved']} | {s['actions_created']} "
            f"| {s['notices_queued']} | {len(s['unreachable'])} |"
            for s in steps
        ),
    ]
    refused = {k: v for s in steps for k, v in s["refused"].items()}
    if refused:
        lines += ["", "### 未能推进的名单", ""]
        lines += [f"- 名单 {k}：{'；'.join(v)}" for k, v in list(refused.items())[:50]]
    return "\n".join(lines) + "\n"


def intake_report(imported: dict[str, Any], notified: dict[str, Any] | None) -> str:
    """The intake run's artifact: counts, then the quarantined rows with their reasons."""
    lines = [
        f"## 导入批次 {imported['batch_reference']}",
        "",
        "| 项目 | 数量 |",
        "|---|---:|",
        f"| 接收（待审核） | {imported['accepted']} |",
        f"| 其中需人工核对 | {imported['needs_review']} |",
        f"| 隔离的问题行 | {imported['rejected']} |",
        f"| 已发出告知书 | {notified['notices_queued'] if notified else 0} |",
    ]
    if imported["quarantine"]:
        lines += ["", "### 问题行（前 100 条）", "", "| 行号 | 列 | 原因 |", "|---:|---|---|"]
        lines += [
            f"| {q['row']} | {q['column']} | {str(q['reason_zh']).replace('|', '/')} |"
            for q in imported["quarantine"]
        ]
    if imported["quarantine_path"]:
        lines += ["", f"完整隔离报告：`{imported['quarantine_path']}`"]
    return "\n".join(lines) + "\n"
