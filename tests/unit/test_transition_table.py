"""The lifecycle tables built from `rulesets.yml`, checked without a database.

`EXPECTED` writes out today's three tables transition by transition — event, sources, target
and guards in order — independently of `registry.lifecycle`, so any drift in what the builder
makes of the catalogue fails here before it reaches a listing.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pytest

from memoranda.loader import Catalogue
from registry.lifecycle import (
    Event,
    Guard,
    ListingView,
    Request,
    Transition,
    basis_cited,
    decision_number_given,
    defence_window_closed,
    reason_given,
    refusals,
    removal_allowed,
    removed_early,
    reviewer_differs_from_proposer,
    transition_for,
    transition_table,
)
from registry.models import ListingState as S

E = Event


def _t(event: Event, sources: set[S], target: S, *guards: Guard) -> Transition:
    return Transition(event, frozenset(sources), target, guards)


DECIDED = {S.CONFIRMED, S.IN_FORCE, S.REMOVAL_REVIEW}
BLACK = {
    E.NOTIFY: _t(E.NOTIFY, {S.PROPOSED}, S.NOTIFIED, basis_cited),
    E.AWAIT_CONFIRMATION: _t(
        E.AWAIT_CONFIRMATION, {S.NOTIFIED}, S.AWAITING_CONFIRMATION, defence_window_closed
    ),
    E.CONFIRM: _t(
        E.CONFIRM,
        {S.AWAITING_CONFIRMATION},
        S.CONFIRMED,
        basis_cited,
        decision_number_given,
        reviewer_differs_from_proposer,
    ),
    E.REJECT: _t(
        E.REJECT, {S.PROPOSED, S.NOTIFIED, S.AWAITING_CONFIRMATION}, S.REJECTED, reason_given
    ),
    E.PUBLISH: _t(E.PUBLISH, {S.CONFIRMED}, S.IN_FORCE),
    E.REVIEW_REMOVAL: _t(E.REVIEW_REMOVAL, {S.IN_FORCE}, S.REMOVAL_REVIEW, removal_allowed),
    E.RETAIN: _t(E.RETAIN, {S.REMOVAL_REVIEW}, S.IN_FORCE, reason_given),
    E.REMOVE: _t(E.REMOVE, {S.REMOVAL_REVIEW}, S.REMOVED),
    E.REVOKE: _t(E.REVOKE, DECIDED, S.REVOKED, reason_given),
}
EXPECTED: dict[str, dict[Event, Transition]] = {
    "saws-2017-sanction": BLACK,
    "mem-2023-serious": {
        **BLACK,
        E.RESTORE: _t(E.RESTORE, {S.REMOVED}, S.IN_FORCE, reason_given, removed_early),
    },
    "saws-2017-incentive": {
        E.AWAIT_CONFIRMATION: _t(E.AWAIT_CONFIRMATION, {S.PROPOSED}, S.AWAITING_CONFIRMATION),
        E.CONFIRM: _t(
            E.CONFIRM,
            {S.AWAITING_CONFIRMATION},
            S.CONFIRMED,
            basis_cited,
            reviewer_differs_from_proposer,
        ),
        E.REJECT: _t(E.REJECT, {S.PROPOSED, S.AWAITING_CONFIRMATION}, S.REJECTED, reason_given),
        E.PUBLISH: _t(E.PUBLISH, {S.CONFIRMED}, S.IN_FORCE),
        E.REVIEW_REMOVAL: _t(E.REVIEW_REMOVAL, {S.IN_FORCE}, S.REMOVAL_REVIEW, removal_allowed),
        E.REMOVE: _t(E.REMOVE, {S.REMOVAL_REVIEW}, S.REMOVED),
        E.REVOKE: _t(E.REVOKE, DECIDED, S.REVOKED, reason_given),
    },
}
ALLOWED_FROM: dict[str, dict[S, set[Event]]] = {
    "saws-2017-sanction": {
        S.PROPOSED: {E.NOTIFY, E.REJECT},
        S.NOTIFIED: {E.AWAIT_CONFIRMATION, E.REJECT},
        S.AWAITING_CONFIRMATION: {E.CONFIRM, E.REJECT},
        S.CONFIRMED: {E.PUBLISH, E.REVOKE},
        S.IN_FORCE: {E.REVIEW_REMOVAL, E.REVOKE},
        S.REMOVAL_REVIEW: {E.RETAIN, E.REMOVE, E.REVOKE},
    },
    "saws-2017-incentive": {
        S.PROPOSED: {E.AWAIT_CONFIRMATION, E.REJECT},
        S.AWAITING_CONFIRMATION: {E.CONFIRM, E.REJECT},
        S.CONFIRMED: {E.PUBLISH, E.REVOKE},
        S.IN_FORCE: {E.REVIEW_REMOVAL, E.REVOKE},
        S.REMOVAL_REVIEW: {E.REMOVE, E.REVOKE},
    },
}
ALLOWED_FROM["mem-2023-serious"] = {
    **ALLOWED_FROM["saws-2017-sanction"],
    S.REMOVED: {E.RESTORE},
}
TODAY = date(2026, 12, 1)


def _view(rule_set: str, state: str, **changes: object) -> ListingView:
    values: dict[str, object] = {
        "id": 1,
        "state": state,
        "rule_set": rule_set,
        "list_type": "black",
        "grounds": [],
        "proposed_by": "proposer",
        "decision_number": None,
        "defence_due": None,
        "defence_received_at": None,
        "published_at": None,
        "expires_on": None,
        "removal_reason": None,
    }
    values.update(changes)
    return ListingView(**values)  # type: ignore[arg-type]


def _request(actor: str = "reviewer", **changes: object) -> Request:
    return Request(
        actor=actor,
        source="test",
        today=TODAY,
        now=datetime(2026, 12, 1, 2, 0),
        **changes,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("rule_set", sorted(EXPECTED))
def test_each_table_is_todays_transition_by_transition(catalogue: Catalogue, rule_set: str) -> None:
    table = transition_table(catalogue.rule_sets[rule_set])
    assert set(table) == set(EXPECTED[rule_set])
    for event, expected in EXPECTED[rule_set].items():
        assert table[event] == expected, (rule_set, event)


def test_only_list_rule_sets_have_a_lifecycle(catalogue: Catalogue) -> None:
    with_table = {r.id for r in catalogue.rule_sets.values() if transition_table(r)}
    assert with_table == set(EXPECTED)
    assert dict(transition_table(catalogue.rule_sets["ndrc-2026-repair"])) == {}


@pytest.mark.parametrize("rule_set", sorted(ALLOWED_FROM))
def test_the_events_allowed_from_each_state(catalogue: Catalogue, rule_set: str) -> None:
    rules = catalogue.rule_sets[rule_set]
    for state in S:
        allowed = {e for e in Event if transition_for(rules, state, e) is not None}
        assert allowed == ALLOWED_FROM[rule_set].get(state, set()), (rule_set, state)


def test_a_red_list_has_no_prior_notice_retain_or_restore(catalogue: Catalogue) -> None:
    red = [r for r in catalogue.rule_sets.values() if r.list_type == "red"]
    assert red
    for rules in red:
        table = transition_table(rules)
        assert not {E.NOTIFY, E.RETAIN, E.RESTORE} & set(table), rules.id
        assert all(S.NOTIFIED not in t.sources for t in table.values()), rules.id
        assert decision_number_given not in table[E.CONFIRM].guards


def test_only_the_rule_set_that_restores_on_fraud_has_restore(catalogue: Catalogue) -> None:
    for rules in catalogue.rule_sets.values():
        restores = rules.removal is not None and rules.removal.restore_on_fraud
        assert (E.RESTORE in transition_table(rules)) is restores, rules.id


def test_the_table_follows_the_catalogue_not_the_id(catalogue: Catalogue) -> None:
    current = catalogue.rule_sets["mem-2023-serious"]
    renamed = current.model_copy(update={"id": "prov-2027-serious"})
    assert transition_table(renamed) == transition_table(current)
    assert current.removal is not None
    no_fraud_rule = current.model_copy(
        update={"removal": current.removal.model_copy(update={"restore_on_fraud": False})}
    )
    assert transition_table(no_fraud_rule) == EXPECTED["saws-2017-sanction"]


@pytest.mark.parametrize("rule_set", sorted(EXPECTED))
def test_an_unknown_state_or_event_is_refused(catalogue: Catalogue, rule_set: str) -> None:
    rules = catalogue.rule_sets[rule_set]
    for event in Event:
        assert transition_for(rules, "archived", event) is None
    assert transition_table(rules).get("archive") is None  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="archive"):
        Event("archive")
    why = refusals(_view(rule_set, "archived"), E.PUBLISH, _request(), catalogue)
    assert why == ["状态 archived 下不允许 publish（not allowed from this state）"]


def test_a_rule_set_without_a_lifecycle_is_refused(catalogue: Catalogue) -> None:
    for rule_set in ("ndrc-2026-repair", "no-such-rule-set"):
        why = refusals(_view(rule_set, "proposed"), E.NOTIFY, _request(), catalogue)
        assert why == [f"规则 {rule_set} 没有名单生命周期（no lifecycle for this rule-set）"]


def test_guards_run_in_the_tables_order(catalogue: Catalogue) -> None:
    listing = _view("mem-2023-serious", "awaiting_confirmation")
    why = refusals(listing, E.CONFIRM, _request(actor="proposer"), catalogue)
    assert why == [
        "未引用认定依据（no ground cited）",
        "缺少决定书文号（decision number required）",
        "审核人不得为提出人 proposer（reviewer must differ from proposer）",
    ]
    red = _view("saws-2017-incentive", "awaiting_confirmation", list_type="red", grounds=["R"])
    assert refusals(red, E.CONFIRM, _request(), catalogue) == []


@pytest.mark.parametrize(
    "reviewer",
    [
        "提出人\u00a0张伟",  # a no-break space, as pasted from a word processor
        "提出人 \u200b张伟",  # a zero-width space
        "提出人\u3000张伟",  # a full-width space
        "提出人  张伟",  # two spaces
        "\u200e提出人 张伟",  # a left-to-right mark
        "提出人 张伟\ufeff",  # a byte-order mark
    ],
)
def test_the_proposer_cannot_review_behind_an_invisible_character(
    catalogue: Catalogue, reviewer: str
) -> None:
    listing = _view("saws-2017-incentive", "awaiting_confirmation", list_type="red", grounds=["R"])
    listing = dataclasses.replace(listing, proposed_by="提出人 张伟")
    why = refusals(listing, E.CONFIRM, _request(actor=reviewer), catalogue)
    assert why == ["审核人不得为提出人 提出人 张伟（reviewer must differ from proposer）"]
    other = refusals(listing, E.CONFIRM, _request(actor="审核人 李娜"), catalogue)
    assert other == []
