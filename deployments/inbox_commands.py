"""`jointcredit inbox`: the operator inbox on the command line — the same view as the Prefect
artifact `operator-inbox` (`registry.views.inbox`).

The waiting forms live in Prefect: they are listed when `PREFECT_API_URL` names a server, else
the command says it cannot list them (it never starts a temporary server just to find none).
"""

from __future__ import annotations

import asyncio

import httpx
from rich.markup import escape

from deployments.console import JsonFlag, emit_json, err, out, reported
from notifications.inbox import NO_PREFECT
from registry.views.inbox import OperatorInbox, WaitingForm


def inbox(as_json: JsonFlag = False) -> None:
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
        view = read_inbox(forms)
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
            f"待填写的表单（{len(view.forms)}）",
            [f"{f.run_name}：{f.waits_for}，已等待 {f.hours} 小时  {f.url}" for f in view.forms],
        )
    _section(
        f"搁置的通知（{view.parked_total}）",
        [
            f"通知 {p.notice_id} {p.kind} → {p.recipient}：{p.state}；{p.reason}"
            for p in view.parked
        ],
        more=view.parked_total - len(view.parked),
    )
    _section(
        f"需更正的联系方式（{len(view.contacts)}）",
        [
            f"{c.address}（{'、'.join(c.holders)}）：{c.problem}\n    更正：{c.fix}"
            for c in view.contacts
        ],
    )
    _section(
        f"逾期未处理的异议与移出申请（{view.overdue_total}）",
        [
            f"{o.kind} {o.case_id}（名单 {o.listing_id}）：{o.filed_on.isoformat()} 提出，"
            f"应于 {o.due.isoformat()} 前办结，{o.level}"
            for o in view.overdue
        ],
        more=view.overdue_total - len(view.overdue),
    )


def _section(heading: str, lines: list[str], *, more: int = 0) -> None:
    out.print(f"\n[bold]{escape(heading)}[/]")
    for line in lines or ["无"]:
        out.print(f"  {escape(line)}")
    if more > 0:
        out.print(f"  ……另有 {more} 条（--json 列出前 50 条）")
