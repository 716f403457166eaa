"""Service (送达): windows run from service, a party not served blocks only its own listing,
e-mail only with consent, post service recorded by the operator (issue 14 items 1 and 2).

Real SQLite, a real aiosmtpd sink, the real `jointcredit` console script, an injected clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col

from memoranda.loader import Catalogue
from notifications.delivery import DrainOptions, drain_outbox
from notifications.sink import RunningSink, read_mailbox, running_sink
from notifications.smtp import SmtpConfig
from registry.audit import verify
from registry.calendar import WorkingCalendar
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.models import AuditEvent, Listing, Notice
from registry.routing import (
    Decision,
    Waiting,
    batch_position,
    close_defence_windows,
    decide,
    dispatch_in_force,
    notify_proposed,
    publish_confirmed,
)
from registry.service_of_notices import ServiceError, ServiceMethod, ServiceRecord, record_service
from registry.sla import defence_deadline
from registry.views import batch_view, listing_view
from tests.factories.listings import REVIEWER, clock_at, proposed_batch, run
from tests.factories.routing import make_routing
from tests.integration.cli_runner import run as cli
from tests.integration.cli_runner import run_json, run_json_error

T = date(2026, 11, 2)  # a Monday: the batch is imported and its prior notices composed


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[RunningSink]:
    with running_sink(tmp_path / "mail") as running:
        yield running


def _smtp(sink: RunningSink) -> SmtpConfig:
    return SmtpConfig(host=sink.host, port=sink.port, timeout=10, connections=2)


def _set_consent(engine: sa.Engine, listing_id: int, consent: bool) -> None:
    with session_scope(engine) as session:
        session.execute(
            sa.update(Listing)
            .where(col(Listing.id) == listing_id)
            .values(e_service_consent=consent)
        )


def _listing(engine: sa.Engine, listing_id: int) -> Listing:
    with session_scope(engine) as session:
        found = session.get(Listing, listing_id)
        assert found is not None
        session.expunge(found)
        return found


def _notices(engine: sa.Engine, listing_id: int) -> list[Notice]:
    with session_scope(engine) as session:
        rows = list(
            session.execute(
                sa.select(Notice).where(col(Notice.listing_id) == listing_id).order_by(Notice.id)
            ).scalars()
        )
        session.expunge_all()
        return rows


async def test_windows_run_from_service_and_an_unserved_party_blocks_only_itself(
    local: tuple[sa.Engine, dict[str, str]],
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    sink: RunningSink,
    tmp_path: Path,
) -> None:
    engine, env = local
    clock = FrozenClock(datetime(2026, 11, 2, 10, 0))
    routing = make_routing(catalogue, calendar, clock)
    batch, (by_mail, by_post) = proposed_batch(engine, catalogue, clock, units=2, persons=0)
    _set_consent(engine, by_post, False)  # 同意电子送达 = 否: its letters go by post

    run(engine, notify_proposed, batch, routing)
    assert _listing(engine, by_mail).defence_due is None  # nothing runs before service
    (post_letter,) = _notices(engine, by_post)
    assert (post_letter.channel, post_letter.state) == ("post", "for_post")
    assert "送达之日起" in post_letter.body_text  # the letter prints no date before service

    clock_at(clock, T + timedelta(days=3))  # the e-mail reaches the party at T+3
    report = await drain_outbox(engine, _smtp(sink), clock=clock, options=DrainOptions())
    assert report.sent == 1  # the letter without consent never goes to SMTP
    (mail_letter,) = _notices(engine, by_mail)
    assert (mail_letter.service_state, mail_letter.service_method) == ("served", "email")
    assert mail_letter.served_on == T + timedelta(days=3)
    assert [m["To"].addresses[0].addr_spec for m in read_mailbox(sink.directory)] == [
        mail_letter.recipient
    ]

    run(engine, close_defence_windows, batch, routing)
    served = _listing(engine, by_mail)
    expected = defence_deadline(calendar, catalogue.time_limits, T + timedelta(days=3))
    assert served.defence_from == T + timedelta(days=3)
    assert served.defence_due == expected.due
    assert served.defence_due != defence_deadline(calendar, catalogue.time_limits, T).due
    assert _listing(engine, by_post).defence_due is None

    clock_at(clock, expected.due)  # the due day itself still belongs to the party
    assert run(engine, close_defence_windows, batch, routing).moved == []
    clock_at(clock, expected.due + timedelta(days=1))
    closed = run(engine, close_defence_windows, batch, routing)
    assert closed.moved == [by_mail]
    assert closed.awaiting_service == [by_post]
    run(engine, decide, batch, Decision(REVIEWER, "川应急信决〔2026〕31号"), routing)
    run(engine, publish_confirmed, batch, routing)
    assert run(engine, dispatch_in_force, batch, routing).actions_created > 0
    assert _listing(engine, by_mail).state == "in_force"
    assert _listing(engine, by_post).state == "notified"  # blocks only itself
    with session_scope(engine) as session:
        position = batch_position(session, batch, today=clock.today())
    assert position.waiting_on is Waiting.SERVICE
    assert position.awaiting_service == (by_post,)

    # The operator prints the letter, posts it, and records its service.
    out = tmp_path / "print[bold]"  # a folder name is shown as typed, never read as markup
    printed = cli(tmp_path, "notice", "print", "--batch", str(batch), "--out", str(out), env=env)
    assert printed.returncode == 0, printed.stderr
    assert str(out / "index.html") in printed.stdout
    page = (out / f"notice-{post_letter.id}.html").read_text(encoding="utf-8")
    assert "@page" in page
    assert "送达回证" in page
    assert "size: A4" in page
    assert "送达之日起" in page
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "未送达" in index
    assert f"notice-{post_letter.id}.html" in index
    assert (out / "all.html").exists()

    now = {"JOINTCREDIT_NOW": clock.now().isoformat(), **env}
    posted_on = (T + timedelta(days=10)).isoformat()
    served_json = run_json(
        tmp_path,
        "notice",
        *("served", str(post_letter.id), "--on", posted_on, "--method", "post"),
        *("--note", "挂号信 XA123456789CN", "--by", "李操作"),
        env=now,
    )
    assert served_json["service_state"] == "served"
    post_due = defence_deadline(calendar, catalogue.time_limits, T + timedelta(days=10)).due
    assert served_json["defence_due"] == post_due.isoformat()
    again = run_json_error(
        tmp_path,
        *("notice", "served", str(post_letter.id), "--on", posted_on, "--method", "post"),
        env=now,
    )
    assert "已" in again["message"]
    assert "送达" in again["message"]
    with session_scope(engine) as session:
        event = session.execute(
            sa.select(AuditEvent).where(AuditEvent.action == "notice.served")
        ).scalar_one()
        assert event.actor == "李操作"
        assert verify(session).ok
    posted = _listing(engine, by_post)
    assert posted.defence_from == T + timedelta(days=10)
    assert posted.defence_due == post_due


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--on", "2099-01-01", "--method", "post"), "晚于今天"),
        (("--on", "2026-10-01", "--method", "post"), "早于文书制作日期"),
        (("--on", "2026-11-03", "--method", "pigeon"), "送达方式"),
        (("--on", "11/03/2026", "--method", "post"), "YYYY-MM-DD"),
        (("--failed",), "原因"),
        (("--method", "post"), "--on"),
    ],
)
def test_service_records_the_rules_refuse_are_one_line_in_chinese(
    local: tuple[sa.Engine, dict[str, str]],
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    tmp_path: Path,
    args: tuple[str, ...],
    fragment: str,
) -> None:
    engine, env = local
    clock = FrozenClock(datetime(2026, 11, 2, 10, 0))
    batch, (listing,) = proposed_batch(engine, catalogue, clock, units=1, persons=0, consent=False)
    run(engine, notify_proposed, batch, make_routing(catalogue, calendar, clock))
    (letter,) = _notices(engine, listing)
    now = {"JOINTCREDIT_NOW": f"{(T + timedelta(days=5)).isoformat()}T10:00:00+08:00", **env}
    error = run_json_error(tmp_path, "notice", "served", str(letter.id), *args, env=now)
    assert fragment in error["message"]
    assert "\n" not in error["message"]
    assert _notices(engine, listing)[0].service_state == "pending"


def test_a_failed_service_is_recorded_and_the_window_stays_closed(
    local: tuple[sa.Engine, dict[str, str]],
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    tmp_path: Path,
) -> None:
    engine, env = local
    clock = FrozenClock(datetime(2026, 11, 2, 10, 0))
    batch, (listing,) = proposed_batch(engine, catalogue, clock, units=1, persons=0, consent=False)
    run(engine, notify_proposed, batch, make_routing(catalogue, calendar, clock))
    (letter,) = _notices(engine, listing)
    now = {"JOINTCREDIT_NOW": f"{(T + timedelta(days=5)).isoformat()}T10:00:00+08:00", **env}
    failed = run_json(
        tmp_path,
        *("notice", "served", str(letter.id), "--failed", "--reason", "查无此人，邮件退回"),
        *("--by", "李操作"),
        env=now,
    )
    assert failed["service_state"] == "failed"
    assert _listing(engine, listing).defence_due is None


async def test_listing_show_and_batch_show_name_each_letters_channel_and_service(
    local: tuple[sa.Engine, dict[str, str]],
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    sink: RunningSink,
    tmp_path: Path,
) -> None:
    """Per party letter its channel and its service (送达方式、送达日期, or 未送达), and in the
    batch the letters still waiting to be served (待送达) — by the views and their commands."""
    engine, env = local
    clock = FrozenClock(datetime(2026, 11, 2, 10, 0))
    routing = make_routing(catalogue, calendar, clock)
    batch, (by_mail, by_post) = proposed_batch(engine, catalogue, clock, units=2, persons=0)
    _set_consent(engine, by_post, False)
    run(engine, notify_proposed, batch, routing)
    await drain_outbox(engine, _smtp(sink), clock=clock, options=DrainOptions())
    (post_letter,) = _notices(engine, by_post)
    now = {"JOINTCREDIT_NOW": clock.now().isoformat(), **env}

    with session_scope(engine) as session:
        view = batch_view(session, batch)
        mail_line, post_line = listing_view(session, by_mail), listing_view(session, by_post)
    assert [
        (a.notice_id, a.listing_id, a.channel, a.service_state) for a in view.awaiting_service
    ] == [(post_letter.id, by_post, "post", "pending")]
    assert view.awaiting_service_total == 1
    assert [
        (n.channel, n.service_state, n.served_on, n.service_method) for n in mail_line.notices
    ] == [("email", "served", T, "email")]
    assert [(n.channel, n.service_state, n.served_on) for n in post_line.notices] == [
        ("post", "pending", None)
    ]

    shown = cli(tmp_path, "batch", "show", str(batch), env=now)
    assert shown.returncode == 0, shown.stderr
    waiting = shown.stdout[shown.stdout.index("待送达") :]
    assert view.awaiting_service[0].reference in waiting
    assert "邮寄/直接送达" in waiting
    assert "未送达" in waiting
    assert view.listings[0].reference not in waiting  # the e-mailed party is served
    as_json = run_json(tmp_path, "batch", "show", str(batch), "--json", env=now)
    assert [a["notice_id"] for a in as_json["awaiting_service"]] == [post_letter.id]

    mailed = cli(tmp_path, "listing", "show", str(by_mail), env=now)
    assert mailed.returncode == 0, mailed.stderr
    assert "电子邮件送达 2026-11-02" in mailed.stdout
    posted = cli(tmp_path, "listing", "show", str(by_post), env=now)
    assert "邮寄/直接送达" in posted.stdout
    assert "未送达" in posted.stdout

    clock_at(clock, T + timedelta(days=2))
    later = {"JOINTCREDIT_NOW": clock.now().isoformat(), **env}
    run_json(
        tmp_path,
        *("notice", "served", str(post_letter.id), "--on", "2026-11-04", "--method", "post"),
        *("--by", "李操作"),
        env=later,
    )
    shown = cli(tmp_path, "listing", "show", str(by_post), env=later).stdout
    assert "邮寄送达 2026-11-04" in shown
    assert "待邮寄" not in shown  # served: no longer shown as still to be posted
    assert "待送达：无" in cli(tmp_path, "batch", "show", str(batch), env=later).stdout
    with session_scope(engine) as session:
        assert batch_view(session, batch).awaiting_service == []


async def test_an_e_mail_sent_after_the_letter_was_served_by_hand_keeps_the_first_service(
    local: tuple[sa.Engine, dict[str, str]],
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    sink: RunningSink,
) -> None:
    """The operator handed the 告知书 over on T+1 before the mail went out on T+4: the letter was
    served on T+1 in person, and the window runs from then; the e-mail is only a copy."""
    engine, _ = local
    clock = FrozenClock(datetime(2026, 11, 2, 10, 0))
    routing = make_routing(catalogue, calendar, clock)
    batch, (listing,) = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    run(engine, notify_proposed, batch, routing)
    (letter,) = _notices(engine, listing)
    clock_at(clock, T + timedelta(days=1))
    record = ServiceRecord(letter.id or 0, ServiceMethod.IN_PERSON, T + timedelta(days=1), "李操作")
    with session_scope(engine) as session:
        record_service(session, record, clock=clock, source="test")
    clock_at(clock, T + timedelta(days=4))
    report = await drain_outbox(engine, _smtp(sink), clock=clock, options=DrainOptions())
    assert report.sent == 1
    (after,) = _notices(engine, listing)
    assert after.state == "sent"
    assert (after.service_method, after.served_on) == ("in_person", T + timedelta(days=1))


def test_a_letter_that_was_never_written_cannot_be_served_or_printed(
    local: tuple[sa.Engine, dict[str, str]],
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    tmp_path: Path,
) -> None:
    engine, env = local
    clock = FrozenClock(datetime(2026, 11, 2, 10, 0))
    routing = make_routing(catalogue, calendar, clock)
    batch, (listing,) = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    _set_consent(engine, listing, False)
    run(engine, notify_proposed, batch, routing)
    (letter,) = _notices(engine, listing)
    with session_scope(engine) as session:  # as the renderer leaves a refused letter
        session.execute(
            sa.update(Notice)
            .where(col(Notice.id) == letter.id)
            .values(state="withheld", body_text="", body_html="")
        )
    record = ServiceRecord(letter.id or 0, ServiceMethod.POST, T, "李操作")
    with session_scope(engine) as session, pytest.raises(ServiceError, match="未生成正文"):
        record_service(session, record, clock=clock, source="test")
    out = tmp_path / "print"
    cli(tmp_path, "notice", "print", "--batch", str(batch), "--out", str(out), env=env)
    assert not (out / f"notice-{letter.id}.html").exists()
