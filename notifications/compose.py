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
from notifications.compose_replies import REPLY_KINDS, reply_context, with_objection_reason
from notifications.contexts import (
    Contact,
    DepartmentDispatchContext,
    DepartmentRestoreContext,
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
    RestoreEntry,
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
from registry.numbering import DECISION_KINDS, Numbering
from registry.routing import NoticeEnqueuer, NoticeRequest, RoutedNoticeKind, digest_step
from registry.service_of_notices import Channel, party_channel
from registry.settings import Settings
from registry.sla import add_months
from registry.vocabulary import (
    REMOVAL_STATEMENT_UNKNOWN,
    NoticeKind,
    is_revocation,
    removal_statement,
)

# Wording of the party's letters. One form of address per letter: the templates say 你单位 or
# 你 (`party.kind`), so these sentences name no addressee of their own; each ends with 。
NO_DEFENCE = "在规定期限内未提出陈述、申辩意见，视为放弃陈述、申辩的权利。"
DEFENCE_HEARD = "提出的陈述、申辩意见经本机关复核，不足以改变认定结论，不予采纳。"
# Each repair condition once (the minimum period and the public 信用承诺 are separate lines of
# the letter): 信用修复管理办法（令第36号）第十四条 [S]; 令第58号 to the same effect [K].
REPAIR_OBLIGATIONS = ["已纠正失信行为，并履行行政处罚决定等规定的相关义务"]
REPAIR_CHANNEL = "向本机关或“信用中国”网站提交信用修复申请及相关证明材料。"
DECISION_LETTERS = frozenset(DECISION_KINDS.values())


@dataclass(frozen=True)
class Issuer:
    """The authority that signs the notices (发文机关) and where replies go."""

    name: str
    office: str
    email: str
    phone: str | None = None
    message_id_domain: str = DEFAULT_MESSAGE_ID_DOMAIN
    numbering: Numbering | None = None  # 发文字号; default: derived from `name`

    @classmethod
    def from_settings(cls, settings: Settings) -> Issuer:
        return cls(
            name=settings.authority_name,
            office=settings.authority_office,
            email=settings.authority_email,
            phone=settings.authority_phone,
            message_id_domain=settings.mail_from.rpartition("@")[2] or DEFAULT_MESSAGE_ID_DOMAIN,
            numbering=settings.numbering,
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
        session,
        composed.drafts,
        now=clock.now(),
        message_id_domain=issuer.message_id_domain,
        numbering=issuer.numbering,
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
        if request.kind is NoticeKind.DEPARTMENT_RESTORE:
            composed.drafts.append(_restore(session, request, rows, catalogue, issuer, letterhead))
            continue
        (listing_id,) = request.listing_ids
        row = rows[listing_id]
        own = _own(letterhead, request, row)
        if request.kind in REPLY_KINDS:
            context = reply_context(
                session,
                request,
                party=row.subject,
                listing=row.listing,
                rule_set=catalogue.rule_sets[row.listing["rule_set"]],
                letterhead=own,
                contact=issuer.contact(),
            )
        else:
            context = _party_context(request, row, catalogue, issuer, own)
            if request.kind is NoticeKind.REMOVAL_NOTICE and request.case_id is not None:
                context = with_objection_reason(session, request, context)
        kind = request.kind
        channel = party_channel(consent=row.listing["e_service_consent"], mailbox=row.email)
        if channel is Channel.POST:
            composed.for_post.append((kind.value, listing_id))
            if row.subject.care_of_unit:  # printed and served to the person, not via the unit
                party = row.subject.model_copy(update={"care_of_unit": False})
                context = context.model_copy(update={"party": party})
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
                listing_ids=(listing_id,),
            )
        )
    return composed


def _own(letterhead: Letterhead, request: NoticeRequest, row: _Row) -> Letterhead:
    """A decision letter's 发文字号 is its listing's decision number (`registry.numbering`)."""
    number = row.listing.get("decision_number")
    if request.kind in DECISION_LETTERS and number:
        return letterhead.model_copy(update={"reference": number})
    return letterhead


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
            # the step moved these rows by UPDATE: never the session's stale copies (an upheld
            # objection's letters stated no removal reason, read before the revocation)
            .execution_options(populate_existing=True)
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
                care_of_unit=person and not found.contact_email and bool(found.unit_email),
            )
            rows[int(listing.id or 0)] = _Row(
                listing=listing.model_dump(),
                subject=subject,
                # A person's own mailbox first; the unit's only as a way to reach them, and then
                # the letter says it is passed on by the unit.
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
    basis = f"《{measure.basis.document}》{measure.basis.article or ''}"
    return MeasureLine(code=measure.id, text=measure.text, basis=basis)


def _stated(measures: Sequence[Measure]) -> list[MeasureLine]:
    """The measures a letter may state as fact: confirmed, on a confirmed basis (DOMAIN.md §9)."""
    return [
        _measure_line(m)
        for m in measures
        if m.status == "confirmed" and m.basis.status == "confirmed"
    ]


def _others_in(measures: Sequence[Measure], memorandum: Memorandum) -> str | None:
    """The source a letter refers to for the measures it does not state (其他措施按《…》执行)."""
    held_back = any(m.status != "confirmed" or m.basis.status != "confirmed" for m in measures)
    return memorandum.citation if held_back else None


def _memorandum_ref(memorandum: Memorandum) -> MemorandumRef:
    return MemorandumRef(citation=memorandum.citation)


def _decision_date(listing: dict[str, Any], today: date) -> date:
    """The listing's decision date: the rules in force on it govern its letters."""
    decided = listing.get("decided_at")
    return listing.get("decision_date") or (business_date(decided) if decided else today)


def _repair_terms(
    catalogue: Catalogue, rule_set: RuleSet, published_on: date, decided_on: date
) -> RepairTerms | None:
    """信用修复告知 by the rule in force on the decision date; none before any took effect."""
    repair_rules = catalogue.repair_rule_for(decided_on)
    if repair_rules is None:
        return None
    early = rule_set.removal.early_removal_after_months if rule_set.removal else None
    months = repair_rules.min_published_months or early or 12
    return RepairTerms(
        basis=f"《{repair_rules.title}》（{'、'.join(repair_rules.instruments)}）",
        earliest_on=add_months(published_on, months),
        min_published_months=months,
        obligations=REPAIR_OBLIGATIONS,
        commitment_required=repair_rules.requires_commitment,
        channel=REPAIR_CHANNEL,
        # the same figure the tracker sets as the application's decide_due (registry.removal)
        review_wd=catalogue.time_limits.early_removal_decide_wd,
    )


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
    facts = listing.get("note") or None  # without facts the letter cites the grounds alone
    contact = issuer.contact()
    today = letterhead.issued_on
    if request.kind is NoticeKind.PRIOR_NOTICE:
        return PriorNoticeContext(
            letterhead=letterhead,
            party=row.subject,
            list_name=list_name,
            grounds=grounds,
            facts=facts,
            penalty_number=listing.get("penalty_number"),
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
            reason=request.reason or "经审核，不予列入",
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
            revoked=is_revocation(listing.get("removal_reason")),
            contact=contact,
        )
    if request.kind is NoticeKind.RED_AWARD:
        sources = catalogue.memoranda_for(rule_set.id)
        incentives = [line for m in sources for line in _stated(m.measures)]
        others = [c for m in sources if (c := _others_in(m.measures, m))]
        return RedAwardContext(
            letterhead=letterhead,
            party=row.subject,
            list_name=list_name,
            grounds=grounds,
            published_on=published_on,
            expires_on=expires_on,
            incentives=incentives,
            other_measures_in="、".join(others) or None,
            contact=contact,
        )
    return ListingDecisionContext(
        letterhead=letterhead,
        party=row.subject,
        list_name=list_name,
        grounds=grounds,
        facts=facts,
        penalty_number=listing.get("penalty_number"),
        defence_outcome=DEFENCE_HEARD if listing.get("defence_received_at") else NO_DEFENCE,
        published_on=published_on,
        expires_on=expires_on,
        term_months=rule_set.term_months or 12,
        term_word=rule_set.term_word,
        objection_filing_wd=catalogue.time_limits.objection_filing_wd,
        repair=_repair_terms(catalogue, rule_set, published_on, _decision_date(listing, today)),
        contact=contact,
    )


@dataclass(frozen=True)
class _Digest:
    """What a department digest (推送函, 解除函) is about: one department, one memorandum, the
    measures it applies under it, and the listings the digest names."""

    department: Department
    memorandum: Memorandum
    measures: list[MeasureLine]
    other_measures_in: str | None
    rows: list[_Row]
    rule_set: RuleSet

    @classmethod
    def of(cls, request: NoticeRequest, rows: dict[int, _Row], catalogue: Catalogue) -> _Digest:
        department = catalogue.departments[request.department or ""]
        memorandum = catalogue.memoranda[request.memorandum or ""]
        named = [rows[i] for i in request.listing_ids]
        own = catalogue.measures_for(memorandum.id, department.code)
        return cls(
            department=department,
            memorandum=memorandum,
            measures=_stated(own),
            other_measures_in=_others_in(own, memorandum),
            rows=named,
            rule_set=catalogue.rule_sets[named[0].listing["rule_set"]],
        )

    @property
    def list_name(self) -> str:
        return self.rule_set.list_name or self.rule_set.title

    @property
    def memorandum_ref(self) -> MemorandumRef:
        return _memorandum_ref(self.memorandum)

    def due(self, session: Session, *columns: Any) -> Any:
        """Due dates of this department's actions (equal for every listing of one digest)."""
        return session.execute(
            sa.select(*columns).where(
                col(DepartmentAction.listing_id) == self.rows[0].id,
                col(DepartmentAction.department) == self.department.code,
                col(DepartmentAction.memorandum) == self.memorandum.id,
            )
        ).one()

    def heading(self) -> dict[str, Any]:
        """What a letter asking the department to apply measures (推送函, 恢复函) says first:
        to whom, which list under which memorandum, which measures and the term's name."""
        return {
            "department": self.department.name,
            "list_name": self.list_name,
            "list_type": self.memorandum.list_type,
            "memorandum": self.memorandum_ref,
            "measures": self.measures,
            "other_measures_in": self.other_measures_in,
            "term_word": self.rule_set.term_word,
        }

    def response_due(self, session: Session) -> tuple[DueDate, DueDate]:
        """When the department must acknowledge (响应) and report (反馈): 推送函, 恢复函."""
        due = self.due(
            session,
            col(DepartmentAction.ack_due),
            col(DepartmentAction.ack_provisional),
            col(DepartmentAction.feedback_due),
            col(DepartmentAction.feedback_provisional),
        )
        return DueDate(due=due[0], provisional=due[1]), DueDate(due=due[2], provisional=due[3])

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
            listing_ids=tuple(request.listing_ids),
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
    ack_due, feedback_due = digest.response_due(session)
    context = DepartmentDispatchContext(
        letterhead=letterhead,
        batch_reference=digest.rows[0].batch_reference,
        **digest.heading(),
        entries=[
            DispatchEntry(
                listing_reference=row.reference,
                decision_number=row.listing.get("decision_number") or "—",
                penalty_number=row.listing.get("penalty_number"),
                subject=row.subject,
                grounds=_grounds(digest.rule_set, row.listing["grounds"]),
                published_on=_published_on(row, letterhead.issued_on),
                expires_on=row.listing["expires_on"] or letterhead.issued_on,
            )
            for row in digest.rows
        ],
        ack_due=ack_due,
        feedback_due=feedback_due,
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
        other_measures_in=digest.other_measures_in,
        entries=[
            LiftEntry(
                listing_reference=row.reference,
                decision_number=row.listing.get("decision_number") or "—",
                penalty_number=row.listing.get("penalty_number"),
                subject=row.subject,
                reason=removal_statement(
                    row.listing.get("removal_reason"), term_word=digest.rule_set.term_word
                ),
                removed_on=_removed_on(row, letterhead.issued_on),
                measures=digest.measures,
            )
            for row in digest.rows
        ],
        confirm_due=DueDate(due=due[0] or letterhead.issued_on, provisional=due[1]),
        revoked=all(is_revocation(row.listing.get("removal_reason")) for row in digest.rows),
        contact=issuer.contact(),
    )
    scope = f"lift:{digest.memorandum.id}"
    return digest.draft(session, NoticeKind.LIFT_REQUEST, scope, request, context)


def _restore(
    session: Session,
    request: NoticeRequest,
    rows: dict[int, _Row],
    catalogue: Catalogue,
    issuer: Issuer,
    letterhead: Letterhead,
) -> NoticeDraft:
    """恢复联合惩戒函: listings restored after a fraudulent early removal, whose measures this
    department had lifted, to be applied again by the restored actions' due dates."""
    digest = _Digest.of(request, rows, catalogue)
    ack_due, feedback_due = digest.response_due(session)
    context = DepartmentRestoreContext(
        letterhead=letterhead,
        **digest.heading(),
        entries=[
            RestoreEntry(
                listing_reference=row.reference,
                decision_number=row.listing.get("decision_number") or "—",
                subject=row.subject,
                reason=request.reason or "提前移出系以不正当手段取得",
                restored_on=letterhead.issued_on,
                expires_on=row.listing["expires_on"] or letterhead.issued_on,
            )
            for row in digest.rows
        ],
        ack_due=ack_due,
        feedback_due=feedback_due,
        contact=issuer.contact(),
    )
    scope = f"restore:{digest.memorandum.id}"
    return digest.draft(session, NoticeKind.DEPARTMENT_RESTORE, scope, request, context)


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
