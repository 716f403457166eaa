"""Rows for integration tests, written with the repository functions operators' code uses."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from memoranda.loader import Catalogue
from registry.calendar import WorkingCalendar
from registry.clock import FrozenClock
from registry.lifecycle import Event, apply_transition
from registry.models import ListingState
from registry.repository import add_batch, add_listings, add_subject

PROPOSER = "提出人 张伟"
REVIEWER = "审核人 李娜"
_counter = itertools.count(1)
LONG_AGO = datetime(2022, 1, 10, 2, 0, tzinfo=UTC)


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
    batch = add_batch(
        session,
        reference=f"T-{n}-{now.timestamp()}",
        list_type=rules.list_type,
        rule_set=rule_set,
        source_kind="test",
        proposed_by=PROPOSER,
        catalogue_hash=catalogue.content_hash,
        created_at=now,
    )
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
    """Fresh proposed listings (no defence window yet), served their prior notice now."""
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
    session.commit()
    return ids
