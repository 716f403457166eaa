"""What operators read in the Prefect UI: the confirmation form (a `RunInput`) and the reports.

The UI renders the form under the Markdown table of the batch; titles are Chinese, and the
boolean is named so that its field name reads well (the UI shows booleans by name).
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

import pydantic
from prefect.input import RunInput
from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from registry.vocabulary import LISTING_STATE_LABELS

Form = TypeVar("Form", bound=RunInput)


def form_with(form: type[Form], description: str, **defaults: Any) -> type[Form]:
    """The form with `description` above it and some fields pre-filled.

    Prefect's `with_initial_data` rebuilds each given field from its type alone, which drops
    the Chinese title and the constraints (a reviewer could then be left empty); this keeps
    each field's FieldInfo and changes only its default. An empty value for a required field
    leaves the field required.
    """
    fields: dict[str, Any] = {}
    for name, value in defaults.items():
        original = form.model_fields[name]
        if value in ("", None) and original.is_required():
            continue
        if original.default_factory is not None:
            info = FieldInfo.merge_field_infos(
                original, default_factory=lambda value=value: copy.deepcopy(value)
            )
        else:
            info = FieldInfo.merge_field_infos(original, default=value)
        fields[name] = (original.annotation, info)
    model: type[Form] = pydantic.create_model(form.__name__, __base__=form, **fields)
    model._description = description  # what Prefect shows above the form
    return model


NOT_BLANK = r"\S"
"""A name made only of spaces is no name: refused in the form, where the operator sees it."""


class Rejection(BaseModel):
    listing_id: int = Field(title="名单编号", ge=1)
    reason: str = Field(title="不予列入理由", min_length=2, max_length=2000)


class ConfirmationForm(RunInput):
    reviewer: str = Field(
        title="审核人（不得为提出人）", min_length=1, max_length=100, pattern=NOT_BLANK
    )
    decision_number: str = Field(title="决定书文号", default="", max_length=100)
    approve_others: bool = Field(title="其余名单全部确认", default=True)
    rejections: list[Rejection] = Field(title="不予列入的名单", default_factory=list)


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
            f"| {LISTING_STATE_LABELS.get(state, state)} | {count} |"
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


class RemovalRefusal(BaseModel):
    listing_id: int = Field(title="名单编号", ge=1)
    reason: str = Field(title="不予移出理由", min_length=2, max_length=2000)


class RemovalForm(RunInput):
    reviewer: str = Field(title="审核人", min_length=1, max_length=100, pattern=NOT_BLANK)
    approve: list[int] = Field(title="同意移出的名单编号", default_factory=list)
    refusals: list[RemovalRefusal] = Field(title="不予移出的名单", default_factory=list)


REMOVAL_REASONS = {
    "expiry": "期满（需操作员决定）",
    "application": "当事人申请移出",
    "early_removal": "申请提前移出（信用修复）",
}


def removal_review_markdown(pending: list[dict[str, Any]], limit: int = 50) -> str:
    """The table above the removal form: what waits for a decision, and why."""
    lines = [
        f"### 待决定的移出（共 {len(pending)} 条）",
        "",
        "| 编号 | 主体 | 规则 | 原因 | 有效期至 |",
        "|---:|---|---|---|---|",
    ]
    lines += [
        f"| {p['id']} | {p['name']} | {p['rule_set']} | "
        f"{REMOVAL_REASONS.get(p['removal_reason'] or '', p['removal_reason'])}"
        f"{'（申请 #' + str(p['application_id']) + '）' if p['application_id'] else ''} | "
        f"{p['expires_on']} |"
        for p in pending[:limit]
    ]
    lines += ["", "在“同意移出”中填入名单编号；不同意的请在“不予移出”中逐条说明理由。"]
    return "\n".join(lines)


def removal_report(review: dict[str, Any], pending: list[dict[str, Any]], decided: int) -> str:
    return (
        "## 移出审查\n\n"
        "| 项目 | 数量 |\n|---|---:|\n"
        f"| 期满进入审查 | {review['moved']} |\n"
        f"| 解除函涉及的部门事项 | {review['actions_created']} |\n"
        f"| 入队通知 | {review['notices_queued']} |\n"
        f"| 等待操作员决定 | {len(pending)} |\n"
        f"| 本次已决定 | {decided} |\n"
    )
