"""The outbox on SQLite and PostgreSQL: idempotent enqueue, leased claims, guarded outcomes."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from notifications.outbox import (
    ClaimedNotice,
    DeliveryOutcome,
    NoticeDraft,
    NoticeKey,
    OutboxError,
    Recipient,
    begin_attempt,
    claim_notices,
    enqueue_notice,
    enqueue_notices,
    outbox_status,
    record_outcomes,
    requeue_failed,
)
from registry.audit import verify
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.errors import NotFound
from registry.installation import installation_token
from registry.models import AttemptOutcome, AuditEvent, NoticeState
from registry.vocabulary import NoticeKind
from tests.factories.notices import unnumbered
from tests.factories.outbox import a_batch, empty_outbox, notices, queue_notices

LEASE = timedelta(minutes=5)
DISPATCH = NoticeKind.DEPARTMENT_DISPATCH


@pytest.fixture
def outbox(engine: sa.Engine) -> sa.Engine:
    empty_outbox(engine)
    return engine


def _claim(engine: sa.Engine, clock: FrozenClock, limit: int, who: str) -> list[ClaimedNotice]:
    with session_scope(engine) as session:
        return claim_notices(session, now=clock.now(), limit=limit, lease=LEASE, deliverer=who)


def _begin(engine: sa.Engine, clock: FrozenClock, notice: ClaimedNotice, who: str) -> bool:
    """What a deliverer does right before it sends: count the attempt, if the claim is its."""
    with session_scope(engine) as session:
        return begin_attempt(session, notice, now=clock.now(), lease=LEASE, deliverer=who)


def test_enqueueing_the_same_step_twice_queues_one_notice(
    outbox: sa.Engine, clock: FrozenClock
) -> None:
    batch = a_batch(outbox, clock)
    recipient = Recipient("mem@example.org", "应急管理部")
    key = NoticeKey.for_batch(DISPATCH, batch, recipient.address, "dispatch")
    context = unnumbered(DISPATCH)
    with session_scope(outbox) as session:
        first = enqueue_notice(session, DISPATCH, recipient, context, key, now=clock.now())
    with session_scope(outbox) as session:
        again = enqueue_notice(session, DISPATCH, recipient, context, key, now=clock.now())
        other_step = NoticeKey.for_batch(DISPATCH, batch, recipient.address, "redispatch")
        third = enqueue_notice(session, DISPATCH, recipient, context, other_step, now=clock.now())

    assert first is not None
    assert again is None
    assert third is not None
    assert third != first
    rows = notices(outbox)
    assert [row.batch_id for row in rows] == [batch, batch]
    with session_scope(outbox) as session:
        installation = installation_token(session)
    assert rows[0].message_id == key.message_id(installation)
    assert rows[0].state == NoticeState.QUEUED.value


def test_a_bulk_enqueue_skips_keys_already_queued_and_repeated_in_the_input(
    outbox: sa.Engine, clock: FrozenClock
) -> None:
    batch = a_batch(outbox, clock)

    def draft(i: int) -> NoticeDraft:
        address = f"d{i}@example.org"
        return NoticeDraft(
            DISPATCH,
            Recipient(address),
            unnumbered(DISPATCH),
            NoticeKey.for_batch(DISPATCH, batch, address, "dispatch"),
        )

    with session_scope(outbox) as session:
        first = enqueue_notices(session, [draft(i) for i in range(300)], now=clock.now())
    with session_scope(outbox) as session:
        second = enqueue_notices(
            session, [draft(i) for i in [*range(250, 400), 399]], now=clock.now()
        )

    assert (len(first.new_ids), first.already_queued) == (300, 0)
    assert (len(second.new_ids), second.already_queued) == (100, 51)
    assert len(notices(outbox)) == 400


def test_a_key_of_another_kind_is_refused(outbox: sa.Engine, clock: FrozenClock) -> None:
    key = NoticeKey.for_listing(NoticeKind.REMINDER, 3, "a@example.org")
    with session_scope(outbox) as session, pytest.raises(OutboxError, match="不一致"):
        enqueue_notice(
            session,
            DISPATCH,
            Recipient("a@example.org"),
            unnumbered(DISPATCH),
            key,
            now=clock.now(),
        )


def test_claims_never_hand_one_notice_to_two_deliverers(
    outbox: sa.Engine, clock: FrozenClock
) -> None:
    queue_notices(outbox, clock, 10)

    first = _claim(outbox, clock, 6, "甲")
    second = _claim(outbox, clock, 6, "乙")
    third = _claim(outbox, clock, 6, "丙")

    assert len(first) == 6
    assert len(second) == 4
    assert third == []
    assert not {n.id for n in first} & {n.id for n in second}
    assert {n.attempt for n in first + second} == {1}


def test_an_abandoned_lease_is_claimed_again_and_the_late_outcome_is_ignored(
    outbox: sa.Engine, clock: FrozenClock
) -> None:
    queue_notices(outbox, clock, 1)
    (stale,) = _claim(outbox, clock, 5, "崩溃的投递者")
    assert _begin(outbox, clock, stale, "崩溃的投递者")
    assert _claim(outbox, clock, 5, "乙") == []

    clock.advance(LEASE + timedelta(seconds=1))
    (fresh,) = _claim(outbox, clock, 5, "乙")
    assert (fresh.id, fresh.attempt) == (stale.id, 2)
    # The old holder, late, cannot start another attempt on a claim it lost.
    assert not _begin(outbox, clock, stale, "崩溃的投递者")
    assert _begin(outbox, clock, fresh, "乙")

    late = DeliveryOutcome(
        stale, AttemptOutcome.SENT, clock.now(), clock.now(), 250, "250 OK", None
    )
    with session_scope(outbox) as session:
        recorded = record_outcomes(session, [late], deliverer="崩溃的投递者")
    assert recorded.lease_lost == 1
    assert notices(outbox)[0].state == NoticeState.SENDING.value

    done = DeliveryOutcome(fresh, AttemptOutcome.SENT, clock.now(), clock.now(), 250, "250 OK")
    with session_scope(outbox) as session:
        recorded = record_outcomes(session, [done], deliverer="乙")
    assert recorded.counts == {"sent": 1}
    (row,) = notices(outbox)
    assert (row.state, row.attempts, row.claimed_by) == (NoticeState.SENT.value, 2, "乙")


def test_requeue_refuses_what_has_not_failed_and_audits_what_it_requeues(
    outbox: sa.Engine, clock: FrozenClock
) -> None:
    queued, failed = queue_notices(outbox, clock, 2)
    claimed = {n.id: n for n in _claim(outbox, clock, 2, "甲")}
    assert _begin(outbox, clock, claimed[failed], "甲")
    outcome = DeliveryOutcome(
        claimed[failed], AttemptOutcome.FAILED, clock.now(), clock.now(), 550, "550 no such user"
    )
    with session_scope(outbox) as session:
        record_outcomes(session, [outcome], deliverer="甲")

    with session_scope(outbox) as session, pytest.raises(OutboxError, match="只能重试"):
        requeue_failed(session, [queued, failed], now=clock.now(), actor="操作员", source="t")
    with session_scope(outbox) as session, pytest.raises(NotFound, match="999999"):
        requeue_failed(session, [999999], now=clock.now(), actor="操作员", source="t")
    with session_scope(outbox) as session:
        assert requeue_failed(session, [failed], now=clock.now(), actor="操作员", source="t") == [
            failed
        ]

    row = notices(outbox, [failed])[0]
    assert (row.state, row.attempts, row.attempts_at_requeue) == ("queued", 1, 1)
    with session_scope(outbox) as session:
        event = session.execute(
            sa.select(AuditEvent).where(
                AuditEvent.action == "notice.requeue", AuditEvent.entity_id == str(failed)
            )
        ).scalar_one()
        assert event.actor == "操作员"
        assert event.before == {"state": "failed", "attempts": 1}
        assert verify(session).ok
    (again,) = _claim(outbox, clock, 5, "乙")
    assert (again.id, again.attempt, again.attempts_at_requeue) == (failed, 2, 1)


def test_status_counts_states_and_lists_parked_notices(
    outbox: sa.Engine, clock: FrozenClock
) -> None:
    queue_notices(outbox, clock, 3)
    (claimed, *_rest) = _claim(outbox, clock, 1, "甲")
    assert _begin(outbox, clock, claimed, "甲")
    with session_scope(outbox) as session:
        record_outcomes(
            session,
            [DeliveryOutcome(claimed, AttemptOutcome.FAILED, clock.now(), clock.now(), 554, "554")],
            deliverer="甲",
        )
        status = outbox_status(session)

    assert status.by_state["queued"] == 2
    assert status.by_state["failed"] == 1
    assert status.by_kind == {"department_dispatch": {"queued": 2, "failed": 1}}
    assert [row["id"] for row in status.parked] == [claimed.id]
    assert [flag["address"] for flag in status.flagged_contacts] == [claimed.recipient]
    assert status.oldest_waiting == clock.now()
