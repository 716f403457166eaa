"""Message-IDs are unique between installations, and stable within one (issue 13, item 3).

Two fresh databases that import the same file number its batch and listings alike, so their
idempotency keys are equal; before each installation had its own token, their Message-IDs were
equal too, for letters that are not the same letters. Each database here is migrated from
scratch, as a new installation's is.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from memoranda.loader import Catalogue
from notifications.outbox import NoticeDraft, NoticeKey, Recipient, enqueue_notices
from registry import db
from registry.calendar import WorkingCalendar
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.intake import import_batch
from registry.routing import notify_proposed
from registry.vocabulary import NoticeKind
from tests.factories.import_files import good_rows, write_csv
from tests.factories.notices import unnumbered
from tests.factories.routing import make_routing


def fresh_installation(tmp_path: Path, name: str) -> sa.Engine:
    url = f"sqlite:///{tmp_path / name}.db"
    db.upgrade(url)
    return db.make_engine(url)


def import_and_notify(
    engine: sa.Engine,
    source: Path,
    quarantine: Path,
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    clock: FrozenClock,
) -> dict[str, str]:
    """The same file imported and its prior notices queued: idempotency key → Message-ID."""
    routing = make_routing(catalogue, calendar, clock)
    with session_scope(engine) as session:
        result = import_batch(
            session,
            source,
            catalogue=catalogue,
            id_hash_key="test-id-hash-key",
            clock=clock,
            proposed_by="导入员 陈静",
            quarantine_dir=quarantine,
        )
    with session_scope(engine) as session:
        notify_proposed(session, result.batch_id, routing)
    month = NoticeKind.MONTHLY_REPORT
    report = Recipient("leader@example.org", "各位领导")
    with session_scope(engine) as session:
        enqueue_notices(
            session,
            [
                NoticeDraft(
                    month,
                    report,
                    unnumbered(month),
                    NoticeKey(month, "month:2026-10", report.address),
                )
            ],
            now=clock.now(),
        )
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT idempotency_key, message_id FROM notice"))
        return {row.idempotency_key: row.message_id for row in rows}


def test_two_installations_importing_the_same_file_share_no_message_id(
    tmp_path: Path, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> None:
    source = write_csv(tmp_path / "报送名单.csv", good_rows())
    first, second = (fresh_installation(tmp_path, name) for name in ("province", "ministry"))
    try:
        here = import_and_notify(first, source, tmp_path / "q1", catalogue, calendar, clock)
        there = import_and_notify(second, source, tmp_path / "q2", catalogue, calendar, clock)
        again = import_and_notify(first, source, tmp_path / "q3", catalogue, calendar, clock)
    finally:
        first.dispose()
        second.dispose()

    monthly = [key for key in here if key.startswith("monthly_report|")]
    assert len(monthly) == 1
    assert len(here) >= 3  # the prior notices of the file's black listings, and the report
    assert set(here) == set(there)  # the same keys: the same file, numbered alike
    assert set(here.values()).isdisjoint(there.values())
    # Within one installation a key keeps its Message-ID (re-runs stay idempotent), and every
    # Message-ID is its own.
    assert {key: again[key] for key in here} == here
    assert len(set(again.values())) == len(again)
