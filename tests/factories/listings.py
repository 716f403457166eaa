"""Listings for tests, written with the repository functions operators' code uses.

- `make_listings`: listings in any state with every guard satisfied (transition tests).
- `proposed_batch`: a batch as intake leaves it, real-looking subjects with mailboxes.
- `in_force`: a batch routed to the end through the real steps, published on a given day.
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from registry.calendar import WorkingCalendar
from registry.clock import BUSINESS_TZ, Clock, FrozenClock
from registry.db import session_scope
from registry.lifecycle import Event, apply_transition
from registry.models import Listing, ListingState, Notice
from registry.repository import add_batch, add_listings, add_subject
from registry.routing import (
    Decision,
    Routing,
    close_defence_windows,
    decide,
    dispatch_in_force,
    notify_proposed,
    publish_confirmed,
)
from registry.service_of_notices import open_defence_windows

PROPOSER = "提出人 张伟"
REVIEWER = "审核人 李娜"
_counter = itertools.count(1)
_uscc_serial = itertools.count(1)
LONG_AGO = datetime(2022, 1, 10, 2, 0, tzinfo=UTC)


def new_batch(
    session: Session, catalogue: Catalogue, rule_set: str, *, reference: str, now: datetime
) -> int:
    """An empty batch of `rule_set`, proposed by `PROPOSER` at `now`."""
    return add_batch(
        session,
        reference=reference,
        list_type=catalogue.rule_sets[rule_set].list_type,
        rule_set=rule_set,
        source_kind="test",
        proposed_by=PROPOSER,
        catalogue_hash=catalogue.content_hash,
        created_at=now,
    )


def make_listings(
    session: Session,
    catalogue: Catalogue,
    *,
    rule_set: str,
    state: ListingState | str = ListingState.PROPOSED,
    count: int = 1,
    **overrides: Any,
) -> list[int]:
    """Listings in `state` whose every guard is satisfied unless `overrides` says otherwise.

    Defence window lapsed, decision number given, published four years ago with the term over,
    removed early — so a transition test fails only on the table, never on a missing field.
    """
    rules = catalogue.rule_sets[rule_set]
    n = next(_counter)
    now = datetime.now(UTC)
    batch = new_batch(session, catalogue, rule_set, reference=f"T-{n}-{now.timestamp()}", now=now)
    rows = []
    for i in range(count):
        subject = add_subject(
            session,
            kind="unit",
            name=f"测试单位{n}-{i}",
            created_at=now,
        )
        row: dict[str, Any] = {
            "subject_id": subject,
            "batch_id": batch,
            "list_type": rules.list_type,
            "rule_set": rule_set,
            "grounds": [rules.grounds[0].code],
            "decision_number": "测认〔2022〕1号",
            "state": str(state),
            "proposed_at": LONG_AGO,
            "proposed_by": PROPOSER,
            "defence_from": date(2022, 1, 10),
            "defence_wd": 5,
            "defence_due": date(2022, 1, 17),
            "published_at": LONG_AGO,
            "expires_on": date(2022, 1, 10) + timedelta(days=365),
            "removal_reason": "early_removal",
            "catalogue_hash": catalogue.content_hash,
            "updated_at": LONG_AGO,
        }
        row.update(overrides)
        rows.append(row)
    return add_listings(session, rows=rows)


def column(session: Session, table: Any, name: str, ids: list[int]) -> list[Any]:
    rows = session.execute(sa.select(table.c.id, table.c[name]).where(table.c.id.in_(ids))).all()
    by_id = {r[0]: r[1] for r in rows}
    return [by_id[i] for i in ids]


def notify_new_listings(
    session: Session,
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    clock: FrozenClock,
    *,
    count: int,
) -> list[int]:
    """Fresh proposed listings notified and served their prior notice now (by e-mail), so their
    defence windows run from today."""
    ids = make_listings(
        session,
        catalogue,
        rule_set="mem-2023-serious",
        count=count,
        defence_from=None,
        defence_wd=None,
        defence_due=None,
    )
    apply_transition(
        session,
        ids,
        Event.NOTIFY,
        actor=PROPOSER,
        source="test",
        clock=clock,
        catalogue=catalogue,
        calendar=calendar,
    )
    mail_prior_notices(session, ids, clock=clock, catalogue=catalogue, calendar=calendar)
    session.commit()
    return ids


ROUTE_ACTOR = "system:route"


def mail_prior_notices(
    session: Session,
    listing_ids: list[int],
    *,
    clock: Clock,
    catalogue: Catalogue,
    calendar: WorkingCalendar,
) -> list[int]:
    """The 告知书 of these notified listings, as the outbox leaves it once the party's mail server
    accepted it today (sent, served by e-mail), and their windows opened from today as the route
    opens them (`open_defence_windows`). For tests that move listings with `apply_transition`,
    which composes no letters; returns the notice ids. Never commits."""
    now = clock.now()
    batches = dict(
        session.execute(
            sa.select(col(Listing.id), col(Listing.batch_id)).where(
                col(Listing.id).in_(listing_ids)
            )
        ).all()
    )
    rows = []
    for listing_id in listing_ids:
        key = f"prior_notice|listing:{listing_id}|test-{uuid.uuid4().hex}"
        rows.append(
            {
                "kind": "prior_notice",
                "idempotency_key": key,
                "message_id": f"<{uuid.uuid4().hex}@jointcredit.test>",
                "recipient": "party@example.org",
                "recipient_name": "当事单位联系人",
                "subject": "告知书",
                "body_text": "正文",
                "batch_id": batches[listing_id],
                "listing_id": listing_id,
                "state": "sent",
                "attempts": 1,
                "attempts_at_requeue": 0,
                "created_at": now,
                "sent_at": now,
                "channel": "email",
                "service_state": "served",
                "service_method": "email",
                "served_on": clock.today(),
            }
        )
    ids = list(session.execute(sa.insert(Notice).returning(col(Notice.id)), rows).scalars())
    open_defence_windows(
        session,
        catalogue=catalogue,
        calendar=calendar,
        clock=clock,
        actor=ROUTE_ACTOR,
        source="test",
        listing_ids=listing_ids,
    )
    return [int(i) for i in ids]


def proposed_batch(
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: Clock,
    *,
    rule_set: str = "mem-2023-serious",
    units: int = 2,
    persons: int = 1,
    with_email: bool = True,
    consent: bool = True,
) -> tuple[int, list[int]]:
    """A batch of `units` units and `persons` persons (each person acting for the first unit);
    `consent`: the parties agreed to electronic service (同意电子送达)."""
    rules = catalogue.rule_sets[rule_set]
    assert rules.list_type is not None
    now = clock.now()
    tag = uuid.uuid4().hex[:8]
    with session_scope(engine) as session:
        batch = new_batch(session, catalogue, rule_set, reference=f"TEST-{tag}", now=now)
        subjects = []
        for i in range(units):
            serial = next(_uscc_serial)
            subjects.append(
                add_subject(
                    session,
                    kind="unit",
                    name=f"四川测试化工有限公司{tag}-{i}",
                    uscc=f"915100000000{serial:06d}",
                    uscc_status="valid",
                    region_code="510100",
                    industry="危险化学品",
                    contact_email=f"unit{serial}@example.org" if with_email else None,
                    created_at=now,
                )
            )
        for i in range(persons):
            subjects.append(
                add_subject(
                    session,
                    kind="person",
                    name=f"王测试{i}",
                    id_hash=uuid.uuid4().hex,
                    id_masked="110105********123X",
                    unit_id=subjects[0],
                    created_at=now,
                )
            )
        rows: list[dict[str, Any]] = [
            {
                "subject_id": subject,
                "batch_id": batch,
                "list_type": rules.list_type,
                "rule_set": rule_set,
                "grounds": [rules.grounds[0].code],
                "penalty_number": f"川应急罚〔2026〕{tag}-{n}号",  # 处罚决定书文号, from intake
                "decision_number": None,
                "decision_date": date(2026, 11, 2),
                "e_service_consent": consent,
                "state": "proposed",
                "proposed_at": now,
                "proposed_by": PROPOSER,
                "catalogue_hash": catalogue.content_hash,
                "updated_at": now,
            }
            for n, subject in enumerate(subjects, 1)
        ]
        return batch, add_listings(session, rows=rows)


def serve_prior_notices(engine: sa.Engine, listing_ids: list[int], on: date) -> None:
    """The 告知书 of these listings served on `on`: by e-mail as the outbox records an accepted
    one, or — a letter on the `post` channel — by post as an operator records it (tests that
    are not about service use it in place of a delivery run or `jointcredit notice served`)."""
    method = sa.case((col(Notice.channel) == "post", "post"), else_="email")
    with session_scope(engine) as session:
        session.execute(
            sa.update(Notice)
            .where(
                col(Notice.listing_id).in_(listing_ids),
                col(Notice.kind) == "prior_notice",
                col(Notice.service_state) != "served",
            )
            .values(service_state="served", service_method=method, served_on=on)
        )


def clock_at(clock: FrozenClock, day: date) -> None:
    """Set the clock to 10:00 (Beijing time) on `day`."""
    clock.set(datetime(day.year, day.month, day.day, 10, 0, tzinfo=BUSINESS_TZ))


def run(engine: sa.Engine, operation: Any, *args: Any, **kwargs: Any) -> Any:
    with session_scope(engine) as session:
        return operation(session, *args, **kwargs)


def in_force(
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    routing: Routing,
    *,
    published: date,
    rule_set: str = "mem-2023-serious",
    units: int = 1,
) -> tuple[int, list[int]]:
    """A batch routed to the end, published on `published`."""
    clock_at(clock, date.fromordinal(published.toordinal() - 20))
    batch, ids = proposed_batch(engine, catalogue, clock, rule_set=rule_set, units=units, persons=0)
    run(engine, notify_proposed, batch, routing)
    serve_prior_notices(engine, ids, clock.today())
    clock_at(clock, date.fromordinal(published.toordinal() - 1))
    run(engine, close_defence_windows, batch, routing)
    run(engine, decide, batch, Decision(REVIEWER), routing)
    clock_at(clock, published)
    run(engine, publish_confirmed, batch, routing)
    run(engine, dispatch_in_force, batch, routing)
    return batch, ids


def states(engine: sa.Engine, ids: list[int]) -> Counter[str]:
    with session_scope(engine) as session:
        return Counter(
            session.execute(sa.select(col(Listing.state)).where(col(Listing.id).in_(ids))).scalars()
        )
