"""Routing a batch (批次): the steps of `route-batch`, each one set-based and re-entrant.

Each step picks the listings of one batch that are ready for it, moves them with
`apply_transition` (which writes the audit trail) and says which notices the move causes as
`NoticeRequest`s — what is owed to whom, not what it says: `notifications.compose` renders them
into the outbox in the same transaction. A step that finds nothing ready does nothing, so
running `route-batch` again, or after a crash between steps, neither repeats nor skips work.

Black list (DOMAIN.md §1): prior notice (告知) → defence window (陈述申辩, working days) →
operator decision → publication with the decision (决定书, with the credit-repair notice) →
dispatch to every department of the memorandum (发起). Red list: no prior notice.

Over 500 lines because the five steps share one idea — pick what is ready, move it, say what it
owes — and their shared request and result shapes; cut apart they would import each other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Literal, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from registry.audit import EventDraft, append_events
from registry.calendar import WorkingCalendar
from registry.clock import Clock
from registry.digests import digest_step as digest_step  # its home before registry.digests
from registry.errors import JointcreditError, NotFound, TransitionRefused
from registry.free_text import clean_free_text, clean_single_line
from registry.lifecycle import Event, apply_transition
from registry.models import (
    ActionState,
    Batch,
    DepartmentAction,
    Listing,
    ListType,
    Notice,
    Subject,
)
from registry.models import ListingState as S
from registry.numbering import Numbering
from registry.prior_decision import PriorDecision, prior_decision
from registry.red_eligibility import barred_red_listings
from registry.service_of_notices import listings_awaiting_service, open_defence_windows
from registry.sla import action_deadlines
from registry.vocabulary import NoticeKind, Step

ACTION = sa.inspect(DepartmentAction).local_table


RoutedNoticeKind = Literal[
    NoticeKind.PRIOR_NOTICE,
    NoticeKind.LISTING_DECISION,
    NoticeKind.REJECTION,
    NoticeKind.DEPARTMENT_DISPATCH,
    NoticeKind.RED_AWARD,
    NoticeKind.REMOVAL_NOTICE,
    NoticeKind.REMOVAL_WINDOW,
    NoticeKind.LIFT_REQUEST,
    NoticeKind.OBJECTION_REPLY,
    NoticeKind.REMOVAL_REFUSAL,
    NoticeKind.RESTORE_NOTICE,
    NoticeKind.DEPARTMENT_RESTORE,
]
"""The notices routing and removal cause (`notifications.compose` fills each one)."""


@dataclass(frozen=True)
class NoticeRequest:
    """A notice owed: its kind, the listings it is about, and (for a digest) the department."""

    kind: RoutedNoticeKind
    batch_id: int | None
    listing_ids: tuple[int, ...]
    department: str | None = None
    memorandum: str | None = None
    reason: str | None = None
    step: str | None = None
    case_id: int | None = None  # the objection or removal application a reply answers


@dataclass
class StepResult:
    step: str
    moved: list[int] = field(default_factory=list)
    refused: dict[int, list[str]] = field(default_factory=dict)
    notices: list[NoticeRequest] = field(default_factory=list)
    actions_created: int = 0
    notices_queued: int = 0
    # Party letters composed for post or in-person service (no consent to e-mail service).
    for_post: list[tuple[str, int]] = field(default_factory=list)
    # Listings still waiting for their 告知书 to be served (未送达): they block only themselves.
    awaiting_service: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": str(self.step),
            "moved": len(self.moved),
            "refused": {str(k): v for k, v in self.refused.items()},
            "notices": len(self.notices),
            "notices_queued": self.notices_queued,
            "for_post": [{"kind": k, "listing_id": i} for k, i in self.for_post],
            "awaiting_service": list(self.awaiting_service),
            "actions_created": self.actions_created,
        }


class Waiting(StrEnum):
    SERVICE = "service"
    DEFENCE_WINDOW = "defence_window"
    OPERATOR = "operator"
    NOTHING = "nothing"


WAITING_LABELS = {
    Waiting.SERVICE: "等待告知书送达（未送达）",
    Waiting.DEFENCE_WINDOW: "等待陈述申辩期满",
    Waiting.OPERATOR: "等待操作员确认",
    Waiting.NOTHING: "已无待办",
}


@dataclass(frozen=True)
class BatchPosition:
    """Where a batch stands: listings per state and what, if anything, it waits on."""

    batch_id: int
    reference: str
    states: dict[str, int]
    waiting_on: Waiting
    defence_due: date | None
    proposed_by: str
    awaiting_service: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        label = WAITING_LABELS[self.waiting_on]
        if self.waiting_on is Waiting.DEFENCE_WINDOW and self.defence_due:
            label = f"{label}（{self.defence_due.isoformat()}）"
        if self.awaiting_service and self.waiting_on is not Waiting.SERVICE:
            label += f"；{len(self.awaiting_service)} 条名单未送达"
        return label

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "reference": self.reference,
            "states": self.states,
            "waiting_on": self.waiting_on.value,
            "waiting_label": self.label,
            "defence_due": self.defence_due,
            "awaiting_service": list(self.awaiting_service),
        }


@dataclass(frozen=True)
class Decision:
    """An operator's decision on a batch awaiting confirmation (UI form or `jointcredit confirm`).

    Listings in `rejections` are not listed (with the reason given); the rest are confirmed
    when `approve_others` — otherwise they stay awaiting. Each confirmed listing gets its own
    decision number from the authority's sequence (`registry.numbering`); `decision_number`
    gives one instead, for a decision on exactly one listing already numbered on paper.
    """

    reviewer: str
    decision_number: str = ""
    rejections: Mapping[int, str] = field(default_factory=dict)
    approve_others: bool = True


class DecisionError(JointcreditError):
    """The decision names listings that are not in the batch or not awaiting a decision."""


def reasons_by_listing(rejections: Iterable[tuple[int, str]]) -> dict[int, str]:
    """The reason for each rejected listing; a listing given twice is refused, not merged — a
    dict would keep the last reason and drop the first without a word."""
    reasons: dict[int, str] = {}
    twice: list[int] = []
    for listing_id, reason in rejections:
        if listing_id in reasons:
            twice.append(listing_id)
        reasons[listing_id] = reason
    if twice:
        raise DecisionError(
            f"名单 {'、'.join(map(str, sorted(set(twice))))} 填写了两次，请只保留一条"
            "（a listing entered twice）",
            listing_ids=sorted(set(twice)),
        )
    return reasons


class AlreadyDecided(DecisionError):
    """Someone else decided first (the form or another `confirm`): this decision changed
    nothing. `prior` is the decision that stands, for the operator who lost the race."""

    def __init__(self, batch_id: int, reference: str, prior: PriorDecision) -> None:
        self.prior = prior
        super().__init__(
            f"已由他人决定（already decided）：批次 {reference}（编号 {batch_id}）"
            f"{prior.summary_zh()}。本次决定未生效（this decision was not applied）",
            batch_id=batch_id,
            reference=reference,
            already_decided=True,
            decision=prior.as_dict(),
        )


class NoticeEnqueuer(Protocol):
    """Renders requests into the outbox in the caller's transaction (`notifications.compose`);
    returns how many were queued and which party letters await post or in-person service."""

    def __call__(
        self, session: Session, requests: Sequence[NoticeRequest]
    ) -> tuple[int, list[tuple[str, int]]]: ...


@dataclass(frozen=True)
class Routing:
    """What every step needs besides the session: rules, calendar, time, who acts, and where
    the notices it causes go (injected, so the core imports no notification code)."""

    catalogue: Catalogue
    calendar: WorkingCalendar
    clock: Clock
    actor: str
    source: str
    enqueue: NoticeEnqueuer
    numbering: Numbering

    def finish(self, session: Session, result: StepResult) -> StepResult:
        if result.notices:
            result.notices_queued, result.for_post = self.enqueue(session, result.notices)
        return result

    def move(
        self,
        session: Session,
        ids: Sequence[int],
        event: Event,
        *,
        strict: bool = False,
        **arguments: Any,
    ) -> tuple[list[int], dict[int, list[str]]]:
        if not ids:
            return [], {}
        result = apply_transition(
            session,
            ids,
            event,
            actor=arguments.pop("actor", self.actor),
            source=self.source,
            clock=self.clock,
            catalogue=self.catalogue,
            calendar=self.calendar,
            numbering=self.numbering,
            strict=strict,
            **arguments,
        )
        return result.applied, result.refused


def _listings(session: Session, batch_id: int, state: S, *extra: Any) -> list[tuple[int, str]]:
    rows = session.execute(
        sa.select(col(Listing.id), col(Listing.list_type))
        .where(col(Listing.batch_id) == batch_id, col(Listing.state) == state.value, *extra)
        .order_by(col(Listing.id))
    ).all()
    return [(row[0], row[1]) for row in rows]


def notify_proposed(session: Session, batch_id: int, routing: Routing) -> StepResult:
    """告知: where the rule-set gives prior notice (black lists) the party gets it and a defence
    window; the others (red lists) go straight on to confirmation."""
    result = StepResult(Step.NOTIFY)
    proposed = session.execute(
        sa.select(col(Listing.id), col(Listing.rule_set))
        .where(col(Listing.batch_id) == batch_id, col(Listing.state) == S.PROPOSED.value)
        .order_by(col(Listing.id))
    ).all()
    rule_sets = routing.catalogue.rule_sets
    with_notice = {rs for _, rs in proposed if rs not in rule_sets or rule_sets[rs].prior_notice}
    noticed = [i for i, rs in proposed if rs in with_notice]
    moved, refused = routing.move(session, noticed, Event.NOTIFY)
    result.moved += moved
    result.refused.update(refused)
    result.notices += [NoticeRequest(NoticeKind.PRIOR_NOTICE, batch_id, (i,)) for i in moved]
    straight_on = [i for i, rs in proposed if rs not in with_notice]
    moved, refused = routing.move(session, straight_on, Event.AWAIT_CONFIRMATION)
    result.moved += moved
    result.refused.update(refused)
    return routing.finish(session, result)


def close_defence_windows(session: Session, batch_id: int, routing: Routing) -> StepResult:
    """Defence received, or its window lapsed (the due day itself still belongs to the party).

    A window runs from the service of the 告知书 (行政处罚法第四十四条): served letters open
    their listings' windows first; a listing whose party is not served has no window, stays
    notified and holds up no other listing of the batch."""
    result = StepResult(Step.CLOSE_DEFENCE)
    open_defence_windows(
        session,
        catalogue=routing.catalogue,
        calendar=routing.calendar,
        clock=routing.clock,
        actor=routing.actor,
        source=routing.source,
        batch_id=batch_id,
    )
    ready = _listings(
        session,
        batch_id,
        S.NOTIFIED,
        sa.or_(
            col(Listing.defence_received_at).is_not(None),
            col(Listing.defence_due) < routing.clock.today(),
        ),
    )
    result.moved, result.refused = routing.move(
        session, [i for i, _ in ready], Event.AWAIT_CONFIRMATION
    )
    result.awaiting_service = listings_awaiting_service(session, batch_id)
    return result


def decide(session: Session, batch_id: int, decision: Decision, routing: Routing) -> StepResult:
    """The operator's decision; all or nothing, and the first decision wins.

    A decision that the rules refuse (the reviewer proposed the batch, a reason is missing)
    changes no listing but is itself recorded in the audit trail, so the attempt is traceable.
    """
    result = StepResult(Step.DECIDE)
    # The reviewer as a person wrote it: " 张伟 " is 张伟 (so the proposer guard sees them),
    # and a name made only of spaces is no reviewer at all.
    reviewer = clean_single_line(decision.reviewer)
    if not reviewer:
        raise DecisionError("须填写审核人（a reviewer is required）", batch_id=batch_id)
    reference = _lock_batch(session, batch_id)
    awaiting = {i for i, _ in _listings(session, batch_id, S.AWAITING_CONFIRMATION)}
    if not awaiting:
        prior = prior_decision(session, batch_id)
        if prior.empty:
            raise DecisionError(
                f"批次 {reference}（编号 {batch_id}）没有待确认的名单"
                "（nothing awaiting a decision）",
                batch_id=batch_id,
            )
        raise AlreadyDecided(batch_id, reference, prior)
    strangers = sorted(set(decision.rejections) - awaiting)
    decided_strangers = prior_decision(session, batch_id, strangers) if strangers else None
    if decided_strangers is not None and not decided_strangers.empty:
        raise AlreadyDecided(batch_id, reference, decided_strangers)
    if strangers:
        raise DecisionError(
            f"以下名单不在本批次待确认范围内（not awaiting a decision in batch {batch_id}）："
            f"{'、'.join(map(str, strangers))}",
            batch_id=batch_id,
            listing_ids=strangers,
        )
    blank = sorted(i for i, reason in decision.rejections.items() if not reason.strip())
    if blank:
        raise DecisionError(
            f"不予列入须说明理由（a reason is required）：名单 {'、'.join(map(str, blank))}",
            batch_id=batch_id,
            listing_ids=blank,
        )
    to_confirm = sorted(awaiting - set(decision.rejections)) if decision.approve_others else []
    given_number = _given_number(session, batch_id, decision, confirming=len(to_confirm))
    # Red over black is refused at 认定 too (a black listing imported after the red one):
    # all or nothing like the guards below, so the operator rejects it and confirms the rest.
    barred = barred_red_listings(
        session, to_confirm, decided_on=routing.clock.today(), rule_sets=routing.catalogue.rule_sets
    )
    if barred:
        result.refused = barred
        why = {"refusals": {str(k): v for k, v in barred.items()}}
        record_refused_decision(session, batch_id, decision, routing, why=why)
        return result
    try:
        # Confirm first: its guards (reviewer ≠ proposer, decision number) are the ones that can
        # refuse, and a refusal raises before anything is written.
        result.moved, _ = routing.move(
            session,
            to_confirm,
            Event.CONFIRM,
            strict=True,
            decision_number=given_number,
            actor=reviewer,
        )
    except TransitionRefused as refused:
        result.refused = refused.refusals
        record_refused_decision(
            session,
            batch_id,
            decision,
            routing,
            why={"refusals": {str(k): v for k, v in refused.refusals.items()}},
        )
        return result
    rejected_by_reason: dict[str, list[int]] = {}
    for listing_id, reason in decision.rejections.items():
        rejected_by_reason.setdefault(clean_free_text(reason).strip(), []).append(listing_id)
    for reason, ids in rejected_by_reason.items():
        moved, _ = routing.move(
            session, ids, Event.REJECT, strict=True, reason=reason, actor=reviewer
        )
        result.moved += moved
        result.notices += [
            NoticeRequest(NoticeKind.REJECTION, batch_id, (i,), reason=reason) for i in moved
        ]
    return routing.finish(session, result)


def _given_number(
    session: Session, batch_id: int, decision: Decision, *, confirming: int
) -> str | None:
    """The decision number the operator typed, if any: only for a decision on one listing (the
    others are numbered from the sequence), and never one already in use."""
    given = clean_single_line(decision.decision_number)
    if not given:
        return None
    if confirming != 1:
        raise DecisionError(
            f"决定书文号只能用于只确认一条名单的决定（本次确认 {confirming} 条）；"
            "列入决定文号由系统按序列逐条自动编号，请留空"
            "（a decision number may be given only when confirming exactly one listing）",
            batch_id=batch_id,
            field="decision_number",
        )
    _refuse_a_number_in_use(session, batch_id, given)
    return given


def _refuse_a_number_in_use(session: Session, batch_id: int, number: str) -> None:
    """A typed decision number is this listing's own: never one another listing or letter
    already bears (a duplicate would name two decisions, and a service record could be put on
    the other party's letter)."""
    used = session.execute(
        sa.select(col(Listing.id))
        .where(col(Listing.decision_number) == number)
        .union_all(sa.select(col(Notice.listing_id)).where(col(Notice.letter_number) == number))
        .limit(1)
    ).first()
    if used is not None:
        raise DecisionError(
            f"决定书文号 {number} 已被使用（名单 {used[0] or '—'}），同一文号不得用于两份决定"
            "（this decision number is already in use）",
            batch_id=batch_id,
            field="decision_number",
        )


def record_refused_decision(
    session: Session, batch_id: int, decision: Decision, routing: Routing, *, why: dict[str, Any]
) -> None:
    """A decision that changed nothing is still traceable: `batch.decision_refused` with who
    tried, what they tried and `why` it was refused — a guard (reviewer = proposer) in the
    decision's own transaction, or a lost race (`AlreadyDecided`, recorded by the caller in a
    transaction of its own, since the losing one is rolled back)."""
    attempted = {
        "decision_number": decision.decision_number,
        "rejections": {str(k): v for k, v in sorted(decision.rejections.items())},
        "approve_others": decision.approve_others,
    }
    append_events(
        session,
        [
            EventDraft(
                actor=clean_single_line(decision.reviewer) or routing.actor,
                action="batch.decision_refused",
                entity_type="batch",
                entity_id=batch_id,
                before=None,
                after={**why, "attempted": attempted},
                source=routing.source,
            )
        ],
        at=routing.clock.now(),
    )


def _lock_batch(session: Session, batch_id: int) -> str:
    """Serialise decisions on one batch: a no-op UPDATE of its row takes PostgreSQL's row lock
    and SQLite's write lock, so the listings awaiting a decision are read after any decision
    committed before — two operators deciding at once cannot both see them awaiting."""
    locked = session.execute(
        sa.update(Batch)
        .where(col(Batch.id) == batch_id)
        .values(reference=col(Batch.reference))
        .returning(col(Batch.reference))
    ).first()
    if locked is None:
        raise NotFound(f"批次不存在（no such batch）：{batch_id}", batch_id=batch_id)
    return str(locked[0])


def publish_confirmed(session: Session, batch_id: int, routing: Routing) -> StepResult:
    """公开: the term starts; the party gets the decision (black) or the award notice (red)."""
    result = StepResult(Step.PUBLISH)
    confirmed = _listings(session, batch_id, S.CONFIRMED)
    result.moved, result.refused = routing.move(session, [i for i, _ in confirmed], Event.PUBLISH)
    kinds = dict(confirmed)
    result.notices = [
        NoticeRequest(
            NoticeKind.LISTING_DECISION if kinds[i] == ListType.BLACK else NoticeKind.RED_AWARD,
            batch_id,
            (i,),
        )
        for i in result.moved
    ]
    return routing.finish(session, result)


def dispatch_in_force(session: Session, batch_id: int, routing: Routing) -> StepResult:
    """发起: one action per listing × department of its memoranda, one digest per department.

    Inserts ignore rows that exist (listing, department, memorandum), so only listings not yet
    dispatched produce actions and notices; due dates come from each department's SLA.
    """
    result = StepResult(Step.DISPATCH)
    catalogue, today, now = routing.catalogue, routing.clock.today(), routing.clock.now()
    undispatched = session.execute(
        sa.select(col(Listing.id), col(Listing.rule_set))
        .where(
            col(Listing.batch_id) == batch_id,
            col(Listing.state) == S.IN_FORCE.value,
            ~sa.exists().where(ACTION.c.listing_id == col(Listing.id)),
        )
        .order_by(col(Listing.id))
    ).all()
    by_rule_set: dict[str, list[int]] = {}
    for listing_id, rule_set in undispatched:
        by_rule_set.setdefault(rule_set, []).append(listing_id)
    rows: list[dict[str, Any]] = []
    for rule_set, ids in by_rule_set.items():
        for memorandum in catalogue.memoranda_for(rule_set):
            for department in catalogue.departments_of(memorandum.id):
                measures = [m.id for m in catalogue.measures_for(memorandum.id, department)]
                due = action_deadlines(routing.calendar, catalogue.sla_for(department), today)
                template = {
                    "department": department,
                    "memorandum": memorandum.id,
                    "measures": measures,
                    "state": ActionState.DISPATCHED.value,
                    "escalation_level": 0,
                    "dispatched_at": now,
                    "ack_from": today,
                    "ack_wd": catalogue.sla_for(department).ack_wd,
                    "ack_due": due.ack.due,
                    "ack_provisional": due.ack.provisional,
                    "feedback_from": today,
                    "feedback_wd": catalogue.sla_for(department).feedback_wd,
                    "feedback_due": due.feedback.due,
                    "feedback_provisional": due.feedback.provisional,
                }
                rows += [{**template, "listing_id": listing_id} for listing_id in ids]
    created = _insert_actions(session, rows)
    result.actions_created = len(created)
    digests: dict[tuple[str, str], list[int]] = {}
    for listing_id, department, memorandum_id in created:
        digests.setdefault((department, memorandum_id), []).append(listing_id)
    result.notices = [
        NoticeRequest(
            NoticeKind.DEPARTMENT_DISPATCH,
            batch_id,
            tuple(sorted(ids)),
            department=department,
            memorandum=memorandum,
        )
        for (department, memorandum), ids in sorted(digests.items())
    ]
    result.moved = sorted({listing_id for listing_id, _, _ in created})
    if created:
        append_events(
            session,
            [
                EventDraft(
                    actor=routing.actor,
                    action="batch.dispatch",
                    entity_type="batch",
                    entity_id=batch_id,
                    before=None,
                    after={
                        "listings": len(result.moved),
                        "actions": len(created),
                        "departments": sorted({d for d, _ in digests}),
                    },
                    source=routing.source,
                )
            ],
            at=now,
        )
    return routing.finish(session, result)


_ACTION_CHUNK = 2_000
"""Rows per INSERT of department actions: bounds one statement's memory; the driver splits it
further to respect bind limits (`IN (…)` lists use `registry.db.in_list_chunks`)."""


def _insert_actions(session: Session, rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    created: list[tuple[int, str, str]] = []
    for start in range(0, len(rows), _ACTION_CHUNK):
        insert = (
            dialect.insert(ACTION)
            .on_conflict_do_nothing(index_elements=["listing_id", "department", "memorandum"])
            .returning(ACTION.c.listing_id, ACTION.c.department, ACTION.c.memorandum)
        )
        chunk = rows[start : start + _ACTION_CHUNK]
        created += [(r[0], r[1], r[2]) for r in session.execute(insert, chunk)]
    return created


def batch_position(session: Session, batch_id: int, *, today: date) -> BatchPosition:
    """Listings per state, and the one thing the batch waits on (operator before defence,
    defence before service); listings whose 告知书 is not served are named (未送达)."""
    batch = session.get(Batch, batch_id)
    if batch is None or batch.id is None:
        raise NotFound(f"批次不存在（no such batch）：{batch_id}", batch_id=batch_id)
    rows = session.execute(
        sa.select(col(Listing.state), sa.func.count(), sa.func.min(col(Listing.defence_due)))
        .where(col(Listing.batch_id) == batch_id)
        .group_by(col(Listing.state))
    ).all()
    states = Counter({row[0]: row[1] for row in rows})
    defence_due = next((row[2] for row in rows if row[0] == S.NOTIFIED.value), None)
    unserved = listings_awaiting_service(session, batch_id)
    if states[S.AWAITING_CONFIRMATION.value]:
        waiting = Waiting.OPERATOR
    elif states[S.NOTIFIED.value] > len(unserved):
        waiting = Waiting.DEFENCE_WINDOW
    elif unserved:
        waiting = Waiting.SERVICE
    else:
        waiting = Waiting.NOTHING
    return BatchPosition(
        batch_id=batch.id,
        reference=batch.reference,
        states=dict(sorted(states.items())),
        waiting_on=waiting,
        defence_due=defence_due,
        proposed_by=batch.proposed_by,
        awaiting_service=tuple(unserved),
    )


@dataclass(frozen=True)
class ReviewRow:
    """One line of the confirmation form: what an operator must see before deciding."""

    listing_id: int
    subject: str
    identifier: str
    grounds: str
    defence: str
    # What the operator must check, one item each (需人工核对 first); empty when nothing.
    warnings: tuple[str, ...] = ()

    @property
    def needs_attention(self) -> bool:
        return bool(self.warnings)


def awaiting_decision(session: Session, batch_id: int) -> list[int]:
    """The ids of the batch's listings awaiting a decision: the choices of the form."""
    return [i for i, _ in _listings(session, batch_id, S.AWAITING_CONFIRMATION)]


def awaiting_review(session: Session, batch_id: int, catalogue: Catalogue) -> list[ReviewRow]:
    """The batch's listings awaiting a decision; persons appear with their masked ID only."""
    rows = session.execute(
        sa.select(
            col(Listing.id),
            col(Listing.rule_set),
            col(Listing.grounds),
            col(Listing.defence_received_at),
            col(Listing.list_type),
            col(Listing.needs_review),
            col(Listing.warnings),
            col(Subject.name),
            col(Subject.uscc),
            col(Subject.id_masked),
        )
        .join(Subject, col(Subject.id) == col(Listing.subject_id))
        .where(
            col(Listing.batch_id) == batch_id,
            col(Listing.state) == S.AWAITING_CONFIRMATION.value,
        )
        .order_by(col(Listing.id))
    ).all()
    review = []
    for row in rows:
        titles = {g.code: g.article for g in catalogue.rule_sets[row.rule_set].grounds}
        if row.list_type == ListType.RED:
            defence = "红名单无需告知"
        else:
            defence = "已提出" if row.defence_received_at else "期满未提出"
        warnings = list(row.warnings or [])
        if row.needs_review:
            warnings.insert(0, "需人工核对")
        review.append(
            ReviewRow(
                listing_id=row.id,
                subject=row.name,
                identifier=row.uscc or row.id_masked or "—",
                grounds="；".join(f"{code}（{titles.get(code, '?')}）" for code in row.grounds),
                defence=defence,
                warnings=tuple(warnings),
            )
        )
    return review
