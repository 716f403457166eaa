"""The Markdown every run shows an operator in the Prefect UI: the artifacts and the tables above
the forms, in one place, with one escaper for their cells.

Pure text from the core's typed results — no Prefect, no database — so each artifact is tested
as a function and reads the same whichever flow or command produced its figures. A cell is
passed through `markdown_cell`: a `|` would end the cell and a line break the row, and a subject
name, a reason or a server reply may hold either.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from notifications.delivery import DrainReport
from registry.clock import BUSINESS_TZ
from registry.intake import ImportResult
from registry.reporting import MonthlyReport
from registry.reporting.monthly import NO_RATIO, JurisdictionFigures, percent_text
from registry.reporting.sla import COLUMNS, DepartmentSla, median_label, totals
from registry.responses import ResponseResult
from registry.route_queue import FormRequests, RoutedBatch
from registry.routing import BatchPosition, ReviewRow, StepResult
from registry.service_of_notices import service_label
from registry.sla_sweep import SweepResult
from registry.views.batch import BatchView
from registry.views.removal_review import PendingRemoval
from registry.vocabulary import (
    CHANNEL_LABELS,
    LISTING_STATE_LABELS,
    NOTICE_KIND_LABELS,
    REMOVAL_REVIEW_REASON_LABELS,
    STEP_LABELS,
    label,
)

_MARKDOWN_SPECIAL = frozenset("\\`*_{}[]<>|~&#")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def markdown_cell(text: object) -> str:
    """Any stored value put into Markdown (a table cell, heading, list item, line or an
    artifact's description), so that the Prefect UI shows it exactly as stored.

    Each character Markdown or HTML could read as syntax (`\\ ` * _ { } [ ] < > | ~ & #`) is
    backslash-escaped — CommonMark shows the character itself, in both Prefect UIs, in
    paragraphs, list items and GFM table cells (a `\\|` does not end a cell); so
    `<script>` shows as typed and is never run or dropped, `*x*` is no emphasis, `[a](b)` no
    link. Each line break (CRLF, LF or CR) becomes `<br>`, which both UIs show as a line break,
    also inside a cell, so a value never ends the line, row or item it stands on. Every other
    character, spaces included, is kept as stored (a browser shows a run of spaces as one, as
    it does everywhere else). A value always follows other text on its line, so a leading
    `-`, `+` or `1.` cannot start a list.
    """
    escaped = "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in str(text))
    return _LINE_BREAK.sub("<br>", escaped)


# --- route-batch ---------------------------------------------------------------------------


REVIEW_SHOWN = 50
REFUSALS_SHOWN = 50


def review_markdown(
    position: BatchPosition, rows: Sequence[ReviewRow], limit: int = REVIEW_SHOWN
) -> str:
    """The Markdown above the confirmation form, made to fit the ~450 px modal of either UI.

    The count needing attention comes first, then the listings with something to check (a
    warning, 需人工核对), then the rest, each by number. One list item per listing, its lines
    joined by `<br>` (no table: five columns overflow the modal): number, name and identifier,
    认定依据, 申辩, then each warning in bold on its own line. At most `limit` listings; the note
    under them says where the rest are.
    """
    attention = [r for r in rows if r.needs_attention]
    ordered = [*attention, *(r for r in rows if not r.needs_attention)]
    count = f"共 {len(rows)} 条" + (f"，其中 {len(attention)} 条需核对" if attention else "")
    lines = [f"### 批次 {markdown_cell(position.reference)} 待确认名单（{count}）", ""]
    lines += [_review_item(r) for r in ordered[:limit]]
    hidden = ordered[limit:]
    if hidden:
        still = sum(r.needs_attention for r in hidden)
        lines += [
            "",
            f"另有 {len(hidden)} 条未在此列出"
            + (f"（其中 {still} 条需核对）" if still else "（均无提示）")
            + f"，见本批次报告或 `jointcredit batch show {position.batch_id}`。",
        ]
    lines += [
        "",
        "默认确认全部名单。对不予列入的名单，请在“不予列入的名单”中逐条选择名单编号并填写理由；"
        f"审核人不得为提出人（本批次提出人：{markdown_cell(position.proposed_by)}）。",
    ]
    return "\n".join(lines)


def _review_item(row: ReviewRow) -> str:
    parts = [
        f"**{row.listing_id}** {markdown_cell(row.subject)}（{markdown_cell(row.identifier)}）",
        f"认定依据：{markdown_cell(row.grounds)}",
        f"申辩：{markdown_cell(row.defence)}",
        *(_bold_warning(w) for w in row.warnings),
    ]
    return "- " + "<br>".join(parts)


def _bold_warning(text: str) -> str:
    # Bold closes only next to a non-space: the ends of a stored warning are trimmed.
    return f"**⚠ {markdown_cell(text.strip())}**"


NUMBERS_SHOWN = 20


def batch_report(view: BatchView, steps: Sequence[StepResult]) -> str:
    """`route-batch`'s artifact: the batch view `jointcredit batch show` prints — the same
    “当前等待” sentence, the decision (reviewer, decision numbers), the listings not listed with
    their reasons, the parties still to be served by other means — then what each step of this
    run did."""
    lines = [
        f"## 批次 {markdown_cell(view.reference)}（编号 {view.id}）",
        "",
        f"**当前等待：**{markdown_cell(view.waiting_on)}",
        "",
        "| 状态 | 名单数 |",
        "|---|---:|",
        *(
            f"| {markdown_cell(label(LISTING_STATE_LABELS, state))} | {count} |"
            for state, count in view.listing_states.items()
        ),
        "",
        *_decision_lines(view),
        *_awaiting_service_lines(view),
        "### 本次运行各步骤",
        "",
        "| 步骤 | 变更名单 | 新建部门事项 | 入队通知 | 待邮寄/直接送达 |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {markdown_cell(STEP_LABELS.get(s.step, s.step))} | {len(s.moved)} "
            f"| {s.actions_created} | {s.notices_queued} | {len(s.for_post)} |"
            for s in steps
        ),
    ]
    refused = {str(k): v for s in steps for k, v in s.refused.items()}
    if refused:
        lines += ["", "### 未能推进的名单", ""]
        lines += [
            f"- 名单 {markdown_cell(k)}：{markdown_cell('；'.join(v))}"
            for k, v in list(refused.items())[:REFUSALS_SHOWN]
        ]
        if len(refused) > REFUSALS_SHOWN:
            lines.append(f"- 另有 {len(refused) - REFUSALS_SHOWN} 条，见本次运行的日志")
    lines += ["", f"全部名单及各部门响应：`jointcredit batch show {view.id}`"]
    return "\n".join(lines) + "\n"


def batch_report_description(view: BatchView) -> str:
    """The artifact's one-line description: the batch and what it waits on."""
    return f"批次 {markdown_cell(view.reference)}：{markdown_cell(view.waiting_on)}"


def _decision_lines(view: BatchView) -> list[str]:
    if not view.reviewers and not view.rejected_total and not view.decision_number_total:
        return ["操作员决定：尚未决定", ""]
    numbers = "、".join(markdown_cell(n) for n in view.decision_numbers[:NUMBERS_SHOWN])
    if view.decision_number_total > NUMBERS_SHOWN:
        numbers += f" 等，共 {view.decision_number_total} 个"
    decided_at = (
        view.decided_at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")
        if view.decided_at
        else "—"
    )
    lines = [
        "### 操作员决定",
        "",
        f"- 审核人：{'、'.join(markdown_cell(r) for r in view.reviewers) or '—'}",
        f"- 决定时间（北京时间）：{decided_at}",
        f"- 列入决定文号：{numbers or '—'}",
        f"- 不予列入：{view.rejected_total} 条",
        "",
    ]
    if view.rejected:
        lines += [f"### 不予列入的名单（{view.rejected_total} 条）", ""]
        lines += [
            f"- **{r.id}** {markdown_cell(r.subject_name)}（{markdown_cell(r.identifier)}）"
            f"<br>理由：{markdown_cell(r.reason) or '—'}"
            for r in view.rejected
        ]
        if view.rejected_total > len(view.rejected):
            lines.append(f"- 另有 {view.rejected_total - len(view.rejected)} 条，见 `batch show`")
        lines.append("")
    return lines


def _awaiting_service_lines(view: BatchView) -> list[str]:
    """The party letters not served yet: their windows do not run until they are."""
    if not view.awaiting_service:
        return ["待送达的当事人文书：无", ""]
    lines = [f"### 待送达的当事人文书（{view.awaiting_service_total} 份）", ""]
    lines += [
        f"- **{a.listing_id}** {markdown_cell(a.subject_name)}（{markdown_cell(a.identifier)}）"
        f"<br>{markdown_cell(label(NOTICE_KIND_LABELS, a.kind))}"
        f"{'，' + markdown_cell(a.letter_number) if a.letter_number else ''}"
        f"（通知编号 {a.notice_id}）<br>"
        f"送达途径：{markdown_cell(label(CHANNEL_LABELS, a.channel))}，"
        f"{markdown_cell(service_label(a.service_state, None, None))}"
        for a in view.awaiting_service
    ]
    if view.awaiting_service_total > len(view.awaiting_service):
        lines.append(f"- 另有 {view.awaiting_service_total - len(view.awaiting_service)} 份")
    lines += [
        "",
        "邮寄或直接送达的文书用 `jointcredit notice print` 打印，"
        "送达后用 `jointcredit notice served` 登记；未送达的当事人，其期限不起算。",
        "",
    ]
    return lines


def sweep_report(routed: Sequence[RoutedBatch], failed: Sequence[int], forms: FormRequests) -> str:
    """`route-due-batches`: each batch moved and where it waits now; the forms put up."""
    lines = [
        "## 定时推进批次",
        "",
        "| 批次 | 本次推进名单 | 当前 |",
        "|---|---:|---|",
        *(
            f"| {markdown_cell(r.reference)}（{r.batch_id}） | {r.moved} "
            f"| {markdown_cell(r.waiting_label)} |"
            for r in routed
        ),
    ]
    if not routed:
        lines.append("| — | 0 | 无到期批次 |")
    stuck = [r for r in routed if r.moved == 0]
    if stuck:
        lines += ["", "未能推进的批次（请查看批次报告中的原因）："]
        lines += [f"- {markdown_cell(r.reference)}（{r.batch_id}）" for r in stuck]
    if failed:
        lines += ["", f"推进失败的批次：{'、'.join(map(str, failed))}"]
    lines += ["", f"新生成的确认表单：{'、'.join(map(str, forms.requested)) or '无'}"]
    if forms.already_open:
        lines.append(f"已有待处理表单的批次：{'、'.join(map(str, forms.already_open))}")
    if forms.deployment_missing:
        lines.append("未找到 route-batch 部署：请用 `jointcredit confirm` 确认等待中的批次。")
    return "\n".join(lines) + "\n"


# --- intake-batch --------------------------------------------------------------------------

QUARANTINE_SHOWN = 2_000


def intake_report(imported: ImportResult, notified: StepResult | None) -> str:
    """The intake run's artifact: counts, then every quarantined row (row, column, reason) up
    to `QUARANTINE_SHOWN`, the rest counted with the command that prints them all; the report
    file the reporter gets back is named last, as where it is kept, not as the way to read it."""
    lines = [
        f"## 导入批次 {markdown_cell(imported.batch_reference)}（编号 {imported.batch_id}）",
        "",
        "| 项目 | 数量 |",
        "|---|---:|",
        f"| 接收（待审核） | {imported.accepted} |",
        f"| 其中需人工核对 | {imported.needs_review} |",
        f"| 隔离的问题行 | {imported.rejected} |",
        f"| 已发出告知书 | {notified.notices_queued if notified else 0} |",
    ]
    lines += [f"\n提示：{markdown_cell(w)}" for w in imported.warnings]
    shown = imported.quarantine[:QUARANTINE_SHOWN]
    if shown:
        lines += [
            "",
            f"### 问题行（共 {imported.quarantine_total} 条）",
            "",
            "| 行号 | 列 | 原因 |",
            "|---:|---|---|",
        ]
        lines += [
            f"| {q.row_number} | {markdown_cell(q.column)} | {markdown_cell(q.reason_zh)} |"
            for q in shown
        ]
    if imported.quarantine_total > len(shown):
        lines += [
            "",
            f"另有 {imported.quarantine_total - len(shown)} 条未在此列出，全部问题行："
            f"`jointcredit batch quarantine {imported.batch_id}`",
        ]
    if imported.quarantine_path:
        name = markdown_cell(imported.quarantine_path.name)
        lines += ["", f"隔离报告文件（退回报送单位用，在服务器数据目录的 quarantine 下）：{name}"]
    return "\n".join(lines) + "\n"


# --- review-removals -----------------------------------------------------------------------


def removal_review_markdown(pending: Sequence[PendingRemoval], limit: int = REVIEW_SHOWN) -> str:
    """The Markdown above the removal form, in the confirmation form's compact style (one list
    item per listing, no table): what waits for a decision, and why."""
    lines = [f"### 待决定的移出（共 {len(pending)} 条）", ""]
    lines += [_removal_item(p) for p in pending[:limit]]
    if len(pending) > limit:
        lines += ["", f"另有 {len(pending) - limit} 条未在此列出，本次决定后下次审查时再列出。"]
    lines += ["", "在“同意移出”中填入名单编号；不同意的请在“不予移出”中逐条说明理由。"]
    return "\n".join(lines)


def _removal_item(pending: PendingRemoval) -> str:
    reason = REMOVAL_REVIEW_REASON_LABELS.get(pending.removal_reason or "", pending.removal_reason)
    application = f"（申请 #{pending.application_id}）" if pending.application_id else ""
    parts = [
        f"**{pending.id}** {markdown_cell(pending.name)}",
        f"规则：{markdown_cell(pending.rule_set)}",
        f"原因：{markdown_cell(reason)}{application}",
        f"有效期至：{pending.expires_on}",
    ]
    return "- " + "<br>".join(parts)


def removal_report(review: StepResult, pending: Sequence[PendingRemoval], decided: int) -> str:
    return (
        "## 移出审查\n\n"
        "| 项目 | 数量 |\n|---|---:|\n"
        f"| 期满进入审查 | {len(review.moved)} |\n"
        f"| 解除函涉及的部门事项 | {review.actions_created} |\n"
        f"| 入队通知 | {review.notices_queued} |\n"
        f"| 等待操作员决定 | {len(pending)} |\n"
        f"| 本次已决定 | {decided} |\n"
    )


# --- record-responses ----------------------------------------------------------------------


def responses_report(department: str, kind_label: str, result: ResponseResult) -> str:
    """The run's artifact: counts, then every refused answer with its reason."""
    summary = result.as_dict()
    lines = [
        f"## 部门 {markdown_cell(department)}：{kind_label}",
        "",
        "| 项目 | 事项数 |",
        "|---|---:|",
        f"| 本次记录 | {summary['recorded']} |",
        f"| 其中逾期 | {summary['late']} |",
        f"| 此前已记录（未重复记录） | {summary['already']} |",
        f"| 被拒绝 | {summary['refused']} |",
    ]
    late_ids: list[int] = summary["late_listing_ids"]
    if late_ids:
        lines += ["", f"逾期名单：{'、'.join(map(str, late_ids[:100]))}"]
    if result.refused:
        lines += ["", "### 被拒绝的答复", ""]
        lines += [
            f"- 名单 {r.listing_id if r.listing_id is not None else '—'}："
            f"{markdown_cell(r.reason_zh)}（{markdown_cell(r.reason_en)}）"
            for r in result.refused[:REFUSALS_SHOWN]
        ]
        if len(result.refused) > REFUSALS_SHOWN:
            lines.append(f"- 另有 {len(result.refused) - REFUSALS_SHOWN} 条")
    return "\n".join(lines) + "\n"


# --- sweep-sla -----------------------------------------------------------------------------


def sla_markdown(lines: Sequence[DepartmentSla], *, today: date) -> str:
    """The department table of the sweep's artifact (one row per department, then the total)."""
    header = [title for key, title in COLUMNS if key != "department"]
    rows = [
        f"## 各部门办理时限统计（{today.isoformat()}）",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    for line in [*lines, totals(lines)] if lines else []:
        rows.append(
            f"| {markdown_cell(_department_label(line))} | {line.actions} | {line.open} "
            f"| {line.on_time} | {line.overdue} | {line.reminded} | {line.escalated} "
            f"| {line.acknowledged} | {median_label(line.median_ack_wd)} |"
        )
    if not lines:
        rows.append("| 暂无部门事项 |" + " |" * (len(header) - 1))
    rows += [
        "",
        "未办结 = 未逾期 + 已逾期；已催办、已督办为累计数；响应用时为推送日至响应日的工作日数。",
    ]
    return "\n".join(rows) + "\n"


def _department_label(line: DepartmentSla) -> str:
    return line.name if line.department == "*" else f"{line.name}（{line.department}）"


def sweep_markdown(swept: SweepResult) -> str:
    """What one sweep did, above the department table."""
    summary = swept.as_dict()
    lines = [f"## 时限巡查结果（{summary['today']}）", ""]
    if not swept.working_day:
        lines.append("今天不是工作日，不发催办函、督办函（not a working day: no letters）。")
        return "\n".join(lines) + "\n"
    reminders: dict[str, int] = summary["reminders_by_department"]
    escalations: dict[str, int] = summary["escalations_by_department"]
    lines += [
        "| 项目 | 数量 |",
        "|---|---:|",
        f"| 新催办事项 | {summary['reminded']} |",
        f"| 新督办事项 | {summary['escalated']} |",
        f"| 入队通知 | {summary['notices_queued']} |",
    ]
    if reminders or escalations:
        lines += ["", "| 部门代码 | 催办事项 | 督办事项 |", "|---|---:|---:|"]
        lines += [
            f"| {markdown_cell(code)} | {reminders.get(code, 0)} | {escalations.get(code, 0)} |"
            for code in sorted({*reminders, *escalations})
        ]
    unknown = swept.unknown_departments
    if unknown:
        lines += ["", "### 无法催办（部门不在 departments.yml 中）", ""]
        lines += [f"- {markdown_cell(code)}：{count} 项" for code, count in sorted(unknown.items())]
    return "\n".join(lines) + "\n"


# --- monthly-report ------------------------------------------------------------------------


def monthly_markdown(report: MonthlyReport, *, location: str | None = None) -> str:
    """The headline table of the run's artifact: each jurisdiction's ratio, then the total."""
    target = percent_text(report.target)
    lines = [
        f"## {report.month.label}典型案例月报",
        "",
        f"典型案例占比目标：不低于 {target}；报送月份以名单提出时间（北京时间）为准。",
        "",
        "| 辖区 | 红名单 | 黑名单 | 典型案例 | 占比 | 是否达标 |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for line in [*report.jurisdictions, report.total]:
        status = "**未达标**" if line.below_target else _target_status(line)
        lines.append(
            f"| {markdown_cell(line.name)} | {line.red} | {line.black} | {line.typical} "
            f"| {percent_text(line.ratio)} | {status} |"
        )
    below = report.below_target
    lines += [
        "",
        f"未达标辖区：{'、'.join(b.name for b in below)}（{len(below)} 个）"
        if below
        else ("各辖区均已达标。" if report.jurisdictions else "本月各辖区未报送红、黑名单。"),
    ]
    sla = report.department_total
    if report.departments:
        lines += [
            "",
            f"部门办理时效（截至 {report.as_of.isoformat()}）：推送事项 {sla.actions} 项，"
            f"按时响应率 {percent_text(sla.ack_on_time_ratio)}，"
            f"按时反馈率 {percent_text(sla.feedback_on_time_ratio)}，"
            f"逾期未办 {sla.overdue_open} 项，已督办 {sla.escalated} 项。",
        ]
    if report.party_cases:
        lines += [
            "",
            f"当事人异议与移出申请（本月收到，截至 {report.as_of.isoformat()}）：",
            "",
            "| 事项 | 收到 | 按时答复 | 逾期答复 | 未逾期待答复 | 逾期未答复 |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {c.label} | {c.received} | {c.answered_on_time} | {c.answered_late} "
            f"| {c.open_on_time} | {c.open_overdue} |"
            for c in report.party_cases
        ]
    lines += _monthly_detail(report)
    if location:
        lines += [
            "",
            "以上即本月报告的内容。同一报告的 HTML、CSV 文件（报送领导的邮件附有链接）"
            f"存放在服务器目录：{markdown_cell(location)}",
        ]
    return "\n".join(lines) + "\n"


def _monthly_detail(report: MonthlyReport) -> list[str]:
    """The rest of the report's content: each department, grounds, industries, the trend."""
    lines: list[str] = []
    if report.departments:
        lines += [
            "",
            "#### 各部门办理时效",
            "",
            "| 部门 | 推送事项 | 按时响应率 | 按时反馈率 | 逾期未办 | 已督办 |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {markdown_cell(d.name)} | {d.actions} | {percent_text(d.ack_on_time_ratio)} "
            f"| {percent_text(d.feedback_on_time_ratio)} | {d.overdue_open} | {d.escalated} |"
            for d in report.departments
        ]
    for title, counts in (("按认定依据", report.grounds), ("按行业", report.industries)):
        if counts:
            lines += ["", f"#### {title}", "", "| 类别 | 名单数 | 典型案例 |", "|---|---:|---:|"]
            lines += [f"| {markdown_cell(c.label)} | {c.entries} | {c.typical} |" for c in counts]
    if report.trend:
        lines += [
            "",
            "#### 近期趋势",
            "",
            "| 月份 | 红名单 | 黑名单 | 典型案例 | 占比 |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {markdown_cell(t.label)} | {t.red} | {t.black} | {t.typical} "
            f"| {percent_text(t.ratio)} |"
            for t in report.trend
        ]
    return lines


def _target_status(line: JurisdictionFigures) -> str:
    if line.ratio is None:
        return NO_RATIO
    return "未达标" if line.below_target else "达标"


# --- deliver-notices -----------------------------------------------------------------------


def drain_report_markdown(report: DrainReport) -> str:
    """The Prefect artifact of a drain: counts, then the parked notices an operator must see."""
    lines = [
        "## 通知投递结果",
        "",
        "| 项目 | 数量 |",
        "|---|---:|",
        f"| 本次领取 | {report.claimed} |",
        f"| 已发出 | {report.sent} |",
        f"| 暂时失败，待重试 | {report.retry} |",
        f"| 永久失败（已搁置，联系人已标记） | {report.failed} |",
        f"| 重试次数用尽（已放弃） | {report.dead} |",
        f"| 租约已被他人接管 | {report.lease_lost} |",
        f"| 未及发送、已交还队列 | {report.released} |",
    ]
    if report.failures:
        lines += ["", "### 需要处理的通知", "", "| 通知编号 | 收件人 | 服务器答复 |"]
        lines += ["|---:|---|---|"]
        lines += [
            f"| {f['notice_id']} | {markdown_cell(f['recipient'])} | {markdown_cell(f['reply'])} |"
            for f in report.failures
        ]
        lines += ["", "更正联系人后执行 `jointcredit outbox retry-failed --id <编号>` 重新投递。"]
    return "\n".join(lines) + "\n"
