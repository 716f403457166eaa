"""The routing steps on SQLite and PostgreSQL, with the real outbox (no Prefect here)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from memoranda.loader import Catalogue
from notifications.artifacts import markdown_cell, review_markdown
from registry.audit import verify
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.errors import NotFound
from registry.models import AuditEvent, DepartmentAction, Listing, Notice
from registry.routing import (
    AlreadyDecided,
    Decision,
    DecisionError,
    Routing,
    Waiting,
    awaiting_review,
    batch_position,
    close_defence_windows,
    decide,
    dispatch_in_force,
    notify_proposed,
    publish_confirmed,
)
from tests.factories.listings import PROPOSER, REVIEWER, proposed_batch, serve_prior_notices


def _states(engine: sa.Engine, ids: list[int]) -> Counter[str]:
    with session_scope(engine) as session:
        rows = session.execute(sa.select(col(Listing.state)).where(col(Listing.id).in_(ids)))
        return Counter(rows.scalars())


def _notices(engine: sa.Engine, batch_id: int, ids: list[int]) -> Counter[str]:
    with session_scope(engine) as session:
        rows = session.execute(
            sa.select(col(Notice.kind)).where(
                sa.or_(col(Notice.batch_id) == batch_id, col(Notice.listing_id).in_(ids))
            )
        )
        return Counter(rows.scalars())


def _step(engine: sa.Engine, step: Any, batch_id: int, routing: Routing, *args: Any) -> Any:
    with session_scope(engine) as session:
        return step(session, batch_id, *args, routing) if args else step(session, batch_id, routing)


def test_a_black_batch_goes_from_proposed_to_dispatched_once(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    batch, ids = proposed_batch(engine, catalogue, clock, units=2, persons=1)

    notified = _step(engine, notify_proposed, batch, routing)
    assert sorted(notified.moved) == ids
    assert notified.notices_queued == 3  # the person is reached at their unit's mailbox
    assert _step(engine, notify_proposed, batch, routing).moved == []
    with session_scope(engine) as session:
        position = batch_position(session, batch, today=clock.today())
    assert position.waiting_on is Waiting.SERVICE  # no window runs before the party is served
    assert position.defence_due is None
    serve_prior_notices(engine, ids, clock.today())

    assert _step(engine, close_defence_windows, batch, routing).moved == []
    with session_scope(engine) as session:
        position = batch_position(session, batch, today=clock.today())
    assert position.waiting_on is Waiting.DEFENCE_WINDOW
    assert position.defence_due is not None
    clock.set(clock.now().replace(year=2026, month=12, day=10))
    assert sorted(_step(engine, close_defence_windows, batch, routing).moved) == ids

    with session_scope(engine) as session:
        rows = awaiting_review(session, batch, catalogue)
        markdown = review_markdown(batch_position(session, batch, today=clock.today()), rows)
    assert len(rows) == 3
    assert markdown_cell("110105********123X") in markdown  # the masked ID, shown as stored
    assert "期满未提出" in markdown

    decision = Decision(REVIEWER, rejections={ids[1]: "证据不足，退回补充调查"})
    decided = _step(engine, decide, batch, routing, decision)
    assert sorted(decided.moved) == ids
    assert _states(engine, ids) == {"confirmed": 2, "rejected": 1}
    with pytest.raises(AlreadyDecided, match="已由他人决定"):  # first decision wins
        _step(engine, decide, batch, routing, decision)

    published = _step(engine, publish_confirmed, batch, routing)
    assert sorted(published.moved) == [ids[0], ids[2]]
    dispatched = _step(engine, dispatch_in_force, batch, routing)
    departments = catalogue.departments_of("mem-2023-art78")
    assert dispatched.actions_created == 2 * len(departments)
    assert dispatched.notices_queued == len(departments)
    again = _step(engine, dispatch_in_force, batch, routing)
    assert (again.actions_created, again.notices_queued) == (0, 0)

    assert _notices(engine, batch, ids) == {
        "prior_notice": 3,
        "rejection": 1,
        "listing_decision": 2,
        "department_dispatch": len(departments),
    }
    with session_scope(engine) as session:
        actions = (
            session.execute(
                sa.select(DepartmentAction).where(col(DepartmentAction.listing_id).in_(ids))
            )
            .scalars()
            .all()
        )
        assert {a.ack_wd for a in actions} == {5}
        assert all(a.ack_due and a.feedback_due and a.ack_due < a.feedback_due for a in actions)
        assert all(a.measures for a in actions)
        assert batch_position(session, batch, today=clock.today()).waiting_on is Waiting.NOTHING
        assert verify(session).ok


def test_the_proposer_cannot_confirm_and_the_attempt_is_audited(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    batch, ids = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    _step(engine, notify_proposed, batch, routing)
    serve_prior_notices(engine, ids, clock.today())
    clock.advance(timedelta(days=20))
    _step(engine, close_defence_windows, batch, routing)

    refused = _step(engine, decide, batch, routing, Decision(PROPOSER))

    assert refused.moved == []
    assert "审核人不得为提出人" in refused.refused[ids[0]][0]
    assert _states(engine, ids) == {"awaiting_confirmation": 1}
    with session_scope(engine) as session:
        event = session.execute(
            sa.select(AuditEvent).where(
                AuditEvent.action == "batch.decision_refused", AuditEvent.entity_id == str(batch)
            )
        ).scalar_one()
        assert event.actor == PROPOSER


def test_a_decision_about_foreign_listings_or_without_reason_is_refused(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    batch, ids = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    _step(engine, notify_proposed, batch, routing)
    serve_prior_notices(engine, ids, clock.today())
    clock.advance(timedelta(days=20))
    _step(engine, close_defence_windows, batch, routing)
    with pytest.raises(DecisionError, match="不在本批次"):
        _step(engine, decide, batch, routing, Decision(REVIEWER, rejections={999999: "理由"}))
    with pytest.raises(DecisionError, match="须说明理由"):
        _step(engine, decide, batch, routing, Decision(REVIEWER, rejections={ids[0]: "  "}))
    assert _states(engine, ids) == {"awaiting_confirmation": 1}


def test_a_red_batch_skips_the_prior_notice_and_gets_the_award(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    batch, ids = proposed_batch(
        engine, catalogue, clock, rule_set="saws-2017-incentive", units=1, persons=0
    )
    notified = _step(engine, notify_proposed, batch, routing)
    assert notified.notices_queued == 0
    assert _states(engine, ids) == {"awaiting_confirmation": 1}
    _step(engine, decide, batch, routing, Decision(REVIEWER))
    _step(engine, publish_confirmed, batch, routing)
    dispatched = _step(engine, dispatch_in_force, batch, routing)
    memoranda = catalogue.memoranda_for("saws-2017-incentive")
    red_departments = {d for m in memoranda for d in catalogue.departments_of(m.id)}
    assert dispatched.actions_created == len(red_departments)
    assert _notices(engine, batch, ids) == {
        "red_award": 1,
        "department_dispatch": len(red_departments),
    }


def test_parties_without_a_mailbox_get_letters_for_post_not_nothing(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    batch, ids = proposed_batch(engine, catalogue, clock, units=2, persons=0, with_email=False)
    notified = _step(engine, notify_proposed, batch, routing)
    assert sorted(notified.moved) == ids
    assert notified.notices_queued == 2  # stored, for post: nothing is lost
    assert sorted(listing for _, listing in notified.for_post) == ids
    with session_scope(engine) as session:
        rows = session.execute(
            sa.select(col(Notice.channel), col(Notice.state)).where(col(Notice.listing_id).in_(ids))
        ).all()
    assert sorted(tuple(r) for r in rows) == [("post", "for_post")] * 2


def test_a_crash_inside_a_step_leaves_nothing_half_done(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    batch, ids = proposed_batch(engine, catalogue, clock, units=2, persons=0)

    def crash(*_: object) -> tuple[int, list[tuple[str, int]]]:
        raise RuntimeError("进程在写通知时崩溃")

    broken = Routing(**{**routing.__dict__, "enqueue": crash})
    with pytest.raises(RuntimeError):
        _step(engine, notify_proposed, batch, broken)
    assert _states(engine, ids) == {"proposed": 2}
    assert _notices(engine, batch, ids) == {}

    _step(engine, notify_proposed, batch, routing)
    serve_prior_notices(engine, ids, clock.today())
    assert _states(engine, ids) == {"notified": 2}
    assert _notices(engine, batch, ids) == {"prior_notice": 2}


def test_an_unknown_batch_is_not_found(engine: sa.Engine, clock: FrozenClock) -> None:
    with session_scope(engine) as session, pytest.raises(NotFound, match="批次不存在"):
        batch_position(session, 987654321, today=clock.today())
