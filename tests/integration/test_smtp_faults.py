"""SMTP faults against a scripted aiosmtpd relay, on SQLite and PostgreSQL (issue 7).

`test_delivery.py` covers one fault at a time from a clean start (greylisting, a 550, a drop in
the middle of DATA, a server down from the first drain, attempts exhausted). This file adds the
faults it does not — a burst of 4xx to every transaction, one refused mailbox among many, a
drop *after* the relay accepted DATA, a relay down across several drains — and one bad day at
the relay with all of them at once. Each test ends with the same ledger: every notice is either
`sent` and in the sink, or `failed` with the relay's reply; the sink holds each sent Message-ID
once, except for the copies the RFC 1047 window explains, which are counted.

The RFC 1047 window: between the relay filing a message and the client reading its 250 there is
a moment in which a broken connection leaves the client unsure. The only safe reading of
"no reply" is "not delivered", so the outbox sends again — with the same Message-ID, so the
copy is recognisable downstream. The relay counts how often it filed a message and hung up;
the test asserts the duplicates in the sink are exactly those.

The relay is real (aiosmtpd on a socket); only its answers are scripted (`tests.smtp_scripts`).
The outbox clock is a `FrozenClock` moved past the backoff between drains.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlmodel import col

from notifications.delivery import DrainOptions, DrainReport, drain_outbox
from notifications.outbox import RetryPolicy
from notifications.sink import MailSink, RunningSink, free_port, message_id_counts, running_sink
from notifications.smtp import SmtpConfig
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.models import AttemptOutcome, ContactFlag, Notice, NoticeAttempt, NoticeState
from tests.factories.outbox import (
    attempts,
    department_address,
    empty_outbox,
    notices,
    queue_notices,
)
from tests.smtp_scripts import ScriptedSink

OPTIONS = DrainOptions(policy=RetryPolicy(max_attempts=6), lease=timedelta(minutes=5))
AFTER_BACKOFF = timedelta(hours=2)  # beyond any backoff of the first five attempts (≤ 16 min)


@pytest.fixture
def outbox(engine: sa.Engine) -> sa.Engine:
    empty_outbox(engine)
    return engine


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    return tmp_path / "mail"


def smtp(sink: RunningSink | int) -> SmtpConfig:
    port = sink if isinstance(sink, int) else sink.port
    return SmtpConfig(host="127.0.0.1", port=port, timeout=5, connections=4)


def refusing(wrong: str, every: int, offset: int) -> Callable[[int], str]:
    """Recipients `department_address(i)`, except every `every`-th (from `offset`) is `wrong`."""
    return lambda i: wrong if i % every == offset else department_address(i)


def duplicates(counts: Counter[str]) -> Counter[str]:
    """Message-ID → extra copies in the sink (0 for a message that arrived once is left out)."""
    return Counter({message_id: n - 1 for message_id, n in counts.items() if n > 1})


def assert_nothing_lost(engine: sa.Engine, ids: list[int], mail_dir: Path) -> dict[str, int]:
    """The ledger (issue 7 (e)): sent → in the sink; failed → the relay's 5xx kept; nothing else;
    every attempt recorded; the sink holds no Message-ID the outbox did not send."""
    rows = notices(engine, ids)
    states = Counter(row.state for row in rows)
    assert set(states) <= {NoticeState.SENT.value, NoticeState.FAILED.value}, states
    sent = {row.message_id for row in rows if row.state == NoticeState.SENT.value}
    counts = message_id_counts(mail_dir)
    assert set(counts) == sent
    for row in rows:
        if row.state == NoticeState.FAILED.value:
            assert row.smtp_reply is not None
            assert row.smtp_reply.startswith("5")
    per_notice = Counter(attempt.notice_id for attempt in attempts(engine))
    assert per_notice == Counter({row.id: row.attempts for row in rows if row.id is not None})
    return {
        "notices": len(rows),
        "sent": states[NoticeState.SENT.value],
        "failed": states[NoticeState.FAILED.value],
        "files": sum(counts.values()),
        "duplicates": sum(duplicates(counts).values()),
    }


async def test_a_4xx_burst_is_delivered_by_later_drains(
    outbox: sa.Engine, mail_dir: Path, clock: FrozenClock
) -> None:
    """An overloaded relay answers 421 to the next 50 transactions, then recovers: the burst
    spans two drains, backoff keeps a drain from hammering it, and all 30 arrive once."""
    ids = queue_notices(outbox, clock, 30)
    handler = ScriptedSink(mail_dir, busy_burst=50)
    with running_sink(mail_dir, handler=handler) as sink:
        first = await drain_outbox(outbox, smtp(sink), clock=clock, options=OPTIONS)
        assert (first.sent, first.retry) == (0, 30)
        waiting = notices(outbox, ids)
        assert {row.state for row in waiting} == {NoticeState.RETRY_WAIT.value}
        assert all(row.last_error and row.last_error.startswith("421 4.3.2") for row in waiting)
        assert all(row.next_attempt_at and row.next_attempt_at > clock.now() for row in waiting)

        too_soon = await drain_outbox(outbox, smtp(sink), clock=clock, options=OPTIONS)
        assert too_soon.claimed == 0  # the backoff holds: nothing is retried into the burst

        clock.advance(AFTER_BACKOFF)
        second = await drain_outbox(outbox, smtp(sink), clock=clock, options=OPTIONS)
        assert (second.claimed, second.retry, second.sent) == (30, 20, 10)

        clock.advance(AFTER_BACKOFF)
        third = await drain_outbox(outbox, smtp(sink), clock=clock, options=OPTIONS)
        assert (third.claimed, third.sent) == (20, 20)

    assert handler.busy_answered == 50
    assert handler.data_commands == 30  # a 421 to MAIL ends the transaction before the body
    assert sorted(row.attempts for row in notices(outbox, ids)) == [2] * 10 + [3] * 20
    busy = [a for a in attempts(outbox) if a.outcome == AttemptOutcome.RETRY.value]
    assert len(busy) == 50
    assert {a.smtp_code for a in busy} == {421}
    ledger = assert_nothing_lost(outbox, ids, mail_dir)
    assert ledger == {"notices": 30, "sent": 30, "failed": 0, "files": 30, "duplicates": 0}


async def test_a_5xx_for_one_recipient_parks_only_its_notices(
    outbox: sa.Engine, mail_dir: Path, clock: FrozenClock
) -> None:
    """One mailbox among 60 notices is unknown to the relay (two notices go to it): those two
    are parked with the 550 and never retried, its contact is flagged, and the refusals on the
    shared connections do not disturb the 58 others."""
    wrong = "closed-mailbox@example.org"
    ids = queue_notices(outbox, clock, 60, address=refusing(wrong, 25, 17))
    handler = ScriptedSink(mail_dir, refuse={wrong})
    with running_sink(mail_dir, handler=handler) as sink:
        report = await drain_outbox(outbox, smtp(sink), clock=clock, options=OPTIONS)
        clock.advance(timedelta(days=1))
        later = await drain_outbox(outbox, smtp(sink), clock=clock, options=OPTIONS)

    assert (report.sent, report.failed, report.retry) == (58, 2, 0)
    assert later.claimed == 0  # a permanent refusal waits for an operator, not for a retry
    assert handler.refused_answered == 2
    parked = [row for row in notices(outbox, ids) if row.state == NoticeState.FAILED.value]
    assert {row.recipient for row in parked} == {wrong}
    assert len(parked) == 2
    for row in parked:
        assert row.attempts == 1
        assert row.smtp_reply == row.last_error
        assert row.smtp_reply is not None
        assert row.smtp_reply.startswith(f"550 5.1.1 <{wrong}>")
    assert {f["notice_id"] for f in report.failures} == {r.id for r in parked}
    failed_attempts = [a for a in attempts(outbox) if a.outcome == AttemptOutcome.FAILED.value]
    assert [(a.smtp_code, a.notice_id in {r.id for r in parked}) for a in failed_attempts] == [
        (550, True),
        (550, True),
    ]
    with session_scope(outbox) as session:
        flags = list(session.execute(sa.select(ContactFlag)).scalars())
    assert [(f.address, f.cleared_at) for f in flags] == [(wrong, None)]
    assert "User unknown" in flags[0].reason
    assert flags[0].notice_id in {row.id for row in parked}
    assert flags[0].failures == len(parked)  # each refusal counts, batched in one drain or not
    ledger = assert_nothing_lost(outbox, ids, mail_dir)
    assert ledger == {"notices": 60, "sent": 58, "failed": 2, "files": 58, "duplicates": 0}


async def test_a_drop_after_the_relay_accepted_data_is_a_counted_duplicate(
    outbox: sa.Engine, mail_dir: Path, clock: FrozenClock
) -> None:
    """The RFC 1047 window, made to happen: the relay files 3 messages and hangs up before its
    250 is read. The client cannot tell this from a loss, so it retries; each of the 3 arrives
    twice with the same Message-ID, and no other message is doubled."""
    ids = queue_notices(outbox, clock, 40)
    handler = ScriptedSink(mail_dir, drop_after_accept=3)
    with running_sink(mail_dir, handler=handler) as sink:
        first = await drain_outbox(outbox, smtp(sink), clock=clock, options=OPTIONS)
        assert (first.sent, first.retry) == (37, 3)
        clock.advance(AFTER_BACKOFF)
        second = await drain_outbox(outbox, smtp(sink), clock=clock, options=OPTIONS)
        assert (second.claimed, second.sent) == (3, 3)

    rows = notices(outbox, ids)
    resent = {row.message_id for row in rows if row.attempts == 2}
    assert resent == set(handler.accepted_then_dropped)
    counts = message_id_counts(mail_dir)
    assert len(counts) == 40  # distinct Message-IDs == notices
    assert duplicates(counts) == Counter(dict.fromkeys(handler.accepted_then_dropped, 1))
    disconnected = [a for a in attempts(outbox) if a.outcome == AttemptOutcome.RETRY.value]
    assert len(disconnected) == 3
    assert all(a.smtp_code is None for a in disconnected)  # no reply came: nothing to classify
    assert all(a.reply and "Disconnected" in a.reply for a in disconnected)
    ledger = assert_nothing_lost(outbox, ids, mail_dir)
    assert ledger == {"notices": 40, "sent": 40, "failed": 0, "files": 43, "duplicates": 3}


async def test_a_relay_down_for_several_drains_backs_off_and_delivers_when_back(
    outbox: sa.Engine, mail_dir: Path, clock: FrozenClock
) -> None:
    """The relay is up, then down across three drains (the backoff grows each time, the
    attempt budget is not spent), then back on the same port: everything goes out once."""
    ids = queue_notices(outbox, clock, 10)
    with running_sink(mail_dir) as sink:
        port = sink.port
    waits: list[timedelta] = []
    for _ in range(3):
        down = await drain_outbox(outbox, smtp(port), clock=clock, options=OPTIONS)
        assert (down.claimed, down.retry, down.sent) == (10, 10, 0)
        rows = notices(outbox, ids)
        assert {row.state for row in rows} == {NoticeState.RETRY_WAIT.value}
        waits.append(min(r.next_attempt_at for r in rows if r.next_attempt_at) - clock.now())
        clock.advance(AFTER_BACKOFF)
    # RetryPolicy: half of base·2^(n-1) fixed, half random: [30 s, 60 s), [60 s, 120 s), …
    assert waits[0] >= timedelta(seconds=30)
    assert waits[1] >= timedelta(seconds=60)
    assert waits[2] >= timedelta(seconds=120)

    with running_sink(mail_dir, port=port) as sink:
        back = await drain_outbox(outbox, smtp(sink), clock=clock, options=OPTIONS)
    assert (back.claimed, back.sent) == (10, 10)
    assert {row.attempts for row in notices(outbox, ids)} == {4}
    refused = [a for a in attempts(outbox) if a.outcome == AttemptOutcome.RETRY.value]
    assert len(refused) == 30
    assert all(a.smtp_code is None for a in refused)
    ledger = assert_nothing_lost(outbox, ids, mail_dir)
    assert ledger == {"notices": 10, "sent": 10, "failed": 0, "files": 10, "duplicates": 0}


async def test_a_bad_day_at_the_relay_loses_nothing(
    outbox: sa.Engine, mail_dir: Path, clock: FrozenClock
) -> None:
    """All of it at once, in the order a bad day brings it: 150 notices meet a 4xx burst, three
    of them go to a closed mailbox, four are accepted and the connection lost before the 250,
    then the relay is down for a drain, then back. Drains run until nothing is due; the ledger
    adds up and the only duplicates are the four the relay dropped after accepting."""
    wrong = "retired-officer@example.org"
    ids = queue_notices(outbox, clock, 150, address=refusing(wrong, 50, 7))
    handler = ScriptedSink(
        mail_dir, refuse={wrong}, busy_burst=40, drop_after_accept=4, delay=0.002
    )
    reports: list[DrainReport] = []
    with running_sink(mail_dir, handler=handler) as sink:
        port = sink.port
        reports.append(await drain_outbox(outbox, smtp(sink), clock=clock, options=OPTIONS))
    first = reports[0]
    assert first.claimed == 150
    assert first.retry == 40 + 4  # the burst, and the accepted-then-dropped
    assert first.sent + first.failed == 150 - 44

    clock.advance(AFTER_BACKOFF)  # the relay is down now
    reports.append(await drain_outbox(outbox, smtp(port), clock=clock, options=OPTIONS))
    assert (reports[1].claimed, reports[1].retry, reports[1].sent) == (44, 44, 0)

    with running_sink(mail_dir, port=port, handler=handler):
        for _ in range(OPTIONS.policy.max_attempts):
            clock.advance(AFTER_BACKOFF)
            report = await drain_outbox(outbox, smtp(port), clock=clock, options=OPTIONS)
            reports.append(report)
            if report.claimed == 0:
                break
    assert reports[-1].claimed == 0, "the outbox did not settle"

    ledger = assert_nothing_lost(outbox, ids, mail_dir)
    assert ledger == {"notices": 150, "sent": 147, "failed": 3, "files": 151, "duplicates": 4}
    assert sum(r.sent for r in reports) == 147
    assert sum(r.failed for r in reports) == 3
    assert sum(r.dead for r in reports) == sum(r.lease_lost for r in reports) == 0
    assert handler.busy_answered == 40
    assert handler.refused_answered == 3  # each closed-mailbox notice was refused once, parked
    assert duplicates(message_id_counts(mail_dir)) == Counter(
        dict.fromkeys(handler.accepted_then_dropped, 1)
    )
    with session_scope(outbox) as session:
        flag = session.get(ContactFlag, wrong)
        assert flag is not None
        assert flag.cleared_at is None
        outcomes = Counter(session.execute(sa.select(col(NoticeAttempt.outcome))).scalars())
        unsettled = [NoticeState.QUEUED.value, NoticeState.SENDING.value]
        waiting = session.execute(
            sa.select(sa.func.count()).select_from(Notice).where(col(Notice.state).in_(unsettled))
        ).scalar_one()
    # 40 busy + 4 dropped + 44 refused connections while down = 88 retries.
    assert outcomes == Counter({"sent": 147, "retry": 88, "failed": 3})
    assert waiting == 0


def _refuse_every_login(
    _server: Any, _session: Any, _envelope: Any, _mechanism: str, _data: Any
) -> AuthResult:
    return AuthResult(success=False, handled=False)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_a_refused_login_is_retried_and_flags_no_mailbox(
    outbox: sa.Engine, mail_dir: Path, clock: FrozenClock
) -> None:
    """535 at login is about our credentials, not the recipients: every notice waits for a
    retry (no mailbox is flagged as refused), and goes out once the login is put right."""
    ids = queue_notices(outbox, clock, 6)
    controller = Controller(
        MailSink(mail_dir),
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=_refuse_every_login,
        auth_required=True,
        auth_require_tls=False,  # loopback test relay: AUTH over plain text
    )
    controller.start()
    try:
        wrong = replace(smtp(controller.port), username="jointcredit", password="wrong")
        refused = await drain_outbox(outbox, wrong, clock=clock, options=OPTIONS)
    finally:
        controller.stop()
    assert (refused.sent, refused.retry, refused.failed) == (0, 6, 0)
    waiting = notices(outbox, ids)
    assert {row.state for row in waiting} == {NoticeState.RETRY_WAIT.value}
    assert all("535" in (row.last_error or "") for row in waiting)
    assert all("登录失败" in (row.last_error or "") for row in waiting)
    with session_scope(outbox) as session:
        assert list(session.execute(sa.select(ContactFlag)).scalars()) == []

    clock.advance(AFTER_BACKOFF)
    with running_sink(mail_dir) as sink:
        fixed = await drain_outbox(outbox, smtp(sink), clock=clock, options=OPTIONS)
    assert fixed.sent == 6
    ledger = assert_nothing_lost(outbox, ids, mail_dir)
    assert ledger == {"notices": 6, "sent": 6, "failed": 0, "files": 6, "duplicates": 0}
