"""Two operators decide one batch at once: the first decision stands, the second is told so.

Issue 13 item 4: a `confirm` that lost the race exited 0 — its `--reject` silently dropped and
the listing it meant to refuse published. The decision is now taken under the batch's lock and
the loser gets `AlreadyDecided` ("已由他人决定") with the winner's decision.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from memoranda.loader import Catalogue
from registry import db
from registry.calendar import WorkingCalendar
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.models import AuditEvent, Listing
from registry.routing import (
    AlreadyDecided,
    Decision,
    Routing,
    close_defence_windows,
    decide,
    notify_proposed,
)
from tests.factories.listings import REVIEWER, proposed_batch, serve_prior_notices
from tests.factories.routing import make_routing
from tests.integration.cli_runner import run as run_cli

SECOND_REVIEWER = "审核人 王芳"


def _awaiting_batch(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> tuple[int, list[int]]:
    batch, ids = proposed_batch(engine, catalogue, clock, units=2, persons=0)
    with session_scope(engine) as session:
        notify_proposed(session, batch, routing)
    serve_prior_notices(engine, ids, clock.today())
    clock.advance(timedelta(days=20))
    with session_scope(engine) as session:
        close_defence_windows(session, batch, routing)
    return batch, ids


def _states(engine: sa.Engine, ids: list[int]) -> dict[int, str]:
    with session_scope(engine) as session:
        rows = session.execute(
            sa.select(col(Listing.id), col(Listing.state)).where(col(Listing.id).in_(ids))
        )
        return {row[0]: row[1] for row in rows}


def test_the_second_of_two_concurrent_decisions_is_refused_with_the_first(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    """The first decision's transaction is held open while the second starts: the second must
    wait for it and then be refused — not read the listings as still awaiting."""
    batch, ids = _awaiting_batch(engine, catalogue, clock, routing)
    first_written = threading.Event()
    second_started = threading.Event()

    def first() -> None:
        with session_scope(engine) as session:
            decide(session, batch, Decision(REVIEWER), routing)
            first_written.set()
            assert second_started.wait(10)
            time.sleep(0.5)  # the second decision is now waiting for this transaction

    def second() -> Any:
        assert first_written.wait(10)
        second_started.set()
        with session_scope(engine) as session:
            decision = Decision(SECOND_REVIEWER, rejections={ids[0]: "证据不足"})
            return decide(session, batch, decision, routing)

    with ThreadPoolExecutor(max_workers=2) as pool:
        winner = pool.submit(first)
        loser = pool.submit(second)
        winner.result(timeout=30)
        with pytest.raises(AlreadyDecided) as lost:
            loser.result(timeout=30)

    assert _states(engine, ids) == {ids[0]: "confirmed", ids[1]: "confirmed"}
    assert "已由他人决定" in lost.value.message
    assert REVIEWER in lost.value.message
    # The decision that stands is named by the numbers each listing was given.
    assert re.search(r"川应急信列〔2026〕\d+号、川应急信列〔2026〕\d+号", lost.value.message)
    fields = lost.value.as_dict()
    assert fields["already_decided"] is True
    assert fields["decision"]["confirmed"] == sorted(ids)
    assert fields["decision"]["rejected"] == {}


def test_a_rejection_of_a_listing_decided_by_someone_else_is_refused(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    """The first operator refused one listing and held the other; the second names the
    refused one: told who refused it and why, and nothing else changes."""
    batch, ids = _awaiting_batch(engine, catalogue, clock, routing)
    with session_scope(engine) as session:
        decide(
            session,
            batch,
            Decision(REVIEWER, rejections={ids[0]: "材料不全"}, approve_others=False),
            routing,
        )
    with pytest.raises(AlreadyDecided, match="材料不全"), session_scope(engine) as session:
        decide(session, batch, Decision(SECOND_REVIEWER, rejections={ids[0]: "另一理由"}), routing)
    assert _states(engine, ids) == {ids[0]: "rejected", ids[1]: "awaiting_confirmation"}


def test_two_confirm_commands_at_once_one_wins_and_the_other_fails(
    tmp_path: Path, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> None:
    """The real console script twice at the same moment on one SQLite file."""
    database = tmp_path / "race.db"
    url = f"sqlite:///{database}"
    db.upgrade(url)
    engine = db.make_engine(url)
    routing = make_routing(catalogue, calendar, clock)
    batch, ids = _awaiting_batch(engine, catalogue, clock, routing)
    env = {"JOINTCREDIT_DATABASE_URL": url, "JOINTCREDIT_NOW": clock.now().isoformat()}
    commands = [
        [
            "confirm",
            str(batch),
            "--reviewer",
            REVIEWER,
        ],
        [
            "confirm",
            str(batch),
            "--reviewer",
            SECOND_REVIEWER,
            "--decision-number",  # a paper decision: the one listing it confirms
            "川应急信列〔2026〕62号",
            "--reject",
            f"{ids[0]}=证据不足",
        ],
    ]
    start = threading.Barrier(2)

    def run(arguments: list[str]) -> Any:
        start.wait()
        return run_cli(tmp_path, *arguments, "--json", env=env)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, commands))

    codes = sorted(r.returncode for r in results)
    assert codes == [0, 2], [r.stdout + r.stderr for r in results]
    lost = next(r for r in results if r.returncode == 2)
    won = next(r for r in results if r.returncode == 0)
    refusal = json.loads(lost.stdout)
    assert refusal["already_decided"] is True
    assert "已由他人决定" in refusal["message"]
    assert "Traceback" not in lost.stdout + lost.stderr
    states = _states(engine, ids)
    if won is results[0]:  # the confirmation stood: the loser's rejection was not applied
        assert set(states.values()) == {"in_force"}
        assert refusal["decision"]["rejected"] == {}
    else:  # the rejection stood: the other listing was confirmed with it
        assert states == {ids[0]: "rejected", ids[1]: "in_force"}
        assert refusal["decision"]["rejected"] == {str(ids[0]): "证据不足"}
    # The lost race is in the audit trail like any refused decision: who tried, and what.
    loser = commands[results.index(lost)]
    (event,) = _refused_decisions(engine, batch)
    assert event["actor"] == loser[3]
    assert event["after"]["already_decided"] is True
    given = loser[loser.index("--decision-number") + 1] if "--decision-number" in loser else ""
    assert event["after"]["attempted"]["decision_number"] == given
    expected = {str(ids[0]): "证据不足"} if "--reject" in loser else {}
    assert event["after"]["attempted"]["rejections"] == expected
    engine.dispose()


def _refused_decisions(engine: sa.Engine, batch: int) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        rows = session.execute(
            sa.select(col(AuditEvent.actor), col(AuditEvent.after), col(AuditEvent.source))
            .where(
                col(AuditEvent.action) == "batch.decision_refused",
                col(AuditEvent.entity_id) == str(batch),
            )
            .order_by(col(AuditEvent.seq))
        ).all()
    return [{"actor": a, "after": after, "source": source} for a, after, source in rows]


def test_the_form_answered_after_a_confirm_changes_nothing_and_the_run_routes_on(
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    routing: Routing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The route-batch task behind the form: the standing decision is logged, not raised."""
    from prefect.logging import disable_run_logger

    from tasks.routing import apply_decision

    batch, ids = _awaiting_batch(engine, catalogue, clock, routing)
    with session_scope(engine) as session:
        decide(session, batch, Decision(REVIEWER), routing)
    monkeypatch.setenv("JOINTCREDIT_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("JOINTCREDIT_NOW", clock.now().isoformat())
    with disable_run_logger():
        result = apply_decision.fn(batch, SECOND_REVIEWER, "号", {ids[0]: "证据不足"}, True)
    assert (result.step, result.moved) == ("decide", [])
    assert _states(engine, ids) == {ids[0]: "confirmed", ids[1]: "confirmed"}
    (event,) = _refused_decisions(engine, batch)  # the form's answer is on the trail too
    assert event["actor"] == SECOND_REVIEWER
    assert event["after"]["attempted"]["rejections"] == {str(ids[0]): "证据不足"}
    assert event["after"]["decision"]["confirmed"] == sorted(ids)
