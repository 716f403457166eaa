"""Concurrent drains against a slow relay: every notice is sent once, whatever the lease.

Issue 13 item 2: a claim outlived its lease while the relay was slow, a second drain took the
lapsed claims over, and both drains sent the same notices — 400 Message-IDs twice with default
settings, and attempt 40 of 8 with a short lease. These tests run on the wall clock (leases must
really lapse), against a real aiosmtpd relay that takes a fixed time per message, with drains in
their own threads and event loops, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from notifications.delivery import DrainOptions, DrainReport, drain_outbox
from notifications.outbox import RetryPolicy
from notifications.sink import message_id_counts, running_sink
from notifications.smtp import SmtpConfig
from registry.clock import FrozenClock, SystemClock
from registry.models import Notice
from tests.factories.outbox import attempts, empty_outbox, notices, queue_notices
from tests.smtp_scripts import ScriptedSink

MAX_ATTEMPTS = 3


@pytest.fixture
def outbox(engine: sa.Engine) -> sa.Engine:
    empty_outbox(engine)
    return engine


def _drains(
    engine: sa.Engine,
    config: SmtpConfig,
    options: DrainOptions,
    starts: Sequence[float],
) -> list[DrainReport]:
    """One drain per start offset (seconds), each in its own thread and event loop."""
    reports: list[DrainReport | None] = [None] * len(starts)
    errors: list[BaseException] = []

    def run(number: int, delay: float) -> None:
        time.sleep(delay)
        try:
            reports[number] = asyncio.run(
                drain_outbox(engine, config, clock=SystemClock(), options=options)
            )
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(number, delay)) for number, delay in enumerate(starts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    assert all(report is not None for report in reports)
    return [report for report in reports if report is not None]


def _assert_each_sent_once(engine: sa.Engine, mail: Path, ids: list[int]) -> None:
    counts = message_id_counts(mail)
    rows = notices(engine, ids)
    assert {(row.state, row.last_error) for row in rows} == {("sent", None)}
    assert set(counts) == {row.message_id for row in rows}
    doubled = {message_id: n for message_id, n in counts.items() if n > 1}
    assert doubled == {}
    assert max(row.attempts for row in rows) <= MAX_ATTEMPTS
    recorded = attempts(engine)
    assert len(recorded) == sum(row.attempts for row in rows)


def test_four_drains_against_a_slow_relay_send_each_message_once(
    outbox: sa.Engine, tmp_path: Path
) -> None:
    """Four drains, staggered so that each starts after the previous one's claims lapsed."""
    ids = queue_notices(outbox, SystemClock(), 64)
    mail = tmp_path / "mail"
    lease = timedelta(seconds=2)
    options = DrainOptions(policy=RetryPolicy(max_attempts=MAX_ATTEMPTS), lease=lease)
    with running_sink(mail, handler=ScriptedSink(mail, delay=0.2)) as sink:
        config = SmtpConfig(host=sink.host, port=sink.port, timeout=10, connections=4)
        reports = _drains(outbox, config, options, starts=[0.0, 0.7, 1.4, 2.1])

    _assert_each_sent_once(outbox, mail, ids)
    assert sum(report.sent for report in reports) == len(ids)
    assert sum(report.lease_lost for report in reports) == 0


def test_a_second_drain_after_the_lease_sends_nothing_twice(
    outbox: sa.Engine, tmp_path: Path
) -> None:
    """The issue's first case, scaled down: `drain & sleep <lease + a bit>; drain`, where the
    whole queue (64 × 0.25 s over 4 connections, ~4 s) takes longer to send than one lease.
    The lease is 3 s so that one send's deadline (0.4 lease) holds on a loaded machine too."""
    ids = queue_notices(outbox, SystemClock(), 64)
    mail = tmp_path / "mail"
    lease = timedelta(seconds=3)
    options = DrainOptions(policy=RetryPolicy(max_attempts=MAX_ATTEMPTS), lease=lease)
    with running_sink(mail, handler=ScriptedSink(mail, delay=0.25)) as sink:
        config = SmtpConfig(host=sink.host, port=sink.port, timeout=10, connections=4)
        first, second = _drains(outbox, config, options, starts=[0.0, 3.2])

    _assert_each_sent_once(outbox, mail, ids)
    assert first.lease_lost == second.lease_lost == 0
    assert first.sent + second.sent == len(ids)


async def test_a_notice_whose_last_attempt_died_in_flight_is_parked_not_sent_again(
    outbox: sa.Engine, tmp_path: Path, clock: FrozenClock
) -> None:
    """A deliverer died during the last attempt the budget allows: its lease lapses, and the
    next drain parks the notice as dead with the reason instead of sending attempt 4 of 3."""
    spent, fresh = queue_notices(outbox, clock, 2)
    lapsed = clock.now() - timedelta(minutes=1)
    with outbox.begin() as connection:
        connection.execute(
            sa.update(Notice)
            .where(sa.literal_column("id") == spent)
            .values(state="sending", attempts=MAX_ATTEMPTS, claimed_by="dead:1", lease_until=lapsed)
        )
    mail = tmp_path / "mail"
    options = DrainOptions(policy=RetryPolicy(max_attempts=MAX_ATTEMPTS))
    with running_sink(mail) as sink:
        config = SmtpConfig(host=sink.host, port=sink.port, timeout=10)
        report = await drain_outbox(outbox, config, clock=clock, options=options)

    parked, sent = notices(outbox, [spent, fresh])
    assert (report.claimed, report.sent, report.dead) == (1, 1, 1)
    assert (parked.state, parked.attempts) == ("dead", MAX_ATTEMPTS)
    assert "可能已送达" in str(parked.last_error)
    assert [failure["notice_id"] for failure in report.failures] == [spent]
    assert (sent.state, sent.attempts) == ("sent", 1)
    assert set(message_id_counts(mail)) == {sent.message_id}
