"""The listing lifecycle as a table you can read (DESIGN.md §3), built from each rule-set.

Black list: proposed → notified → awaiting_confirmation → confirmed → in_force → removal_review
→ removed, with `rejected` and `revoked` as exits; under the current rule (应急管理部令第11号) an
early removal obtained by fraud is restored to in_force with its original expiry. Red lists skip
the prior notice (no 陈述申辩 for a reward). The table is data: `transition_table` derives it
from the rule-set's entry in `memoranda/rulesets.yml`, so no rule-set id appears in code.

`apply_transition` is the only way a listing changes state. It works on a set of listings at
once (the batch is the routing unit): it reads them, checks the table and the guards in plain
Python, updates the allowed ones with one guarded UPDATE, and chains one audit event per
listing — all in the caller's transaction, which also enqueues the notices it causes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from memoranda.schema import RuleSet
from registry.audit import EventDraft, append_events
from registry.calendar import WorkingCalendar
from registry.clock import Clock
from registry.db import in_list_chunks
from registry.errors import NotFound, TransitionRefused
from registry.free_text import clean_free_text, clean_single_line, same_person
from registry.models import Listing
from registry.models import ListingState as S
from registry.numbering import DECISION_KINDS, Numbering
from registry.repository import core_table
from registry.sla import add_months
from registry.vocabulary import RemovalReason


class Event(StrEnum):
    NOTIFY = "notify"  # 告知: prior notice composed; its window opens once it is served
    AWAIT_CONFIRMATION = "await_confirmation"  # defence received or lapsed
    CONFIRM = "confirm"  # 认定: operator decision
    REJECT = "reject"  # 不予认定
    PUBLISH = "publish"  # 公开: in force, term starts
    REVIEW_REMOVAL = "review_removal"  # term ended, or an application to leave early
    RETAIN = "retain"  # removal refused: stays in force
    REMOVE = "remove"  # 移出
    REVOKE = "revoke"  # 撤销: wrong listing (objection upheld) or red list forfeited
    RESTORE = "restore"  # 恢复: early removal obtained by fraud


@dataclass(frozen=True)
class Request:
    """Who asks for a transition, when, and with which arguments."""

    actor: str
    source: str
    today: date
    now: datetime
    reason: str | None = None
    decision_number: str | None = None
    removal_reason: RemovalReason | None = None
    numbering: Numbering | None = None


@dataclass(frozen=True)
class ListingView:
    """The columns guards read."""

    id: int
    state: str
    rule_set: str
    list_type: str
    grounds: list[str]
    proposed_by: str
    decision_number: str | None
    defence_due: date | None
    defence_received_at: datetime | None
    published_at: datetime | None
    expires_on: date | None
    removal_reason: str | None


Guard = Callable[[ListingView, Request, Catalogue], str | None]
"""Returns why the transition is refused (Chinese), or None when it may proceed."""


def basis_cited(listing: ListingView, _r: Request, catalogue: Catalogue) -> str | None:
    known = {g.code for g in catalogue.rule_sets[listing.rule_set].grounds}
    if not listing.grounds:
        return "未引用认定依据（no ground cited）"
    unknown = [g for g in listing.grounds if g not in known]
    if unknown:
        return f"认定依据不属于规则 {listing.rule_set}：{'、'.join(unknown)}"
    return None


def defence_window_closed(listing: ListingView, request: Request, _c: Catalogue) -> str | None:
    if listing.defence_received_at is not None:
        return None
    if listing.defence_due is None or request.today <= listing.defence_due:
        due = listing.defence_due.isoformat() if listing.defence_due else "告知书未送达"
        return f"陈述申辩期尚未届满（defence window open until {due}）"
    return None


def reviewer_differs_from_proposer(
    listing: ListingView, request: Request, _c: Catalogue
) -> str | None:
    if same_person(request.actor, listing.proposed_by):
        return f"审核人不得为提出人 {listing.proposed_by}（reviewer must differ from proposer）"
    return None


def decision_number_given(listing: ListingView, request: Request, _c: Catalogue) -> str | None:
    """The decision is numbered: given (a paper decision), already, or from the sequence."""
    if not (request.decision_number or listing.decision_number or request.numbering):
        return "缺少决定书文号（decision number required）"
    return None


def reason_given(_l: ListingView, request: Request, _c: Catalogue) -> str | None:
    if not (request.reason and request.reason.strip()):
        return "必须说明理由（a reason is required）"
    return None


def removal_allowed(listing: ListingView, request: Request, catalogue: Catalogue) -> str | None:
    """Term ended; or, as the rule-set allows, an application before it (DOMAIN.md §2)."""
    removal = catalogue.rule_sets[listing.rule_set].removal
    reason = request.removal_reason
    if reason is None or removal is None:
        return "缺少移出原因（removal reason required）"
    if listing.expires_on is None or listing.published_at is None:
        return "尚未公开，无期限可言（not published）"
    if reason is RemovalReason.EXPIRY:
        if request.today < listing.expires_on:
            return f"有效期至 {listing.expires_on.isoformat()}，尚未届满（term not ended）"
        return None
    if reason is RemovalReason.APPLICATION:
        if removal.application_window_days is None:
            return f"规则 {listing.rule_set} 不适用到期前申请（no application window）"
        opens = listing.expires_on - timedelta(days=removal.application_window_days)
        if request.today < opens:
            return f"申请窗口自 {opens.isoformat()} 开放（application window opens then）"
        return None
    if removal.early_removal_after_months is None:
        return f"规则 {listing.rule_set} 不允许提前移出（no early removal）"
    published = listing.published_at.date()
    eligible = add_months(published, removal.early_removal_after_months)
    if request.today < eligible:
        return (
            f"公开满 {removal.early_removal_after_months} 个月后方可申请提前移出，"
            f"即 {eligible.isoformat()} 起（minimum period not reached）"
        )
    return None


def removed_early(listing: ListingView, _r: Request, _c: Catalogue) -> str | None:
    if listing.removal_reason != RemovalReason.EARLY_REMOVAL:
        return "仅提前移出的名单可因欺诈恢复（only an early removal can be restored）"
    return None


@dataclass(frozen=True)
class Transition:
    event: Event
    sources: frozenset[S]
    target: S
    guards: tuple[Guard, ...] = ()


def _t(event: Event, sources: Iterable[S], target: S, *guards: Guard) -> Transition:
    return Transition(event, frozenset(sources), target, guards)


@cache
def _table(
    list_type: str | None, prior_notice: bool, restore_on_fraud: bool
) -> Mapping[Event, Transition]:
    """The table for one combination of the facts that shape it; shared by equal rule-sets."""
    if list_type is None:
        return MappingProxyType({})
    black = list_type == "black"
    pre_decision: tuple[S, ...] = (S.PROPOSED, S.NOTIFIED, S.AWAITING_CONFIRMATION)
    if not prior_notice:
        pre_decision = (S.PROPOSED, S.AWAITING_CONFIRMATION)
    decided = (S.CONFIRMED, S.IN_FORCE, S.REMOVAL_REVIEW)
    transitions: list[Transition] = []
    if prior_notice:
        transitions += [
            _t(Event.NOTIFY, [S.PROPOSED], S.NOTIFIED, basis_cited),
            _t(
                Event.AWAIT_CONFIRMATION,
                [S.NOTIFIED],
                S.AWAITING_CONFIRMATION,
                defence_window_closed,
            ),
        ]
    else:
        transitions.append(_t(Event.AWAIT_CONFIRMATION, [S.PROPOSED], S.AWAITING_CONFIRMATION))
    confirm_guards: tuple[Guard, ...] = (basis_cited,)
    if black:
        confirm_guards += (decision_number_given,)
    confirm_guards += (reviewer_differs_from_proposer,)
    transitions += [
        _t(Event.CONFIRM, [S.AWAITING_CONFIRMATION], S.CONFIRMED, *confirm_guards),
        _t(Event.REJECT, pre_decision, S.REJECTED, reason_given),
        _t(Event.PUBLISH, [S.CONFIRMED], S.IN_FORCE),
        _t(Event.REVIEW_REMOVAL, [S.IN_FORCE], S.REMOVAL_REVIEW, removal_allowed),
    ]
    if black:
        transitions.append(_t(Event.RETAIN, [S.REMOVAL_REVIEW], S.IN_FORCE, reason_given))
    transitions += [
        _t(Event.REMOVE, [S.REMOVAL_REVIEW], S.REMOVED),
        _t(Event.REVOKE, decided, S.REVOKED, reason_given),
    ]
    if restore_on_fraud:
        transitions.append(_t(Event.RESTORE, [S.REMOVED], S.IN_FORCE, reason_given, removed_early))
    return MappingProxyType({t.event: t for t in transitions})


def transition_table(rule_set: RuleSet) -> Mapping[Event, Transition]:
    """Event → transition under `rule_set`, built from its catalogue entry; empty: no lifecycle.

    Three facts of `rulesets.yml` shape the table, so a new rule-set needs no code:
    - `list_type`: none (信用修复) has no listings; a black listing is an adverse decision — its
      认定 needs a decision number (决定书文号) and a removal may be refused (retain); a red
      listing leaving is never refused.
    - `prior_notice`: 告知 and the 陈述申辩 window (notify, then await confirmation once it
      closed); without it a proposal awaits confirmation at once (no 陈述申辩 for a reward).
    - `removal.restore_on_fraud`: an early removal obtained by fraud is restored to in force
      (应急管理部令第11号).
    A (state, event) pair not in the table is forbidden.
    """
    restore = rule_set.removal is not None and rule_set.removal.restore_on_fraud
    return _table(rule_set.list_type, rule_set.prior_notice, restore)


def transition_for(rule_set: RuleSet, state: str, event: Event) -> Transition | None:
    """The transition `event` makes from `state` under `rule_set`, or None if forbidden."""
    transition = transition_table(rule_set).get(event)
    if transition is None or state not in transition.sources:
        return None
    return transition


def refusals(
    listing: ListingView, event: Event, request: Request, catalogue: Catalogue
) -> list[str]:
    """Every reason the listing may not take `event` now (empty: it may)."""
    rule_set = catalogue.rule_sets.get(listing.rule_set)
    if rule_set is None or not transition_table(rule_set):
        return [f"规则 {listing.rule_set} 没有名单生命周期（no lifecycle for this rule-set）"]
    transition = transition_for(rule_set, listing.state, event)
    if transition is None:
        return [f"状态 {listing.state} 下不允许 {event}（not allowed from this state）"]
    return [why for guard in transition.guards if (why := guard(listing, request, catalogue))]


@dataclass
class TransitionResult:
    event: Event
    applied: list[int] = field(default_factory=list)
    refused: dict[int, list[str]] = field(default_factory=dict)
    audit_seqs: list[int] = field(default_factory=list)


_VIEW_COLUMNS = [getattr(Listing, name) for name in ListingView.__dataclass_fields__]


def apply_transition(
    session: Session,
    listing_ids: Sequence[int],
    event: Event,
    *,
    actor: str,
    source: str,
    clock: Clock,
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    reason: str | None = None,
    decision_number: str | None = None,
    removal_reason: RemovalReason | None = None,
    numbering: Numbering | None = None,
    strict: bool = True,
) -> TransitionResult:
    """Move listings by `event`; never commits. `strict`: refuse all if any one is refused.

    What a person typed is cleaned here, where it is stored (`registry.free_text`): the actor
    and decision number become one line with ID numbers masked, the reason has them masked.

    A confirmation given `numbering` numbers each listing that has no decision number yet from
    its list type's sequence, one statement per list type (`registry.numbering`)."""
    request = Request(
        actor=clean_single_line(actor),
        source=clean_single_line(source),
        today=clock.today(),
        now=clock.now(),
        reason=clean_free_text(reason),
        decision_number=clean_single_line(decision_number) or None,
        removal_reason=removal_reason,
        numbering=numbering,
    )
    views = _load_views(session, listing_ids)
    reason, actor, source = request.reason, request.actor, request.source
    result = TransitionResult(event)
    movable: dict[tuple[str, str], list[ListingView]] = {}
    for view in views:
        why = refusals(view, event, request, catalogue)
        if why:
            result.refused[view.id] = why
        else:
            movable.setdefault((view.rule_set, view.state), []).append(view)
    if result.refused and strict:
        raise TransitionRefused(event, result.refused)
    numbers = _decision_numbers(session, event, request, movable)
    drafts: list[EventDraft] = []
    for (rule_set, state), group in movable.items():
        transition = transition_table(catalogue.rule_sets[rule_set])[event]
        changes = _effects(event, rule_set, request, catalogue, calendar)
        changes["state"] = transition.target
        changes["updated_at"] = request.now
        ids = [v.id for v in group]
        for chunk in in_list_chunks(ids):
            updated = session.execute(
                sa.update(Listing)
                .where(col(Listing.id).in_(chunk), col(Listing.state) == state)
                .values(**changes)
                .execution_options(synchronize_session=False)
            )
            if updated.rowcount != len(chunk):  # type: ignore[attr-defined]
                raise TransitionRefused(
                    event, {i: ["名单状态已被并发修改（changed concurrently）"] for i in chunk}
                )
        _store_numbers(session, {v.id: numbers[v.id] for v in group if v.id in numbers})
        after = {k: v for k, v in changes.items() if k != "updated_at"}
        if reason:
            after["reason"] = reason
        drafts.extend(
            EventDraft(
                actor,
                f"listing.{event}",
                "listing",
                v.id,
                {"state": v.state},
                {**after, "decision_number": numbers[v.id]} if v.id in numbers else after,
                source,
            )
            for v in group
        )
        result.applied.extend(ids)
    result.audit_seqs = append_events(session, drafts, at=request.now)
    return result


def _decision_numbers(
    session: Session,
    event: Event,
    request: Request,
    movable: dict[tuple[str, str], list[ListingView]],
) -> dict[int, str]:
    """Each confirmed listing's own 列入决定 number, unless one was given or it has one already:
    reserved per list type in one statement, in listing order, for the decision's year."""
    if event is not Event.CONFIRM or request.numbering is None or request.decision_number:
        return {}
    unnumbered: dict[str, list[int]] = {}
    for group in movable.values():
        for view in group:
            if not view.decision_number:
                unnumbered.setdefault(view.list_type, []).append(view.id)
    numbers: dict[int, str] = {}
    for list_type, ids in sorted(unnumbered.items()):
        kind = DECISION_KINDS[list_type]
        issued = request.numbering.issue(session, kind, request.today.year, len(ids))
        numbers.update(zip(sorted(ids), issued, strict=True))
    return numbers


def _store_numbers(session: Session, numbers: Mapping[int, str]) -> None:
    if not numbers:
        return
    listing = core_table(Listing)
    session.execute(
        sa.update(listing)
        .where(listing.c.id == sa.bindparam("b_id"))
        .values(decision_number=sa.bindparam("b_number")),
        [{"b_id": i, "b_number": n} for i, n in numbers.items()],
    )


def _effects(
    event: Event, rule_set: str, request: Request, catalogue: Catalogue, calendar: WorkingCalendar
) -> dict[str, Any]:
    """Columns an event sets besides the state; identical for every listing of one rule-set."""
    if event is Event.NOTIFY:
        # The 陈述申辩 window opens when the 告知书 is served, not when it is composed
        # (行政处罚法第四十四条; `registry.service_of_notices.open_defence_windows`).
        return {"notified_at": request.now}
    if event is Event.CONFIRM:
        values: dict[str, Any] = {"decided_at": request.now, "decided_by": request.actor}
        if request.decision_number:
            values["decision_number"] = request.decision_number
        return values
    if event is Event.PUBLISH:
        term = catalogue.rule_sets[rule_set].term_months
        assert term is not None  # list rule-sets always have a term (schema)
        return {"published_at": request.now, "expires_on": add_months(request.today, term)}
    if event is Event.REVIEW_REMOVAL:
        return {"removal_reason": request.removal_reason}
    if event is Event.RETAIN:
        return {"removal_reason": None}
    if event is Event.REMOVE:
        return {"removed_at": request.now}
    if event is Event.REVOKE:
        reason = request.removal_reason or RemovalReason.REVOKED  # or red_forfeited
        return {"removed_at": request.now, "removal_reason": reason}
    if event is Event.RESTORE:
        return {"removed_at": None, "removal_reason": None}
    return {}


def _load_views(session: Session, listing_ids: Sequence[int]) -> list[ListingView]:
    wanted = list(dict.fromkeys(listing_ids))
    views: dict[int, ListingView] = {}
    for chunk in in_list_chunks(wanted):
        rows = session.execute(sa.select(*_VIEW_COLUMNS).where(col(Listing.id).in_(chunk)))
        for row in rows:
            views[row.id] = ListingView(**row._mapping)
    missing = [i for i in wanted if i not in views]
    if missing:
        raise NotFound(
            f"名单不存在：{'、'.join(map(str, missing))}（listing not found）", ids=missing
        )
    return [views[i] for i in wanted]
