"""Two numbers never confused, and a 发文字号 on every letter (issue 14 items 6 and 7).

- the 处罚决定书文号 comes from intake and stays; each confirmed listing gets its own decision
  number from the authority's sequence; a given number is only for a decision on one listing;
- sequences are per authority, kind and year, reserved set-based, and never hand out one
  number twice, also under concurrent PostgreSQL sessions;
- every letter gets its number once, when it is first enqueued: a re-run consumes none, a
  retry keeps it, and a decision letter's number is its listing's decision number.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from notifications.compose import Issuer, notice_enqueuer
from notifications.outbox import requeue_failed
from registry.calendar import WorkingCalendar
from registry.clock import BUSINESS_TZ, FrozenClock
from registry.db import session_scope
from registry.intake import import_batch
from registry.models import Listing, Notice, NumberSequence
from registry.numbering import Numbering, reserve
from registry.routing import (
    Decision,
    DecisionError,
    Routing,
    close_defence_windows,
    decide,
    dispatch_in_force,
    notify_proposed,
    publish_confirmed,
)
from registry.vocabulary import NoticeKind
from tests.factories import import_files as samples
from tests.factories.listings import PROPOSER, REVIEWER, proposed_batch, serve_prior_notices

DECIDED = datetime(2026, 12, 10, 10, 0, tzinfo=BUSINESS_TZ)


def _authority() -> str:
    """A fresh authority per test, with a prefix of its own: the session's database is shared,
    and a sequence belongs to the prefix its numbers print."""
    return f"测{uuid.uuid4().hex[:6]}"


def _routing(
    catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock, authority: str
) -> Routing:
    numbering = Numbering.for_authority(authority, authority)
    issuer = Issuer(
        name=authority, office="信用管理科", email="xy@example.org", numbering=numbering
    )
    return Routing(
        catalogue=catalogue,
        calendar=calendar,
        clock=clock,
        actor="flow:route-batch",
        source="test:numbering",
        enqueue=notice_enqueuer(catalogue=catalogue, issuer=issuer, clock=clock),
        numbering=numbering,
    )


def _run(engine: sa.Engine, step: Any, batch: int, routing: Routing, *args: Any) -> Any:
    with session_scope(engine) as session:
        return step(session, batch, *args, routing)


def _awaiting(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing, **kw: Any
) -> tuple[int, list[int]]:
    batch, ids = proposed_batch(engine, catalogue, clock, **kw)
    _run(engine, notify_proposed, batch, routing)
    serve_prior_notices(engine, ids, clock.today())
    clock.set(DECIDED)
    _run(engine, close_defence_windows, batch, routing)
    return batch, ids


def _numbers(engine: sa.Engine, ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    with Session(engine) as session:
        rows = session.execute(
            sa.select(
                col(Listing.id), col(Listing.decision_number), col(Listing.penalty_number)
            ).where(col(Listing.id).in_(ids))
        )
        return {row[0]: (row[1], row[2]) for row in rows}


def _sequences(engine: sa.Engine, authority: str) -> dict[tuple[str, int], int]:
    with Session(engine) as session:
        rows = session.execute(
            sa.select(
                col(NumberSequence.kind), col(NumberSequence.year), col(NumberSequence.last)
            ).where(col(NumberSequence.authority) == authority)
        )
        return {(row[0], row[1]): row[2] for row in rows}


def _letters(engine: sa.Engine, batch: int, ids: list[int]) -> list[Any]:
    with Session(engine) as session:
        return list(
            session.execute(
                sa.select(
                    col(Notice.id),
                    col(Notice.kind),
                    col(Notice.listing_id),
                    col(Notice.letter_number),
                    col(Notice.body_text),
                    col(Notice.body_html),
                ).where(sa.or_(col(Notice.batch_id) == batch, col(Notice.listing_id).in_(ids)))
            )
        )


# --- the sequences --------------------------------------------------------------------------


def test_a_sequence_hands_out_consecutive_numbers_per_authority_kind_and_year(
    engine: sa.Engine,
) -> None:
    p = _authority()
    book = Numbering.for_authority(p, p)
    with session_scope(engine) as session:
        first = book.issue(session, "prior_notice", 2026, 3)
        more = book.issue(session, "prior_notice", 2026, 2)
        other_kind = book.issue(session, "department_dispatch", 2026, 1)
        next_year = book.issue(session, "prior_notice", 2027, 2)
        # Renamed, or another office printing the same prefix: the numbers go on, never repeat.
        renamed = Numbering.for_authority(f"{p}（更名后）", p).issue(
            session, "prior_notice", 2026, 1
        )
        other = _authority()
        other_prefix = Numbering.for_authority(other, other).issue(session, "prior_notice", 2026, 1)
    assert first == [f"{p}信告〔2026〕1号", f"{p}信告〔2026〕2号", f"{p}信告〔2026〕3号"]
    assert more == [f"{p}信告〔2026〕4号", f"{p}信告〔2026〕5号"]
    assert other_kind == [f"{p}信推〔2026〕1号"]
    assert next_year == [f"{p}信告〔2027〕1号", f"{p}信告〔2027〕2号"]  # a new year restarts
    assert renamed == [f"{p}信告〔2026〕6号"]
    assert other_prefix == [f"{other}信告〔2026〕1号"]


def test_a_rolled_back_reservation_frees_its_numbers(engine: sa.Engine) -> None:
    authority = _authority()
    with Session(engine) as session:
        reserve(session, authority=authority, kind="reminder", year=2026, count=5)
        session.rollback()
    with session_scope(engine) as session:
        assert reserve(session, authority=authority, kind="reminder", year=2026, count=1) == 1


def test_concurrent_sessions_never_get_the_same_number(
    engine: sa.Engine, database_url: str
) -> None:
    """Eight sessions at once, each holding its reservation open for a moment: every number is
    handed out once (PostgreSQL: the upsert's row lock; SQLite: the write lock)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers by its file lock; the race is PostgreSQL's")
    authority = _authority()
    start = threading.Barrier(8)

    def take(_: int) -> list[int]:
        start.wait()
        taken: list[int] = []
        for _round in range(5):
            with session_scope(engine) as session:
                first = reserve(session, authority=authority, kind="reminder", year=2026, count=3)
                taken += range(first, first + 3)
        return taken

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(take, range(8)))
    everything = sorted(n for taken in results for n in taken)
    assert everything == list(range(1, 8 * 5 * 3 + 1))


# --- the listing decision number -------------------------------------------------------------


def test_each_confirmed_listing_gets_its_own_decision_number_and_keeps_its_penalty_number(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> None:
    authority = _authority()
    routing = _routing(catalogue, calendar, clock, authority)
    batch, ids = _awaiting(engine, catalogue, clock, routing, units=3, persons=0)
    penalties = {i: penalty for i, (_, penalty) in _numbers(engine, ids).items()}
    assert all(penalties.values())

    _run(engine, decide, batch, routing, Decision(REVIEWER))

    numbers = _numbers(engine, ids)
    assert [numbers[i][0] for i in sorted(ids)] == [
        f"{authority}信列〔2026〕1号",
        f"{authority}信列〔2026〕2号",
        f"{authority}信列〔2026〕3号",
    ]
    assert {i: penalty for i, (_, penalty) in numbers.items()} == penalties  # kept for ever
    assert _sequences(engine, authority)[("listing_decision", 2026)] == 3


def test_a_given_decision_number_is_only_for_a_decision_on_one_listing(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> None:
    authority = _authority()
    routing = _routing(catalogue, calendar, clock, authority)
    batch, ids = _awaiting(engine, catalogue, clock, routing, units=2, persons=0)
    with pytest.raises(DecisionError) as refused:
        _run(engine, decide, batch, routing, Decision(REVIEWER, "川应急信决〔2026〕9号"))
    assert "只能用于只确认一条名单" in refused.value.message
    assert {d for d, _ in _numbers(engine, ids).values()} == {None}

    paper = "川应急信决〔2026〕9号"
    decision = Decision(REVIEWER, paper, rejections={ids[1]: "证据不足，不予认定"})
    _run(engine, decide, batch, routing, decision)
    numbers = _numbers(engine, ids)
    assert numbers[ids[0]][0] == paper
    assert numbers[ids[0]][1] != paper  # the penalty number is not overwritten
    assert numbers[ids[1]][0] is None
    assert ("listing_decision", 2026) not in _sequences(engine, authority)

    # The same paper number typed for another listing names two decisions: refused, unchanged.
    other, (single,) = _awaiting(engine, catalogue, clock, routing, units=1, persons=0)
    clock.advance(timedelta(days=20))  # its defence window, opened today, has lapsed
    _run(engine, close_defence_windows, other, routing)
    with pytest.raises(DecisionError) as taken:
        _run(engine, decide, other, routing, Decision(REVIEWER, f" {paper} "))
    assert "已被使用" in taken.value.message
    assert _numbers(engine, [single])[single][0] is None


# --- 发文字号 on every letter ----------------------------------------------------------------


def test_every_letter_of_a_routed_batch_has_a_number_that_a_rerun_or_retry_does_not_change(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> None:
    authority = _authority()
    routing = _routing(catalogue, calendar, clock, authority)
    batch, ids = _awaiting(engine, catalogue, clock, routing, units=2, persons=1)
    _run(engine, decide, batch, routing, Decision(REVIEWER))
    _run(engine, publish_confirmed, batch, routing)
    _run(engine, dispatch_in_force, batch, routing)
    letters = _letters(engine, batch, ids)
    kinds = {row.kind for row in letters}
    assert {"prior_notice", "listing_decision", "department_dispatch"} <= kinds
    for row in letters:
        assert row.letter_number, (row.kind, row.id)
        assert row.letter_number in row.body_text
        assert row.letter_number in row.body_html
    assert len({row.letter_number for row in letters}) == len(letters)
    # A decision letter carries its listing's decision number, not a second number.
    numbers = _numbers(engine, ids)
    for row in letters:
        if row.kind == NoticeKind.LISTING_DECISION:
            decision, penalty = numbers[row.listing_id]
            assert row.letter_number == decision
            assert penalty is not None
            assert f"行政处罚决定书（{penalty}）" in row.body_text
    used = _sequences(engine, authority)

    # Every step again: nothing new, no number consumed.
    for step in (notify_proposed, close_defence_windows, publish_confirmed, dispatch_in_force):
        _run(engine, step, batch, routing)
    assert _sequences(engine, authority) == used

    # A failed letter sent again keeps its number and its text.
    target = next(row for row in letters if row.kind == "department_dispatch")
    with session_scope(engine) as session:
        session.execute(sa.update(Notice).where(col(Notice.id) == target.id).values(state="failed"))
        requeue_failed(session, [target.id], now=clock.now(), actor=REVIEWER, source="test")
    after = {row.id: row for row in _letters(engine, batch, ids)}
    assert after[target.id].letter_number == target.letter_number
    assert after[target.id].body_text == target.body_text
    assert _sequences(engine, authority) == used


def test_letters_are_numbered_in_the_business_year_of_their_date(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar
) -> None:
    """2026-12-31 20:00 UTC is 2027-01-01 in Beijing: the letter is of 2027."""
    clock = FrozenClock(datetime(2027, 1, 1, 4, 0, tzinfo=BUSINESS_TZ))
    authority = _authority()
    routing = _routing(catalogue, calendar, clock, authority)
    batch, ids = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    _run(engine, notify_proposed, batch, routing)
    (letter,) = _letters(engine, batch, ids)
    assert letter.letter_number == f"{authority}信告〔2027〕1号"
    assert clock.today() == date(2027, 1, 1)


# --- intake ----------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["处罚决定书文号", "决定书文号"])
def test_intake_stores_the_penalty_number_and_no_decision_number(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, tmp_path: Path, header: str
) -> None:
    rows = samples.good_rows()[:1]
    path = samples.write_csv(tmp_path / "batch.csv", rows)
    text = path.read_text(encoding="utf-8").replace("处罚决定书文号", header, 1)
    path.write_text(text, encoding="utf-8")
    with Session(engine) as session:
        result = import_batch(
            session,
            path,
            catalogue=catalogue,
            id_hash_key="test-key",
            clock=clock,
            proposed_by=PROPOSER,
            quarantine_dir=tmp_path / "quarantine",
        )
        session.commit()
    (listing_id,) = result.listing_ids
    assert _numbers(engine, [listing_id])[listing_id] == (None, rows[0]["penalty_number"])
