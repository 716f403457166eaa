"""`jointcredit batch show`, `listing show` and `archive`: what an operator looks up.

Read-only: each command opens one session, calls one view of `registry.views` and prints it
(rich tables, Chinese headings, times in Beijing time) or, with `--json`, the view's `as_dict`
(times ISO UTC). Persons are shown by their masked ID only; an ID number typed for `archive`
is hashed at once and never printed back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlmodel import Session

from deployments.console import JsonFlag, emit_json, out, reported
from registry import db
from registry.audit import canonical_json
from registry.clock import BUSINESS_TZ
from registry.models import NoticeState
from registry.references import resolve_batch, resolve_listing
from registry.service_of_notices import ServiceState, is_party_kind, service_label
from registry.settings import Settings, get_settings
from registry.views import (
    ActionLine,
    BatchView,
    CreditArchive,
    HistoryEntry,
    ListingView,
    NoticeLine,
    SubjectRef,
    batch_quarantine,
    batch_view,
    credit_archive_by_identifier,
    listing_view,
)
from registry.vocabulary import (
    ACTION_STATE_LABELS,
    AUDIT_ACTION_LABELS,
    BATCH_LIST_TYPE_LABELS,
    CHANNEL_LABELS,
    LIST_TYPE_LABELS,
    LISTING_STATE_LABELS,
    NOTICE_KIND_LABELS,
    NOTICE_STATE_LABELS,
    REMOVAL_REASON_LABELS,
    SUBJECT_KIND_LABELS,
    label,
)

batch_app = typer.Typer(help="批次（batch）", no_args_is_help=True)
listing_app = typer.Typer(help="名单（listing）", no_args_is_help=True)

T = TypeVar("T")

ARCHIVE_KIND_LABELS = {
    "listing": "名单",
    "audit": "操作记录",
    "action": "部门响应",
    "notice": "通知",
    "commitment": "承诺",
    "removal_application": "移出申请",
    "objection": "异议",
}


def _read(query: Callable[[Session, Settings], T]) -> T:
    """Run one read-only view on the configured database (its schema must be current)."""
    settings = get_settings()
    engine = db.make_engine(settings.database_url)
    try:
        db.require_current_schema(engine)
        with db.session_scope(engine) as session:
            return query(session, settings)
    finally:
        engine.dispose()


BatchArg = Annotated[
    str,
    typer.Argument(help="批次编号或批次号，如 12 或 IMP-20261127-A1B2C3（batch id or reference）"),
]


@batch_app.command("show")
def batch_show(
    batch: BatchArg,
    as_json: JsonFlag = False,
) -> None:
    """查看批次：各状态数量、部门响应、通知、当前在等什么（show a batch）。"""
    with reported(as_json):
        view = _read(lambda session, _: batch_view(session, resolve_batch(session, batch)[0]))
    if as_json:
        emit_json(view.as_dict())
        return
    _print_batch(view)


@batch_app.command("quarantine")
def batch_quarantine_show(
    batch: BatchArg,
    as_json: JsonFlag = False,
) -> None:
    """查看导入时被隔离的全部问题行：行号、列、值、原因（every quarantined row of a batch）。"""
    with reported(as_json):
        view = _read(lambda session, _: batch_quarantine(session, resolve_batch(session, batch)[0]))
    if as_json:
        emit_json(view.as_dict())
        return
    out.print(
        _table(
            f"批次 {view.reference}（编号 {view.batch_id}）被隔离的问题行：{view.total} 条",
            ("行号", "列", "值", "原因"),
            ((e.row_number, e.column, e.value, e.reason_zh) for e in view.entries),
        )
    )


@listing_app.command("show")
def listing_show(
    listing: Annotated[
        str,
        typer.Argument(
            help="名单编号，或函件中的“批次号-编号”如 IMP-20261127-A1B2C3-5"
            "（listing id or reference）"
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """查看名单：主体、各环节日期、部门响应、通知与操作记录（show a listing and its history）。"""
    with reported(as_json):
        view = _read(lambda session, _: listing_view(session, resolve_listing(session, listing)[0]))
    if as_json:
        emit_json(view.as_dict())
        return
    _print_listing(view)


def archive(
    identifier: Annotated[
        str, typer.Argument(help="统一社会信用代码或身份证号（USCC or resident ID number）")
    ],
    as_json: JsonFlag = False,
) -> None:
    """查看主体的信用档案：名单、措施、通知、承诺、移出与异议，按时间排列（credit archive）。"""
    with reported(as_json):
        view = _read(
            lambda session, settings: credit_archive_by_identifier(
                session, identifier, id_hash_key=settings.id_hash_key.get_secret_value()
            )
        )
    if as_json:
        emit_json(view.as_dict())
        return
    _print_archive(view)


# --- printing ----------------------------------------------------------------------------


def _when(value: datetime | date | None) -> str:
    """Beijing time to the minute for instants, ISO for business dates, — for nothing."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _due(value: date | None, provisional: bool) -> str:
    if value is None:
        return "—"
    return f"{value.isoformat()}（暂定）" if provisional else value.isoformat()


def _table(title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Table:
    """Cells are plain `Text`: stored data (names, reasons) is never read as rich markup."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")  # wrap long values, never cut them
    for row in rows:
        table.add_row(*(Text("—" if cell is None else str(cell)) for cell in row))
    return table


def _counts_table(title: str, counts: Mapping[str, int], labels: Mapping[str, str]) -> Table:
    return _table(
        title,
        ("状态", "数量"),
        ((f"{label(labels, state)}（{state}）", count) for state, count in counts.items()),
    )


def _fields(title: str, rows: Iterable[tuple[str, Any]]) -> Table:
    return _table(title, ("项目", "内容"), rows)


def _subject_line(subject: SubjectRef) -> str:
    kind = label(SUBJECT_KIND_LABELS, subject.kind)
    return f"{subject.name}（{kind}，{subject.identifier}）"


def _print_batch(view: BatchView) -> None:
    out.print(
        _fields(
            f"批次 {view.reference}（编号 {view.id}）",
            [
                ("名单类型", label(BATCH_LIST_TYPE_LABELS, view.list_type)),
                ("规则", view.rule_set),
                ("来源", f"{view.source_kind} {view.source_name or ''}".strip()),
                ("报送单位", view.reporter),
                ("提出人", view.proposed_by),
                ("接收 / 拒收", f"{view.accepted_count} / {view.rejected_count}"),
                ("创建时间（北京时间）", _when(view.created_at)),
                ("最早陈述申辩期限", _due(view.next_defence_due, view.next_defence_provisional)),
                ("审核人", "、".join(view.reviewers) or "尚未决定"),
                ("决定时间（北京时间）", _when(view.decided_at)),
                ("列入决定文号", _decision_numbers(view)),
                ("不予列入", f"{view.rejected_total} 条"),
            ],
        )
    )
    out.print(f"[bold]当前等待（waiting on）：[/]{escape(view.waiting_on)}")
    out.print(_counts_table("名单状态（listings）", view.listing_states, LISTING_STATE_LABELS))
    if view.action_states:
        out.print(_counts_table("部门响应（actions）", view.action_states, ACTION_STATE_LABELS))
        if view.escalated_actions:
            out.print(f"其中已督办（escalated）：{view.escalated_actions} 项")
    if view.notice_states:
        out.print(_counts_table("通知（notices）", view.notice_states, NOTICE_STATE_LABELS))
    out.print(
        _table(
            "名单（listings）",
            (
                "编号",
                "名单编号（函件）",
                "主体",
                "类型",
                "证件号",
                "认定依据",
                "状态",
                "需复核",
                "提示",
            ),
            (
                (
                    line.id,
                    line.reference,
                    line.subject_name,
                    label(SUBJECT_KIND_LABELS, line.subject_kind),
                    line.identifier,
                    "、".join(line.grounds),
                    label(LISTING_STATE_LABELS, line.state),
                    "是" if line.needs_review else "",
                    "；".join(line.warnings),
                )
                for line in view.listings
            ),
        )
    )
    if view.listings_truncated:
        out.print(
            f"共 {view.listing_total} 条，仅显示前 {len(view.listings)} 条"
            f"（showing {len(view.listings)} of {view.listing_total}）"
        )
    _print_rejected(view)
    _print_awaiting_service(view)


def _decision_numbers(view: BatchView) -> str:
    numbers = "、".join(view.decision_numbers)
    if view.decision_number_total > len(view.decision_numbers):
        numbers += f" 等，共 {view.decision_number_total} 个"
    return numbers or "—"


def _print_rejected(view: BatchView) -> None:
    """不予列入: the listings the reviewer did not list, each with the reason given."""
    if not view.rejected:
        return
    out.print(
        _table(
            f"不予列入（rejected）：{view.rejected_total} 条",
            ("编号", "名单编号（函件）", "主体", "证件号", "理由"),
            ((r.id, r.reference, r.subject_name, r.identifier, r.reason) for r in view.rejected),
        )
    )
    if len(view.rejected) < view.rejected_total:
        out.print(f"仅显示前 {len(view.rejected)} 条")


def _print_awaiting_service(view: BatchView) -> None:
    """待送达: the parties whose letters are not served yet — their windows have not started."""
    if not view.awaiting_service:
        out.print("待送达：无（every party letter served）")
        return
    out.print(
        _table(
            f"待送达（awaiting service）：{view.awaiting_service_total} 份",
            (
                "通知编号",
                "发文字号",
                "名单编号（函件）",
                "当事人",
                "证件号",
                "文书",
                "送达途径",
                "送达",
            ),
            (
                (
                    a.notice_id,
                    a.letter_number or "",
                    a.reference,
                    a.subject_name,
                    a.identifier,
                    label(NOTICE_KIND_LABELS, a.kind),
                    label(CHANNEL_LABELS, a.channel),
                    service_label(a.service_state, None, None),
                )
                for a in view.awaiting_service
            ),
        )
    )
    if len(view.awaiting_service) < view.awaiting_service_total:
        out.print(f"仅显示前 {len(view.awaiting_service)} 份")


def _print_listing(view: ListingView) -> None:
    out.print(
        _fields(
            f"名单 {view.id}（{view.reference}，{label(LISTING_STATE_LABELS, view.state)}）",
            [
                ("主体", _subject_line(view.subject)),
                ("批次", f"{view.batch_reference}（编号 {view.batch_id}）"),
                ("名单类型", label(LIST_TYPE_LABELS, view.list_type)),
                ("规则", view.rule_set),
                ("认定依据", "、".join(view.grounds)),
                ("列入决定文号", view.decision_number),
                ("处罚决定书文号", view.penalty_number),
                ("典型案例", "是" if view.typical_case else "否"),
                ("提出（北京时间）", f"{_when(view.proposed_at)}　{view.proposed_by}"),
                ("告知", _when(view.notified_at)),
                ("陈述申辩期限", _due(view.defence_due, view.defence_provisional)),
                ("收到申辩", _when(view.defence_received_at)),
                ("认定", f"{_when(view.decided_at)}　{view.decided_by or ''}".strip()),
                ("公开", _when(view.published_at)),
                ("有效期至", _when(view.expires_on)),
                ("移出", _when(view.removed_at)),
                ("移出原因", label(REMOVAL_REASON_LABELS, view.removal_reason)),
                ("需复核", "是：" + "；".join(view.warnings) if view.needs_review else "否"),
                ("备注", view.note),
            ],
        )
    )
    _print_actions(view.actions)
    _print_notices(view.notices)
    _print_history(view.history)


def _print_actions(actions: list[ActionLine]) -> None:
    if not actions:
        out.print("部门响应：尚未推送（not dispatched）")
        return
    out.print(
        _table(
            "部门响应（department actions）",
            (
                "名单",
                "部门",
                "备忘录",
                "状态",
                "响应期限",
                "响应时间",
                "反馈期限",
                "反馈时间",
                "督办",
            ),
            (
                (
                    a.listing_id,
                    a.department,
                    a.memorandum,
                    label(ACTION_STATE_LABELS, a.state),
                    _due(a.ack_due, a.ack_provisional),
                    _when(a.acknowledged_at),
                    _due(a.feedback_due, a.feedback_provisional),
                    _when(a.feedback_at),
                    f"{a.escalation_level} 级" if a.escalation_level else "",
                )
                for a in actions
            ),
        )
    )


def _print_notices(notices: list[NoticeLine]) -> None:
    if not notices:
        out.print("通知：无（no notices）")
        return
    out.print(
        _table(
            "通知（notices）",
            (
                "编号",
                "类型",
                "发文字号",
                "收件人",
                "状态",
                "发出时间",
                "送达途径",
                "送达",
                "Message-ID",
            ),
            (
                (
                    n.id,
                    label(NOTICE_KIND_LABELS, n.kind) + ("" if n.listing_id else "（批次）"),
                    n.letter_number or "—",
                    n.recipient,
                    _state(n),
                    _when(n.sent_at),
                    label(CHANNEL_LABELS, n.channel),
                    _service(n),
                    n.message_id,
                )
                for n in notices
            ),
        )
    )


def _state(notice: NoticeLine) -> str:
    """A letter for post stays `for_post` in the outbox (no deliverer takes it); once an operator
    recorded its service, the operator reads it as done, not as still to be posted."""
    if notice.state == NoticeState.FOR_POST and notice.service_state == ServiceState.SERVED:
        return "已送达"
    return label(NOTICE_STATE_LABELS, notice.state)


def _service(notice: NoticeLine) -> str:
    """送达方式、送达日期 or 未送达 for a letter to a party; a department's letter needs none."""
    if not is_party_kind(notice.kind):
        return "—"
    return service_label(notice.service_state, notice.served_on, notice.service_method)


def _print_history(history: list[HistoryEntry]) -> None:
    out.print(
        _table(
            "操作记录（audit history）",
            ("序号", "时间（北京时间）", "操作人", "动作", "变更前", "变更后", "来源"),
            (
                (
                    e.seq,
                    _when(e.at),
                    e.actor,
                    label(AUDIT_ACTION_LABELS, e.action),
                    canonical_json(e.before) if e.before is not None else None,
                    canonical_json(e.after) if e.after is not None else None,
                    e.source,
                )
                for e in history
            ),
        )
    )


def _print_archive(view: CreditArchive) -> None:
    subject = view.subject
    rows: list[tuple[str, Any]] = [
        ("主体", _subject_line(subject)),
        ("地区", subject.region_code),
        ("行业", subject.industry),
    ]
    if view.unit is not None:
        rows.append(("所属单位", _subject_line(view.unit)))
    out.print(_fields(f"信用档案（credit archive）：{subject.name}", rows))
    if view.persons:
        out.print(
            _table(
                "相关人员（persons of the unit）",
                ("编号", "姓名", "证件号（脱敏）"),
                ((p.id, p.name, p.identifier) for p in view.persons),
            )
        )
    out.print(
        _table(
            "名单（listings）",
            (
                "编号",
                "名单编号（函件）",
                "批次",
                "类型",
                "状态",
                "认定依据",
                "列入决定文号",
                "公开",
                "有效期至",
                "移出",
            ),
            (
                (
                    item.id,
                    item.reference,
                    item.batch_reference,
                    label(LIST_TYPE_LABELS, item.list_type),
                    label(LISTING_STATE_LABELS, item.state),
                    "、".join(item.grounds),
                    item.decision_number,
                    _when(item.published_at),
                    _when(item.expires_on),
                    _when(item.removed_at),
                )
                for item in view.listings
            ),
        )
    )
    out.print(
        _table(
            "档案记录（timeline，北京时间）",
            ("时间", "类别", "摘要", "来源"),
            (
                (_when(e.at), label(ARCHIVE_KIND_LABELS, e.kind), e.summary_zh, e.source)
                for e in view.entries
            ),
        )
    )
    out.print(
        f"共 {len(view.listings)} 条名单、{len(view.actions)} 项部门响应、"
        f"{len(view.notices)} 份通知、{len(view.commitments)} 份承诺、"
        f"{len(view.removal_applications)} 份移出申请、{len(view.objections)} 件异议"
    )
