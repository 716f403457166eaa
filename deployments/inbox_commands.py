"""`jointcredit inbox`: the operator inbox on the command line — the same view as the Prefect
artifact `operator-inbox` (`registry.views.inbox`).

The waiting forms live in Prefect: they are listed when `PREFECT_API_URL` names a server, else
the command says it cannot list them (it never starts a temporary server just to find none).
Like the artifact it shows the first `SHOWN` lines of each section and counts the rest;
`--all` lists every line (with `--json` too).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
import typer
from rich.markup import escape

from deployments.console import JsonFlag, emit_json, err, out, reported
from notifications.inbox import NO_PREFECT, more_line
from registry.views.inbox import SHOWN, OperatorInbox, WaitingForm

AllFlag = Annotated[
    bool,
    typer.Option("--all", help=f"列出每一节的全部条目，默认每节前 {SHOWN} 条（list every line）"),
]


def inbox(as_json: JsonFlag = False, everything: AllFlag = False) -> None:
    """操作员待办：待填的表单、搁置的通知、待更正的联系方式、逾期的异议与移出申请（inbox）。"""
    from prefect.settings import PREFECT_API_URL

    from tasks.inbox import read_inbox

    forms: list[WaitingForm] | None = None
    problem = NO_PREFECT
    if PREFECT_API_URL.value():
        try:
            forms = asyncio.run(_waiting_forms())
        except (httpx.HTTPError, OSError) as exc:
            problem = (
                f"无法连接 Prefect 服务器 {PREFECT_API_URL.value()}，未能列出待填写的表单：{exc}"
            )
    with reported(as_json):
        view = read_inbox(forms, shown=None if everything else SHOWN)
    if as_json:
        emit_json(view.as_dict())
        return
    if forms is None:
        err.print(f"[yellow]提示：[/]{escape(problem)}")
    _print(view)


async def _waiting_forms() -> list[WaitingForm]:
    from prefect.client.orchestration import get_client

    from tasks.inbox import read_waiting_forms

    async with get_client() as client:
        return await read_waiting_forms(client)


def _print(view: OperatorInbox) -> None:
    out.print(f"[bold]操作员待办[/]（截至 {view.today.isoformat()}，北京时间）")
    if view.forms is None:
        out.print("\n[bold]待填写的表单[/]\n  无法列出（未配置 Prefect 服务器）")
    else:
        _section(
            f"待填写的表单（{view.forms_total}）",
            [f"{f.run_name}：{f.waits_for}，已等待 {f.hours} 小时  {f.url}" for f in view.forms],
            total=view.forms_total,
        )
    _section(
        f"搁置的通知（{view.parked_total}）",
        [
            f"通知 {p.notice_id} {p.kind} → {p.recipient}：{p.state}；{p.reason}"
            for p in view.parked
        ],
        total=view.parked_total,
    )
    _section(
        f"需更正的联系方式（{view.contacts_total}）",
        [
            f"{c.address}（{'、'.join(c.holders)}）：{c.problem}\n    更正：{c.fix}"
            for c in view.contacts
        ],
        total=view.contacts_total,
    )
    _section(
        f"逾期未处理的异议与移出申请（{view.overdue_total}）",
        [
            f"{o.kind} {o.case_id}（名单 {o.listing_id}）：{o.filed_on.isoformat()} 提出，"
            f"应于 {o.due.isoformat()} 前办结，{o.level}"
            for o in view.overdue
        ],
        total=view.overdue_total,
    )


def _section(heading: str, lines: list[str], *, total: int) -> None:
    out.print(f"\n[bold]{escape(heading)}[/]")
    more = more_line(total, len(lines))
    for line in (lines or ["无"]) + ([more] if more else []):
        out.print(f"  {escape(line)}")
