"""`jointcredit audit verify`: is the audit trail intact (DOMAIN.md §7 来源可查、责任可究)?

Recomputes the hash chain with `registry.audit.verify` — every event's hash over its content and
its predecessor's hash, the sequence without gaps, the chain tip against the last row — and
names the first event that does not match: its number, what is wrong, and (when the row is
still there) its time, actor, action and entity, so an auditor knows where to look. Then
(`registry.audit_check`) the newest head anchored outside the database must still be in the
chain — or a head printed in a monthly report, given with `--head SEQ:HASH` — and replaying the
trail must give every listing's and department action's current state.

Exit codes: 0 intact, 1 broken (a changed, deleted, reordered or inserted event, a truncated
tail, a state changed beside the application), 2 the check could not run (settings, database,
an unreadable anchor file). Read-only.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from deployments.console import JsonFlag, emit_json, err, out, reported
from registry import db
from registry.audit import ChainReport, verify
from registry.audit_anchor import AnchorError, anchor_from_settings
from registry.audit_check import AnchorReport, ReplayReport, check_anchor, replay_states
from registry.clock import BUSINESS_TZ
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
        _print_verdict(report, first_bad, anchor, replay)
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


def _print_verdict(
    report: ChainReport, first_bad: AuditEvent | None, anchor: AnchorReport, replay: ReplayReport
) -> None:
    if report.ok:
        out.print(f"审计链完整：已校验 {report.checked} 条操作记录（audit chain intact）")
    else:
        err.print(_broken_message(report, first_bad))
    if not anchor.ok:
        err.print(f"[bold red]链外锚点不符（anchor mismatch）：[/]{escape(anchor.reason or '')}")
    elif anchor.anchored is not None:
        out.print(f"链外锚点一致：第 {anchor.anchored.seq} 号记录（anchored head found）")
    if replay.ok:
        out.print(
            f"状态重放一致：已核对 {replay.checked} 条名单与部门事项（states match the trail）"
        )
        return
    err.print(
        f"[bold red]状态与审计记录不符（state differs from the trail）：[/]"
        f"{replay.total_mismatches} 条，例如："
    )
    for mismatch in replay.mismatches:
        err.print("  " + escape(mismatch.describe()))


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
