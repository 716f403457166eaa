"""The operator inbox view (`registry.views.inbox`) on a database of its own: parked notices,
contacts to correct (a refused mailbox names who holds it), overdue objections and removal
applications, and the waiting forms passed in from Prefect with their batch."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from memoranda.loader import Catalogue
from registry import db
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.models import ContactFlag, Notice, Objection, RemovalApplication, Subject
from registry.views.inbox import WaitingForm, operator_inbox
from tests.factories.listings import proposed_batch
from tests.factories.outbox import queue_notices
from tests.integration.cli_runner import run, run_json


def test_the_inbox_lists_what_waits_for_a_person(
    local: tuple[sa.Engine, dict[str, str]], catalogue: Catalogue, clock: FrozenClock
) -> None:
    engine, _ = local
    batch, listings = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    today = clock.today()
    refused, bad, fine = queue_notices(engine, clock, 3)
    with session_scope(engine) as session:
        subject_id = session.execute(sa.select(Subject.id)).scalar_one()
        session.execute(
            sa.update(Subject).values(contact_email="Refused@Example.org")  # type: ignore[arg-type]
        )
        session.execute(
            sa.update(Notice)
            .where(Notice.id == refused)  # type: ignore[arg-type]
            .values(state="failed", smtp_reply="550 no such user", recipient="refused@example.org")
        )
        session.execute(
            sa.update(Notice)
            .where(Notice.id == bad)  # type: ignore[arg-type]
            .values(state="bad_address", recipient="x@example.org。", last_error="末尾多了“。”")
        )
        session.add(
            ContactFlag(
                address="refused@example.org",
                reason="550 no such user",
                flagged_at=clock.now(),
                failures=2,
            )
        )
        session.add(
            Objection(
                listing_id=listings[0],
                filed_at=clock.now() - timedelta(days=30),
                filed_by="当事人",
                reason="主体有误",
                answer_due=today - timedelta(days=3),
            )
        )
        session.add(
            Objection(
                listing_id=listings[0],
                filed_at=clock.now(),
                filed_by="当事人",
                reason="未到期",
                answer_due=today + timedelta(days=3),
            )
        )
        session.add(
            RemovalApplication(
                listing_id=listings[0],
                applied_at=clock.now() - timedelta(days=20),
                evidence="已整改",
                decide_due=today - timedelta(days=1),
                reminded_at=clock.now(),
            )
        )
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    forms = [
        WaitingForm(
            "r1",
            f"batch-{batch}-确认",
            "route-batch",
            "http://ui/runs/flow-run/r1",
            now - timedelta(hours=5, minutes=59),
            batch_id=batch,
        )
    ]

    with session_scope(engine) as session:
        inbox = operator_inbox(session, today=today, now=now, forms=forms)

    (form,) = inbox.forms or []
    assert (form.run_name, form.url, form.hours) == (f"batch-{batch}-确认", forms[0].url, 5)
    assert form.waits_for.startswith("批次 TEST-")
    assert "列入确认" in form.waits_for
    assert [(p.notice_id, p.state) for p in inbox.parked] == [
        (refused, "永久失败"),
        (bad, "地址无效待更正"),
    ]
    assert fine not in [p.notice_id for p in inbox.parked]
    assert inbox.parked_total == 2
    contacts = {c.address: c for c in inbox.contacts}
    assert set(contacts) == {"refused@example.org", "x@example.org。"}
    assert contacts["refused@example.org"].problem == "被拒收 2 次：550 no such user"
    assert contacts["refused@example.org"].holders[0].startswith(f"主体 {subject_id} ")
    assert f"--subject {subject_id} " in contacts["refused@example.org"].fix
    assert [(o.kind, o.level) for o in inbox.overdue] == [
        ("异议", "未催办"),
        ("移出申请", "已催办"),
    ]
    assert inbox.overdue_total == 2


def test_without_prefect_the_forms_are_unknown_not_empty(
    local: tuple[sa.Engine, dict[str, str]], clock: FrozenClock
) -> None:
    engine, _ = local
    with session_scope(engine) as session:
        inbox = operator_inbox(session, today=date(2026, 11, 27), now=clock.now(), forms=None)
    assert inbox.forms is None
    assert (inbox.parked, inbox.contacts, inbox.overdue) == ([], [], [])


def test_jointcredit_inbox_prints_the_view_and_says_when_forms_cannot_be_listed(
    tmp_path: Path, clock: FrozenClock
) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    engine = db.make_engine(f"sqlite:///{tmp_path / 'var' / 'jointcredit.db'}")
    (parked,) = queue_notices(engine, clock, 1)
    with session_scope(engine) as session:
        session.execute(
            sa.update(Notice).where(Notice.id == parked).values(state="dead")  # type: ignore[arg-type]
        )
    engine.dispose()

    result = run(tmp_path, "inbox", env={"PREFECT_API_URL": ""})
    data = run_json(tmp_path, "inbox", env={"PREFECT_API_URL": ""})

    assert result.returncode == 0, result.stderr
    assert "无法列出待填写的表单" in result.stderr
    assert "搁置的通知（1）" in result.stdout
    assert f"通知 {parked} 推送函" in result.stdout
    assert data["forms"] is None
    assert [p["notice_id"] for p in data["parked"]] == [parked]
