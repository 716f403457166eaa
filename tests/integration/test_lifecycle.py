"""Every allowed and every forbidden transition, on SQLite and PostgreSQL, plus each guard.

The expected table is written out here independently of `registry.lifecycle`, so a change to
the code that is not also a decision about the rules fails this test.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from memoranda.loader import Catalogue
from registry.audit import verify
from registry.calendar import WorkingCalendar
from registry.clock import FrozenClock
from registry.errors import NotFound, TransitionRefused
from registry.lifecycle import (
    Event,
    apply_transition,
    transition_for,
    transition_table,
)
from registry.models import AuditEvent, Listing, ListingState
from registry.vocabulary import RemovalReason
from tests.factories.listings import (
    PROPOSER,
    REVIEWER,
    column,
    mail_prior_notices,
    make_listings,
)

P, N, A, C, F, RR, RM, RJ, RV = (
    "proposed",
    "notified",
    "awaiting_confirmation",
    "confirmed",
    "in_force",
    "removal_review",
    "removed",
    "rejected",
    "revoked",
)
BLACK = {
    (P, "notify"): N,
    (P, "reject"): RJ,
    (N, "await_confirmation"): A,
    (N, "reject"): RJ,
    (A, "confirm"): C,
    (A, "reject"): RJ,
    (C, "publish"): F,
    (C, "revoke"): RV,
    (F, "review_removal"): RR,
    (F, "revoke"): RV,
    (RR, "retain"): F,
    (RR, "remove"): RM,
    (RR, "revoke"): RV,
}
EXPECTED: dict[str, dict[tuple[str, str], str]] = {
    "saws-2017-sanction": BLACK,
    "mem-2023-serious": {**BLACK, (RM, "restore"): F},
    "saws-2017-incentive": {
        (P, "await_confirmation"): A,
        (P, "reject"): RJ,
        (A, "confirm"): C,
        (A, "reject"): RJ,
        (C, "publish"): F,
        (C, "revoke"): RV,
        (F, "review_removal"): RR,
        (F, "revoke"): RV,
        (RR, "remove"): RM,
        (RR, "revoke"): RV,
    },
}
CASES = [
    (rule_set, state.value, event.value)
    for rule_set in EXPECTED
    for state in ListingState
    for event in Event
]


def test_the_code_table_is_the_expected_table(catalogue: Catalogue) -> None:
    with_lifecycle = {r.id for r in catalogue.rule_sets.values() if transition_table(r)}
    assert with_lifecycle == set(EXPECTED)
    for rule_set, table in EXPECTED.items():
        actual = {
            (state.value, event.value): t.target.value
            for state in ListingState
            for event in Event
            if (t := transition_for(catalogue.rule_sets[rule_set], state, event)) is not None
        }
        assert actual == table, rule_set


@pytest.mark.parametrize(("rule_set", "state", "event"), CASES)
def test_transition(
    engine: sa.Engine,
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    clock: FrozenClock,
    rule_set: str,
    state: str,
    event: str,
) -> None:
    expected = EXPECTED[rule_set].get((state, event))
    with Session(engine) as session:
        [listing] = make_listings(session, catalogue, rule_set=rule_set, state=state)
        session.commit()
        audit_before = session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar()
        kwargs = {
            "actor": REVIEWER,
            "source": "test",
            "clock": clock,
            "catalogue": catalogue,
            "calendar": calendar,
            "reason": "依据核查结论",
            "removal_reason": RemovalReason.EXPIRY,
        }
        if expected is None:
            with pytest.raises(TransitionRefused) as caught:
                apply_transition(session, [listing], Event(event), **kwargs)
            assert "不允许" in caught.value.refusals[listing][0]
            session.rollback()
            assert column(session, Listing.__table__, "state", [listing]) == [state]
            return
        result = apply_transition(session, [listing], Event(event), **kwargs)
        session.commit()
        assert result.applied == [listing]
        assert column(session, Listing.__table__, "state", [listing]) == [expected]
        audit_after = session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar()
        assert audit_after == (audit_before or 0) + 1
        event_row = session.execute(
            sa.select(AuditEvent).where(AuditEvent.seq == result.audit_seqs[0])
        ).scalar_one()
        assert event_row.entity_id == str(listing)
        assert event_row.before == {"state": state}
        assert event_row.after is not None
        assert event_row.after["state"] == expected
        assert event_row.actor == REVIEWER


def _kw(catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock) -> dict[str, object]:
    return {"source": "test", "clock": clock, "catalogue": catalogue, "calendar": calendar}


def test_notify_opens_no_window_and_serving_the_notice_opens_it_in_working_days(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar
) -> None:
    """行政处罚法第四十四条: the 陈述申辩 window runs from service of the 告知书, not NOTIFY."""
    clock = FrozenClock(datetime.fromisoformat("2026-09-30T10:00+08:00"))
    with Session(engine) as session:
        ids = make_listings(
            session,
            catalogue,
            rule_set="mem-2023-serious",
            count=3,
            defence_from=None,
            defence_wd=None,
            defence_due=None,
        )
        apply_transition(
            session, ids, Event.NOTIFY, actor=PROPOSER, **_kw(catalogue, calendar, clock)
        )
        session.commit()
        assert column(session, Listing.__table__, "state", ids) == ["notified"] * 3
        assert column(session, Listing.__table__, "defence_due", ids) == [None] * 3
        assert column(session, Listing.__table__, "defence_from", ids) == [None] * 3

        # Two served the same day (the National Day holiday does not count), one a week later.
        mail_prior_notices(session, ids[:2], clock=clock, catalogue=catalogue, calendar=calendar)
        later = FrozenClock(datetime.fromisoformat("2026-10-09T10:00+08:00"))
        mail_prior_notices(session, ids[2:], clock=later, catalogue=catalogue, calendar=calendar)
        session.commit()
        assert column(session, Listing.__table__, "defence_from", ids) == [
            date(2026, 9, 30),
            date(2026, 9, 30),
            date(2026, 10, 9),
        ]
        assert column(session, Listing.__table__, "defence_due", ids) == [
            date(2026, 10, 13),
            date(2026, 10, 13),
            date(2026, 10, 15),  # Saturday 10-10 is a working day in 2026 (调休)
        ]
        assert column(session, Listing.__table__, "defence_provisional", ids) == [False] * 3
        assert column(session, Listing.__table__, "state", ids) == ["notified"] * 3


def test_the_defence_window_must_close_first(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> None:
    with Session(engine) as session:
        [listing] = make_listings(
            session,
            catalogue,
            rule_set="mem-2023-serious",
            state="notified",
            defence_due=clock.today(),
        )
        session.commit()
        with pytest.raises(TransitionRefused, match="陈述申辩期尚未届满"):
            apply_transition(
                session,
                [listing],
                Event.AWAIT_CONFIRMATION,
                actor=PROPOSER,
                **_kw(catalogue, calendar, clock),
            )
        session.rollback()
        clock.advance(timedelta(days=1))
        apply_transition(
            session,
            [listing],
            Event.AWAIT_CONFIRMATION,
            actor=PROPOSER,
            **_kw(catalogue, calendar, clock),
        )
        session.commit()


def test_the_proposer_cannot_confirm_and_the_refusal_says_so(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> None:
    with Session(engine) as session:
        ids = make_listings(session, catalogue, rule_set="mem-2023-serious", state=A, count=30)
        session.commit()
        with pytest.raises(TransitionRefused) as caught:
            apply_transition(
                session, ids, Event.CONFIRM, actor=PROPOSER, **_kw(catalogue, calendar, clock)
            )
        session.rollback()
        assert set(caught.value.refusals) == set(ids)
        # Said once, with how many listings it applies to — not the same sentence 30 times.
        assert caught.value.message.count("审核人不得为提出人") == 1
        assert "涉及 30 条名单：" in caught.value.message
        assert f"{ids[9]} 等" in caught.value.message
        assert str(ids[10]) not in caught.value.message.rpartition("：")[2]
        assert column(session, Listing.__table__, "state", ids) == [A] * 30


def test_confirmation_needs_a_known_ground_and_a_decision_number(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> None:
    with Session(engine) as session:
        [bad_ground] = make_listings(
            session, catalogue, rule_set="mem-2023-serious", state=A, grounds=["S2.1"]
        )
        [no_number] = make_listings(
            session, catalogue, rule_set="mem-2023-serious", state=A, decision_number=None
        )
        session.commit()
        result = apply_transition(
            session,
            [bad_ground, no_number],
            Event.CONFIRM,
            actor=REVIEWER,
            strict=False,
            **_kw(catalogue, calendar, clock),
        )
        session.commit()
        assert result.applied == []
        assert any("S2.1" in r for r in result.refused[bad_ground])
        assert any("决定书文号" in r for r in result.refused[no_number])
        with_number = apply_transition(
            session,
            [no_number],
            Event.CONFIRM,
            actor=REVIEWER,
            decision_number="应急信认〔2026〕9号",
            **_kw(catalogue, calendar, clock),
        )
        session.commit()
        assert with_number.applied == [no_number]


def test_publication_sets_the_term_of_the_rule_set(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> None:
    with Session(engine) as session:
        old = make_listings(
            session,
            catalogue,
            rule_set="saws-2017-sanction",
            state=C,
            published_at=None,
            expires_on=None,
        )
        new = make_listings(
            session,
            catalogue,
            rule_set="mem-2023-serious",
            state=C,
            published_at=None,
            expires_on=None,
        )
        apply_transition(
            session, old + new, Event.PUBLISH, actor=REVIEWER, **_kw(catalogue, calendar, clock)
        )
        session.commit()
        assert column(session, Listing.__table__, "expires_on", old + new) == [
            date(2027, 11, 27),
            date(2029, 11, 27),
        ]


def test_removal_waits_for_the_term_or_the_minimum_period(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> None:
    published = datetime.fromisoformat("2026-01-05T09:00+08:00")
    with Session(engine) as session:
        [listing] = make_listings(
            session,
            catalogue,
            rule_set="mem-2023-serious",
            state=F,
            published_at=published,
            expires_on=date(2029, 1, 5),
            removal_reason=None,
        )
        session.commit()
        for reason, message in [
            (RemovalReason.EXPIRY, "尚未届满"),
            (RemovalReason.EARLY_REMOVAL, "2027-01-05"),
            (RemovalReason.APPLICATION, "不适用到期前申请"),
        ]:
            with pytest.raises(TransitionRefused, match=message):
                apply_transition(
                    session,
                    [listing],
                    Event.REVIEW_REMOVAL,
                    actor=REVIEWER,
                    removal_reason=reason,
                    **_kw(catalogue, calendar, clock),
                )
            session.rollback()
        clock.set(datetime.fromisoformat("2027-01-05T09:00+08:00"))
        apply_transition(
            session,
            [listing],
            Event.REVIEW_REMOVAL,
            actor=REVIEWER,
            removal_reason=RemovalReason.EARLY_REMOVAL,
            **_kw(catalogue, calendar, clock),
        )
        apply_transition(
            session, [listing], Event.REMOVE, actor=REVIEWER, **_kw(catalogue, calendar, clock)
        )
        apply_transition(
            session,
            [listing],
            Event.RESTORE,
            actor=REVIEWER,
            reason="以欺骗手段提前移出",
            **_kw(catalogue, calendar, clock),
        )
        session.commit()
        # Restored with its original expiry.
        assert column(session, Listing.__table__, "state", [listing]) == [F]
        assert column(session, Listing.__table__, "expires_on", [listing]) == [date(2029, 1, 5)]


def test_only_an_early_removal_can_be_restored(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> None:
    with Session(engine) as session:
        [listing] = make_listings(
            session, catalogue, rule_set="mem-2023-serious", state=RM, removal_reason="expiry"
        )
        session.commit()
        with pytest.raises(TransitionRefused, match="仅提前移出"):
            apply_transition(
                session,
                [listing],
                Event.RESTORE,
                actor=REVIEWER,
                reason="x",
                **_kw(catalogue, calendar, clock),
            )


def test_strict_is_all_or_nothing_and_unknown_ids_are_named(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> None:
    with Session(engine) as session:
        good = make_listings(session, catalogue, rule_set="mem-2023-serious", state=C)
        bad = make_listings(session, catalogue, rule_set="mem-2023-serious", state=P)
        session.commit()
        with pytest.raises(TransitionRefused):
            apply_transition(
                session,
                good + bad,
                Event.PUBLISH,
                actor=REVIEWER,
                **_kw(catalogue, calendar, clock),
            )
        session.rollback()
        assert column(session, Listing.__table__, "state", good + bad) == [C, P]
        with pytest.raises(NotFound, match="99999999"):
            apply_transition(
                session,
                [99_999_999],
                Event.PUBLISH,
                actor=REVIEWER,
                **_kw(catalogue, calendar, clock),
            )


def test_a_batch_moves_with_one_update_and_the_chain_still_verifies(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> None:
    with Session(engine) as session:
        ids = make_listings(session, catalogue, rule_set="mem-2023-serious", state=C, count=2500)
        session.commit()
        result = apply_transition(
            session, ids, Event.PUBLISH, actor=REVIEWER, **_kw(catalogue, calendar, clock)
        )
        session.commit()
        assert len(result.applied) == 2500
        assert len(result.audit_seqs) == 2500
        assert column(session, Listing.__table__, "state", ids[:1] + ids[-1:]) == [F, F]
        assert verify(session).ok
