"""Which batches `route-due-batches` moves, on SQLite and PostgreSQL (no Prefect here).

The database is shared with other tests, so each test asks about its own batches only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from memoranda.loader import Catalogue
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.models import DepartmentAction, Listing
from registry.route_queue import batches_awaiting_operator, dispatchable_rule_sets, due_batches
from tests.factories.listings import proposed_batch

BIG = 1_000_000


def _set(engine: sa.Engine, ids: list[int], **values: Any) -> None:
    with session_scope(engine) as session:
        session.execute(sa.update(Listing).where(col(Listing.id).in_(ids)).values(**values))


def _due(engine: sa.Engine, catalogue: Catalogue, today: date, limit: int = BIG) -> list[int]:
    with session_scope(engine) as session:
        return due_batches(
            session,
            today=today,
            dispatchable_rule_sets=dispatchable_rule_sets(catalogue),
            limit=limit,
        )


def test_proposed_lapsed_confirmed_and_undispatched_batches_are_due(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock
) -> None:
    today = clock.today()
    proposed, _ = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    waiting, waiting_ids = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    _set(engine, waiting_ids, state="notified", defence_due=today)  # the due day is the party's
    lapsed, lapsed_ids = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    _set(engine, lapsed_ids, state="notified", defence_due=today - timedelta(days=1))
    answered, answered_ids = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    _set(
        engine,
        answered_ids,
        state="notified",
        defence_due=today + timedelta(days=5),
        defence_received_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
    )
    confirmed, confirmed_ids = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    _set(engine, confirmed_ids, state="confirmed")
    awaiting, awaiting_ids = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    _set(engine, awaiting_ids, state="awaiting_confirmation")

    due = set(_due(engine, catalogue, today))

    assert {proposed, lapsed, answered, confirmed} <= due
    assert not {waiting, awaiting} & due
    with session_scope(engine) as session:
        assert awaiting in batches_awaiting_operator(session, limit=BIG)
        assert proposed not in batches_awaiting_operator(session, limit=BIG)


def test_in_force_listings_are_due_until_dispatched(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock
) -> None:
    batch, ids = proposed_batch(engine, catalogue, clock, units=2, persons=0)
    _set(engine, ids, state="in_force")
    assert batch in _due(engine, catalogue, clock.today())

    with session_scope(engine) as session:
        session.execute(
            sa.insert(DepartmentAction),
            [
                {
                    "listing_id": i,
                    "department": "mem",
                    "memorandum": "mem-2023-art78",
                    "measures": [],
                    "state": "dispatched",
                    "escalation_level": 0,
                    "dispatched_at": clock.now(),
                }
                for i in ids
            ],
        )
    assert batch not in _due(engine, catalogue, clock.today())


def test_a_rule_set_without_memoranda_never_waits_for_dispatch(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock
) -> None:
    batch, ids = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    _set(engine, ids, state="in_force")
    with session_scope(engine) as session:
        due = due_batches(session, today=clock.today(), dispatchable_rule_sets=[], limit=BIG)
    assert batch not in due


def test_oldest_first_and_never_more_than_the_limit(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock
) -> None:
    batches = [proposed_batch(engine, catalogue, clock, units=1, persons=0)[0] for _ in range(3)]
    everything = _due(engine, catalogue, clock.today())
    assert everything == sorted(everything)
    assert set(batches) <= set(everything)
    assert _due(engine, catalogue, clock.today(), limit=2) == everything[:2]
    assert _due(engine, catalogue, clock.today(), limit=0) == []


def test_only_rule_sets_with_a_memorandum_are_dispatchable(catalogue: Catalogue) -> None:
    """The repair rule-set lists nobody, so no batch of it ever waits on dispatch."""
    assert sorted(dispatchable_rule_sets(catalogue)) == [
        "mem-2023-serious",
        "saws-2017-incentive",
        "saws-2017-sanction",
    ]
