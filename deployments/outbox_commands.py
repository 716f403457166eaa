"""`jointcredit outbox …` and `jointcredit mail-sink`: watch, drain and repair the outbox.

`outbox drain` runs the same core drain as the `deliver-notices` flow, without Prefect, for an
operator who wants the queue empty now; both are safe to run at the same time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from deployments.console import (
    JsonFlag,
    beijing_time,
    emit_json,
    err,
    operator,
    out,
    reported,
)
from notifications.delivery import DrainOptions, DrainReport, drain_outbox
from notifications.outbox import outbox_status, requeue_failed
from notifications.sink import serve_sink
from notifications.smtp import SmtpConfig
from registry import db
from registry.audit_anchor import anchor_from_settings, install
from registry.clock import clock_from_settings
from registry.settings import get_settings
from registry.vocabulary import NOTICE_KIND_LABELS, NOTICE_STATE_LABELS, label

outbox_app = typer.Typer(help="发件箱（notice outbox）", no_args_is_help=True)


@outbox_app.command("status")
def status(as_json: JsonFlag = False) -> None:
    """发件箱概况：各状态数量、搁置的通知、被标记的联系人（outbox status）。"""
    with reported(as_json):
        settings = get_settings()
        engine = db.make_engine(settings.database_url)
        db.require_current_schema(engine)
        with db.session_scope(engine) as session:
            result = outbox_status(session)
        engine.dispose()
    if as_json:
        emit_json(result.as_dict())
        return
    table = Table(title="发件箱（outbox）")
    table.add_column("状态", overflow="fold")
    table.add_column("数量", justify="right", overflow="fold")
    for state, count in result.by_state.items():
        table.add_row(f"{label(NOTICE_STATE_LABELS, state)}（{state}）", str(count))
    out.print(table)
    if result.oldest_waiting is not None:
        oldest = beijing_time(result.oldest_waiting)
        out.print(f"最早的待发通知创建于（oldest waiting）：{oldest}（北京时间）")
    if result.parked:
        parked = Table(title="需要处理的通知（parked notices）")
        for column in ("编号", "类型", "发文字号", "收件人", "状态", "尝试", "服务器答复或原因"):
            parked.add_column(column, overflow="fold")  # a reason is wrapped, never cut
        for row in result.parked:
            parked.add_row(
                str(row["id"]),
                label(NOTICE_KIND_LABELS, row["kind"]),
                row["letter_number"] or "—",
                row["recipient"],
                label(NOTICE_STATE_LABELS, row["state"]),
                str(row["attempts"]),
                str(row["smtp_reply"] or row["last_error"] or ""),
            )
        out.print(parked)
        out.print(
            "更正联系人地址：jointcredit contact set（自动重新排队该收件人的通知）；"
            "地址无误时重试：jointcredit outbox retry-failed --id <编号>"
        )
    for flag in result.flagged_contacts:
        err.print(f"[yellow]联系人被退信（refused）：[/]{flag['address']}：{flag['reason']}")


@outbox_app.command("drain")
def drain(
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="最多处理的通知数（at most N notices）")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """立即投递所有到期的通知（deliver every due notice now）。"""
    with reported(as_json):
        settings = get_settings()
        engine = db.make_engine(settings.database_url)
        db.require_current_schema(engine)
        config = SmtpConfig.from_settings(settings)

        def progress(report: DrainReport) -> None:
            if not as_json:
                err.print(report.progress_line())

        report = asyncio.run(
            drain_outbox(
                engine,
                config,
                clock=clock_from_settings(settings),
                options=DrainOptions.from_settings(settings, limit=limit),
                progress=progress,
            )
        )
        engine.dispose()
    if as_json:
        emit_json(report.as_dict())
        return
    out.print(f"投递完成（drained via {config.host}:{config.port}）：{report.summary_line()}")
    for failure in report.failures:
        err.print(
            f"[yellow]通知 {failure['notice_id']} 未能送达 {failure['recipient']}：[/]"
            f"{failure['reply']}"
        )


@outbox_app.command("retry-failed")
def retry_failed(
    ids: Annotated[
        list[int], typer.Option("--id", help="通知编号，可重复（notice id, repeatable）")
    ],
    as_json: JsonFlag = False,
) -> None:
    """重新投递永久失败或已放弃的通知（requeue failed or dead notices）。"""
    with reported(as_json):
        settings = get_settings()
        engine = db.make_engine(settings.database_url)
        install(engine, anchor_from_settings(settings))  # the requeue's audit head
        db.require_current_schema(engine)
        with db.session_scope(engine) as session:
            requeued = requeue_failed(
                session,
                ids,
                now=clock_from_settings(settings).now(),
                actor=operator(),
                source="cli:outbox retry-failed",
            )
        engine.dispose()
    if as_json:
        emit_json({"requeued": requeued})
        return
    out.print(f"已重新排队（requeued）：{', '.join(map(str, requeued))}；下次投递时发出。")


def mail_sink(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="监听端口（port）")] = 2525,
    host: Annotated[str, typer.Option("--host", help="监听地址（address）")] = "127.0.0.1",
    directory: Annotated[
        Path | None, typer.Option("--dir", help="邮件保存目录（where .eml files go）")
    ] = None,
) -> None:
    """本地收信服务：把收到的每封邮件存为 .eml 文件（local SMTP sink）。"""
    target = directory or get_settings().mail_dir
    out.print(f"本地收信服务已启动（mail sink）：smtp://{host}:{port} → {target}；按 Ctrl-C 停止")
    try:
        serve_sink(target, host=host, port=port)
    except KeyboardInterrupt:
        out.print("收信服务已停止（stopped）")
    except OSError as exc:
        err.print(f"[bold red]错误：[/]无法监听 {host}:{port}（cannot listen）：{exc}")
        raise typer.Exit(2) from exc
