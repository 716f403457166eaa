"""`jointcredit import FILE`: a batch file becomes proposed listings; bad rows are quarantined.

The command imports through `service.import_file` (one transaction, the same path as the
`intake-batch` task) and prints the outcome; the rules live in the core.
Registered in `cli.py` as `app.command("import")`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from deployments.console import JsonFlag, emit_json, err, operator, out, reported
from registry.intake import ImportResult
from service import import_file, opened_runtime

SHOWN_LINES = 20
PROGRESS_EVERY = 10_000


def import_file_command(
    file: Annotated[
        Path, typer.Argument(help="名单文件：CSV（UTF-8/GBK）、XLSX 或 JSON（the batch file）")
    ],
    reporter: Annotated[
        str | None, typer.Option("--reporter", help="报送单位（who reported the batch）")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """导入名单文件为待审核名单，问题行隔离并说明原因（import a batch file）。"""
    with reported(as_json), opened_runtime() as runtime:
        shown = [0]

        def progress(rows: int) -> None:
            if rows - shown[0] >= PROGRESS_EVERY:
                shown[0] = rows
                err.print(f"已读取 {rows} 行（rows read）…")

        result = import_file(
            runtime, file, proposed_by=operator(), reporter=reporter, progress=progress
        )
    if as_json:
        emit_json(result.as_dict())
        return
    _print_result(result)


def _print_result(result: ImportResult) -> None:
    out.print(
        f"已导入批次（batch imported） {result.batch_reference}（编号 {result.batch_id}）："
        f"接受 {result.accepted} 行，"
        f"拒绝 {result.rejected} 行，待人工复核 {result.needs_review} 行"
        f"（accepted {result.accepted}, rejected {result.rejected}, "
        f"needs review {result.needs_review}）"
    )
    for warning in result.warnings:
        err.print(f"[yellow]提示：[/]{escape(warning)}")
    if not result.quarantine:
        return
    table = Table(title="被拒绝的行（quarantined rows）")
    for column in ("行号", "列", "值", "原因"):
        table.add_column(column, overflow="fold")  # a reason is wrapped, never cut
    for line in result.quarantine[:SHOWN_LINES]:
        table.add_row(
            str(line.row_number),
            escape(line.column),
            escape(line.value or ""),
            escape(line.reason_zh),
        )
    out.print(table)
    if result.quarantine_total > SHOWN_LINES:
        out.print(f"……另有 {result.quarantine_total - SHOWN_LINES} 条（more lines in the report）")
    out.print(f"隔离报告（quarantine report）：{result.quarantine_path}")
