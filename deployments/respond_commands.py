"""`jointcredit respond`: record a department's 响应 / 反馈 / 解除确认 from the terminal.

Two forms, one core (`registry.responses`, the same rules as the `record-responses` flow):

    jointcredit respond --department mem --listing 12 --listing 13 --ack
    jointcredit respond --department mem --batch 7 --feedback "已列为重点监管对象"
    jointcredit respond -d mem -l 12 --feedback "不在本部门职责范围" --not-applicable
    jointcredit respond --department mem --listing IMP-20261127-A1B2C3-12 --lifted
    jointcredit respond --file 回执.xlsx [--department mem]

The audit actor is the department (`department:<code>`); the operator running the command is
recorded with it as `recorded_by`. Exit codes: 0 everything recorded (or recorded before);
1 some answers or rows were refused — the rest were recorded and each refusal is printed;
2 nothing was recorded (bad options, unreadable file, missing columns, an empty `--feedback`,
or every answer refused). `--batch` takes a batch id or its reference. Registered in `cli.py`
as `app.command("respond")`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from deployments.console import ERROR_EXIT, JsonFlag, emit_json, err, operator, out, reported
from registry.references import resolve_batch
from registry.responses import (
    ResponseRequestError,
    record_response_sheet,
    response_request,
)
from registry.vocabulary import RESPONSE_KIND_LABELS, ResponseKind
from service import opened_runtime, record_response, run_query

SOURCE = "cli:respond"
SHOWN_LINES = 30
PARTLY_REFUSED = 1


def respond(
    department: Annotated[
        str | None,
        typer.Option("--department", "-d", help="部门代码，如 mem、ndrc（department code）"),
    ] = None,
    listing: Annotated[
        list[str] | None,
        typer.Option(
            "--listing",
            "-l",
            help="名单编号或“批次编号-名单编号”，可重复（listing id or reference, repeatable）",
        ),
    ] = None,
    batch: Annotated[
        str | None,
        typer.Option(
            "--batch",
            help="批次编号或批次号：该部门在本批次的全部名单（all listings of a batch）",
        ),
    ] = None,
    ack: Annotated[bool, typer.Option("--ack", help="响应：已收到推送（acknowledge）")] = False,
    feedback: Annotated[
        str | None,
        typer.Option("--feedback", help="反馈：措施实施情况（feedback text; measures applied）"),
    ] = None,
    not_applicable: Annotated[
        bool,
        typer.Option(
            "--not-applicable",
            help="与 --feedback 同用：措施不适用，反馈内容即理由（measures not applicable）",
        ),
    ] = False,
    lifted: Annotated[
        bool, typer.Option("--lifted", help="解除确认：已解除措施（measures lifted）")
    ] = False,
    answered_on: Annotated[
        str | None,
        typer.Option(
            "--answered-on",
            help="部门答复的日期 YYYY-MM-DD，按此判断是否逾期；默认今天（the day it answered）",
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", "-f", help="部门回执表格：XLSX 或 CSV（UTF-8/GBK）（returned spreadsheet）"
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """录入部门答复：响应、反馈或解除确认（record department responses）。"""
    with reported(as_json):
        if file is not None:
            flags = (listing, batch is not None, ack, feedback is not None, lifted, answered_on)
            if any(flags):
                raise ResponseRequestError(
                    "--file 不能与 --listing、--batch、--ack、--feedback、--lifted、"
                    "--answered-on 同用；答复日期请填在表格的“答复日期”列"
                    "（--file takes the answers from the file）"
                )
            payload = _record_file(file, department)
        else:
            payload = _record_flags(
                department, listing or [], batch, ack, feedback, lifted, not_applicable, answered_on
            )
    if as_json:
        emit_json(payload)
    else:
        _show(payload)
    if payload["refused"] or payload.get("bad_rows"):
        raise typer.Exit(ERROR_EXIT if _nothing_recorded(payload) else PARTLY_REFUSED)


def _nothing_recorded(payload: dict[str, Any]) -> bool:
    return not payload["recorded"] and not payload["already"]


def _record_flags(
    department: str | None,
    listings: list[str],
    batch: str | None,
    ack: bool,
    feedback: str | None,
    lifted: bool,
    not_applicable: bool,
    answered_on: str | None,
) -> dict[str, Any]:
    chosen = [
        kind
        for kind, given in (
            (ResponseKind.ACK, ack),
            (ResponseKind.FEEDBACK, feedback is not None),
            (ResponseKind.LIFT, lifted),
        )
        if given
    ]
    if len(chosen) != 1:
        raise ResponseRequestError(
            "请指定且只指定一种答复：--ack、--feedback 文本 或 --lifted"
            "（give exactly one of --ack, --feedback TEXT, --lifted）"
        )
    if not department:
        raise ResponseRequestError("请用 --department 指定部门（--department is required）")
    if not_applicable and chosen[0] is not ResponseKind.FEEDBACK:
        raise ResponseRequestError(
            "--not-applicable 只能与 --feedback 同用（--not-applicable goes with --feedback）"
        )
    if feedback is not None and not feedback.strip() and not not_applicable:
        # An empty --feedback would close the action with nothing said about the measures
        # (with --not-applicable the core refuses it, asking for the reason).
        raise ResponseRequestError(
            "--feedback 的反馈内容不能为空：请写明措施实施情况（feedback text is empty）"
        )
    with opened_runtime() as runtime:
        batch_id = (
            run_query(runtime, lambda session: resolve_batch(session, batch))[0]
            if batch is not None
            else None
        )
        response = response_request(
            department=department,
            kind=chosen[0],
            listings=listings,
            batch_id=batch_id,
            feedback=feedback,
            not_applicable=not_applicable,
            answered_on=answered_on,
        )
        result = record_response(runtime, response, recorded_by=operator(), source=SOURCE)
    return {"department": response.department, "kind": response.kind.value, **result.as_dict()}


def _record_file(path: Path, department: str | None) -> dict[str, Any]:
    with opened_runtime() as runtime:
        result = run_query(
            runtime,
            lambda session: record_response_sheet(
                session,
                path,
                catalogue=runtime.catalogue,
                clock=runtime.clock,
                recorded_by=operator(),
                department=department,
                limits=runtime.settings.input_limits,
            ),
        )
    return result.as_dict()


def _show(payload: dict[str, Any]) -> None:
    if "file" in payload:
        out.print(
            f"回执文件 {escape(payload['file'])}：共 {payload['rows']} 行，"
            f"问题行 {payload['bad_rows']}（rows {payload['rows']}, bad {payload['bad_rows']}）"
        )
    else:
        kind = RESPONSE_KIND_LABELS[ResponseKind(payload["kind"])]
        out.print(f"部门 {escape(payload['department'])} 的{kind}（{payload['kind']}）")
    _show_counts(payload)
    for warning in payload.get("warnings", []):
        err.print(f"[yellow]提示：[/]{escape(warning)}")
    _show_problems(payload)
    if _nothing_recorded(payload):
        if payload["refused"] or payload.get("bad_rows"):
            err.print("[bold red]错误：[/]没有记录任何答复（nothing recorded）")
        else:
            err.print("[yellow]没有记录任何答复（nothing recorded）[/]")


def _show_counts(payload: dict[str, Any]) -> None:
    """Per answer kind: recorded now, of which late, recorded before."""
    if not payload["by_kind"]:
        return
    table = Table()
    for column in ("答复", "本次记录", "其中逾期", "此前已记录"):
        table.add_column(column, justify="right" if column != "答复" else "left", overflow="fold")
    for kind, counts in payload["by_kind"].items():
        table.add_row(
            RESPONSE_KIND_LABELS[ResponseKind(kind)],
            str(counts["recorded"]),
            str(counts["late"]),
            str(counts["already"]),
        )
    out.print(table)


def _show_problems(payload: dict[str, Any]) -> None:
    """A sheet's rows not recorded, or the refusals of a typed answer."""
    problems = payload.get("problems")
    if problems:
        lines = Table(title="未记录的行（rows not recorded）")
        for column in ("行号", "列", "值", "原因"):
            lines.add_column(column, overflow="fold")  # a reason is wrapped, never cut
        for line in problems[:SHOWN_LINES]:
            lines.add_row(
                str(line["row"]),
                escape(line["column"]),
                escape(line["value"] or ""),
                escape(f"{line['reason_zh']}（{line['reason_en']}）"),
            )
        out.print(lines)
        if len(problems) > SHOWN_LINES:
            out.print(f"……另有 {len(problems) - SHOWN_LINES} 条（use --json for all）")
    elif payload["refusals"]:
        for refusal in payload["refusals"][:SHOWN_LINES]:
            listing = refusal["listing_id"] if refusal["listing_id"] is not None else "—"
            err.print(
                f"[red]拒绝：[/]名单 {listing}：{escape(refusal['reason_zh'])}"
                f"（{escape(refusal['reason_en'])}）"
            )
