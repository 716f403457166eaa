"""Operator read views: a batch's status, a listing's history, a subject's credit archive.

Pure reads on the caller's session (never commits, never writes). Each view is a handful of
set-based queries whatever the number of rows — no query per listing — so `jointcredit batch
show` on a 10,000-listing batch costs the same few round trips as on a batch of one.

Personal ID numbers never leave this module: subjects are read without their lookup hash and
shown by USCC or masked ID only, and free text someone typed (notes, reasons, evidence) has
anything carrying a resident ID number's checksum masked before it is returned (DOMAIN.md §5).
The credit archive is DOMAIN.md §6: everything about a subject, in order, each with its source.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session
from stdnum.cn import ric

from registry.clock import BUSINESS_TZ
from registry.errors import IdentifierError, NotFound
from registry.identifiers import check_resident_id, check_uscc, mask_resident_id, shown_identifier
from registry.models import (
    ActionState,
    AuditEvent,
    Batch,
    Commitment,
    DepartmentAction,
    Listing,
    ListingState,
    Notice,
    NoticeState,
    Objection,
    RemovalApplication,
    Subject,
)

BATCH = cast(sa.Table, sa.inspect(Batch).local_table)
SUBJECT = cast(sa.Table, sa.inspect(Subject).local_table)
LISTING = cast(sa.Table, sa.inspect(Listing).local_table)
ACTION = cast(sa.Table, sa.inspect(DepartmentAction).local_table)
NOTICE = cast(sa.Table, sa.inspect(Notice).local_table)
COMMITMENT = cast(sa.Table, sa.inspect(Commitment).local_table)
REMOVAL = cast(sa.Table, sa.inspect(RemovalApplication).local_table)
OBJECTION = cast(sa.Table, sa.inspect(Objection).local_table)
AUDIT = cast(sa.Table, sa.inspect(AuditEvent).local_table)

BATCH_LISTING_LIMIT = 200

# --- labels a person reads ---------------------------------------------------------------

LIST_TYPE_LABELS: dict[str, str] = {"black": "黑名单", "red": "红名单"}
SUBJECT_KIND_LABELS: dict[str, str] = {"unit": "单位", "person": "个人"}
LISTING_STATE_LABELS: dict[str, str] = {
    ListingState.PROPOSED: "已提出",
    ListingState.NOTIFIED: "已告知待申辩",
    ListingState.AWAITING_CONFIRMATION: "待确认",
    ListingState.CONFIRMED: "已认定",
    ListingState.IN_FORCE: "生效中",
    ListingState.REMOVAL_REVIEW: "移出审核中",
    ListingState.REMOVED: "已移出",
    ListingState.REJECTED: "不予列入",
    ListingState.REVOKED: "已撤销",
}
ACTION_STATE_LABELS: dict[str, str] = {
    ActionState.DISPATCHED: "已推送待响应",
    ActionState.ACKNOWLEDGED: "已响应待反馈",
    ActionState.FEEDBACK_REPORTED: "已反馈",
    ActionState.LIFT_REQUESTED: "待确认解除",
    ActionState.LIFT_CONFIRMED: "已确认解除",
}
NOTICE_STATE_LABELS: dict[str, str] = {
    NoticeState.QUEUED: "待发送",
    NoticeState.SENDING: "发送中",
    NoticeState.SENT: "已发出",
    NoticeState.RETRY_WAIT: "待重试",
    NoticeState.FAILED: "永久失败",
    NoticeState.DEAD: "已放弃",
}
# Values of `notifications.render.NoticeKind`; the core may not import notifications.
NOTICE_KIND_LABELS: dict[str, str] = {
    "prior_notice": "告知书",
    "listing_decision": "决定书",
    "rejection": "不予列入通知",
    "department_dispatch": "推送函",
    "reminder": "催办函",
    "escalation": "督办通知",
    "removal_notice": "移出告知",
    "lift_request": "解除函",
    "red_award": "红名单告知",
    "monthly_report": "月报",
}
AUDIT_ACTION_LABELS: dict[str, str] = {
    "listing.notify": "送达告知书",
    "listing.await_confirmation": "申辩期满，转待确认",
    "listing.confirm": "认定列入",
    "listing.reject": "不予列入",
    "listing.publish": "公开",
    "listing.review_removal": "进入移出审核",
    "listing.retain": "维持列入",
    "listing.remove": "移出名单",
    "listing.revoke": "撤销列入",
    "listing.restore": "恢复列入",
}
REMOVAL_REASON_LABELS: dict[str, str] = {
    "expiry": "期满",
    "application": "到期前申请",
    "early_removal": "提前移出",
    "revoked": "撤销",
}
CASE_STATE_LABELS: dict[str, str] = {
    "open": "待处理",
    "approved": "已批准",
    "granted": "已批准",
    "rejected": "已驳回",
    "refused": "已驳回",
    "upheld": "成立",
    "dismissed": "不成立",
    "withdrawn": "已撤回",
}


def label(labels: Mapping[str, str], code: str | None) -> str:
    """The Chinese label of a stored code, or the code itself when it has none."""
    if code is None:
        return "—"
    return labels.get(code, code)


# --- personal data -----------------------------------------------------------------------

_ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")


def scrub(text: str | None) -> str | None:
    """Mask every valid resident ID number in free text (a reason, note, evidence)."""
    if text is None:
        return None
    return _ID_SHAPED.sub(lambda m: _mask_if_id(m.group()), text)


def _mask_if_id(candidate: str) -> str:
    # The checksum alone decides: region and birth-date checks would let a number with an
    # unlisted region code through unmasked, and masking a look-alike costs nothing.
    number = candidate.upper()
    return mask_resident_id(number) if ric.calc_check_digit(number) == number[-1] else candidate


def _scrub_json(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [_scrub_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_json(v) for k, v in value.items()}
    return value


def _jsonable(value: Any) -> Any:
    """Dates and times as ISO strings, recursively, for `--json`."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class _View:
    """`as_dict` for every view dataclass: JSON-ready, dates ISO."""

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = _jsonable(dataclasses.asdict(cast(Any, self)))
        return result


# --- shared row shapes -------------------------------------------------------------------


@dataclass(frozen=True)
class SubjectRef(_View):
    """A subject as anyone may see it: `identifier` is the USCC or the masked ID, never raw."""

    id: int
    kind: str
    name: str
    identifier: str
    uscc: str | None
    id_masked: str | None
    unit_id: int | None
    region_code: str | None
    industry: str | None


_SUBJECT_COLUMNS = (
    SUBJECT.c.id,
    SUBJECT.c.kind,
    SUBJECT.c.name,
    SUBJECT.c.uscc,
    SUBJECT.c.id_masked,
    SUBJECT.c.unit_id,
    SUBJECT.c.region_code,
    SUBJECT.c.industry,
)


def _subject(row: Mapping[Any, Any]) -> SubjectRef:
    return SubjectRef(identifier=_identifier(row["uscc"], row["id_masked"]), **row)


def _identifier(uscc: str | None, id_masked: str | None) -> str:
    return uscc or id_masked or "—"


@dataclass(frozen=True)
class ActionLine(_View):
    """One department's 发起—响应—反馈 record for one listing."""

    id: int
    listing_id: int
    department: str
    memorandum: str
    measures: list[str]
    state: str
    escalation_level: int
    dispatched_at: datetime
    ack_due: date | None
    ack_provisional: bool
    acknowledged_at: datetime | None
    feedback_due: date | None
    feedback_provisional: bool
    feedback_at: datetime | None
    feedback_text: str | None
    lift_due: date | None
    lift_provisional: bool
    lift_confirmed_at: datetime | None


_ACTION_COLUMNS = tuple(ACTION.c[name] for name in ActionLine.__dataclass_fields__)


def _action(row: Mapping[Any, Any]) -> ActionLine:
    return ActionLine(**{**row, "feedback_text": scrub(row["feedback_text"])})


@dataclass(frozen=True)
class NoticeLine(_View):
    """One outbox row: where it went and whether it arrived (去向可追).

    `listing_id` is None for a batch-wide notice (e.g. one 推送函 per department per batch).
    """

    id: int
    listing_id: int | None
    batch_id: int | None
    kind: str
    recipient: str
    recipient_name: str | None
    department_code: str | None
    state: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    message_id: str
    last_error: str | None


_NOTICE_COLUMNS = tuple(NOTICE.c[name] for name in NoticeLine.__dataclass_fields__)


@dataclass(frozen=True)
class HistoryEntry(_View):
    """One audit event, as chained by `registry.audit` (who, what, before/after, from where)."""

    seq: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    source: str


_HISTORY_COLUMNS = tuple(AUDIT.c[name] for name in HistoryEntry.__dataclass_fields__)


def _history(session: Session, condition: sa.ColumnElement[bool]) -> list[HistoryEntry]:
    rows = session.execute(
        sa.select(*_HISTORY_COLUMNS).where(condition).order_by(AUDIT.c.seq)
    ).mappings()
    return [
        HistoryEntry(
            **{**row, "before": _scrub_json(row["before"]), "after": _scrub_json(row["after"])}
        )
        for row in rows
    ]


def _listing_events(listing_ids: Sequence[int]) -> sa.ColumnElement[bool]:
    return sa.and_(
        AUDIT.c.entity_type == "listing", AUDIT.c.entity_id.in_([str(i) for i in listing_ids])
    )


def _counts(session: Session, query: sa.Select[Any]) -> dict[str, int]:
    return {str(state): int(count) for state, count in session.execute(query)}


# --- batch -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchListing(_View):
    """A listing as a line of its batch."""

    id: int
    subject_id: int
    subject_name: str
    subject_kind: str
    identifier: str
    grounds: list[str]
    state: str
    needs_review: bool
    warnings: list[str]


@dataclass(frozen=True)
class BatchView(_View):
    """批次 status: its row, how many listings/actions/notices are where, and what it waits on.

    `listings` holds at most `BATCH_LISTING_LIMIT` lines (by id); `listing_total` counts all.
    `next_defence_due` is the earliest 陈述申辩 deadline among listings still in `notified`.
    """

    id: int
    reference: str
    list_type: str
    rule_set: str | None
    source_kind: str
    source_name: str | None
    reporter: str | None
    proposed_by: str
    status: str
    accepted_count: int
    rejected_count: int
    created_at: datetime
    listing_states: dict[str, int]
    listing_total: int
    next_defence_due: date | None
    next_defence_provisional: bool
    undispatched_in_force: int
    action_states: dict[str, int]
    escalated_actions: int
    notice_states: dict[str, int]
    listings: list[BatchListing]
    waiting_on: str

    @property
    def listings_truncated(self) -> bool:
        return len(self.listings) < self.listing_total

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "listings_truncated": self.listings_truncated}


_BATCH_COLUMNS = tuple(
    BATCH.c[name]
    for name in (
        "id",
        "reference",
        "list_type",
        "rule_set",
        "source_kind",
        "source_name",
        "reporter",
        "proposed_by",
        "status",
        "accepted_count",
        "rejected_count",
        "created_at",
    )
)


def batch_view(
    session: Session, batch_id: int, *, listing_limit: int = BATCH_LISTING_LIMIT
) -> BatchView:
    """The batch `batch_id`; `NotFound` (Chinese) when there is none."""
    batch = (
        session.execute(sa.select(*_BATCH_COLUMNS).where(BATCH.c.id == batch_id))
        .mappings()
        .one_or_none()
    )
    if batch is None:
        raise NotFound(f"批次不存在：{batch_id}（batch not found）", batch_id=batch_id)
    in_batch = LISTING.c.batch_id == batch_id
    listing_ids = sa.select(LISTING.c.id).where(in_batch)
    listing_states = _counts(
        session,
        sa.select(LISTING.c.state, sa.func.count()).where(in_batch).group_by(LISTING.c.state),
    )
    defence = session.execute(
        sa.select(
            LISTING.c.defence_due,
            sa.func.max(sa.case((LISTING.c.defence_provisional, 1), else_=0)),
        )
        .where(
            in_batch,
            LISTING.c.state == ListingState.NOTIFIED.value,
            LISTING.c.defence_due.is_not(None),
        )
        .group_by(LISTING.c.defence_due)
        .order_by(LISTING.c.defence_due)
        .limit(1)
    ).one_or_none()
    undispatched = session.execute(
        sa.select(sa.func.count()).where(
            in_batch,
            LISTING.c.state == ListingState.IN_FORCE.value,
            ~sa.exists().where(ACTION.c.listing_id == LISTING.c.id),
        )
    ).scalar_one()
    action_rows = session.execute(
        sa.select(
            ACTION.c.state,
            sa.func.count(),
            sa.func.sum(sa.case((ACTION.c.escalation_level > 0, 1), else_=0)),
        )
        .where(ACTION.c.listing_id.in_(listing_ids))
        .group_by(ACTION.c.state)
    ).all()
    notice_states = _counts(
        session,
        sa.select(NOTICE.c.state, sa.func.count())
        .where(sa.or_(NOTICE.c.batch_id == batch_id, NOTICE.c.listing_id.in_(listing_ids)))
        .group_by(NOTICE.c.state),
    )
    lines = session.execute(
        sa.select(
            LISTING.c.id,
            LISTING.c.subject_id,
            SUBJECT.c.name.label("subject_name"),
            SUBJECT.c.kind.label("subject_kind"),
            SUBJECT.c.uscc,
            SUBJECT.c.id_masked,
            LISTING.c.grounds,
            LISTING.c.state,
            LISTING.c.needs_review,
            LISTING.c.warnings,
        )
        .join(SUBJECT, SUBJECT.c.id == LISTING.c.subject_id)
        .where(in_batch)
        .order_by(LISTING.c.id)
        .limit(listing_limit)
    ).mappings()
    action_states = {str(state): int(count) for state, count, _ in action_rows}
    next_due = defence[0] if defence else None
    provisional = bool(defence[1]) if defence else False
    return BatchView(
        **batch,
        listing_states=listing_states,
        listing_total=sum(listing_states.values()),
        next_defence_due=next_due,
        next_defence_provisional=provisional,
        undispatched_in_force=int(undispatched),
        action_states=action_states,
        escalated_actions=sum(int(escalated or 0) for _, _, escalated in action_rows),
        notice_states=notice_states,
        listings=[_batch_listing(row) for row in lines],
        waiting_on=waiting_on(
            list_type=batch["list_type"],
            listing_states=listing_states,
            next_defence_due=next_due,
            next_defence_provisional=provisional,
            undispatched_in_force=int(undispatched),
            action_states=action_states,
            notice_states=notice_states,
        ),
    )


def _batch_listing(row: Mapping[Any, Any]) -> BatchListing:
    values = {k: v for k, v in row.items() if k not in ("uscc", "id_masked")}
    values["warnings"] = [scrub(w) or "" for w in values["warnings"] or []]
    return BatchListing(identifier=_identifier(row["uscc"], row["id_masked"]), **values)


_PENDING_NOTICES = (NoticeState.QUEUED, NoticeState.SENDING, NoticeState.RETRY_WAIT)
_PARKED_NOTICES = (NoticeState.FAILED, NoticeState.DEAD)


def waiting_on(
    *,
    list_type: str,
    listing_states: Mapping[str, int],
    next_defence_due: date | None,
    next_defence_provisional: bool,
    undispatched_in_force: int,
    action_states: Mapping[str, int],
    notice_states: Mapping[str, int],
) -> str:
    """What a batch waits on, in process order, as one short Chinese sentence.

    Derived from counts only, so it is the same however the batch got there.
    """
    listing = listing_states.get
    parts: list[str] = []
    if listing(ListingState.PROPOSED, 0):
        parts.append("等待送达告知书" if list_type == "black" else "等待提交审核")
    if listing(ListingState.NOTIFIED, 0):
        if next_defence_due is None:
            parts.append("等待陈述申辩期满")
        else:
            mark = "，暂定" if next_defence_provisional else ""
            parts.append(f"等待陈述申辩期满（{next_defence_due.isoformat()}{mark}）")
    if listing(ListingState.AWAITING_CONFIRMATION, 0):
        parts.append("等待操作员确认")
    if listing(ListingState.CONFIRMED, 0):
        parts.append("等待公开")
    if listing(ListingState.REMOVAL_REVIEW, 0):
        parts.append("等待移出审核")
    if undispatched_in_force:
        parts.append("等待推送各部门")
    if action_states.get(ActionState.DISPATCHED, 0):
        parts.append("等待部门响应")
    if action_states.get(ActionState.ACKNOWLEDGED, 0):
        parts.append("等待部门反馈")
    if action_states.get(ActionState.LIFT_REQUESTED, 0):
        parts.append("等待部门确认解除措施")
    if any(notice_states.get(s, 0) for s in _PENDING_NOTICES):
        parts.append("等待通知投递")
    if any(notice_states.get(s, 0) for s in _PARKED_NOTICES):
        parts.append("有通知投递失败，需更正联系人后重试")
    if parts:
        return "；".join(parts)
    if not listing_states:
        return "无待办（本批次无名单）"
    if listing(ListingState.IN_FORCE, 0):
        return "已全部生效并推送"
    return "无待办"


# --- listing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ListingView(_View):
    """One listing: subject (masked), batch, every date, actions, notices, audit history.

    `notices` are the listing's own and its batch's batch-wide ones (`listing_id` None);
    `history` is every audit event on the listing, in chain (seq) order.
    """

    id: int
    subject: SubjectRef
    batch_id: int
    batch_reference: str
    list_type: str
    rule_set: str
    grounds: list[str]
    decision_number: str | None
    decision_date: date | None
    typical_case: bool
    needs_review: bool
    warnings: list[str]
    note: str | None
    state: str
    removal_reason: str | None
    proposed_at: datetime
    proposed_by: str
    notified_at: datetime | None
    defence_due: date | None
    defence_provisional: bool
    defence_received_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    published_at: datetime | None
    expires_on: date | None
    removed_at: datetime | None
    actions: list[ActionLine]
    notices: list[NoticeLine]
    history: list[HistoryEntry]


_LISTING_FIELDS = tuple(
    name
    for name in ListingView.__dataclass_fields__
    if name not in ("subject", "batch_reference", "actions", "notices", "history")
)


def listing_view(session: Session, listing_id: int) -> ListingView:
    """The listing `listing_id`; `NotFound` (Chinese) when there is none."""
    row = (
        session.execute(
            sa.select(
                *(LISTING.c[name] for name in _LISTING_FIELDS),
                BATCH.c.reference.label("batch_reference"),
                *(c.label(f"subject_{c.name}") for c in _SUBJECT_COLUMNS),
            )
            .join(BATCH, BATCH.c.id == LISTING.c.batch_id)
            .join(SUBJECT, SUBJECT.c.id == LISTING.c.subject_id)
            .where(LISTING.c.id == listing_id)
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound(f"名单不存在：{listing_id}（listing not found）", listing_id=listing_id)
    subject = _subject({c.name: row[f"subject_{c.name}"] for c in _SUBJECT_COLUMNS})
    values = {name: row[name] for name in _LISTING_FIELDS}
    values["note"] = scrub(values["note"])
    values["warnings"] = [scrub(w) or "" for w in values["warnings"] or []]
    actions = _actions(session, ACTION.c.listing_id == listing_id)
    notices = _notices(session, [listing_id], [row["batch_id"]])
    return ListingView(
        **values,
        subject=subject,
        batch_reference=row["batch_reference"],
        actions=actions,
        notices=notices,
        history=_history(session, _listing_events([listing_id])),
    )


def _actions(session: Session, condition: sa.ColumnElement[bool]) -> list[ActionLine]:
    rows = session.execute(
        sa.select(*_ACTION_COLUMNS).where(condition).order_by(ACTION.c.dispatched_at, ACTION.c.id)
    ).mappings()
    return [_action(row) for row in rows]


def _notices(
    session: Session, listing_ids: Sequence[int], batch_ids: Iterable[int]
) -> list[NoticeLine]:
    """The listings' own notices and their batches' batch-wide ones, oldest first."""
    rows = session.execute(
        sa.select(*_NOTICE_COLUMNS)
        .where(
            sa.or_(
                NOTICE.c.listing_id.in_(list(listing_ids)),
                sa.and_(NOTICE.c.listing_id.is_(None), NOTICE.c.batch_id.in_(list(batch_ids))),
            )
        )
        .order_by(NOTICE.c.created_at, NOTICE.c.id)
    ).mappings()
    return [NoticeLine(**{**row, "last_error": scrub(row["last_error"])}) for row in rows]


# --- credit archive ----------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveListing(_View):
    id: int
    batch_id: int
    batch_reference: str
    list_type: str
    rule_set: str
    state: str
    grounds: list[str]
    decision_number: str | None
    decision_date: date | None
    typical_case: bool
    proposed_at: datetime
    notified_at: datetime | None
    defence_due: date | None
    defence_provisional: bool
    defence_received_at: datetime | None
    decided_at: datetime | None
    published_at: datetime | None
    expires_on: date | None
    removed_at: datetime | None
    removal_reason: str | None


@dataclass(frozen=True)
class CommitmentLine(_View):
    id: int
    kind: str
    text: str
    made_on: date
    public: bool
    recorded_at: datetime


@dataclass(frozen=True)
class RemovalApplicationLine(_View):
    id: int
    listing_id: int
    applied_at: datetime
    evidence: str
    commitment_id: int | None
    state: str
    decide_due: date | None
    decide_provisional: bool
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None


@dataclass(frozen=True)
class ObjectionLine(_View):
    id: int
    listing_id: int
    filed_at: datetime
    filed_by: str
    reason: str
    state: str
    answer_due: date | None
    answer_provisional: bool
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None


@dataclass(frozen=True)
class ArchiveEntry(_View):
    """One line of the archive's timeline; `source` says where the fact comes from (来源可查)."""

    at: datetime
    kind: str
    summary_zh: str
    source: str
    listing_id: int | None = None


@dataclass(frozen=True)
class CreditArchive(_View):
    """信用档案 (DOMAIN.md §6): the structured parts and `entries`, all of it in time order.

    `unit` is a person's unit; `persons` are a unit's persons (法定代表人, 负责人 …).
    """

    subject: SubjectRef
    unit: SubjectRef | None
    persons: list[SubjectRef]
    listings: list[ArchiveListing]
    actions: list[ActionLine]
    notices: list[NoticeLine]
    commitments: list[CommitmentLine]
    removal_applications: list[RemovalApplicationLine]
    objections: list[ObjectionLine]
    history: list[HistoryEntry]
    entries: list[ArchiveEntry]


def _columns(table: sa.Table, shape: type[Any]) -> tuple[sa.ColumnElement[Any], ...]:
    return tuple(table.c[name] for name in shape.__dataclass_fields__)


def credit_archive(
    session: Session,
    *,
    uscc: str | None = None,
    id_hash: str | None = None,
    shown_as: str | None = None,
) -> CreditArchive:
    """The archive of the subject with this USCC or resident-ID lookup hash (exactly one).

    `shown_as` is how to name the subject in a `NotFound` message (the masked ID for a person:
    the hash means nothing to a reader, the number must not be shown).
    """
    if (uscc is None) == (id_hash is None):
        raise IdentifierError(
            "请提供统一社会信用代码或身份证号之一（give exactly one of USCC or ID hash）"
        )
    if uscc is not None:
        code = check_uscc(uscc).code
        condition = SUBJECT.c.uscc == code
        shown = shown_as or code
    else:
        condition = SUBJECT.c.id_hash == id_hash
        shown = shown_as or "身份证号（已脱敏）"
    row = session.execute(sa.select(*_SUBJECT_COLUMNS).where(condition)).mappings().one_or_none()
    if row is None:
        raise NotFound(f"主体不存在：{shown}（subject not found）", identifier=shown)
    return _archive(session, _subject(row))


def credit_archive_by_identifier(
    session: Session, identifier: str, *, id_hash_key: str
) -> CreditArchive:
    """The archive for what an operator typed: a USCC, or a resident ID number.

    A valid resident ID number is looked up by its keyed hash (and, failing that, as a USCC:
    an all-digit USCC can look like one). Whatever could be an ID number — even mistyped, a
    digit short — is only ever named in its masked form.
    """
    text = re.sub(r"[\s\-]", "", identifier).upper()
    shown = shown_identifier(text)
    try:
        person = check_resident_id(text, id_hash_key)
    except IdentifierError:
        person = None
    if person is not None:
        try:
            return credit_archive(session, id_hash=person.lookup_hash, shown_as=person.masked)
        except NotFound:
            if not check_uscc(text).accepted:
                raise
    if not check_uscc(text).accepted:
        raise IdentifierError(
            f"无法识别的标识：{shown}；应为18位统一社会信用代码或身份证号"
            "（not a USCC or resident ID number）",
            identifier=shown,
        )
    return credit_archive(session, uscc=text, shown_as=shown)


def _archive(session: Session, subject: SubjectRef) -> CreditArchive:
    unit = None
    if subject.unit_id is not None:
        unit_row = (
            session.execute(sa.select(*_SUBJECT_COLUMNS).where(SUBJECT.c.id == subject.unit_id))
            .mappings()
            .one_or_none()
        )
        unit = _subject(unit_row) if unit_row is not None else None
    persons = [
        _subject(r)
        for r in session.execute(
            sa.select(*_SUBJECT_COLUMNS)
            .where(SUBJECT.c.unit_id == subject.id)
            .order_by(SUBJECT.c.id)
        ).mappings()
    ]
    listing_fields = [n for n in ArchiveListing.__dataclass_fields__ if n != "batch_reference"]
    listings = [
        ArchiveListing(**r)
        for r in session.execute(
            sa.select(
                *(LISTING.c[n] for n in listing_fields),
                BATCH.c.reference.label("batch_reference"),
            )
            .join(BATCH, BATCH.c.id == LISTING.c.batch_id)
            .where(LISTING.c.subject_id == subject.id)
            .order_by(LISTING.c.proposed_at, LISTING.c.id)
        ).mappings()
    ]
    ids = [item.id for item in listings]
    actions = _actions(session, ACTION.c.listing_id.in_(ids))
    notices = _notices(session, ids, {item.batch_id for item in listings})
    commitments = [
        CommitmentLine(**{**r, "text": scrub(r["text"])})
        for r in session.execute(
            sa.select(*_columns(COMMITMENT, CommitmentLine))
            .where(COMMITMENT.c.subject_id == subject.id)
            .order_by(COMMITMENT.c.made_on, COMMITMENT.c.id)
        ).mappings()
    ]
    removals = [
        RemovalApplicationLine(
            **{
                **r,
                "evidence": scrub(r["evidence"]),
                "decision_reason": scrub(r["decision_reason"]),
            }
        )
        for r in session.execute(
            sa.select(*_columns(REMOVAL, RemovalApplicationLine))
            .where(REMOVAL.c.listing_id.in_(ids))
            .order_by(REMOVAL.c.applied_at, REMOVAL.c.id)
        ).mappings()
    ]
    objections = [
        ObjectionLine(
            **{**r, "reason": scrub(r["reason"]), "decision_reason": scrub(r["decision_reason"])}
        )
        for r in session.execute(
            sa.select(*_columns(OBJECTION, ObjectionLine))
            .where(OBJECTION.c.listing_id.in_(ids))
            .order_by(OBJECTION.c.filed_at, OBJECTION.c.id)
        ).mappings()
    ]
    history = _history(
        session,
        sa.or_(
            _listing_events(ids),
            sa.and_(AUDIT.c.entity_type == "subject", AUDIT.c.entity_id == str(subject.id)),
        ),
    )
    parts = _Parts(listings, actions, notices, commitments, removals, objections, history)
    return CreditArchive(
        subject=subject,
        unit=unit,
        persons=persons,
        listings=listings,
        actions=actions,
        notices=notices,
        commitments=commitments,
        removal_applications=removals,
        objections=objections,
        history=history,
        entries=_timeline(parts),
    )


@dataclass(frozen=True)
class _Parts:
    listings: list[ArchiveListing]
    actions: list[ActionLine]
    notices: list[NoticeLine]
    commitments: list[CommitmentLine]
    removals: list[RemovalApplicationLine]
    objections: list[ObjectionLine]
    history: list[HistoryEntry]


# A listing's date column stands in the timeline only when no audit event records the same
# step (listings imported already decided have dates but no events; walked ones have both).
_DATE_EVENTS = {
    "notified_at": ("listing.notify",),
    "decided_at": ("listing.confirm",),
    "published_at": ("listing.publish",),
    "removed_at": ("listing.remove", "listing.revoke"),
}


def _short(text: str | None, limit: int = 60) -> str:
    if not text:
        return "—"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _business_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), BUSINESS_TZ).astimezone(UTC)


def _timeline(parts: _Parts) -> list[ArchiveEntry]:
    """Every dated fact of the archive as one list, oldest first."""
    entries: list[ArchiveEntry] = []
    recorded = {(int(e.entity_id), e.action) for e in parts.history if e.entity_type == "listing"}
    for item in parts.listings:
        entries.extend(_listing_entries(item, recorded))
    for action in parts.actions:
        entries.extend(_action_entries(action))
    for notice in parts.notices:
        state = label(NOTICE_STATE_LABELS, notice.state)
        entries.append(
            ArchiveEntry(
                notice.sent_at or notice.created_at,
                "notice",
                f"{label(NOTICE_KIND_LABELS, notice.kind)} 致 "
                f"{notice.recipient_name or notice.recipient}（{notice.recipient}）：{state}",
                f"notice:{notice.id}",
                notice.listing_id,
            )
        )
    for commitment in parts.commitments:
        public = "公开" if commitment.public else "不公开"
        entries.append(
            ArchiveEntry(
                _business_midnight(commitment.made_on),
                "commitment",
                f"作出承诺（{commitment.kind}，{public}）：{_short(commitment.text)}",
                f"commitment:{commitment.id}",
            )
        )
    for application in parts.removals:
        source = f"removal_application:{application.id}"
        entries.append(
            ArchiveEntry(
                application.applied_at,
                "removal_application",
                f"名单 {application.listing_id} 申请提前移出：{_short(application.evidence)}",
                source,
                application.listing_id,
            )
        )
        if application.decided_at is not None:
            entries.append(
                ArchiveEntry(
                    application.decided_at,
                    "removal_application",
                    f"提前移出申请{label(CASE_STATE_LABELS, application.state)}"
                    f"（{application.decided_by or '—'}）：{_short(application.decision_reason)}",
                    source,
                    application.listing_id,
                )
            )
    for objection in parts.objections:
        source = f"objection:{objection.id}"
        entries.append(
            ArchiveEntry(
                objection.filed_at,
                "objection",
                f"{objection.filed_by} 对名单 {objection.listing_id} 提出异议："
                f"{_short(objection.reason)}",
                source,
                objection.listing_id,
            )
        )
        if objection.decided_at is not None:
            entries.append(
                ArchiveEntry(
                    objection.decided_at,
                    "objection",
                    f"异议{label(CASE_STATE_LABELS, objection.state)}"
                    f"（{objection.decided_by or '—'}）：{_short(objection.decision_reason)}",
                    source,
                    objection.listing_id,
                )
            )
    entries.extend(_audit_entry(event) for event in parts.history)
    order = {kind: rank for rank, kind in enumerate(_KIND_ORDER)}
    return sorted(entries, key=lambda e: (e.at, order.get(e.kind, len(order))))


# Within one instant: the fact, then what was recorded about it, then what it caused.
_KIND_ORDER = (
    "listing",
    "audit",
    "commitment",
    "removal_application",
    "objection",
    "action",
    "notice",
)


def _listing_entries(item: ArchiveListing, recorded: set[tuple[int, str]]) -> list[ArchiveEntry]:
    source = f"batch:{item.batch_reference}"
    kind_label = LIST_TYPE_LABELS.get(item.list_type, item.list_type)
    found = [
        (
            item.proposed_at,
            f"名单 {item.id} 提出列入{kind_label}（规则 {item.rule_set}）："
            f"认定依据 {'、'.join(item.grounds) or '—'}",
        )
    ]
    due = item.defence_due.isoformat() if item.defence_due else "—"
    steps: list[tuple[str, datetime | None, str]] = [
        ("notified_at", item.notified_at, f"名单 {item.id} 送达告知书，陈述申辩期至 {due}"),
        ("decided_at", item.decided_at, f"名单 {item.id} 认定列入，决定书 {item.decision_number}"),
        (
            "published_at",
            item.published_at,
            f"名单 {item.id} 公开，有效期至 "
            f"{item.expires_on.isoformat() if item.expires_on else '—'}",
        ),
        (
            "removed_at",
            item.removed_at,
            f"名单 {item.id} 移出（{label(REMOVAL_REASON_LABELS, item.removal_reason)}）",
        ),
    ]
    if item.defence_received_at is not None:
        found.append((item.defence_received_at, f"名单 {item.id} 收到陈述申辩"))
    for column, at, summary in steps:
        if at is not None and not any((item.id, a) in recorded for a in _DATE_EVENTS[column]):
            found.append((at, summary))
    return [ArchiveEntry(at, "listing", summary, source, item.id) for at, summary in found]


def _action_entries(action: ActionLine) -> list[ArchiveEntry]:
    source = f"department_action:{action.id}"
    measures = "、".join(action.measures) or "—"
    steps: list[tuple[datetime | None, str]] = [
        (
            action.dispatched_at,
            f"推送至 {action.department}（{action.memorandum}），措施：{measures}",
        ),
        (action.acknowledged_at, f"{action.department} 响应（签收）"),
        (action.feedback_at, f"{action.department} 反馈：{_short(action.feedback_text)}"),
        (action.lift_confirmed_at, f"{action.department} 确认已解除措施"),
    ]
    return [
        ArchiveEntry(at, "action", summary, source, action.listing_id)
        for at, summary in steps
        if at is not None
    ]


def _audit_entry(event: HistoryEntry) -> ArchiveEntry:
    action = label(AUDIT_ACTION_LABELS, event.action)
    before, after = event.before or {}, event.after or {}
    details = [f"操作人 {event.actor}"]
    if "state" in before or "state" in after:
        details.insert(
            0,
            f"{label(LISTING_STATE_LABELS, before.get('state'))} → "
            f"{label(LISTING_STATE_LABELS, after.get('state'))}",
        )
    if after.get("decision_number"):
        details.append(f"决定书 {after['decision_number']}")
    if after.get("defence_due"):
        details.append(f"陈述申辩期至 {after['defence_due']}")
    if after.get("expires_on"):
        details.append(f"有效期至 {after['expires_on']}")
    if after.get("reason"):
        details.append(f"理由：{_short(str(after['reason']))}")
    listing_id = int(event.entity_id) if event.entity_type == "listing" else None
    subject = f"名单 {listing_id} " if listing_id is not None else ""
    return ArchiveEntry(
        event.at,
        "audit",
        f"{subject}{action}（{'；'.join(details)}）",
        f"audit:{event.seq} {event.source}",
        listing_id,
    )
