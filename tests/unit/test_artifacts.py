"""The Markdown operators read in the Prefect UI: one cell escaper, one pure module, and the
Prefect boundary typed (tasks return models, one helper waits for the operator)."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from notifications.artifacts import (
    QUARANTINE_SHOWN,
    batch_report,
    batch_report_description,
    intake_report,
    removal_review_markdown,
    responses_report,
    review_markdown,
)
from registry.intake import ImportResult
from registry.responses import Refusal, ResponseResult
from registry.routing import BatchPosition, ReviewRow, StepResult, Waiting
from registry.spreadsheet import QuarantineLine
from registry.views.batch import AwaitingService, BatchView, RejectedListing
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


def test_a_name_with_a_pipe_and_a_newline_stays_in_its_removal_item() -> None:
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
    text = removal_review_markdown(pending)
    item = next(line for line in text.splitlines() if line.startswith("- **7**"))
    assert item == (
        "- **7** 某某\\|建材<br>有限公司<br>规则：saws-2017-sanction"
        "<br>原因：当事人申请移出（申请 #3）<br>有效期至：2026-12-01"
    )
    assert "|---" not in text  # no table in the narrow form


def _row(listing_id: int, name: str, *warnings: str) -> ReviewRow:
    return ReviewRow(
        listing_id=listing_id,
        subject=name,
        identifier=f"9151000020250{listing_id:05d}",
        grounds="g1（第十条）",
        defence="期满未提出",
        warnings=tuple(warnings),
    )


POSITION = BatchPosition(9, "IMP-20261127-A1B2C3", {}, Waiting.OPERATOR, None, "李四")


def test_the_review_counts_what_needs_attention_and_lists_it_first() -> None:
    rows = [
        _row(11, "甲公司"),
        _row(12, "乙公司", "需人工核对", "统一社会信用代码 91350100M0001TGQXM 校验位不符"),
        _row(13, "丙公司"),
        _row(14, "丁公司", "名称与已登记的主体不同"),
    ]
    text = review_markdown(POSITION, rows)
    lines = text.splitlines()
    assert lines[0] == "### 批次 IMP-20261127-A1B2C3 待确认名单（共 4 条，其中 2 条需核对）"
    items = [line for line in lines if line.startswith("- ")]
    assert [re.match(r"- \*\*(\d+)\*\*", i).group(1) for i in items] == ["12", "14", "11", "13"]  # type: ignore[union-attr]
    assert items[0].split("<br>") == [
        "- **12** 乙公司（915100002025000012）",
        "认定依据：g1（第十条）",
        "申辩：期满未提出",
        "**⚠ 需人工核对**",
        "**⚠ 统一社会信用代码 91350100M0001TGQXM 校验位不符**",
    ]
    assert review_markdown(POSITION, rows[:1]).splitlines()[0].endswith("（共 1 条）")
    # Who may not review is named before the reviewer field, not first in the error.
    assert lines[-1].endswith("审核人不得为提出人（本批次提出人：李四）。")


def test_the_review_has_no_wide_table_and_its_warnings_render_bold() -> None:
    rows = [_row(12, "乙|公司*", "校验位不符 ")]
    text = review_markdown(POSITION, rows)
    assert not [line for line in text.splitlines() if line.count("|") - line.count("\\|") > 4]
    parsed = MarkdownIt("commonmark").enable("table").parse(text)
    assert not [t for t in parsed if t.type == "table_open"]
    item = next(t for t in parsed if t.type == "inline" and "校验位" in t.content)
    children = item.children or []
    strong = [i for i, t in enumerate(children) if t.type == "strong_open"]
    assert len(strong) == 2  # the number and the warning
    assert children[strong[1] + 1].content == "⚠ 校验位不符"


def test_the_review_stops_at_fifty_and_says_where_the_rest_are() -> None:
    rows = [_row(i, f"公司{i}") for i in range(1, 61)] + [_row(99, "末尾公司", "需人工核对")]
    text = review_markdown(POSITION, rows)
    items = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(items) == 50
    assert items[0].startswith("- **99**")  # the one needing attention first, though last
    assert "另有 11 条未在此列出（均无提示），见本批次报告或 `jointcredit batch show 9`。" in text


def _view(**changes: Any) -> BatchView:
    view = BatchView(
        id=7,
        reference="IMP-1",
        list_type="black",
        rule_set="mem-2023-serious",
        source_kind="file",
        source_name="a.csv",
        reporter=None,
        proposed_by="李四",
        status="open",
        accepted_count=3,
        rejected_count=0,
        created_at=datetime(2026, 11, 27, 2, 0, tzinfo=UTC),
        listing_states={"in_force": 2, "rejected": 1},
        listing_total=3,
        next_defence_due=None,
        next_defence_provisional=False,
        undispatched_in_force=0,
        action_states={"dispatched": 4},
        escalated_actions=0,
        notice_states={},
        listings=[],
        waiting_on="等待部门响应",
        awaiting_service=[
            AwaitingService(
                notice_id=31,
                listing_id=3,
                reference="IMP-1-3",
                subject_name="王某",
                identifier="110105********123X",
                kind="listing_decision",
                channel="post",
                service_state="pending",
                letter_number="应急信列〔2026〕2号",
            )
        ],
        awaiting_service_total=1,
        reviewers=["张伟"],
        decided_at=datetime(2026, 12, 10, 2, 0, tzinfo=UTC),
        decision_numbers=["应急信列〔2026〕1号", "应急信列〔2026〕2号"],
        decision_number_total=2,
        rejected=[RejectedListing(2, "IMP-1-2", "<b>某</b>公司", "91510000X", "证据不足*待补")],
        rejected_total=1,
    )
    return replace(view, **changes)


def test_the_batch_report_shows_the_view_and_the_steps() -> None:
    steps = [StepResult("notify", moved=[1, 2], notices_queued=1), StepResult("decide")]
    steps[1].refused = {3: ["审核人不得为提出人"]}
    text = batch_report(_view(), steps)
    assert text == (
        "## 批次 IMP-1（编号 7）\n\n**当前等待：**等待部门响应\n\n"
        "| 状态 | 名单数 |\n|---|---:|\n"
        f"| {LISTING_STATE_LABELS['in_force']} | 2 |\n"
        f"| {LISTING_STATE_LABELS['rejected']} | 1 |\n\n"
        "### 操作员决定\n\n- 审核人：张伟\n- 决定时间（北京时间）：2026-12-10 10:00\n"
        "- 列入决定文号：应急信列〔2026〕1号、应急信列〔2026〕2号\n- 不予列入：1 条\n\n"
        "### 不予列入的名单（1 条）\n\n"
        "- **2** \\<b\\>某\\</b\\>公司（91510000X）<br>理由：证据不足\\*待补\n\n"
        "### 待送达的当事人文书（1 份）\n\n"
        "- **3** 王某（110105\\*\\*\\*\\*\\*\\*\\*\\*123X）<br>决定书，应急信列〔2026〕2号"
        "（通知编号 31）<br>送达途径：邮寄/直接送达，未送达\n\n"
        "邮寄或直接送达的文书用 `jointcredit notice print` 打印，送达后用 "
        "`jointcredit notice served` 登记；未送达的当事人，其期限不起算。\n\n"
        "### 本次运行各步骤\n\n"
        "| 步骤 | 变更名单 | 新建部门事项 | 入队通知 | 待邮寄/直接送达 |\n"
        "|---|---:|---:|---:|---:|\n| 告知 | 2 | 0 | 1 | 0 |\n| 操作员决定 | 0 | 0 | 0 | 0 |\n"
        "\n### 未能推进的名单\n\n- 名单 3：审核人不得为提出人\n"
        "\n全部名单及各部门响应：`jointcredit batch show 7`\n"
    )
    assert batch_report_description(_view()) == "批次 IMP-1：等待部门响应"


def test_an_undecided_batch_says_so() -> None:
    view = _view(
        reviewers=[],
        decided_at=None,
        decision_numbers=[],
        decision_number_total=0,
        rejected=[],
        rejected_total=0,
        awaiting_service=[],
        awaiting_service_total=0,
        waiting_on="等待操作员确认",
    )
    text = batch_report(view, [])
    assert "操作员决定：尚未决定" in text
    assert "待送达的当事人文书：无" in text
    assert "**当前等待：**等待操作员确认" in text


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
    assert lines[0] == "## 部门 mem<br>\\#\\# 伪造：响应"
    assert "- 名单 5：理由\\|一<br>- 伪造条目（why）" in lines
    assert not any(line.startswith(("## 伪造", "- 伪造")) for line in lines)


def _imported(total: int, kept: int) -> ImportResult:
    lines = [
        QuarantineLine(i + 2, "名称", None, f"<script>x</script>第{i}行缺少名称*", "missing")
        for i in range(kept)
    ]
    return ImportResult(
        batch_id=4,
        batch_reference="IMP-20261127-A1B2C3",
        accepted=1,
        rejected=total,
        listing_ids=[1],
        quarantine=lines,
        quarantine_path=Path("/srv/jointcredit/var/quarantine/IMP-20261127-A1B2C3.csv"),
        warnings=[],
        quarantine_total=total,
    )


def test_the_intake_artifact_shows_every_quarantined_row_not_a_server_path() -> None:
    text = intake_report(_imported(QUARANTINE_SHOWN, QUARANTINE_SHOWN), None)
    rows = [line for line in text.splitlines() if re.match(r"\| \d+ \| ", line)]
    assert len(rows) == QUARANTINE_SHOWN
    assert rows[0] == "| 2 | 名称 | \\<script\\>x\\</script\\>第0行缺少名称\\* |"
    assert "/srv/" not in text
    assert text.rstrip().endswith("quarantine 下）：IMP-20261127-A1B2C3.csv")
    assert "jointcredit batch quarantine" not in text  # nothing left out


def test_the_intake_artifact_counts_the_rows_left_out_and_names_the_command() -> None:
    text = intake_report(_imported(QUARANTINE_SHOWN + 5, QUARANTINE_SHOWN), None)
    assert f"### 问题行（共 {QUARANTINE_SHOWN + 5} 条）" in text
    assert "另有 5 条未在此列出，全部问题行：`jointcredit batch quarantine 4`" in text
