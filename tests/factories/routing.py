"""What the core's steps need to run in tests: the issuer, a routing context, routed batches.

- `make_routing`: the `routing` fixture's value, for set-ups at a clock of their own.
- `dispatched_batch`: black listings routed to dispatch, with their department actions.
- `at`: a business time (Beijing) on a day.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from memoranda.loader import Catalogue
from notifications.compose import Issuer, notice_enqueuer
from registry.calendar import WorkingCalendar
from registry.clock import BUSINESS_TZ, FrozenClock
from registry.db import session_scope
from registry.models import DepartmentAction
from registry.numbering import Numbering
from registry.routing import (
    Decision,
    Routing,
    close_defence_windows,
    decide,
    dispatch_in_force,
    notify_proposed,
    publish_confirmed,
)
from tests.factories.listings import REVIEWER, proposed_batch, serve_prior_notices

ACTION = sa.inspect(DepartmentAction).local_table
NUMBERING = Numbering.for_authority("四川省应急管理厅", "川应急")
ISSUER = Issuer(
    name="四川省应急管理厅", office="信用管理处", email="xinyong@example.org", numbering=NUMBERING
)
MEMORANDUM = "mem-2023-art78"  # the memorandum of `mem-2023-serious` (7 departments)
DISPATCH_DAY = datetime(2026, 9, 28, 9, 0, tzinfo=BUSINESS_TZ)


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=BUSINESS_TZ)


def make_routing(catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock) -> Routing:
    """The `routing` fixture's value, for module-scoped set-ups at a clock of their own."""
    return Routing(
        catalogue=catalogue,
        calendar=calendar,
        clock=clock,
        actor="flow:route-batch",
        source="test",
        enqueue=notice_enqueuer(catalogue=catalogue, issuer=ISSUER, clock=clock),
        numbering=NUMBERING,
    )


def dispatched_batch(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, units: int = 3
) -> dict[int, list[int]]:
    """`units` black listings routed to dispatch on 2026-09-28; listing id → its action ids."""
    clock = FrozenClock(datetime(2026, 9, 1, 9, 0, tzinfo=BUSINESS_TZ))
    routing = make_routing(catalogue, calendar, clock)
    batch, ids = proposed_batch(engine, catalogue, clock, units=units, persons=0)
    with session_scope(engine) as session:
        notify_proposed(session, batch, routing)
    serve_prior_notices(engine, ids, clock.today())
    clock.set(DISPATCH_DAY)
    with session_scope(engine) as session:
        close_defence_windows(session, batch, routing)
        decide(session, batch, Decision(REVIEWER), routing)
        publish_confirmed(session, batch, routing)
        assert dispatch_in_force(session, batch, routing).actions_created == units * len(
            catalogue.departments_of(MEMORANDUM)
        )
        rows = session.execute(
            sa.select(ACTION.c.listing_id, ACTION.c.id)
            .where(ACTION.c.listing_id.in_(ids))
            .order_by(ACTION.c.id)
        ).all()
    actions: dict[int, list[int]] = {listing: [] for listing in ids}
    for listing, action in rows:
        actions[listing].append(action)
    return actions


def set_actions(engine: sa.Engine, action_ids: list[int], **values: Any) -> None:
    with engine.begin() as connection:
        connection.execute(sa.update(ACTION).where(ACTION.c.id.in_(action_ids)).values(**values))


def acknowledge(engine: sa.Engine, action_ids: list[int], when: datetime) -> None:
    """Stands in for the department's answer (the responses tests cover the real one)."""
    set_actions(engine, action_ids, state="acknowledged", acknowledged_at=when)
