"""The party's written answers (issue 14 item 3): 异议答复书, 不予移出决定书, 恢复列入告知书.

`notifications.compose` routes these kinds here; each context is built from the case it answers
(the objection or removal application named by `NoticeRequest.case_id`, one row read by id) and
the listing row compose has already loaded. Every answer against the party states its remedies
(`contexts.Remedies`): 行政复议 within 60 days (行政复议法（2023年修订）第二十条) or 行政诉讼 within
6 months (行政诉讼法第四十六条), both from receipt of the letter.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session

from memoranda.schema import RuleSet
from notifications.contexts import (
    Contact,
    Letterhead,
    NoticeContext,
    ObjectionReplyContext,
    Remedies,
    RemovalRefusalContext,
    RestoreNoticeContext,
    SubjectLine,
)
from registry.clock import business_date
from registry.models import Objection, RemovalApplication
from registry.routing import NoticeRequest
from registry.vocabulary import NoticeKind

REPLY_KINDS = frozenset(
    {NoticeKind.OBJECTION_REPLY, NoticeKind.REMOVAL_REFUSAL, NoticeKind.RESTORE_NOTICE}
)
"""Party letters composed here; they take the party's recipient path in `compose`."""

REVIEW_BODY = "有管辖权的行政复议机关"
"""Who hears the 行政复议 (行政复议法第二十四条: usually the government at the same level) —
named generically, since the installation does not know its authority's level (our default)."""

OBJECTION_DISMISSED = "提出的异议理由不成立，本机关不予支持"
"""The finding of a dismissed objection (异议不成立)."""


def reply_context(
    session: Session,
    request: NoticeRequest,
    *,
    party: SubjectLine,
    listing: dict[str, Any],
    rule_set: RuleSet,
    letterhead: Letterhead,
    contact: Contact,
) -> NoticeContext:
    """The context of one reply kind (`REPLY_KINDS`) for one listing."""
    common: dict[str, Any] = {
        "letterhead": letterhead,
        "party": party,
        "list_name": rule_set.list_name or rule_set.title,
        "decision_number": listing.get("decision_number") or "—",
        "remedies": Remedies(review_body=REVIEW_BODY),
        "contact": contact,
    }
    if request.kind is NoticeKind.OBJECTION_REPLY:
        return _objection_reply(session, request, common)
    if request.kind is NoticeKind.REMOVAL_REFUSAL:
        early = rule_set.removal is not None and rule_set.removal.early_removal_after_months
        return _removal_refusal(
            session, request, listing, common | {"term_word": rule_set.term_word}, early=bool(early)
        )
    return RestoreNoticeContext(
        **common,
        term_word=rule_set.term_word,
        list_type=listing["list_type"],
        removed_on=_day(listing.get("removed_at")),
        reason=request.reason or "经核查，提前移出系以不正当手段取得",
        restored_on=letterhead.issued_on,
        expires_on=listing["expires_on"] or letterhead.issued_on,
    )


def _objection_reply(
    session: Session, request: NoticeRequest, common: dict[str, Any]
) -> ObjectionReplyContext:
    objection = session.get(Objection, request.case_id)
    if objection is None:
        raise ValueError(f"an objection reply needs its objection (case {request.case_id})")
    return ObjectionReplyContext(
        **common,
        objection_filed_on=business_date(objection.filed_at),
        objection_reason=objection.reason,
        finding=OBJECTION_DISMISSED,
        reason=objection.decision_reason or request.reason or "—",
    )


def with_objection_reason(
    session: Session, request: NoticeRequest, context: NoticeContext
) -> NoticeContext:
    """A 撤销 letter after an upheld objection (`case_id`) states the operator's reasons as
    stored with the decision, not only the fixed ground (every answer in writing, with reasons)."""
    objection = session.get(Objection, request.case_id)
    if objection is None:
        raise ValueError(f"a revocation letter needs its objection (case {request.case_id})")
    return context.model_copy(update={"decision_reason": objection.decision_reason or None})


def _removal_refusal(
    session: Session,
    request: NoticeRequest,
    listing: dict[str, Any],
    common: dict[str, Any],
    *,
    early: bool,
) -> RemovalRefusalContext:
    application = session.get(RemovalApplication, request.case_id)
    if application is None:
        raise ValueError(f"a removal refusal needs its application (case {request.case_id})")
    letterhead: Letterhead = common["letterhead"]
    return RemovalRefusalContext(
        **common,
        applied_on=business_date(application.applied_at),
        early=early,
        reason=application.decision_reason or request.reason or "经审核，不符合移出条件",
        expires_on=listing["expires_on"] or letterhead.issued_on,
    )


def _day(moment: Any) -> date | None:
    return business_date(moment) if moment is not None else None
