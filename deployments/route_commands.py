"""`jointcredit route BATCH` and `jointcredit confirm BATCH`: move a batch from the terminal.

`route` runs the `route-batch` flow once on the Prefect engine and never waits: where the batch
needs an operator it returns and says so. `confirm` is the operator's decision without the UI;
it records the decision and routes on (publication and dispatch) through the same steps the
flow uses. If the decision was already given — in the UI or by another `confirm` — it changes
nothing and fails with the decision that stands. Both take a batch id or its reference.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.table import Table

from deployments.console import JsonFlag, emit_json, err, operator, out, reported
from registry.errors import JointcreditError
from registry.references import resolve_batch, resolve_listing
from registry.routing import Decision, Waiting
from registry.views import batch_view
from registry.vocabulary import (
    LISTING_STATE_LABELS,
    NOTICE_KIND_LABELS,
    STEP_LABELS,
    Step,
    label,
)
from service import opened_runtime, position, record_decision, run_query, run_step


class RejectionFormatError(JointcreditError):
    """A `--reject` value is not `ID=理由`."""


BatchArg = Annotated[
    str,
    typer.Argument(help="批次编号或批次号，如 12 或 IMP-20261127-A1B2C3（batch id or reference）"),
]


def route(batch: BatchArg, as_json: JsonFlag = False) -> None:
    """推进批次一次，不等待（run route-batch once; returns where the batch waits）。"""
    with reported(as_json):
        with opened_runtime() as runtime:  # an unknown batch is refused before Prefect starts
            batch_id, _ = run_query(runtime, lambda session: resolve_batch(session, batch))
        from flows.route import route_batch  # Prefect is imported only by the commands that run it

        result = asyncio.run(route_batch(batch_id, wait_for_operator=False))
        result["waiting_sentence"] = _waiting_sentence(batch_id)
    _show(result, as_json)


def confirm(
    batch: BatchArg,
    reviewer: Annotated[str, typer.Option("--reviewer", help="审核人姓名（reviewer）")],
    decision_number: Annotated[
        str,
        typer.Option(
            "--decision-number",
            help="一般不填：列入决定文号由系统逐条自动编号；仅当只确认一条名单且已有纸质决定书时"
            "填写其文号（an existing number, for exactly one listing）",
        ),
    ] = "",
    reject: Annotated[
        list[str] | None,
        typer.Option(
            "--reject",
            help="不予列入：名单编号=理由，编号也可写函件中的“批次号-编号”，可重复（ID=reason）",
        ),
    ] = None,
    hold_others: Annotated[
        bool, typer.Option("--hold-others", help="其余名单暂不确认（leave the rest awaiting）")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """确认批次并继续推进：公开、推送各部门（confirm a batch and route on）。

    若他人已先作出决定（Prefect 界面表单或另一条 confirm），本命令不作任何变更，报告“已由他人决定”
    及现行决定，退出码 2；--json 输出含 "already_decided": true。本次尝试记入审计记录。
    """
    # The decision is the core's, under the batch's lock (registry.routing.decide); the help
    # text above is what the operator reads, so it is Chinese.
    with reported(as_json):
        parsed = _rejections(reject or [])
        with opened_runtime() as runtime:
            batch_id, _ = run_query(runtime, lambda session: resolve_batch(session, batch))
            rejections = run_query(
                runtime,
                lambda session: {resolve_listing(session, k)[0]: v for k, v in parsed.items()},
            )
            decision = Decision(
                reviewer=reviewer.strip(),
                decision_number=decision_number,
                rejections=rejections,
                approve_others=not hold_others,
            )
            steps = [record_decision(runtime, batch_id, decision, source="cli:confirm")]
            for step in (Step.PUBLISH, Step.DISPATCH):
                steps.append(
                    run_step(runtime, batch_id, step, actor=operator(), source="cli:confirm")
                )
            after = position(runtime, batch_id)
        result = {**after.as_dict(), "steps": [s.as_dict() for s in steps]}
        result["waiting_sentence"] = _waiting_sentence(batch_id)
    _show(result, as_json)


def _waiting_sentence(batch_id: int) -> str:
    """What the batch waits on, as `jointcredit batch show` and the batch artifact say it."""
    with opened_runtime() as runtime:
        return run_query(runtime, lambda session: batch_view(session, batch_id).waiting_on)


def _rejections(values: list[str]) -> dict[str, str]:
    rejections: dict[str, str] = {}
    for value in values:
        listing, separator, reason = value.partition("=")
        if not separator or not listing.strip() or not reason.strip():
            raise RejectionFormatError(
                f"--reject 的格式应为 名单编号=理由（expected ID=reason）：{value!r}", value=value
            )
        rejections[listing.strip()] = reason.strip()
    return rejections


def _show(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(result)
        return
    table = Table(title=f"批次 {result['reference']}（batch {result['batch_id']}）")
    table.add_column("状态", overflow="fold")
    table.add_column("名单数", justify="right", overflow="fold")
    for state, count in result["states"].items():
        table.add_row(LISTING_STATE_LABELS.get(state, state), str(count))
    out.print(table)
    for step in result.get("steps", []):
        if step["moved"] or step["actions_created"] or step["notices_queued"]:
            out.print(
                f"  {label(STEP_LABELS, step['step'])}：变更 {step['moved']} 条，"
                f"新建部门事项 {step['actions_created']}，入队通知 {step['notices_queued']}"
            )
        for letter in step.get("for_post", []):
            err.print(
                f"[yellow]名单 {letter['listing_id']} 的"
                f"{label(NOTICE_KIND_LABELS, letter['kind'])}须邮寄或直接送达"
                "（jointcredit notice print）[/]"
            )
    out.print(f"当前：{result['waiting_sentence']}")
    if result["waiting_on"] == Waiting.OPERATOR.value:
        out.print(
            "请在 Prefect 界面确认，或执行 "
            f"jointcredit confirm {result['batch_id']} --reviewer 姓名"
        )
