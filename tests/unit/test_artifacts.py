"""The Markdown operators read in the Prefect UI: one cell escaper, one pure module, and the
Prefect boundary typed (tasks return models, one helper waits for the operator)."""

from __future__ import annotations

import ast
import re
from datetime import date
from pathlib import Path

from notifications.artifacts import (
    batch_report,
    markdown_cell,
    removal_review_markdown,
    responses_report,
)
from registry.responses import Refusal, ResponseResult
from registry.routing import BatchPosition, StepResult, Waiting
from registry.views.removal_review import PendingRemoval
from registry.vocabulary import LISTING_STATE_LABELS, ResponseKind
from tests.conftest import REPO

ARTIFACTS = REPO / "notifications" / "artifacts.py"
IMPURE = {"prefect", "sqlalchemy", "sqlmodel", "aiosmtplib", "jinja2"}
AD_HOC_ESCAPE = re.compile(r"""\.replace\(\s*["']\|["']""")
PAUSE_OR_SUSPEND = re.compile(r"\ba?(pause|suspend)_flow_run\b")


def _imported_packages(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _sources(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in REPO.joinpath(package).rglob("*.py"))


def test_a_cell_keeps_ordinary_text_and_loses_pipes_and_line_breaks() -> None:
    assert markdown_cell("四川某化工有限公司") == "四川某化工有限公司"
    assert markdown_cell(42) == "42"
    assert markdown_cell("甲|乙") == "甲/乙"
    assert markdown_cell("第一行\n第二行\r\n第三行") == "第一行 第二行 第三行"
    assert markdown_cell(" 前后 \u2028 空白 ") == "前后 空白"


def test_a_name_with_a_pipe_and_a_newline_stays_in_its_cell() -> None:
    pending = [
        PendingRemoval(
            id=7,
            name="某某|建材\n有限公司",
            rule_set="saws-2017-sanction",
            removal_reason="application",
            expires_on=date(2026, 12, 1),
            application_id=3,
        )
    ]
    table = removal_review_markdown(pending)
    row = next(line for line in table.splitlines() if line.startswith("| 7 "))
    assert row == (
        "| 7 | 某某/建材 有限公司 | saws-2017-sanction | 当事人申请移出（申请 #3） | 2026-12-01 |"
    )
    assert row.count("|") == 6  # five cells, however the name was typed


def test_an_ordinary_batch_report_reads_as_before() -> None:
    position = BatchPosition(7, "IMP-1", {"confirmed": 2}, Waiting.NOTHING, None, "张伟")
    steps = [StepResult("notify", moved=[1, 2], notices_queued=1), StepResult("decide")]
    steps[1].refused = {3: ["审核人不得为提出人"]}
    assert batch_report(position, steps) == (
        "## 批次 IMP-1：已无待办\n\n| 状态 | 名单数 |\n|---|---:|\n"
        f"| {LISTING_STATE_LABELS['confirmed']} | 2 |\n\n"
        "| 步骤 | 变更名单 | 新建部门事项 | 入队通知 | 待邮寄/直接送达 |\n"
        "|---|---:|---:|---:|---:|\n| 告知 | 2 | 0 | 1 | 0 |\n| 操作员决定 | 0 | 0 | 0 | 0 |\n"
        "\n### 未能推进的名单\n\n- 名单 3：审核人不得为提出人\n"
    )


def test_the_artifacts_module_is_pure() -> None:
    assert _imported_packages(ARTIFACTS) & IMPURE == set()


def test_no_module_escapes_a_table_cell_its_own_way() -> None:
    """A `|` in a cell is escaped by `notifications.artifacts.markdown_cell`, nowhere else."""
    offenders = [
        str(path.relative_to(REPO))
        for path in _sources("registry", "notifications", "service", "tasks", "flows")
        if path != ARTIFACTS and AD_HOC_ESCAPE.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_only_one_helper_pauses_or_suspends_a_flow() -> None:
    """Waiting for an operator (suspend from a deployment, else pause) is `ask_operator`'s."""
    callers = [
        str(path.relative_to(REPO))
        for path in _sources("tasks", "flows", "deployments")
        if PAUSE_OR_SUSPEND.search(path.read_text(encoding="utf-8"))
    ]
    assert callers == ["flows/operator_ui.py"]


def test_tasks_return_models_not_dicts() -> None:
    """A task hands its flow the core's typed result; only a flow's own return is a dict."""
    untyped = []
    for path in _sources("tasks"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            is_task = any(
                "task" in ast.unparse(decorator).split("(")[0] for decorator in node.decorator_list
            )
            returns = ast.unparse(node.returns) if node.returns else ""
            if is_task and "dict[str, Any]" in returns:
                untyped.append(f"{path.relative_to(REPO)}:{node.name}")
    assert untyped == []


def test_a_typed_department_and_reason_keep_their_heading_and_list_item() -> None:
    """Headings and list items take values through the same escaper as table cells."""
    refusal = Refusal("mem\n## 伪造", 5, ResponseKind.ACK, "ack", "理由|一\n- 伪造条目", "why")
    text = responses_report("mem\n## 伪造", "响应", ResponseResult(refused=[refusal]))
    lines = text.splitlines()
    assert lines[0] == "## 部门 mem ## 伪造：响应"
    assert "- 名单 5：理由/一 - 伪造条目（why）" in lines
    assert not any(line.startswith(("## 伪造", "- 伪造")) for line in lines)
