"""The batch view (`jointcredit batch show`): states, what the batch waits on, actions, notices;
and its quarantined rows (`jointcredit batch quarantine`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session

from registry.errors import NotFound
from registry.models import (
    ActionState,
    ImportRejection,
    ListingState,
    NoticeState,
)
from registry.prior_decision import prior_decision
from registry.references import listing_reference
from registry.service_of_notices import PARTY_LETTER_UNSERVED
from registry.views.common import (
    ACTION,
    BATCH,
    LISTING,
    NOTICE,
    SUBJECT,
    ReadView,
    scrub,
    state_counts,
    subject_identifier,
)

BATCH_LISTING_LIMIT = 200

QUARANTINE = cast(sa.Table, sa.inspect(ImportRejection).local_table)


@dataclass(frozen=True)
class BatchListing(ReadView):
    """A listing as a line of its batch; `reference` is how letters print it."""

    id: int
    reference: str
    subject_id: int
    subject_name: str
    subject_kind: str
    identifier: str
    grounds: list[str]
    state: str
    needs_review: bool
    warnings: list[str]


@dataclass(frozen=True)
class AwaitingService(ReadView):
    """A letter to a party of the batch not yet served (待送达): still going by e-mail, printed
    for post (`jointcredit notice print`), or served without success (送达失败). Its windows do
    not run until it is served (行政处罚法第四十四条、第四十五条)."""

    notice_id: int
    listing_id: int
    reference: str
    subject_name: str
    identifier: str
    kind: str
    channel: str
    service_state: str
    letter_number: str | None


@dataclass(frozen=True)
class RejectedListing(ReadView):
    """A listing the operator decided not to list (不予列入), with the reason given."""

    id: int
    reference: str
    subject_name: str
    identifier: str
    reason: str


@dataclass(frozen=True)
class BatchView(ReadView):
    """批次 status: its row, how many listings/actions/notices are where, and what it waits on.

    `listings` holds at most `BATCH_LISTING_LIMIT` lines (by id); `listing_total` counts all.
    `next_defence_due` is the earliest 陈述申辩 deadline among listings still in `notified`.
    `awaiting_service` lists the party letters not yet served (at most `BATCH_LISTING_LIMIT`,
    oldest first); `awaiting_service_total` counts all. The operator's decision: `reviewers`,
    `decided_at`, the `decision_numbers` of the confirmed listings (at most the limit, in
    listing order; `decision_number_total` counts all) and the `rejected` listings with their
    reasons (at most the limit; `rejected_total` counts all). The batch report artifact of
    `route-batch` renders this same view (`notifications.artifacts.batch_report`).
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
    awaiting_service: list[AwaitingService]
    awaiting_service_total: int
    reviewers: list[str]
    decided_at: datetime | None
    decision_numbers: list[str]
    decision_number_total: int
    rejected: list[RejectedListing]
    rejected_total: int

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
    listing_states = state_counts(
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
    notice_states = state_counts(
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
    unserved = (
        session.execute(
            sa.select(
                NOTICE.c.id.label("notice_id"),
                NOTICE.c.listing_id,
                SUBJECT.c.name.label("subject_name"),
                SUBJECT.c.uscc,
                SUBJECT.c.id_masked,
                NOTICE.c.kind,
                NOTICE.c.channel,
                NOTICE.c.service_state,
                NOTICE.c.letter_number,
                sa.func.count().over().label("total"),
            )
            .join(LISTING, LISTING.c.id == NOTICE.c.listing_id)
            .join(SUBJECT, SUBJECT.c.id == LISTING.c.subject_id)
            .where(in_batch, PARTY_LETTER_UNSERVED)
            .order_by(NOTICE.c.id)
            .limit(listing_limit)
        )
        .mappings()
        .all()
    )
    action_states = {str(state): int(count) for state, count, _ in action_rows}
    decision = prior_decision(session, batch_id)
    rejected_ids = sorted(decision.rejected)[:listing_limit]
    rejected = (
        session.execute(
            sa.select(LISTING.c.id, SUBJECT.c.name, SUBJECT.c.uscc, SUBJECT.c.id_masked)
            .join(SUBJECT, SUBJECT.c.id == LISTING.c.subject_id)
            .where(LISTING.c.id.in_(rejected_ids))
            .order_by(LISTING.c.id)
        ).all()
        if rejected_ids
        else []
    )
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
        listings=[_batch_listing(row, batch["reference"]) for row in lines],
        awaiting_service=[_awaiting(row, batch["reference"]) for row in unserved],
        awaiting_service_total=int(unserved[0]["total"]) if unserved else 0,
        reviewers=decision.reviewers,
        decided_at=decision.decided_at,
        decision_numbers=decision.decision_numbers[:listing_limit],
        decision_number_total=len(decision.decision_numbers),
        rejected=[
            RejectedListing(
                id=listing_id,
                reference=listing_reference(batch["reference"], listing_id),
                subject_name=name,
                identifier=subject_identifier(uscc, id_masked),
                reason=decision.rejected[listing_id],
            )
            for listing_id, name, uscc, id_masked in rejected
        ],
        rejected_total=len(decision.rejected),
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


def _batch_listing(row: Mapping[Any, Any], batch_reference: str) -> BatchListing:
    values = {k: v for k, v in row.items() if k not in ("uscc", "id_masked")}
    values["warnings"] = [scrub(w) or "" for w in values["warnings"] or []]
    return BatchListing(
        identifier=subject_identifier(row["uscc"], row["id_masked"]),
        reference=listing_reference(batch_reference, row["id"]),
        **values,
    )


def _awaiting(row: Mapping[Any, Any], batch_reference: str) -> AwaitingService:
    return AwaitingService(
        notice_id=row["notice_id"],
        listing_id=row["listing_id"],
        reference=listing_reference(batch_reference, row["listing_id"]),
        subject_name=row["subject_name"],
        identifier=subject_identifier(row["uscc"], row["id_masked"]),
        kind=row["kind"],
        channel=row["channel"],
        service_state=row["service_state"],
        letter_number=row["letter_number"],
    )


_PENDING_NOTICES = (NoticeState.QUEUED, NoticeState.SENDING, NoticeState.RETRY_WAIT)


_PARKED_NOTICES = (NoticeState.FAILED, NoticeState.DEAD)


_UNADDRESSABLE_NOTICES = (NoticeState.BAD_ADDRESS,)


_WITHHELD_NOTICES = (NoticeState.WITHHELD,)


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
    parts = _listing_waits(list_type, listing_states, next_defence_due, next_defence_provisional)
    if undispatched_in_force:
        parts.append("等待推送各部门")
    parts += [text for state, text in _ACTION_WAITS if action_states.get(state, 0)]
    if any(notice_states.get(s, 0) for s in _PENDING_NOTICES):
        parts.append("等待通知投递")
    if any(notice_states.get(s, 0) for s in _PARKED_NOTICES):
        parts.append("有通知投递失败，需更正联系人后重试")
    if any(notice_states.get(s, 0) for s in _UNADDRESSABLE_NOTICES):
        parts.append("有通知的收件地址无效，请用 jointcredit contact set 更正")
    if any(notice_states.get(s, 0) for s in _WITHHELD_NOTICES):
        parts.append("有通知因内容含未脱敏信息未生成，见 jointcredit outbox status")
    if parts:
        return "；".join(parts)
    if not listing_states:
        return "无待办（本批次无名单）"
    if listing_states.get(ListingState.IN_FORCE, 0):
        return "已全部生效并推送"
    return "无待办"


_LATER_LISTING_WAITS = (
    (ListingState.AWAITING_CONFIRMATION, "等待操作员确认"),
    (ListingState.CONFIRMED, "等待公开"),
    (ListingState.REMOVAL_REVIEW, "等待移出审核"),
)
_ACTION_WAITS = (
    (ActionState.DISPATCHED, "等待部门响应"),
    (ActionState.ACKNOWLEDGED, "等待部门反馈"),
    (ActionState.LIFT_REQUESTED, "等待部门确认解除措施"),
)


def _listing_waits(
    list_type: str,
    listing_states: Mapping[str, int],
    next_defence_due: date | None,
    next_defence_provisional: bool,
) -> list[str]:
    """What the batch's listings wait on, in process order."""
    parts: list[str] = []
    if listing_states.get(ListingState.PROPOSED, 0):
        parts.append("等待送达告知书" if list_type == "black" else "等待提交审核")
    if listing_states.get(ListingState.NOTIFIED, 0):
        if next_defence_due is None:
            parts.append("等待陈述申辩期满")
        else:
            mark = "，暂定" if next_defence_provisional else ""
            parts.append(f"等待陈述申辩期满（{next_defence_due.isoformat()}{mark}）")
    parts += [text for state, text in _LATER_LISTING_WAITS if listing_states.get(state, 0)]
    return parts


@dataclass(frozen=True)
class QuarantineEntry(ReadView):
    """One reason one row of the batch's file was refused (`import_rejection`, value masked)."""

    row_number: int
    column: str
    value: str | None
    reason_zh: str
    reason_en: str


@dataclass(frozen=True)
class BatchQuarantine(ReadView):
    """The quarantined rows of a batch's file (`jointcredit batch quarantine`): every one, by
    row, unless `limit` cuts them; `total` counts all."""

    batch_id: int
    reference: str
    total: int
    entries: list[QuarantineEntry]


def batch_quarantine(
    session: Session, batch_id: int, *, limit: int | None = None
) -> BatchQuarantine:
    """Every quarantined row of the batch `batch_id` (or the first `limit`), by row number."""
    reference = session.execute(
        sa.select(BATCH.c.reference).where(BATCH.c.id == batch_id)
    ).scalar_one_or_none()
    if reference is None:
        raise NotFound(f"批次不存在：{batch_id}（batch not found）", batch_id=batch_id)
    rows = session.execute(
        sa.select(
            QUARANTINE.c.row_number,
            QUARANTINE.c.column_name,
            QUARANTINE.c.value,
            QUARANTINE.c.reason_zh,
            QUARANTINE.c.reason_en,
            sa.func.count().over().label("total"),
        )
        .where(QUARANTINE.c.batch_id == batch_id)
        .order_by(QUARANTINE.c.row_number, QUARANTINE.c.id)
        .limit(limit)
    ).all()
    return BatchQuarantine(
        batch_id=batch_id,
        reference=reference,
        total=int(rows[0].total) if rows else 0,
        entries=[
            QuarantineEntry(r.row_number, r.column_name, scrub(r.value), r.reason_zh, r.reason_en)
            for r in rows
        ],
    )
