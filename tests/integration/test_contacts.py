"""A mailbox that cannot be delivered to parks its own notices only; `contact set` repairs it.

Issue 13, item 1: an address the outbox refused used to fail the whole routing step (a
traceback, nobody notified, no way to correct it). Now the step commits, everyone else is
notified, the one notice waits as `bad_address` (or `failed` after a 5xx), and correcting the
subject's or department's mailbox re-queues exactly those notices, which the next drain
delivers to the corrected address — over real SMTP to the local sink, and through the real
`jointcredit` command.

Addresses are written into `subject` directly where a test needs a bad one: import refuses them
now (the bad-input corpus), but databases filled before that rule still hold them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa

from memoranda.loader import Catalogue
from notifications.delivery import DrainOptions, drain_outbox
from notifications.outbox import RetryPolicy, outbox_status
from notifications.sink import RunningSink, read_mailbox, running_sink
from notifications.smtp import SmtpConfig
from registry import db
from registry.audit import verify
from registry.calendar import WorkingCalendar
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.models import Notice
from registry.routing import Routing, notify_proposed
from registry.settings import Settings
from service import Runtime, correct_contact
from tests.factories.listings import proposed_batch
from tests.factories.outbox import empty_outbox, notices
from tests.factories.routing import dispatched_batch, make_routing
from tests.integration.cli_runner import run, run_json
from tests.smtp_scripts import ScriptedSink

FAST = DrainOptions(policy=RetryPolicy(max_attempts=4), lease=timedelta(minutes=5))
IDN = "anquan@江岸冶金.中国"
IDN_ON_THE_WIRE = "anquan@xn--97q21yptmvp0b.xn--fiqs8s"


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


def runtime(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> Runtime:
    return Runtime(
        settings=Settings(), engine=engine, catalogue=catalogue, calendar=calendar, clock=clock
    )


def store_mailbox(engine: sa.Engine, listing_id: int, address: str) -> dict[str, object]:
    """Write a mailbox onto a listing's subject as an old import did; the subject's id and USCC."""
    with engine.begin() as connection:
        subject = connection.execute(
            sa.text(
                "SELECT s.id, s.uscc FROM subject s JOIN listing l ON l.subject_id = s.id "
                "WHERE l.id = :listing"
            ),
            {"listing": listing_id},
        ).one()
        connection.execute(
            sa.text("UPDATE subject SET contact_email = :address WHERE id = :id"),
            {"address": address, "id": subject.id},
        )
    return {"id": subject.id, "uscc": subject.uscc}


def party_notices(engine: sa.Engine, listing_ids: list[int]) -> dict[int, Notice]:
    return {n.listing_id: n for n in notices(engine) if n.listing_id in listing_ids}


def delivered(mail_dir: Path) -> dict[str, EmailMessage]:
    """Message-ID → the message the sink filed."""
    return {str(m["Message-ID"]).strip(): m for m in read_mailbox(mail_dir)}


async def test_one_bad_mailbox_parks_its_notice_and_the_step_notifies_everyone_else(
    outbox: sa.Engine, catalogue: Catalogue, routing: Routing, clock: FrozenClock, sink: RunningSink
) -> None:
    batch, ids = proposed_batch(outbox, catalogue, clock, units=3, persons=0)
    store_mailbox(outbox, ids[1], "anquan@example.org。")

    with session_scope(outbox) as session:
        result = notify_proposed(session, batch, routing)

    assert sorted(result.moved) == sorted(ids)  # the step committed for every listing
    by_listing = party_notices(outbox, ids)
    assert {i: by_listing[i].state for i in ids} == {
        ids[0]: "queued",
        ids[1]: "bad_address",
        ids[2]: "queued",
    }
    parked = by_listing[ids[1]]
    assert parked.last_error is not None
    assert "收件地址无效" in parked.last_error
    assert "。" in parked.last_error
    with session_scope(outbox) as session:
        status = outbox_status(session)
    assert status.by_state["bad_address"] == 1
    assert [(p["id"], p["state"]) for p in status.parked] == [(parked.id, "bad_address")]

    report = await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)

    assert (report.claimed, report.sent, report.failed) == (2, 2, 0)
    assert set(delivered(sink.directory)) == {
        by_listing[ids[0]].message_id,
        by_listing[ids[2]].message_id,
    }
    assert party_notices(outbox, ids)[ids[1]].state == "bad_address"  # never claimed


async def test_contact_set_requeues_the_parked_notice_and_the_next_drain_delivers_it(
    outbox: sa.Engine,
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    routing: Routing,
    clock: FrozenClock,
    sink: RunningSink,
) -> None:
    batch, ids = proposed_batch(outbox, catalogue, clock, units=2, persons=0)
    subject = store_mailbox(outbox, ids[0], "x@example.org；")
    with session_scope(outbox) as session:
        notify_proposed(session, batch, routing)
    await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)
    parked = party_notices(outbox, ids)[ids[0]]
    assert parked.state == "bad_address"

    correction = correct_contact(
        runtime(outbox, catalogue, calendar, clock),
        IDN,
        subject=str(subject["uscc"]),
        actor="cli:operator",
        source="test",
    )

    assert correction.requeued == [parked.id]
    assert (correction.change.before, correction.change.after) == ("x@example.org；", IDN)
    requeued = party_notices(outbox, ids)[ids[0]]
    assert (requeued.state, requeued.recipient) == ("queued", IDN)
    # The same letter, re-addressed: its key and Message-ID do not change.
    assert (requeued.idempotency_key, requeued.message_id) == (
        parked.idempotency_key,
        parked.message_id,
    )
    with session_scope(outbox) as session:
        actions = session.execute(
            sa.text(
                "SELECT action, entity_id FROM audit_event "
                "WHERE action IN ('subject.contact_set', 'notice.readdress') ORDER BY seq"
            )
        ).all()
        assert verify(session).ok
    assert [tuple(a) for a in actions[-2:]] == [
        ("subject.contact_set", str(subject["id"])),
        ("notice.readdress", str(parked.id)),
    ]

    report = await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)

    assert (report.claimed, report.sent) == (1, 1)
    message = delivered(sink.directory)[parked.message_id]
    assert IDN_ON_THE_WIRE in str(message["To"])
    assert party_notices(outbox, ids)[ids[0]].state == "sent"
    # Nothing is parked for this subject any more: a second correction re-queues nothing.
    again = correct_contact(
        runtime(outbox, catalogue, calendar, clock),
        "safety@example.org",
        subject=str(subject["id"]),
        actor="cli:operator",
        source="test",
    )
    assert again.requeued == []


async def test_a_corrected_department_mailbox_gets_its_refused_letter_and_every_later_one(
    outbox: sa.Engine,
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    clock: FrozenClock,
    mail_dir: Path,
) -> None:
    ndrc = catalogue.departments["ndrc"]
    dispatched_batch(outbox, catalogue, calendar, units=1)
    refusing = ScriptedSink(mail_dir, refuse={ndrc.mailbox})
    with running_sink(mail_dir, handler=refusing) as sink:
        first = await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)
    assert first.failed == 1
    (refused,) = [n for n in notices(outbox) if n.state == "failed"]
    assert (refused.department_code, refused.recipient) == ("ndrc", ndrc.mailbox)

    corrected = "xinyong@ndrc.example.org"
    try:
        correction = correct_contact(
            runtime(outbox, catalogue, calendar, clock),
            corrected,
            department="NDRC",  # codes are matched case-insensitively
            actor="cli:operator",
            source="test",
        )
        assert correction.requeued == [refused.id]
        assert {n.state for n in notices(outbox) if n.id != refused.id} == {"sent"}

        with running_sink(mail_dir) as sink:
            second = await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)
        assert (second.claimed, second.sent) == (1, 1)
        assert corrected in str(delivered(mail_dir)[refused.message_id]["To"])

        # Letters composed from now on go to the corrected mailbox, not the catalogue's.
        dispatched_batch(outbox, catalogue, calendar, units=1)
        later = [
            n
            for n in notices(outbox)
            if n.department_code == "ndrc" and n.state == "queued" and n.id != refused.id
        ]
        assert later
        assert {n.recipient for n in later} == {corrected}
    finally:
        with outbox.begin() as connection:
            connection.execute(sa.text("DELETE FROM department_mailbox"))


def test_the_contact_command_requeues_what_was_parked_and_the_drain_delivers(
    tmp_path: Path, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> None:
    """`jointcredit outbox status` shows the parked notice, `jointcredit contact set` re-queues
    it, `jointcredit outbox drain` delivers it to the corrected address."""
    assert run(tmp_path, "db", "upgrade").returncode == 0
    engine = db.make_engine(f"sqlite:///{tmp_path / 'var' / 'jointcredit.db'}")
    batch, ids = proposed_batch(engine, catalogue, clock, units=2, persons=0)
    subject = store_mailbox(engine, ids[1], "x@example.org.")
    with session_scope(engine) as session:
        notify_proposed(session, batch, make_routing(catalogue, calendar, clock))
    parked = party_notices(engine, ids)[ids[1]]
    env = {"JOINTCREDIT_NOW": clock.now().isoformat()}

    status = run_json(tmp_path, "outbox", "status", env=env)
    assert [(p["id"], p["state"]) for p in status["parked"]] == [(parked.id, "bad_address")]
    text = run(tmp_path, "outbox", "status", env=env)
    assert "地址无效待更正" in text.stdout
    assert "jointcredit contact set" in text.stdout

    shown = run(
        tmp_path, "contact", "set", "--subject", str(subject["id"]), "--address", "ok@example.org"
    )
    assert shown.returncode == 0, shown.stderr
    assert "x@example.org. → ok@example.org" in shown.stdout
    assert f"已重新排队 1 封通知（requeued）：{parked.id}" in shown.stdout

    mail = tmp_path / "mail"
    with running_sink(mail) as sink:
        drained = run_json(
            tmp_path, "outbox", "drain", env={**env, "JOINTCREDIT_SMTP_PORT": str(sink.port)}
        )
    assert (drained["claimed"], drained["sent"]) == (2, 2)
    assert "ok@example.org" in str(delivered(mail)[parked.message_id]["To"])
    engine.dispose()


def _open_flags(engine: sa.Engine) -> list[str]:
    with session_scope(engine) as session:
        return [flag["address"] for flag in outbox_status(session).flagged_contacts]


async def test_a_correction_clears_the_refused_address_flag_once_nobody_uses_it(
    outbox: sa.Engine,
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    routing: Routing,
    clock: FrozenClock,
    mail_dir: Path,
) -> None:
    """Issue 13: after a 550 for bad@… and `contact set --address fixed@…`, every `outbox
    status` and drain still warned about bad@… and its flag stayed open. A correction clears the
    flag of the address it replaces in the same transaction, and its audit event says so — but
    not while another subject still has that address as its mailbox."""
    batch, ids = proposed_batch(outbox, catalogue, clock, units=2, persons=0)
    first = store_mailbox(outbox, ids[0], "bad@example.org")
    second = store_mailbox(outbox, ids[1], "Bad@example.org")
    with session_scope(outbox) as session:
        notify_proposed(session, batch, routing)
    with running_sink(mail_dir, handler=ScriptedSink(mail_dir, refuse={"bad@example.org"})) as s:
        refused = await drain_outbox(outbox, smtp(s), clock=clock, options=FAST)
    assert refused.failed == 2
    assert _open_flags(outbox) == ["bad@example.org"]

    fix = runtime(outbox, catalogue, calendar, clock)
    shared = correct_contact(
        fix, "fixed@example.org", subject=str(first["id"]), actor="cli:operator", source="test"
    )
    assert shared.change.cleared_flags == []  # the second subject still writes to it
    assert _open_flags(outbox) == ["bad@example.org"]

    last = correct_contact(
        fix, "fixed2@example.org", subject=str(second["id"]), actor="cli:operator", source="test"
    )
    assert last.change.cleared_flags == ["bad@example.org"]
    assert last.as_dict()["cleared_flags"] == ["bad@example.org"]
    assert _open_flags(outbox) == []
    with session_scope(outbox) as session:
        cleared_at = session.execute(
            sa.text("SELECT cleared_at FROM contact_flag WHERE address = 'bad@example.org'")
        ).scalar()
        event = session.execute(
            sa.text(
                "SELECT after FROM audit_event WHERE action = 'subject.contact_set' "
                "AND entity_id = :id ORDER BY seq DESC"
            ),
            {"id": str(second["id"])},
        ).scalar()
        assert verify(session).ok
    assert cleared_at is not None
    after = event if isinstance(event, dict) else json.loads(event)  # JSONB on PostgreSQL
    assert after["cleared_flags"] == ["bad@example.org"]

    with running_sink(mail_dir) as sink:
        report = await drain_outbox(outbox, smtp(sink), clock=clock, options=FAST)
    assert (report.sent, report.failed) == (2, 0)
    assert _open_flags(outbox) == []
