"""Outbox → SMTP against a real in-process aiosmtpd, on SQLite and PostgreSQL.

No mock of aiosmtplib anywhere: every test talks SMTP to a server on a real socket, and counts
what the server filed, by Message-ID, to prove "nothing lost, nothing doubled".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from notifications.delivery import DrainOptions, drain_outbox
from notifications.outbox import RetryPolicy, requeue_failed
from notifications.sink import RunningSink, message_id_counts, read_mailbox, running_sink
from notifications.smtp import SmtpConfig
from registry.audit import verify
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.errors import JointcreditError
from registry.models import ContactFlag, NoticeState
from registry.vocabulary import NoticeKind
from tests.factories.outbox import (
    attempts,
    department_address,
    empty_outbox,
    notices,
    queue_notices,
)
from tests.smtp_scripts import ScriptedSink

FAST = DrainOptions(policy=RetryPolicy(max_attempts=4), lease=timedelta(minutes=5))
AFTER_BACKOFF = timedelta(hours=2)


@pytest.fixture
def outbox(engine: sa.Engine) -> sa.Engine:
    empty_outbox(engine)
    return engine


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def sink(mail_dir: Path) -> Iterator[RunningSink]:
    with running_sink(mail_dir) as running:
        yield running


def smtp(sink: RunningSink) -> SmtpConfig:
    return SmtpConfig(host=sink.host, port=sink.port, timeout=10, connections=4)


async def test_a_thousand_notices_arrive_once_each(
    outbox: sa.Engine, sink: RunningSink, clock: FrozenClock
) -> None:
    ids = queue_notices(outbox, clock, 1000)

    report = await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)

    assert (report.claimed, report.sent, report.retry, report.failed) == (1000, 1000, 0, 0)
    counts = message_id_counts(sink.directory)
    assert len(counts) == 1000
    assert set(counts.values()) == {1}
    rows = notices(outbox, ids)
    assert {row.state for row in rows} == {NoticeState.SENT.value}
    assert {row.attempts for row in rows} == {1}
    assert set(counts) == {row.message_id for row in rows}
    assert len(attempts(outbox)) == 1000


async def test_a_second_drain_sends_nothing_again(
    outbox: sa.Engine, sink: RunningSink, clock: FrozenClock
) -> None:
    queue_notices(outbox, clock, 20)
    await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)
    clock.advance(timedelta(days=1))

    again = await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)

    assert again.claimed == 0
    assert len(list(sink.directory.glob("*.eml"))) == 20


async def test_greylisting_451_is_retried_after_backoff_and_nothing_doubles(
    outbox: sa.Engine, mail_dir: Path, clock: FrozenClock
) -> None:
    ids = queue_notices(outbox, clock, 50)
    handler = ScriptedSink(mail_dir, defer_first_data=True)
    with running_sink(mail_dir, handler=handler) as sink:
        first = await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)
        assert (first.sent, first.retry) == (0, 50)
        waiting = notices(outbox, ids)
        assert {row.state for row in waiting} == {NoticeState.RETRY_WAIT.value}
        assert all(row.last_error and row.last_error.startswith("451") for row in waiting)
        assert min(row.next_attempt_at for row in waiting if row.next_attempt_at) > clock.now()

        too_soon = await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)
        assert too_soon.claimed == 0

        clock.advance(AFTER_BACKOFF)
        second = await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)

    assert second.sent == 50
    counts = message_id_counts(mail_dir)
    assert len(counts) == 50
    assert set(counts.values()) == {1}
    assert {row.attempts for row in notices(outbox, ids)} == {2}
    assert sorted(a.outcome for a in attempts(outbox)).count("retry") == 50


async def test_550_parks_the_notice_with_the_reply_and_flags_the_contact(
    outbox: sa.Engine, mail_dir: Path, clock: FrozenClock
) -> None:
    ids = queue_notices(outbox, clock, 5)
    wrong = department_address(2)
    handler = ScriptedSink(mail_dir, refuse={wrong})
    with running_sink(mail_dir, handler=handler) as sink:
        report = await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)

    assert (report.sent, report.failed) == (4, 1)
    parked = next(row for row in notices(outbox, ids) if row.recipient == wrong)
    assert parked.state == NoticeState.FAILED.value
    assert parked.smtp_reply is not None
    assert parked.smtp_reply.startswith("550 5.1.1")
    assert "User unknown" in parked.smtp_reply
    assert report.failures == [
        {"notice_id": parked.id, "recipient": wrong, "reply": parked.smtp_reply}
    ]
    with session_scope(outbox) as session:
        flag = session.get(ContactFlag, wrong)
        assert flag is not None
        assert flag.cleared_at is None
        assert "User unknown" in flag.reason
    assert len(message_id_counts(mail_dir)) == 4

    # The contact is corrected at the relay; the operator requeues; it goes out and is unflagged.
    with session_scope(outbox) as session:
        requeue_failed(session, [parked.id], now=clock.now(), actor="测试操作员", source="test")
    with running_sink(mail_dir) as sink:
        retried = await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)
    assert retried.sent == 1
    assert notices(outbox, [parked.id])[0].state == NoticeState.SENT.value
    with session_scope(outbox) as session:
        flag = session.get(ContactFlag, wrong)
        assert flag is not None
        assert flag.cleared_at is not None
        assert verify(session).ok
    assert len(message_id_counts(mail_dir)) == 5


async def test_a_connection_dropped_mid_data_is_retried_without_loss(
    outbox: sa.Engine, mail_dir: Path, clock: FrozenClock
) -> None:
    ids = queue_notices(outbox, clock, 40)
    handler = ScriptedSink(mail_dir, drop_first=3)
    with running_sink(mail_dir, handler=handler) as sink:
        first = await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)
        clock.advance(AFTER_BACKOFF)
        second = await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)

    assert first.retry >= 3
    assert first.sent + second.sent == 40
    counts = message_id_counts(mail_dir)
    assert len(counts) == 40
    assert set(counts.values()) == {1}
    assert {row.state for row in notices(outbox, ids)} == {NoticeState.SENT.value}
    disconnects = [a for a in attempts(outbox) if a.outcome == "retry"]
    assert all(a.smtp_code is None for a in disconnects)


async def test_attempts_exhausted_make_the_notice_dead(
    outbox: sa.Engine, mail_dir: Path, clock: FrozenClock
) -> None:
    (notice_id,) = queue_notices(outbox, clock, 1)
    options = DrainOptions(policy=RetryPolicy(max_attempts=3))
    handler = ScriptedSink(mail_dir, always_defer=True)
    with running_sink(mail_dir, handler=handler) as sink:
        outcomes = []
        for _ in range(4):
            report = await drain_outbox(outbox, smtp(sink), clock=clock, options=options)
            outcomes.append((report.retry, report.dead))
            clock.advance(AFTER_BACKOFF)

    assert outcomes == [(1, 0), (1, 0), (0, 1), (0, 0)]
    (row,) = notices(outbox, [notice_id])
    assert (row.state, row.attempts) == (NoticeState.DEAD.value, 3)
    assert handler.data_commands == 3


async def test_a_server_that_is_down_loses_nothing(
    outbox: sa.Engine, mail_dir: Path, clock: FrozenClock
) -> None:
    ids = queue_notices(outbox, clock, 10)
    with running_sink(mail_dir) as sink:
        port = sink.port
    down = SmtpConfig(host="127.0.0.1", port=port, timeout=2, connections=2)

    report = await drain_outbox(outbox, down, clock=clock, options=FAST)

    assert (report.claimed, report.retry, report.sent) == (10, 10, 0)
    assert {row.state for row in notices(outbox, ids)} == {NoticeState.RETRY_WAIT.value}
    clock.advance(AFTER_BACKOFF)
    with running_sink(mail_dir, port=port) as sink:
        back = await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)
    assert back.sent == 10
    assert len(message_id_counts(mail_dir)) == 10


async def test_a_name_with_crlf_cannot_add_a_header(
    outbox: sa.Engine, sink: RunningSink, clock: FrozenClock
) -> None:
    queue_notices(outbox, clock, 1, name="张三\r\nBcc: spy@example.com")

    await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)

    (path,) = sink.directory.glob("*.eml")
    raw = path.read_bytes()
    message = BytesParser(policy=default_policy).parsebytes(raw)
    assert message["Bcc"] is None
    assert b"\nBcc:" not in raw
    assert message["X-Sink-Envelope-To"] == f"<{department_address(0)}>"
    assert message["To"].addresses[0].display_name == "张三 Bcc: spy@example.com"


async def test_received_mail_is_readable_chinese_with_both_bodies(
    outbox: sa.Engine, sink: RunningSink, clock: FrozenClock
) -> None:
    queue_notices(outbox, clock, 1, kind=NoticeKind.PRIOR_NOTICE)

    await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)

    (message,) = read_mailbox(sink.directory)
    (row,) = notices(outbox)
    assert message["Subject"] == row.subject
    assert message["Message-ID"] == row.message_id
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert text.get_content() == row.body_text.replace("\r\n", "\n")
    assert "告知" in text.get_content()


def test_two_drain_commands_at_once_send_each_notice_once(
    outbox: sa.Engine, database_url: str, mail_dir: Path, clock: FrozenClock, tmp_path: Path
) -> None:
    """Two `jointcredit outbox drain` processes at once: SKIP LOCKED (PostgreSQL) or the guarded
    claim (SQLite) splits the queue, so the sink gets every Message-ID exactly once. The sink
    answers slowly so the two runs overlap."""
    ids = queue_notices(outbox, clock, 800)
    handler = ScriptedSink(mail_dir, delay=0.01)
    with running_sink(mail_dir, handler=handler) as sink:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "DO_NOT_TRACK": "1",
            "JOINTCREDIT_DATABASE_URL": database_url,
            "JOINTCREDIT_SMTP_HOST": sink.host,
            "JOINTCREDIT_SMTP_PORT": str(sink.port),
            "JOINTCREDIT_NOW": clock.now().isoformat(),
        }
        command = [str(Path(sys.executable).parent / "jointcredit"), "outbox", "drain", "--json"]
        processes = [
            subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs

    reports = [json.loads(output) for output in outputs]
    assert sum(report["sent"] for report in reports) == 800
    assert all(report["sent"] > 0 for report in reports), "the two drains did not overlap"
    counts = message_id_counts(mail_dir)
    assert len(counts) == 800
    assert set(counts.values()) == {1}
    rows = notices(outbox, ids)
    assert {row.state for row in rows} == {NoticeState.SENT.value}
    assert {row.attempts for row in rows} == {1}
    assert {row.claimed_by for row in rows} == {report["deliverer"] for report in reports}


async def test_a_message_that_cannot_be_built_hands_its_claims_back(
    outbox: sa.Engine, sink: RunningSink, clock: FrozenClock
) -> None:
    """Issue 13: with a sender the email package refuses (`my_host`), the drain died with an
    English header defect and left its claimed notice `sending` until the lease ran out. A
    failure to build a message is ours, not the recipient's: the claims are handed back at once,
    no attempt is counted, no contact is flagged, and the drain stops with one clear error."""
    ids = queue_notices(outbox, clock, 6)
    broken = SmtpConfig(host=sink.host, port=sink.port, timeout=10, mail_from="my_host")

    with pytest.raises(JointcreditError) as caught:
        await drain_outbox(outbox, broken, clock=clock, options=FAST)

    assert "无法生成邮件" in caught.value.message
    assert "未计入尝试次数" in caught.value.message
    rows = notices(outbox, ids)
    assert {row.state for row in rows} == {NoticeState.QUEUED.value}
    assert {row.attempts for row in rows} == {0}
    assert {row.lease_until for row in rows} == {None}
    assert attempts(outbox) == []
    with session_scope(outbox) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(ContactFlag)).scalar() == 0
    assert message_id_counts(sink.directory) == {}

    # Once the sender is right, the next drain (no lease to wait out) sends every one once.
    report = await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)
    assert (report.claimed, report.sent) == (6, 6)
    assert set(message_id_counts(sink.directory).values()) == {1}
