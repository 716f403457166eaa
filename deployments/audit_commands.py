"""`jointcredit audit verify`: is the audit trail intact (DOMAIN.md §7 来源可查、责任可究)?

Recomputes the hash chain with `registry.audit.verify` — every event's hash over its content and
its predecessor's hash, the sequence without gaps, the chain tip against the last row — and
names the first event that does not match: its number, what is wrong, and (when the row is
still there) its time, actor, action and entity, so an auditor knows where to look. Then
(`registry.audit_check`) the newest head anchored outside the database must still be in the
chain — or a head printed in a monthly report, given with `--head SEQ:HASH` — and replaying the
trail must give every listing's and department action's current state.

Exit codes: 0 intact, 1 broken (a changed, deleted, reordered or inserted event, a truncated
tail, no anchored head for a chain that has events, a state or a recorded field changed beside
the application), 2 the check could not run (settings, database, an unreadable anchor file).
Read-only. The last line is the verdict (`审计校验通过` / `审计校验未通过`); `--json` has `ok`.

`jointcredit audit anchor --accept-current-head --by NAME` starts anchoring a database that has
events and no anchor (one from before anchoring, or whose anchor file was lost): it refuses a
chain that does not verify or already has an anchor, and appends an `audit.anchor_accept` event
naming who accepted which head; its commit anchors the new head.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from deployments.console import JsonFlag, emit_json, err, operator, out, reported
from registry import audit_check, db
from registry.audit import ChainReport, verify
from registry.audit_anchor import AnchorError, anchor_from_settings, install
from registry.audit_check import AnchorReport, ReplayReport, check_anchor, replay_states
from registry.clock import BUSINESS_TZ, clock_from_settings
from registry.models import AuditEvent
from registry.settings import get_settings
from registry.vocabulary import AUDIT_ACTION_LABELS, label

audit_app = typer.Typer(help="审计记录（audit trail）", no_args_is_help=True)

BROKEN_EXIT_CODE = 1


@audit_app.command("verify")
def verify_command(
    head: Annotated[
        str | None,
        typer.Option(
            "--head", help="月报所载链头 序号:哈希，须仍在链中（a reported head SEQ:HASH）"
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """校验审计链：重算哈希、核对链外锚点、按记录重放名单与部门事项的状态（verify）。"""
    with reported(as_json):
        settings = get_settings()
        reported_head = _parse_head(head)
        engine = db.make_engine(settings.database_url)
        try:
            db.require_current_schema(engine)
            with db.session_scope(engine) as session:
                report = verify(session)
                first_bad = (
                    None
                    if report.first_bad_seq is None
                    else session.get(AuditEvent, report.first_bad_seq)
                )
                anchor = check_anchor(session, anchor_from_settings(settings), reported_head)
                replay = replay_states(session)
        finally:
            engine.dispose()
    ok = report.ok and anchor.ok and replay.ok
    if as_json:
        emit_json(
            {
                "ok": ok,
                "checked": report.checked,
                "first_bad_seq": report.first_bad_seq,
                "reason": report.reason,
                "event": None if first_bad is None else _event(first_bad),
                "anchor": {
                    "ok": anchor.ok,
                    "seq": None if anchor.anchored is None else anchor.anchored.seq,
                    "missing": anchor.missing,
                    "file": str(settings.audit_anchor_file),
                    "reason": anchor.reason,
                },
                "replay": {
                    "ok": replay.ok,
                    "checked": replay.checked,
                    "mismatches": replay.total_mismatches,
                    "first": [m.__dict__ for m in replay.mismatches],
                },
            }
        )
    else:
        _print_report(report, first_bad, anchor, replay, reported_head is not None)
    if not ok:
        raise typer.Exit(BROKEN_EXIT_CODE)


def _parse_head(text: str | None) -> tuple[int, str] | None:
    if text is None:
        return None
    seq, _, digest = text.strip().partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise AnchorError(
            f"--head 应为 序号:64位哈希，如月报所载（expected SEQ:HASH）：{text!r}", value=text
        )
    return int(seq), digest.lower()


def _print_report(
    report: ChainReport,
    first_bad: AuditEvent | None,
    anchor: AnchorReport,
    replay: ReplayReport,
    from_report: bool,
) -> None:
    """One line per check (failures on stderr), then the verdict as the last line."""
    failed: list[str] = []
    if report.ok:
        out.print(f"哈希链逐条相符：已校验 {report.checked} 条操作记录（hash chain consistent）")
    else:
        err.print(_broken_message(report, first_bad))
        failed.append(f"第 {report.first_bad_seq} 号操作记录校验失败")
    if anchor.missing:
        err.print(f"[bold red]链外锚点缺失（no anchor）：[/]{escape(anchor.reason or '')}")
        err.print(escape(ANCHOR_MISSING_HELP))
        failed.append("缺少链外锚点，无法排除链尾被截断")
    elif not anchor.ok:
        err.print(f"[bold red]链外锚点不符（anchor mismatch）：[/]{escape(anchor.reason or '')}")
        failed.append("链外锚点不符")
    elif anchor.anchored is not None:
        which = "月报所载链头" if from_report else "链外锚点"
        out.print(f"{which}一致：第 {anchor.anchored.seq} 号记录（anchored head found）")
    if replay.ok:
        out.print(
            f"状态重放一致：已核对 {replay.checked} 条名单与部门事项的状态及记录所载字段"
            "（states and recorded fields match the trail）"
        )
    else:
        err.print(
            f"[bold red]状态与审计记录不符（state differs from the trail）：[/]"
            f"{replay.total_mismatches} 处，例如："
        )
        for mismatch in replay.mismatches:
            err.print("  " + escape(mismatch.describe()))
        failed.append(f"{replay.total_mismatches} 处状态或字段与审计记录不符")
    if failed:
        err.print(
            "[bold red]审计校验未通过（audit verification failed）：[/]" + escape("；".join(failed))
        )
    else:
        out.print(
            f"审计校验通过：审计链完整，{report.checked} 条操作记录、链外锚点与状态重放均一致"
            "（audit verified）"
        )


ANCHOR_MISSING_HELP = (
    "  如何处理：有月报所载的审计链头时，运行 jointcredit audit verify --head 序号:哈希 核对；"
    "锚点文件在别处时，将 JOINTCREDIT_AUDIT_ANCHOR_PATH 指向它"
    "（演示库 var/demo.db 的锚点在数据目录的 demo-audit-anchor.log）；"
    "本库建于启用锚点之前（或锚点文件已丢失）且已从备份或月报核对无误时，"
    "运行 jointcredit audit anchor --accept-current-head --by 姓名 从当前链头开始锚定。"
)


@audit_app.command("anchor")
def anchor_command(
    accept: Annotated[
        bool,
        typer.Option(
            "--accept-current-head",
            help="接受当前链头为锚点，此后每次提交都锚定新链头（start anchoring from the head）",
        ),
    ] = False,
    accepted_by: Annotated[
        str | None, typer.Option("--by", help="接受人姓名，记入审计记录（who accepts）")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """为尚无锚点的审计链写入链外锚点（一次性，记入审计记录）（anchor the current head）。"""
    with reported(as_json):
        if not accept or not (accepted_by or "").strip():
            raise AnchorError(
                "请加 --accept-current-head 并用 --by 写明接受人：接受后，当前链头之前的记录"
                "不再能证明未被截断，须先从备份或月报核对"
                "（pass --accept-current-head and --by NAME）"
            )
        settings = get_settings()
        anchor = anchor_from_settings(settings)
        engine = db.make_engine(settings.database_url)
        install(engine, anchor)  # the commit anchors the head that includes the acceptance
        try:
            db.require_current_schema(engine)
            with db.session_scope(engine) as session:
                accepted = audit_check.accept_current_head(
                    session,
                    anchor,
                    actor=str(accepted_by),
                    source=operator(),
                    at=clock_from_settings(settings).now(),
                )
            anchored = anchor.latest(accepted.chain)  # written by the commit
        finally:
            engine.dispose()
    if as_json:
        emit_json(
            {
                "accepted_seq": accepted.seq,
                "accepted_hash": accepted.hash,
                "anchored_seq": None if anchored is None else anchored.seq,
                "file": str(anchor.path),
            }
        )
        return
    out.print(
        f"已接受第 {accepted.seq} 号操作记录为审计链头（{accepted.hash}），"
        f"接受本身记为第 {accepted.seq + 1} 号记录并已写入锚点文件 {escape(str(anchor.path))}。"
    )
    out.print("此后每次提交都会锚定新的链头；运行 jointcredit audit verify 核对。")


def _event(row: AuditEvent) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "at": row.at.isoformat(),
        "actor": row.actor,
        "action": row.action,
        "entity_type": row.entity_type,
        "entity_id": row.entity_id,
    }


def _broken_message(report: ChainReport, event: AuditEvent | None) -> str:
    lines = [
        f"[bold red]审计链已损坏（audit chain broken）：[/]第 {report.first_bad_seq} 号操作记录"
        f"校验失败：{escape(report.reason or '')}",
        f"此前 {report.checked} 条记录完好（{report.checked} events before it verify）。",
    ]
    if event is not None:
        at = event.at.astimezone(BUSINESS_TZ)
        lines.append(
            escape(
                f"该记录：{at:%Y-%m-%d %H:%M:%S}（北京时间）　操作人 {event.actor}　"
                f"{label(AUDIT_ACTION_LABELS, event.action)}（{event.action}）　"
                f"{event.entity_type} {event.entity_id}"
            )
        )
    lines.append("请从备份核对该记录及其后的记录，并保留现场（compare with a backup）。")
    return "\n".join(lines)
