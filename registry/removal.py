"""The end of a listing (DOMAIN.md §2): expiry, applications, early removal, fraud, objections.

Every way out goes through `apply_transition` (table, guards, audit) and ends the same way: the
party gets the removal notice and every department that had the listing gets a lift request
(解除函) with its own due date (`lift_wd` of its SLA), tracked until it confirms. Under the
current rule (应急管理部令第11号) removal at expiry is automatic; under the legacy rule
(安监总办〔2017〕49号) the party applies in the 30 days before expiry, and an expired listing
nobody applied for waits for an operator (our default). Early removal (credit repair) needs 12
months published and a public credit commitment; one obtained by fraud is restored with its
original expiry. An upheld objection (异议) revokes the listing as wrongly made.

Every answer is in writing (issue 14 item 3): a dismissed objection gets an 异议答复书 and a
refused application a 不予移出决定书, both with the reason and the party's remedies; a fraud
restore tells the party (恢复列入告知书) and sends each department a 恢复联合惩戒函.

Over 500 lines because every way out shares the one ending (removal notice, lift requests,
actions moved to `lift_requested`); split by way out, each part would import that ending back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col

from registry.audit import EventDraft, append_events
from registry.clock import business_date
from registry.db import in_list_chunks
from registry.errors import JointcreditError, NotFound
from registry.free_text import clean_free_text, clean_single_line
from registry.lifecycle import Event
from registry.models import (
    ActionState,
    AuditEvent,
    Commitment,
    DepartmentAction,
    Listing,
    ListType,
    Objection,
    RemovalApplication,
)
from registry.models import ListingState as S
from registry.routing import (
    Decision,
    NoticeRequest,
    Routing,
    StepResult,
    decide,
    digest_step,
)
from registry.sla import action_deadlines, add_months
from registry.vocabulary import (
    CASE_STATE_LABELS,
    LISTING_STATE_LABELS,
    REMOVAL_REASON_STATEMENTS,
    NoticeKind,
    RemovalReason,
    label,
    removal_statement,
)

ACTION = cast(sa.Table, sa.inspect(DepartmentAction).local_table)
AUDIT = cast(sa.Table, sa.inspect(AuditEvent).local_table)

_OPEN_ACTIONS = (
    ActionState.DISPATCHED.value,
    ActionState.ACKNOWLEDGED.value,
    ActionState.FEEDBACK_REPORTED.value,
)


class RemovalRefused(JointcreditError):
    """An application, decision or objection the rules do not allow (with the reason)."""


def check_removal_form(approved: Iterable[int], refused: Iterable[int]) -> None:
    """A form that both approves and refuses one listing, or names a listing twice, is refused
    whole, before any of its decisions — each its own transaction — changes anything (two
    refusals of one listing would otherwise keep only the last reason)."""
    approved, refused = list(approved), list(refused)
    both = sorted(set(approved) & set(refused))
    if both:
        raise RemovalRefused(
            f"名单 {'、'.join(map(str, both))} 既被同意移出又被不予移出，请只保留一项"
            "（a listing is both approved and refused）",
            listing_ids=both,
        )
    twice = sorted(i for i, n in Counter([*approved, *refused]).items() if n > 1)
    if twice:
        raise RemovalRefused(
            f"名单 {'、'.join(map(str, twice))} 填写了两次，请只保留一条"
            "（a listing entered twice）",
            listing_ids=twice,
        )


def review_expired(session: Session, routing: Routing) -> StepResult:
    """Term ended: removed at once where the rule-set says so, else queued for an operator."""
    result = StepResult("review_expiry")
    today = routing.clock.today()
    expired = session.execute(
        sa.select(col(Listing.id), col(Listing.rule_set))
        .where(
            col(Listing.state) == S.IN_FORCE.value,
            col(Listing.expires_on).is_not(None),
            col(Listing.expires_on) <= today,
        )
        .order_by(col(Listing.id))
    ).all()
    moved, refused = routing.move(
        session, [i for i, _ in expired], Event.REVIEW_REMOVAL, removal_reason=RemovalReason.EXPIRY
    )
    result.refused.update(refused)
    automatic = {
        rule_set.id
        for rule_set in routing.catalogue.rule_sets.values()
        if rule_set.removal is not None and rule_set.removal.mode in ("automatic", "expiry")
    }
    to_remove = [i for i, rule_set in expired if i in set(moved) and rule_set in automatic]
    removed = remove(session, to_remove, routing)
    result.moved = moved
    result.notices = removed.notices + _window_reminders(session, routing)
    result.actions_created = removed.actions_created
    return routing.finish(session, result)


def _window_reminders(session: Session, routing: Routing) -> list[NoticeRequest]:
    """Legacy rule: the party may apply in the days before expiry — tell it when that opens.

    Asked every day while the window is open; the notice key makes it go out once per listing.
    """
    today = routing.clock.today()
    requests: list[NoticeRequest] = []
    for rule_set in routing.catalogue.rule_sets.values():
        window = rule_set.removal.application_window_days if rule_set.removal else None
        if window is None:
            continue
        rows = session.execute(
            sa.select(col(Listing.id), col(Listing.batch_id)).where(
                col(Listing.rule_set) == rule_set.id,
                col(Listing.state) == S.IN_FORCE.value,
                col(Listing.expires_on) > today,
                col(Listing.expires_on) <= today + timedelta(days=window),
            )
        ).all()
        requests += [
            NoticeRequest(NoticeKind.REMOVAL_WINDOW, batch_id, (listing_id,), step="window")
            for listing_id, batch_id in rows
        ]
    return requests


def remove(session: Session, listing_ids: Sequence[int], routing: Routing) -> StepResult:
    """移出: the listings leave the list; the party is told and every department asked to lift."""
    result = StepResult("remove")
    result.moved, result.refused = routing.move(session, listing_ids, Event.REMOVE, strict=True)
    _after_removal(session, result, routing)
    return result


def _after_removal(
    session: Session, result: StepResult, routing: Routing, *, objection_id: int | None = None
) -> None:
    """The removal notices and lift requests of `result.moved`; `objection_id` names the upheld
    objection behind a revocation, whose reasons the party's letter states."""
    if not result.moved:
        return
    rows = session.execute(
        sa.select(
            col(Listing.id),
            col(Listing.removal_reason),
            col(Listing.batch_id),
            col(Listing.rule_set),
        ).where(col(Listing.id).in_(result.moved))
    ).all()
    rule_sets = routing.catalogue.rule_sets
    today = routing.clock.today().isoformat()
    # A listing removed again after a fraud restore is told again, even on the same day.
    rounds = _rounds(session, "listing", ("listing.remove", "listing.revoke"), result.moved)
    result.notices += [
        NoticeRequest(
            NoticeKind.REMOVAL_NOTICE,
            batch_id,
            (listing_id,),
            reason=removal_statement(reason, term_word=rule_sets[rule_set].term_word),
            step=_nth(f"removed-{today}-{reason}", rounds.get(listing_id, 1)),
            case_id=objection_id,
        )
        for listing_id, reason, batch_id, rule_set in rows
    ]
    lifts = request_lifts(session, result.moved, routing)
    result.actions_created += lifts.actions_created
    result.notices += lifts.notices


def request_lifts(session: Session, listing_ids: Sequence[int], routing: Routing) -> StepResult:
    """解除函: every open action of these listings → lift_requested, due per department SLA.

    One guarded UPDATE per department (its due date differs), returning only the actions that
    actually moved — so a repeat requests nothing twice — and one digest per department and
    memorandum naming exactly those listings.
    """
    result = StepResult("request_lifts")
    if not listing_ids:
        return result
    catalogue, today, now = routing.catalogue, routing.clock.today(), routing.clock.now()
    departments = session.execute(
        sa.select(ACTION.c.department)
        .where(ACTION.c.listing_id.in_(listing_ids), ACTION.c.state.in_(_OPEN_ACTIONS))
        .distinct()
    ).scalars()
    moved: list[tuple[int, int, str, str]] = []
    for department in sorted(departments):
        sla = catalogue.sla_for(department)
        due = routing.calendar.add_working_days(today, sla.lift_wd)
        moved += [
            (row[0], row[1], row[2], row[3])
            for row in session.execute(
                sa.update(ACTION)
                .where(
                    ACTION.c.listing_id.in_(listing_ids),
                    ACTION.c.department == department,
                    ACTION.c.state.in_(_OPEN_ACTIONS),
                )
                .values(
                    state=ActionState.LIFT_REQUESTED.value,
                    lift_requested_at=now,
                    lift_from=today,
                    lift_wd=sla.lift_wd,
                    lift_due=due.due,
                    lift_provisional=due.provisional,
                    escalation_level=0,
                )
                .returning(
                    ACTION.c.id, ACTION.c.listing_id, ACTION.c.department, ACTION.c.memorandum
                )
            )
        ]
    # Counted before this round's events: an action lifted again after a fraud restore gets a
    # new 解除函, while a repeat of this round moves nothing and so asks nothing twice.
    earlier = _rounds(session, "department_action", ("action.lift_request",), [m[0] for m in moved])
    _action_events(session, routing, moved, "action.lift_request", ActionState.LIFT_REQUESTED)
    digests: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for action_id, listing_id, department, memorandum in moved:
        digests.setdefault((department, memorandum), []).append((action_id, listing_id))
    result.actions_created = len(moved)
    result.notices = [
        NoticeRequest(
            NoticeKind.LIFT_REQUEST,
            None,
            tuple(sorted(listing for _, listing in pairs)),
            department=department,
            memorandum=memorandum,
            step=_nth(
                "lift-" + digest_step([action for action, _ in pairs]).removeprefix("dispatch-"),
                1 + max(earlier.get(action, 0) for action, _ in pairs),
            ),
        )
        for (department, memorandum), pairs in sorted(digests.items())
    ]
    return result


def _rounds(
    session: Session, entity_type: str, actions: Sequence[str], ids: Sequence[int]
) -> dict[int, int]:
    """How many of `actions` the audit trail holds for each of these rows: the round a removal,
    lift request or restore is in, so each round's letters have their own notice key."""
    counts: dict[int, int] = {}
    for chunk in in_list_chunks(sorted(set(ids))):
        counts.update(
            (int(entity_id), int(n))
            for entity_id, n in session.execute(
                sa.select(AUDIT.c.entity_id, sa.func.count())
                .where(
                    AUDIT.c.entity_type == entity_type,
                    AUDIT.c.entity_id.in_([str(i) for i in chunk]),
                    AUDIT.c.action.in_(actions),
                )
                .group_by(AUDIT.c.entity_id)
            )
        )
    return counts


def _nth(step: str, round_: int) -> str:
    """The step of a round: the first keeps the plain step, the keys of earlier letters."""
    return step if round_ <= 1 else f"{step}-{round_}"


def _action_events(
    session: Session,
    routing: Routing,
    moved: Sequence[tuple[int, int, str, str]],
    action: str,
    state: ActionState,
) -> None:
    """One audit event per department action a removal or a restore moved (id, listing,
    department, memorandum), so the trail replays every action's state (`audit.replay`)."""
    append_events(
        session,
        [
            EventDraft(
                actor=routing.actor,
                action=action,
                entity_type="department_action",
                entity_id=action_id,
                before=None,
                after={"state": state.value, "listing_id": listing_id, "department": department},
                source=routing.source,
            )
            for action_id, listing_id, department, _ in moved
        ],
        at=routing.clock.now(),
    )


def _record(
    session: Session,
    routing: Routing,
    action: str,
    entity: str,
    entity_id: int,
    after: dict[str, Any],
    before: dict[str, Any] | None = None,
) -> None:
    """The audit event of an objection, application or commitment (no listing moves with it)."""
    append_events(
        session,
        [EventDraft(routing.actor, action, entity, entity_id, before, after, routing.source)],
        at=routing.clock.now(),
    )


# --- operator decisions and applications ---------------------------------------------------


def _listing(session: Session, listing_id: int) -> Listing:
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise NotFound(f"名单不存在（no such listing）：{listing_id}", listing_id=listing_id)
    return listing


@dataclass(frozen=True)
class Application:
    id: int
    listing_id: int
    reason: RemovalReason
    decide_due: date

    def as_dict(self) -> dict[str, Any]:
        return {
            "application_id": self.id,
            "listing_id": self.listing_id,
            "reason": self.reason.value,
            "decide_due": self.decide_due,
        }


def earliest_early_removal(listing: Listing, routing: Routing) -> date | None:
    """The first day an early-removal application may be made, or None if the rule has none."""
    removal = routing.catalogue.rule_sets[listing.rule_set].removal
    if removal is None or listing.published_at is None:
        return None
    if removal.early_removal_after_months is not None:
        return add_months(business_date(listing.published_at), removal.early_removal_after_months)
    if removal.application_window_days is not None and listing.expires_on is not None:
        return listing.expires_on - timedelta(days=removal.application_window_days)
    return None


def apply_for_removal(
    session: Session,
    listing_id: int,
    *,
    evidence: str,
    commitment: str,
    routing: Routing,
) -> Application:
    """A party's application to leave the list early (current rule) or at term (legacy rule).

    Refused before the minimum period with the earliest eligible date; recorded with the public
    credit commitment (信用承诺) the repair rule requires; the listing goes to removal review.
    """
    listing = _listing(session, listing_id)
    removal = routing.catalogue.rule_sets[listing.rule_set].removal
    if listing.state != S.IN_FORCE.value:
        raise RemovalRefused(
            f"名单 {listing_id} 当前状态为 {label(LISTING_STATE_LABELS, listing.state)}，"
            "不能申请移出（only listings in force）",
            listing_id=listing_id,
            state=listing.state,
        )
    if removal is None or (
        removal.early_removal_after_months is None and removal.application_window_days is None
    ):
        raise RemovalRefused(
            f"规则 {listing.rule_set} 不接受移出申请（this rule-set takes no application）",
            listing_id=listing_id,
        )
    if not evidence.strip() or not commitment.strip():
        raise RemovalRefused(
            "申请须附证明材料说明和公开信用承诺（evidence and a public commitment are required）",
            listing_id=listing_id,
        )
    reason = (
        RemovalReason.EARLY_REMOVAL
        if removal.early_removal_after_months is not None
        else RemovalReason.APPLICATION
    )
    earliest = earliest_early_removal(listing, routing)
    today = routing.clock.today()
    if earliest is not None and today < earliest:
        raise RemovalRefused(
            f"名单 {listing_id} 最早可于 {earliest.isoformat()} 申请"
            f"{'提前移出' if reason is RemovalReason.EARLY_REMOVAL else '移出'}"
            f"（earliest eligible date {earliest.isoformat()}）",
            listing_id=listing_id,
            earliest=earliest.isoformat(),
        )
    routing.move(session, [listing_id], Event.REVIEW_REMOVAL, strict=True, removal_reason=reason)
    now = routing.clock.now()
    commitment_id = session.execute(
        sa.insert(Commitment)
        .values(
            subject_id=listing.subject_id,
            kind="credit",
            text=clean_free_text(commitment).strip(),
            made_on=today,
            public=True,
            recorded_at=now,
        )
        .returning(col(Commitment.id))
    ).scalar_one()
    limits = routing.catalogue.time_limits
    due = routing.calendar.add_working_days(today, limits.early_removal_decide_wd)
    application_id = session.execute(
        sa.insert(RemovalApplication)
        .values(
            listing_id=listing_id,
            applied_at=now,
            evidence=clean_free_text(evidence).strip(),
            commitment_id=commitment_id,
            state="open",
            decide_from=today,
            decide_wd=limits.early_removal_decide_wd,
            decide_due=due.due,
            decide_provisional=due.provisional,
        )
        .returning(col(RemovalApplication.id))
    ).scalar_one()
    _record(
        session,
        routing,
        "commitment.record",
        "commitment",
        commitment_id,
        {"subject_id": listing.subject_id, "kind": "credit", "public": True},
    )
    _record(
        session,
        routing,
        "removal_application.file",
        "removal_application",
        application_id,
        {
            "state": "open",
            "listing_id": listing_id,
            "commitment_id": commitment_id,
            "reason": reason.value,
            "decide_due": due.due,
        },
    )
    return Application(int(application_id), listing_id, reason, due.due)


def decide_removal(
    session: Session,
    listing_ids: Sequence[int],
    *,
    approve: bool,
    reviewer: str,
    reason: str | None,
    routing: Routing,
) -> StepResult:
    """An operator's decision on listings in removal review (expired legacy, or applied)."""
    reviewer, reason = clean_single_line(reviewer), clean_free_text(reason)
    if not approve and not (reason or "").strip():  # the refusal is a reasoned written decision
        raise RemovalRefused(
            "不予移出须说明理由（a refusal needs a reason）", listing_ids=list(listing_ids)
        )
    listings = [_listing(session, i) for i in listing_ids]
    waiting = [listing.id for listing in listings if listing.state != S.REMOVAL_REVIEW.value]
    if waiting:
        raise RemovalRefused(
            f"名单不在移出审查中（not in removal review）：{'、'.join(map(str, waiting))}",
            listing_ids=waiting,
        )
    ids = [int(listing.id or 0) for listing in listings]
    decider = Routing(**{**routing.__dict__, "actor": reviewer})
    if approve:
        result = remove(session, ids, decider)
        state = "approved"
    else:
        result = StepResult("retain")
        result.moved, _ = decider.move(session, ids, Event.RETAIN, strict=True, reason=reason)
        state = "refused"
    decided = session.execute(
        sa.update(RemovalApplication)
        .where(col(RemovalApplication.listing_id).in_(ids), col(RemovalApplication.state) == "open")
        .values(
            state=state,
            decided_at=routing.clock.now(),
            decided_by=reviewer,
            decision_reason=reason,
        )
        .returning(col(RemovalApplication.id), col(RemovalApplication.listing_id))
    ).all()
    if not approve:  # every refused application is answered in writing, with remedies
        batches = {int(listing.id or 0): listing.batch_id for listing in listings}
        result.notices += [
            NoticeRequest(
                NoticeKind.REMOVAL_REFUSAL,
                batches[listing_id],
                (listing_id,),
                reason=reason,
                step=f"application-{application_id}",
                case_id=application_id,
            )
            for application_id, listing_id in decided
        ]
    for application_id, listing_id in decided:
        _record(
            session,
            decider,
            "removal_application.decide",
            "removal_application",
            application_id,
            {"state": state, "listing_id": listing_id, "reason": reason},
            before={"state": "open"},
        )
    return routing.finish(session, result)


def restore_after_fraud(
    session: Session, listing_id: int, *, reviewer: str, reason: str, routing: Routing
) -> StepResult:
    """恢复: an early removal obtained by fraud is undone; the original expiry stands and every
    department that lifted its measures is asked to apply them again."""
    reviewer, reason = clean_single_line(reviewer), clean_free_text(reason)
    decider = Routing(**{**routing.__dict__, "actor": reviewer})
    result = StepResult("restore")
    result.moved, _ = decider.move(session, [listing_id], Event.RESTORE, strict=True, reason=reason)
    today, now = routing.clock.today(), routing.clock.now()
    reapplied: list[tuple[int, int, str, str]] = []
    for department in sorted(
        session.execute(
            sa.select(ACTION.c.department).where(ACTION.c.listing_id == listing_id).distinct()
        ).scalars()
    ):
        sla = routing.catalogue.sla_for(department)
        due = action_deadlines(routing.calendar, sla, today)
        reapplied += [
            (row[0], row[1], row[2], row[3])
            for row in session.execute(
                sa.update(ACTION)
                .where(ACTION.c.listing_id == listing_id, ACTION.c.department == department)
                .values(
                    state=ActionState.DISPATCHED.value,
                    dispatched_at=now,
                    escalation_level=0,
                    ack_from=today,
                    ack_wd=sla.ack_wd,
                    ack_due=due.ack.due,
                    ack_provisional=due.ack.provisional,
                    acknowledged_at=None,
                    ack_late=False,
                    feedback_from=today,
                    feedback_wd=sla.feedback_wd,
                    feedback_due=due.feedback.due,
                    feedback_provisional=due.feedback.provisional,
                    feedback_at=None,
                    feedback_late=False,
                    lift_confirmed_at=None,
                    lift_requested_at=None,
                    lift_due=None,
                )
                .returning(
                    ACTION.c.id, ACTION.c.listing_id, ACTION.c.department, ACTION.c.memorandum
                )
            )
        ]
    _action_events(session, decider, reapplied, "action.redispatch", ActionState.DISPATCHED)
    batch_id = _listing(session, listing_id).batch_id
    result.actions_created = len(reapplied)
    # A second restore of the listing (removed early again, fraud again) is its own letter.
    restores = _rounds(session, "listing", ("listing.restore",), [listing_id])
    step = _nth(f"restore-{listing_id}-{today.isoformat()}", restores.get(listing_id, 1))
    # The party is told why and until when (恢复列入告知书); each department that had lifted its
    # measures gets a restore letter (恢复联合惩戒函), not a copy of the original 推送函.
    result.notices = [
        NoticeRequest(NoticeKind.RESTORE_NOTICE, batch_id, (listing_id,), reason=reason, step=step)
    ] + [
        NoticeRequest(
            NoticeKind.DEPARTMENT_RESTORE,
            None,
            (listing_id,),
            department=department,
            memorandum=memorandum,
            reason=reason,
            step=step,
        )
        for department, memorandum in sorted({(d, m) for _, _, d, m in reapplied})
    ]
    return routing.finish(session, result)


# --- objections ----------------------------------------------------------------------------


def file_objection(
    session: Session, listing_id: int, *, filed_by: str, reason: str, routing: Routing
) -> int:
    """异议: recorded with its own answer deadline (`objection_wd` working days)."""
    filed_by, reason = clean_single_line(filed_by), clean_free_text(reason)
    listing = _listing(session, listing_id)
    if listing.state in (S.REJECTED.value, S.REMOVED.value, S.REVOKED.value):
        raise RemovalRefused(
            f"名单 {listing_id} 已不在名单中（{label(LISTING_STATE_LABELS, listing.state)}），"
            "无需异议（not listed）",
            listing_id=listing_id,
        )
    if not reason.strip():
        raise RemovalRefused("异议须说明理由（a reason is required）", listing_id=listing_id)
    today = routing.clock.today()
    wd = routing.catalogue.time_limits.objection_wd
    due = routing.calendar.add_working_days(today, wd)
    objection_id = int(
        session.execute(
            sa.insert(Objection)
            .values(
                listing_id=listing_id,
                filed_at=routing.clock.now(),
                filed_by=filed_by or "当事人",
                reason=reason.strip(),
                state="open",
                answer_from=today,
                answer_wd=wd,
                answer_due=due.due,
                answer_provisional=due.provisional,
            )
            .returning(col(Objection.id))
        ).scalar_one()
    )
    _record(
        session,
        routing,
        "objection.file",
        "objection",
        objection_id,
        {
            "state": "open",
            "listing_id": listing_id,
            "filed_by": filed_by or "当事人",
            "reason": reason,
            "answer_due": due.due,
        },
    )
    return objection_id


def decide_objection(
    session: Session,
    objection_id: int,
    *,
    upheld: bool,
    reviewer: str,
    reason: str,
    routing: Routing,
) -> StepResult:
    """Upheld: the listing was wrong — revoked (or, before a decision, rejected) and lifted."""
    reviewer, reason = clean_single_line(reviewer), clean_free_text(reason)
    objection = session.get(Objection, objection_id)
    if objection is None:
        raise NotFound(f"异议不存在（no such objection）：{objection_id}", id=objection_id)
    if objection.state != "open":
        raise RemovalRefused(
            f"异议 {objection_id} 已处理（{label(CASE_STATE_LABELS, objection.state)}）"
            f"（already decided: {objection.state}）",
            objection_id=objection_id,
        )
    if not reason.strip():
        raise RemovalRefused("须说明处理理由（a reason is required）", objection_id=objection_id)
    decider = Routing(**{**routing.__dict__, "actor": reviewer})
    result = StepResult("objection")
    if upheld:
        listing = _listing(session, objection.listing_id)
        decided = listing.state in (S.CONFIRMED.value, S.IN_FORCE.value, S.REMOVAL_REVIEW.value)
        event = Event.REVOKE if decided else Event.REJECT
        result.moved, _ = decider.move(
            session, [objection.listing_id], event, strict=True, reason=reason
        )
        if decided:
            _after_removal(session, result, decider, objection_id=objection_id)
        else:
            result.notices.append(
                NoticeRequest(
                    NoticeKind.REJECTION, listing.batch_id, (listing.id or 0,), reason=reason
                )
            )
    else:  # 异议不成立: answered in writing with the reason and the party's remedies
        result.notices.append(
            NoticeRequest(
                NoticeKind.OBJECTION_REPLY,
                _listing(session, objection.listing_id).batch_id,
                (objection.listing_id,),
                reason=reason,
                step=f"objection-{objection_id}",
                case_id=objection_id,
            )
        )
    outcome = "upheld" if upheld else "dismissed"
    changed = session.execute(
        sa.update(Objection)
        .where(col(Objection.id) == objection_id, col(Objection.state) == "open")
        .values(
            state=outcome,
            decided_at=routing.clock.now(),
            decided_by=reviewer,
            decision_reason=reason,
        )
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise RemovalRefused(
            f"异议 {objection_id} 已由他人处理（already decided concurrently）",
            objection_id=objection_id,
        )
    _record(
        session,
        decider,
        "objection.decide",
        "objection",
        objection_id,
        {"state": outcome, "listing_id": objection.listing_id, "reason": reason},
        before={"state": "open"},
    )
    return routing.finish(session, result)


def decide_and_forfeit_red(
    session: Session, batch_id: int, decision: Decision, routing: Routing
) -> StepResult:
    """The operator's decision on a batch (`registry.routing.decide`) with its consequence: a
    subject confirmed on the black list forfeits its red listing in the same transaction.

    Returns the decision's own result; the forfeiture shows in the audit trail and its notices.
    """
    result = decide(session, batch_id, decision, routing)
    confirmed_black = (
        session.execute(
            sa.select(col(Listing.id)).where(
                col(Listing.id).in_(result.moved),
                col(Listing.state) == S.CONFIRMED.value,
                col(Listing.list_type) == ListType.BLACK.value,
            )
        )
        .scalars()
        .all()
    )
    routing.finish(session, revoke_red_listings_of(session, list(confirmed_black), routing))
    return result


def revoke_red_listings_of(
    session: Session, black_listing_ids: Sequence[int], routing: Routing
) -> StepResult:
    """A subject confirmed on the black list forfeits its red listing at once (DOMAIN.md §2)."""
    result = StepResult("red_forfeit")
    if not black_listing_ids:
        return result
    subjects = sa.select(col(Listing.subject_id)).where(col(Listing.id).in_(black_listing_ids))
    red = (
        session.execute(
            sa.select(col(Listing.id)).where(
                col(Listing.subject_id).in_(subjects),
                col(Listing.list_type) == ListType.RED.value,
                col(Listing.state).in_(
                    [S.CONFIRMED.value, S.IN_FORCE.value, S.REMOVAL_REVIEW.value]
                ),
            )
        )
        .scalars()
        .all()
    )
    if not red:
        return result
    result.moved, _ = routing.move(
        session,
        list(red),
        Event.REVOKE,
        reason=REMOVAL_REASON_STATEMENTS[RemovalReason.RED_FORFEITED],
        removal_reason=RemovalReason.RED_FORFEITED,  # on the revoke event, so it replays
    )
    _after_removal(session, result, routing)
    return result
