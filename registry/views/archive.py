"""The credit archive (信用档案, DOMAIN.md §6): all about one subject, in order, with sources."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import sqlalchemy as sa
from sqlmodel import Session

from registry.clock import BUSINESS_TZ
from registry.errors import IdentifierError, NotFound
from registry.identifiers import check_resident_id, check_uscc, shown_identifier
from registry.references import listing_reference
from registry.views.common import (
    ACTION,
    AUDIT,
    BATCH,
    COMMITMENT,
    LISTING,
    OBJECTION,
    REMOVAL,
    SUBJECT,
    SUBJECT_COLUMNS,
    ActionLine,
    HistoryEntry,
    NoticeLine,
    ReadView,
    SubjectRef,
    action_lines,
    columns_of,
    history_entries,
    listing_events,
    notice_lines,
    scrub,
    subject_ref,
)
from registry.vocabulary import (
    AUDIT_ACTION_LABELS,
    CASE_STATE_LABELS,
    LIST_TYPE_LABELS,
    LISTING_STATE_LABELS,
    NOTICE_KIND_LABELS,
    NOTICE_STATE_LABELS,
    REMOVAL_REASON_LABELS,
    label,
)


@dataclass(frozen=True)
class ArchiveListing(ReadView):
    id: int
    reference: str
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
class CommitmentLine(ReadView):
    id: int
    kind: str
    text: str
    made_on: date
    public: bool
    recorded_at: datetime


@dataclass(frozen=True)
class RemovalApplicationLine(ReadView):
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
class ObjectionLine(ReadView):
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
class ArchiveEntry(ReadView):
    """One line of the archive's timeline; `source` says where the fact comes from (来源可查)."""

    at: datetime
    kind: str
    summary_zh: str
    source: str
    listing_id: int | None = None


@dataclass(frozen=True)
class CreditArchive(ReadView):
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
    row = session.execute(sa.select(*SUBJECT_COLUMNS).where(condition)).mappings().one_or_none()
    if row is None:
        raise NotFound(f"主体不存在：{shown}（subject not found）", identifier=shown)
    return _archive(session, subject_ref(row))


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
            session.execute(sa.select(*SUBJECT_COLUMNS).where(SUBJECT.c.id == subject.unit_id))
            .mappings()
            .one_or_none()
        )
        unit = subject_ref(unit_row) if unit_row is not None else None
    persons = [
        subject_ref(r)
        for r in session.execute(
            sa.select(*SUBJECT_COLUMNS)
            .where(SUBJECT.c.unit_id == subject.id)
            .order_by(SUBJECT.c.id)
        ).mappings()
    ]
    listing_fields = [n for n in ArchiveListing.__dataclass_fields__ if not n.endswith("reference")]
    listings = [
        ArchiveListing(**r, reference=listing_reference(r["batch_reference"], r["id"]))
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
    actions = action_lines(session, ACTION.c.listing_id.in_(ids))
    notices = notice_lines(session, ids)
    commitments = [
        CommitmentLine(**{**r, "text": scrub(r["text"])})
        for r in session.execute(
            sa.select(*columns_of(COMMITMENT, CommitmentLine))
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
            sa.select(*columns_of(REMOVAL, RemovalApplicationLine))
            .where(REMOVAL.c.listing_id.in_(ids))
            .order_by(REMOVAL.c.applied_at, REMOVAL.c.id)
        ).mappings()
    ]
    objections = [
        ObjectionLine(
            **{**r, "reason": scrub(r["reason"]), "decision_reason": scrub(r["decision_reason"])}
        )
        for r in session.execute(
            sa.select(*columns_of(OBJECTION, ObjectionLine))
            .where(OBJECTION.c.listing_id.in_(ids))
            .order_by(OBJECTION.c.filed_at, OBJECTION.c.id)
        ).mappings()
    ]
    history = history_entries(
        session,
        sa.or_(
            listing_events(ids),
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
        (
            "decided_at",
            item.decided_at,
            f"名单 {item.id} 认定列入，列入决定 {item.decision_number}",
        ),
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
        details.append(f"列入决定 {after['decision_number']}")
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
