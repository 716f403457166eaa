"""`jointcredit audit verify`: is the audit trail intact (DOMAIN.md §7 来源可查、责任可究)?

Recomputes the hash chain with `registry.audit.verify` — every event's hash over its content and
its predecessor's hash, the sequence without gaps, the chain tip against the last row — and
names the first event that does not match: its number, what is wrong, and (when the row is
still there) its time, actor, action and entity, so an auditor knows where to look.

Exit codes: 0 intact, 1 broken (a changed, deleted, reordered or inserted event), 2 the check
could not run (settings, database). Read-only.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from deployments.console import JsonFlag, emit_json, err, out, reported
from registry import db
from registry.audit import ChainReport, verify
from registry.clock import BUSINESS_TZ
from registry.models import AuditEvent
from registry.settings import get_settings
from registry.vocabulary import AUDIT_ACTION_LABELS, label

audit_app = typer.Typer(help="审计记录（audit trail）", no_args_is_help=True)

BROKEN_EXIT_CODE = 1


@audit_app.command("verify")
def verify_command(as_json: JsonFlag = False) -> None:
    """校验审计链：重算每条操作记录的哈希，指出第一条被篡改、删除或插入的记录（verify）。"""
    with reported(as_json):
        settings = get_settings()
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
        finally:
            engine.dispose()
    if as_json:
        emit_json(
            {
                "ok": report.ok,
                "checked": report.checked,
                "first_bad_seq": report.first_bad_seq,
                "reason": report.reason,
                "event": None if first_bad is None else _event(first_bad),
            }
        )
    elif report.ok:
        out.print(f"审计链完整：已校验 {report.checked} 条操作记录（audit chain intact）")
    else:
        err.print(_broken_message(report, first_bad))
    if not report.ok:
        raise typer.Exit(BROKEN_EXIT_CODE)


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
