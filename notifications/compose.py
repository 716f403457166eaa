"""From notice requests to outbox drafts: who a notice goes to and what it says.

`registry.routing` decides which notices a step owes (kind, listings, department); this module
reads the rows they are about — in bulk, one query for all listings of a step — fills the typed
contexts of `notifications.contexts`, picks the recipient (the party's contact mailbox, the
department's mailbox from `departments.yml` or its stored correction, `registry.contacts`) and
enqueues them in the caller's transaction.

A letter to a party goes by e-mail only where the party agreed to electronic service and has a
mailbox (行政处罚法第六十一条第二款, `registry.service_of_notices.party_channel`); every other
party letter is still composed, numbered and stored, on the `post` channel (state `for_post`),
printed by `jointcredit notice print` and served by post or in person — and returned as
`for_post` so the step's report names it. Department letters always go by e-mail. A mailbox
that cannot be delivered to is not the step's failure either: the notice is stored
`bad_address` (`notifications.outbox`) until `jointcredit contact set` corrects it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from memoranda.schema import Department, Measure, Memorandum, RuleSet
from notifications.contexts import (
    Contact,
    DepartmentDispatchContext,
    DispatchEntry,
    DueDate,
    GroundLine,
    Letterhead,
    LiftEntry,
    LiftRequestContext,
    ListingDecisionContext,
    MeasureLine,
    MemorandumRef,
    NoticeContext,
    PriorNoticeContext,
    RedAwardContext,
    RejectionContext,
    RemovalNoticeContext,
    RemovalWindowContext,
    RepairTerms,
    SubjectLine,
)
from notifications.outbox import (
    DEFAULT_MESSAGE_ID_DOMAIN,
    EnqueueResult,
    NoticeDraft,
    NoticeKey,
    Recipient,
    enqueue_notices,
)
from registry.clock import Clock, business_date
from registry.contacts import department_mailbox
from registry.db import in_list_chunks
from registry.models import Batch, DepartmentAction, Listing, Subject
from registry.routing import NoticeEnqueuer, NoticeRequest, RoutedNoticeKind, digest_step
from registry.service_of_notices import Channel, party_channel
from registry.settings import Settings
from registry.sla import add_months
from registry.vocabulary import REMOVAL_STATEMENT_UNKNOWN, NoticeKind, removal_statement

DEFAULT_FACTS = "经本机关调查核实，你方存在下列认定情形所列行为，有相关执法文书和证据材料为证。"
NO_DEFENCE = "你方在规定期限内未提出陈述、申辩意见，视为放弃陈述、申辩的权利。"
DEFENCE_HEARD = "你方提出的陈述、申辩意见经本机关复核，不足以改变认定结论，不予采纳。"
REPAIR_OBLIGATIONS = [
    "已履行行政处罚决定规定的义务，纠正失信行为",
    "作出公开信用承诺（信用承诺书）",
    "近一年内未再发生新的严重失信行为",
]
REPAIR_CHANNEL = "向本机关或“信用中国”网站提交信用修复申请及相关证明材料"


@dataclass(frozen=True)
class Issuer:
    """The authority that signs the notices (发文机关) and where replies go."""

    name: str
    office: str
    email: str
    phone: str | None = None
    message_id_domain: str = DEFAULT_MESSAGE_ID_DOMAIN

    @classmethod
    def from_settings(cls, settings: Settings) -> Issuer:
        return cls(
            name=settings.authority_name,
            office=settings.authority_office,
            email=settings.authority_email,
            phone=settings.authority_phone,
            message_id_domain=settings.mail_from.rpartition("@")[2] or DEFAULT_MESSAGE_ID_DOMAIN,
        )

    def contact(self) -> Contact:
        return Contact(office=f"{self.name}{self.office}", email=self.email, phone=self.phone)


@dataclass
class Composed:
    drafts: list[NoticeDraft] = field(default_factory=list)
    for_post: list[tuple[str, int]] = field(default_factory=list)  # (kind, listing id)


@dataclass(frozen=True)
class _Row:
    listing: dict[str, Any]
    subject: SubjectLine
    email: str | None
    batch_reference: str

    @property
    def id(self) -> int:
        return int(self.listing["id"])

    @property
    def reference(self) -> str:
        return f"{self.batch_reference}-{self.id}"


def enqueue_requests(
    session: Session,
    requests: Sequence[NoticeRequest],
    *,
    catalogue: Catalogue,
    issuer: Issuer,
    clock: Clock,
) -> tuple[EnqueueResult, Composed]:
    """Compose and enqueue every requested notice in the caller's transaction."""
    composed = compose(session, requests, catalogue=catalogue, issuer=issuer, today=clock.today())
    result = enqueue_notices(
        session, composed.drafts, now=clock.now(), message_id_domain=issuer.message_id_domain
    )
    return result, composed


def compose(
    session: Session,
    requests: Sequence[NoticeRequest],
    *,
    catalogue: Catalogue,
    issuer: Issuer,
    today: date,
) -> Composed:
    composed = Composed()
    if not requests:
        return composed
    rows = _load(session, sorted({i for r in requests for i in r.listing_ids}))
    letterhead = Letterhead(issuer=issuer.name, issued_on=today)
    for request in requests:
        if request.kind is NoticeKind.DEPARTMENT_DISPATCH:
            composed.drafts.append(_dispatch(session, request, rows, catalogue, issuer, letterhead))
            continue
        if request.kind is NoticeKind.LIFT_REQUEST:
            composed.drafts.append(_lift(session, request, rows, catalogue, issuer, letterhead))
            continue
        (listing_id,) = request.listing_ids
        row = rows[listing_id]
        context = _party_context(request, row, catalogue, issuer, letterhead)
        kind = request.kind
        channel = party_channel(consent=row.listing["e_service_consent"], mailbox=row.email)
        if channel is Channel.POST:
            composed.for_post.append((kind.value, listing_id))
        composed.drafts.append(
            NoticeDraft(
                kind=kind,
                recipient=Recipient(row.email or "", row.subject.name),
                context=context,
                key=NoticeKey.for_listing(
                    kind,
                    listing_id,
                    row.email or "" if channel is Channel.EMAIL else "post",
                    request.step or "",
                ),
                channel=channel,
            )
        )
    return composed


def _load(session: Session, listing_ids: list[int]) -> dict[int, _Row]:
    unit = cast(sa.Table, sa.inspect(Subject).local_table).alias("unit")
    rows: dict[int, _Row] = {}
    for chunk in in_list_chunks(listing_ids):
        query = (
            sa.select(
                Listing,
                col(Subject.kind),
                col(Subject.name),
                col(Subject.uscc),
                col(Subject.id_masked),
                col(Subject.contact_email),
                unit.c.name.label("unit_name"),
                unit.c.contact_email.label("unit_email"),
                col(Batch.reference),
            )
            .join(Subject, col(Subject.id) == col(Listing.subject_id))
            .outerjoin(unit, unit.c.id == col(Subject.unit_id))
            .join(Batch, col(Batch.id) == col(Listing.batch_id))
            .where(col(Listing.id).in_(chunk))
        )
        for found in session.execute(query):
            listing: Listing = found[0]
            person = found.kind == "person"
            subject = SubjectLine(
                name=found.name,
                kind="person" if person else "unit",
                uscc=None if person else found.uscc,
                id_masked=found.id_masked if person else None,
                unit_name=found.unit_name if person else None,
            )
            rows[int(listing.id or 0)] = _Row(
                listing=listing.model_dump(),
                subject=subject,
                email=found.contact_email or (found.unit_email if person else None),
                batch_reference=found.reference,
            )
    return rows


def _grounds(rule_set: RuleSet, codes: list[str]) -> list[GroundLine]:
    known = {g.code: g for g in rule_set.grounds}
    return [
        GroundLine(code=code, title=known[code].title, article=known[code].article)
        for code in codes
        if code in known
    ]


def _measure_line(measure: Measure) -> MeasureLine:
    basis = measure.basis.document + (measure.basis.article or "")
    return MeasureLine(code=measure.id, text=measure.text, basis=basis)


def _published_on(row: _Row, today: date) -> date:
    published = row.listing.get("published_at")
    return business_date(published) if published is not None else today


def _party_context(
    request: NoticeRequest,
    row: _Row,
    catalogue: Catalogue,
    issuer: Issuer,
    letterhead: Letterhead,
) -> NoticeContext:
    listing = row.listing
    rule_set = catalogue.rule_sets[listing["rule_set"]]
    list_name = rule_set.list_name or rule_set.title
    grounds = _grounds(rule_set, listing["grounds"])
    facts = listing.get("note") or DEFAULT_FACTS
    contact = issuer.contact()
    today = letterhead.issued_on
    if request.kind is NoticeKind.PRIOR_NOTICE:
        return PriorNoticeContext(
            letterhead=letterhead,
            party=row.subject,
            list_name=list_name,
            grounds=grounds,
            facts=facts,
            defence_wd=catalogue.time_limits.defence_wd,
            contact=contact,
        )
    if request.kind is NoticeKind.REJECTION:
        return RejectionContext(
            letterhead=letterhead,
            party=row.subject,
            list_name=list_name,
            outcome="rejected",
            batch_reference=row.batch_reference,
            reason=request.reason or "经审核，不予列入。",
            contact=contact,
        )
    published_on = _published_on(row, today)
    expires_on = listing["expires_on"] or today
    decision_number = listing.get("decision_number") or "—"
    if request.kind is NoticeKind.REMOVAL_WINDOW:
        removal = rule_set.removal
        window = removal.application_window_days if removal else None
        return RemovalWindowContext(
            letterhead=letterhead,
            party=row.subject,
            list_name=list_name,
            decision_number=decision_number,
            expires_on=expires_on,
            window_opens_on=expires_on - timedelta(days=window or 0),
            contact=contact,
        )
    if request.kind is NoticeKind.REMOVAL_NOTICE:
        return RemovalNoticeContext(
            letterhead=letterhead,
            party=row.subject,
            list_name=list_name,
            list_type=listing["list_type"],
            decision_number=decision_number,
            reason=request.reason or REMOVAL_STATEMENT_UNKNOWN,
            removed_on=_removed_on(row, today),
            contact=contact,
        )
    if request.kind is NoticeKind.RED_AWARD:
        incentives = [
            _measure_line(measure)
            for memorandum in catalogue.memoranda_for(rule_set.id)
            for measure in memorandum.measures
        ]
        return RedAwardContext(
            letterhead=letterhead,
            party=row.subject,
            list_name=list_name,
            decision_number=decision_number,
            grounds=grounds,
            published_on=published_on,
            expires_on=expires_on,
            incentives=incentives,
            contact=contact,
        )
    repair_rules = next((r for r in catalogue.rule_sets.values() if r.kind == "repair"), None)
    min_months = (repair_rules.min_published_months if repair_rules else None) or 12
    return ListingDecisionContext(
        letterhead=letterhead,
        party=row.subject,
        list_name=list_name,
        decision_number=decision_number,
        grounds=grounds,
        facts=facts,
        defence_outcome=DEFENCE_HEARD if listing.get("defence_received_at") else NO_DEFENCE,
        published_on=published_on,
        expires_on=expires_on,
        term_months=rule_set.term_months or 12,
        objection_wd=catalogue.time_limits.objection_wd,
        repair=RepairTerms(
            basis=f"《{repair_rules.title}》" if repair_rules else "信用修复有关规定",
            earliest_on=add_months(published_on, min_months),
            min_published_months=min_months,
            obligations=REPAIR_OBLIGATIONS,
            commitment_required=repair_rules.requires_commitment if repair_rules else True,
            channel=REPAIR_CHANNEL,
            review_wd=catalogue.time_limits.repair_review_wd,
        ),
        contact=contact,
    )


@dataclass(frozen=True)
class _Digest:
    """What a department digest (推送函, 解除函) is about: one department, one memorandum, the
    measures it applies under it, and the listings the digest names."""

    department: Department
    memorandum: Memorandum
    measures: list[MeasureLine]
    rows: list[_Row]
    rule_set: RuleSet

    @classmethod
    def of(cls, request: NoticeRequest, rows: dict[int, _Row], catalogue: Catalogue) -> _Digest:
        department = catalogue.departments[request.department or ""]
        memorandum = catalogue.memoranda[request.memorandum or ""]
        named = [rows[i] for i in request.listing_ids]
        return cls(
            department=department,
            memorandum=memorandum,
            measures=[
                _measure_line(m) for m in catalogue.measures_for(memorandum.id, department.code)
            ],
            rows=named,
            rule_set=catalogue.rule_sets[named[0].listing["rule_set"]],
        )

    @property
    def list_name(self) -> str:
        return self.rule_set.list_name or self.rule_set.title

    @property
    def memorandum_ref(self) -> MemorandumRef:
        return MemorandumRef(
            title=self.memorandum.title, document_number=self.memorandum.document_number
        )

    def due(self, session: Session, *columns: Any) -> Any:
        """Due dates of this department's actions (equal for every listing of one digest)."""
        return session.execute(
            sa.select(*columns).where(
                col(DepartmentAction.listing_id) == self.rows[0].id,
                col(DepartmentAction.department) == self.department.code,
                col(DepartmentAction.memorandum) == self.memorandum.id,
            )
        ).one()

    def draft(
        self,
        session: Session,
        kind: RoutedNoticeKind,
        scope: str,
        request: NoticeRequest,
        context: NoticeContext,
    ) -> NoticeDraft:
        mailbox = department_mailbox(session, self.department)  # an operator's correction wins
        return NoticeDraft(
            kind=kind,
            recipient=Recipient(mailbox, self.department.name),
            context=context,
            key=NoticeKey(kind, scope, mailbox, request.step or digest_step(request.listing_ids)),
            department_code=self.department.code,
        )


def _dispatch(
    session: Session,
    request: NoticeRequest,
    rows: dict[int, _Row],
    catalogue: Catalogue,
    issuer: Issuer,
    letterhead: Letterhead,
) -> NoticeDraft:
    """推送函: every listing of the batch this department must now apply its measures to."""
    digest = _Digest.of(request, rows, catalogue)
    due = digest.due(
        session,
        col(DepartmentAction.ack_due),
        col(DepartmentAction.ack_provisional),
        col(DepartmentAction.feedback_due),
        col(DepartmentAction.feedback_provisional),
    )
    context = DepartmentDispatchContext(
        letterhead=letterhead,
        department=digest.department.name,
        batch_reference=digest.rows[0].batch_reference,
        list_name=digest.list_name,
        list_type=digest.memorandum.list_type,
        memorandum=digest.memorandum_ref,
        measures=digest.measures,
        entries=[
            DispatchEntry(
                listing_reference=row.reference,
                decision_number=row.listing.get("decision_number") or "—",
                subject=row.subject,
                grounds=_grounds(digest.rule_set, row.listing["grounds"]),
                published_on=_published_on(row, letterhead.issued_on),
                expires_on=row.listing["expires_on"] or letterhead.issued_on,
            )
            for row in digest.rows
        ],
        ack_due=DueDate(due=due[0], provisional=due[1]),
        feedback_due=DueDate(due=due[2], provisional=due[3]),
        contact=issuer.contact(),
    )
    scope = f"batch:{request.batch_id}"
    return digest.draft(session, NoticeKind.DEPARTMENT_DISPATCH, scope, request, context)


def _lift(
    session: Session,
    request: NoticeRequest,
    rows: dict[int, _Row],
    catalogue: Catalogue,
    issuer: Issuer,
    letterhead: Letterhead,
) -> NoticeDraft:
    """解除函: the removed listings this department must stop applying measures to."""
    digest = _Digest.of(request, rows, catalogue)
    due = digest.due(
        session, col(DepartmentAction.lift_due), col(DepartmentAction.lift_provisional)
    )
    context = LiftRequestContext(
        letterhead=letterhead,
        department=digest.department.name,
        batch_reference="、".join(sorted({row.batch_reference for row in digest.rows})),
        list_name=digest.list_name,
        list_type=digest.memorandum.list_type,
        memorandum=digest.memorandum_ref,
        entries=[
            LiftEntry(
                listing_reference=row.reference,
                decision_number=row.listing.get("decision_number") or "—",
                subject=row.subject,
                reason=removal_statement(row.listing.get("removal_reason")),
                removed_on=_removed_on(row, letterhead.issued_on),
                measures=digest.measures,
            )
            for row in digest.rows
        ],
        confirm_due=DueDate(due=due[0] or letterhead.issued_on, provisional=due[1]),
        contact=issuer.contact(),
    )
    scope = f"lift:{digest.memorandum.id}"
    return digest.draft(session, NoticeKind.LIFT_REQUEST, scope, request, context)


def _removed_on(row: _Row, today: date) -> date:
    removed = row.listing.get("removed_at")
    return business_date(removed) if removed is not None else today


def notice_enqueuer(*, catalogue: Catalogue, issuer: Issuer, clock: Clock) -> NoticeEnqueuer:
    """The enqueue step `registry.routing.Routing` calls at the end of every step."""

    def enqueue(
        session: Session, requests: Sequence[NoticeRequest]
    ) -> tuple[int, list[tuple[str, int]]]:
        result, composed = enqueue_requests(
            session, requests, catalogue=catalogue, issuer=issuer, clock=clock
        )
        return len(result.new_ids), composed.for_post

    return enqueue
