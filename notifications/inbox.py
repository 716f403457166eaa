"""The operator inbox as Markdown: the Prefect artifact `operator-inbox` (one key, always current).

Lists, not tables: the artifact is read on a laptop and in the narrow panes of both Prefect UIs,
and a wide table hides its right-hand columns. Every value goes through `markdown_cell`, the one
escaper, so a name or a server's reply shows as stored. Each section shows what the view kept
(`registry.views.inbox.SHOWN` lines) and says how many more `jointcredit inbox --all` lists.
"""

from __future__ import annotations

from notifications.artifacts import markdown_cell
from registry.views.inbox import OperatorInbox

INBOX_KEY = "operator-inbox"
INBOX_DESCRIPTION = "操作员待办"

NO_PREFECT = "未配置 Prefect 服务器（PREFECT_API_URL），无法列出待填写的表单"

ALL_COMMAND = "jointcredit inbox --all"
"""The command that lists every line of every section (the artifact and the plain command
show the first `SHOWN`)."""


def more_line(total: int, shown: int) -> str | None:
    """What a capped section says below its lines; None when nothing was left out."""
    return f"……另有 {total - shown} 条，用 {ALL_COMMAND} 查看全部" if total > shown else None


def inbox_markdown(inbox: OperatorInbox) -> str:
    """The whole inbox; each section's heading carries its count, an empty one says 无."""
    lines = ["## 操作员待办", "", f"截至 {inbox.today.isoformat()}（北京时间）", ""]
    if inbox.forms is None:
        lines += ["### 待填写的表单", "", markdown_cell(NO_PREFECT), ""]
    else:
        lines += _section(
            "待填写的表单",
            inbox.forms_total,
            [
                f"[{markdown_cell(f.run_name)}]({f.url})：{markdown_cell(f.waits_for)}，"
                f"已等待 {f.hours} 小时"
                for f in inbox.forms
            ],
        )
    lines += _section(
        "搁置的通知",
        inbox.parked_total,
        [
            f"通知 {p.notice_id} {markdown_cell(p.kind)} → {markdown_cell(p.recipient)}："
            f"{markdown_cell(p.state)}；{markdown_cell(p.reason)}"
            for p in inbox.parked
        ],
        "邮箱无误、只需再试的：`jointcredit outbox retry-failed --id <编号>`；"
        "邮箱有误的，先更正联系方式（下一节），被搁置的通知随之重新投递。",
    )
    lines += _section(
        "需更正的联系方式",
        inbox.contacts_total,
        [
            f"{markdown_cell(c.address)}（{markdown_cell('、'.join(c.holders))}）："
            f"{markdown_cell(c.problem)}<br>更正：{markdown_cell(c.fix)}"
            for c in inbox.contacts
        ],
    )
    lines += _section(
        "逾期未处理的异议与移出申请",
        inbox.overdue_total,
        [
            f"{markdown_cell(o.kind)} {o.case_id}（名单 {o.listing_id}）："
            f"{o.filed_on.isoformat()} 提出，应于 {o.due.isoformat()} 前办结，"
            f"{markdown_cell(o.level)}"
            for o in inbox.overdue
        ],
        "异议用 `jointcredit objection decide`，移出申请在 review-removals 的表单中"
        "或用 `jointcredit removal decide` 办理。",
    )
    return "\n".join(lines).strip("\n") + "\n"


def _section(title: str, total: int, items: list[str], advice: str = "") -> list[str]:
    """A section: its heading with the total, its items (or 无), the more-line when capped,
    and `advice` when it lists anything."""
    lines = [f"### {title}（{total}）", "", *(f"- {i}" for i in items)]
    if not items:
        lines.append("无")
    lines += _more(total, len(items))
    if items and advice:
        lines += ["", advice]
    return [*lines, ""]


def _more(total: int, shown: int) -> list[str]:
    line = more_line(total, shown)
    return [] if line is None else [f"- {line.replace(ALL_COMMAND, f'`{ALL_COMMAND}`')}"]
