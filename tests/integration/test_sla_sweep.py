"""The SLA sweep on SQLite and PostgreSQL with the real outbox: time travel across the National
Day holidays, reminders then escalations exactly once, and two sweeps at once.

The session database is shared with other tests, so assertions are about this test's actions:
notices are attributed to actions through the sweep's audit events, which name the digest's
step (part of the notice's idempotency key) and the actions it covers.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from sqlmodel import col
from typer.testing import CliRunner

from deployments.sla_commands import sla_app
from memoranda.loader import Catalogue
from notifications.sla_notices import sla_notice_enqueuer
from registry import db
from registry.audit import verify
from registry.calendar import WorkingCalendar
from registry.clock import BUSINESS_TZ, FrozenClock
from registry.db import session_scope
from registry.models import AuditEvent, Notice
from registry.reporting.sla import business_date_sql, sla_report
from registry.repository import add_batch, add_listings, add_subject
from registry.sla_sweep import (
    ACTION,
    SlaNoticeRequest,
    Sweep,
    SweepResult,
    sweep_overdue,
)
from tests.factories.routing import (
    DISPATCH_DAY,
    ISSUER,
    MEMORANDUM,
    acknowledge,
    at,
    dispatched_batch,
    set_actions,
)


def sweep_with(catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock) -> Sweep:
    return Sweep(
        catalogue=catalogue,
        calendar=calendar,
        clock=clock,
        actor="flow:sweep-sla",
        source="test",
        enqueue=sla_notice_enqueuer(catalogue=catalogue, issuer=ISSUER, clock=clock),
    )


def run_sweep(engine: sa.Engine, sweep: Sweep) -> SweepResult:
    with session_scope(engine) as session:
        return sweep_overdue(session, sweep)


def letters_naming(engine: sa.Engine, action_ids: list[int]) -> list[Notice]:
    """The queued reminders and escalations whose digest covers any of these actions."""
    mine = set(action_ids)
    with session_scope(engine) as session:
        events = session.execute(
            sa.select(col(AuditEvent.after)).where(
                col(AuditEvent.action).in_(["action.remind", "action.escalate"])
            )
        ).scalars()
        steps = {event["step"] for event in events if mine & set(event["action_ids"])}
        notices = session.execute(
            sa.select(Notice).where(col(Notice.kind).in_(["reminder", "escalation"]))
        ).scalars()
        return [n for n in notices if n.idempotency_key.split("|")[2] in steps]


def notices_per_action(engine: sa.Engine, action_ids: list[int]) -> dict[str, Counter[int]]:
    """Kind → how many queued notices name each of these actions."""
    mine = set(action_ids)
    with session_scope(engine) as session:
        events = session.execute(
            sa.select(col(AuditEvent.after)).where(
                col(AuditEvent.action).in_(["action.remind", "action.escalate"])
            )
        ).scalars()
        steps = {event["step"]: event["action_ids"] for event in events}
        notices = session.execute(
            sa.select(col(Notice.kind), col(Notice.idempotency_key)).where(
                col(Notice.kind).in_(["reminder", "escalation"])
            )
        ).all()
    counts: dict[str, Counter[int]] = {"reminder": Counter(), "escalation": Counter()}
    for kind, key in notices:
        step = key.split("|")[2]
        counts[kind].update(a for a in steps.get(step, []) if a in mine)
    return counts


def levels(engine: sa.Engine, action_ids: list[int]) -> dict[int, int]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(ACTION.c.id, ACTION.c.escalation_level).where(ACTION.c.id.in_(action_ids))
        )
        return {row[0]: row[1] for row in rows}


def test_reminders_then_escalations_once_each_across_the_national_day_holidays(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar
) -> None:
    actions = dispatched_batch(engine, catalogue, calendar)
    on_time, answered_late, silent = actions.values()
    everything = [*on_time, *answered_late, *silent]
    departments = len(catalogue.departments_of(MEMORANDUM))

    with engine.connect() as connection:
        dues = connection.execute(
            sa.select(ACTION.c.ack_due, ACTION.c.feedback_due).where(ACTION.c.id.in_(everything))
        ).all()
    # 5 WD from Monday 28 September skip 1–7 October (国庆节、中秋节) and land on Saturday
    # 10 October, a make-up working day (调休上班) in the State Council schedule for 2026.
    assert calendar.add_working_days(DISPATCH_DAY.date(), 5).due == date(2026, 10, 10)
    assert {due for due, _ in dues} == {date(2026, 10, 10)}
    assert {due for _, due in dues} == {date(2026, 10, 30)}

    clock = FrozenClock(at(date(2026, 10, 9)))
    sweep = sweep_with(catalogue, calendar, clock)
    acknowledge(engine, on_time, clock.now())

    clock.set(at(date(2026, 10, 10)))  # due today: not late yet
    assert levels(engine, everything) == dict.fromkeys(everything, 0)
    assert not set(run_sweep(engine, sweep).reminded) & set(everything)

    clock.set(at(date(2026, 10, 11)))  # Sunday: late, but letters wait for a working day
    sunday = run_sweep(engine, sweep)
    assert (sunday.working_day, sunday.notices) == (False, [])

    clock.set(at(date(2026, 10, 12)))
    first = run_sweep(engine, sweep)
    assert set(answered_late + silent) <= set(first.reminded)
    assert not set(on_time) & set(first.reminded)
    mine = [
        [a for a in n.actions if a.action_id in everything]
        for n in first.notices
        if {a.action_id for a in n.actions} & set(everything)
    ]
    assert len(mine) == departments  # one digest per department, both late listings in it
    assert {len(items) for items in mine} == {2}
    assert {(a.clock.value, a.due, a.overdue_wd) for items in mine for a in items} == {
        ("ack", date(2026, 10, 10), 1)
    }
    assert first.notices_queued == len(first.notices)
    assert run_sweep(engine, sweep).reminded == []  # the same day again: nothing

    acknowledge(engine, answered_late, at(date(2026, 10, 13)))
    for day in (date(2026, 10, 13), date(2026, 10, 16)):  # 4 WD after the reminder: not yet
        clock.set(at(day))
        assert not set(run_sweep(engine, sweep).escalated) & set(everything)

    clock.set(at(date(2026, 10, 19)))  # the 5th working day after the reminder
    escalation = run_sweep(engine, sweep)
    assert set(silent) <= set(escalation.escalated)
    assert not set(answered_late + on_time) & set(escalation.escalated)
    for day in (date(2026, 10, 19), date(2026, 10, 20), date(2026, 10, 23)):
        clock.set(at(day, 17))
        again = run_sweep(engine, sweep)
        assert not set(again.reminded + again.escalated) & set(everything)

    counts = notices_per_action(engine, everything)
    assert counts["reminder"] == Counter(answered_late + silent)
    assert counts["escalation"] == Counter(silent)
    assert levels(engine, everything) == {
        **dict.fromkeys(on_time, 0),
        **dict.fromkeys(answered_late, 1),
        **dict.fromkeys(silent, 2),
    }
    with session_scope(engine) as session:
        stamps = session.execute(
            sa.select(ACTION.c.reminded_at, ACTION.c.escalated_at).where(ACTION.c.id.in_(silent))
        ).all()
        assert {(r.date(), e.date()) for r, e in stamps} == {
            (date(2026, 10, 12), date(2026, 10, 19))
        }
        assert verify(session).ok
    letters = [n for n in letters_naming(engine, silent) if n.department_code == "ndrc"]
    assert sorted(n.kind for n in letters) == ["escalation", "reminder"]
    reminder = next(n for n in letters if n.kind == "reminder")
    assert reminder.recipient == catalogue.departments["ndrc"].mailbox
    assert "催办函" in reminder.subject
    assert "逾期环节：响应" in reminder.body_text
    assert "于2026年10月16日前办理完毕" in reminder.body_text  # before the 19th's escalation
    escalated = next(n for n in letters if n.kind == "escalation")
    assert escalated.recipient == catalogue.supervising_office.mailbox
    assert catalogue.departments["ndrc"].name in escalated.subject
    assert "2026年10月12日" in escalated.body_text  # when the department was reminded


def test_the_counter_follows_whichever_clock_is_late(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar
) -> None:
    """After a reminder about the acknowledgement, a missed feedback date is escalated N WD
    after that date, without a second reminder; a fresh action gets its feedback reminder."""
    actions = dispatched_batch(engine, catalogue, calendar, units=2)
    fresh, warned = actions.values()
    clock = FrozenClock(at(date(2026, 10, 12)))
    sweep = sweep_with(catalogue, calendar, clock)
    acknowledge(engine, fresh, at(date(2026, 10, 9)))
    assert set(warned) <= set(run_sweep(engine, sweep).reminded)
    acknowledge(engine, warned, at(date(2026, 10, 13)))

    clock.set(at(date(2026, 11, 2)))  # feedback was due on Friday 30 October
    feedback = run_sweep(engine, sweep)
    assert set(fresh) <= set(feedback.reminded)
    assert not set(warned) & set(feedback.reminded + feedback.escalated)
    late = [a for n in feedback.notices for a in n.actions if a.action_id in fresh]
    assert {(a.clock.value, a.due) for a in late} == {("feedback", date(2026, 10, 30))}

    clock.set(at(date(2026, 11, 5)))
    assert not set(warned) & set(run_sweep(engine, sweep).escalated)
    clock.set(at(date(2026, 11, 6)))  # 5 WD after the feedback due date
    assert set(warned) <= set(run_sweep(engine, sweep).escalated)

    counts = notices_per_action(engine, fresh + warned)
    assert counts["reminder"] == Counter(fresh + warned)
    assert counts["escalation"] == Counter(warned)


def test_a_lift_not_confirmed_is_reminded_and_answered_actions_never_are(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar
) -> None:
    actions = dispatched_batch(engine, catalogue, calendar, units=2)
    lifting, done = actions.values()
    set_actions(
        engine,
        lifting,
        state="lift_requested",
        lift_requested_at=at(date(2026, 10, 9)),
        lift_due=date(2026, 10, 16),
    )
    set_actions(engine, done, state="feedback_reported", acknowledged_at=at(date(2026, 10, 9)))
    clock = FrozenClock(at(date(2026, 10, 19)))
    result = run_sweep(engine, sweep_with(catalogue, calendar, clock))
    assert set(lifting) <= set(result.reminded)
    assert not set(done) & set(result.reminded)
    items = [a for n in result.notices for a in n.actions if a.action_id in lifting]
    assert {(a.clock.value, a.due, a.overdue_wd) for a in items} == {
        ("lift", date(2026, 10, 16), 1)
    }
    with session_scope(engine) as session:
        bodies = session.execute(
            sa.select(col(Notice.body_text)).where(
                col(Notice.kind) == "reminder", col(Notice.created_at) == clock.now()
            )
        ).scalars()
        assert any("逾期环节：解除确认" in body for body in bodies)


def test_a_failed_enqueue_leaves_every_level_where_it_was(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar
) -> None:
    actions = dispatched_batch(engine, catalogue, calendar, units=1)
    (mine,) = actions.values()
    clock = FrozenClock(at(date(2026, 10, 12)))

    def crash(_session: Any, _requests: Any) -> int:
        raise RuntimeError("进程在写通知时崩溃")

    broken = Sweep(**{**sweep_with(catalogue, calendar, clock).__dict__, "enqueue": crash})
    with pytest.raises(RuntimeError):
        run_sweep(engine, broken)
    assert levels(engine, mine) == dict.fromkeys(mine, 0)
    assert set(mine) <= set(run_sweep(engine, sweep_with(catalogue, calendar, clock)).reminded)
    assert notices_per_action(engine, mine)["reminder"] == Counter(mine)


def test_overdue_actions_of_a_department_not_in_the_catalogue_are_reported(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar
) -> None:
    actions = dispatched_batch(engine, catalogue, calendar, units=1)
    (mine,) = actions.values()
    set_actions(engine, mine[:1], department="abolished-office")
    try:
        clock = FrozenClock(at(date(2026, 10, 12)))
        result = run_sweep(engine, sweep_with(catalogue, calendar, clock))
        assert result.unknown_departments.get("abolished-office", 0) >= 1
        assert mine[0] not in result.reminded
        assert set(mine[1:]) <= set(result.reminded)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.delete(ACTION).where(ACTION.c.id == mine[0]))


def test_business_dates_are_computed_by_the_database(engine: sa.Engine) -> None:
    """Dispatched at 23:30 UTC is the next morning in Beijing, on either database."""
    (action,) = overdue_actions(
        engine, 1, dispatched=datetime(2026, 3, 1, 23, 30, tzinfo=UTC), departments=("ndrc",)
    )
    with session_scope(engine) as session:
        dialect = session.get_bind().dialect.name
        found = session.execute(
            sa.select(business_date_sql(ACTION.c.dispatched_at, dialect)).where(
                ACTION.c.id == action
            )
        ).scalar_one()
    assert str(found) == "2026-03-02"


# --- two sweeps at once --------------------------------------------------------------------


def overdue_actions(
    engine: sa.Engine,
    listings: int,
    *,
    dispatched: datetime,
    departments: tuple[str, ...] = ("ndrc", "pbc", "mem"),
) -> list[int]:
    """`listings` × `departments` actions dispatched at `dispatched`, ack due 5 days later
    (Core inserts: the concurrency test needs a few hundred rows, not the routing path)."""
    tag = uuid.uuid4().hex[:8]
    with session_scope(engine) as session:
        batch = add_batch(
            session,
            reference=f"SLA-{tag}",
            list_type="black",
            rule_set="mem-2023-serious",
            source_kind="test",
            proposed_by="测试",
            catalogue_hash="0" * 64,
            created_at=dispatched,
        )
        subject = add_subject(
            session, kind="unit", name=f"测试单位{tag}", uscc=None, created_at=dispatched
        )
        listing_ids = add_listings(
            session,
            rows=[
                {
                    "subject_id": subject,
                    "batch_id": batch,
                    "list_type": "black",
                    "rule_set": "mem-2023-serious",
                    "grounds": ["A1"],
                    "state": "in_force",
                    "proposed_at": dispatched,
                    "proposed_by": "测试",
                    "catalogue_hash": "0" * 64,
                    "updated_at": dispatched,
                }
                for _ in range(listings)
            ],
        )
        rows = [
            {
                "listing_id": listing,
                "department": department,
                "memorandum": MEMORANDUM,
                "measures": [],
                "state": "dispatched",
                "escalation_level": 0,
                "dispatched_at": dispatched,
                "ack_due": dispatched.date() + timedelta(days=5),
                "feedback_due": dispatched.date() + timedelta(days=40),
            }
            for listing in listing_ids
            for department in departments
        ]
        inserted = session.execute(
            sa.insert(ACTION).returning(ACTION.c.id, sort_by_parameter_order=True), rows
        )
        return list(inserted.scalars())


def test_two_sweeps_at_once_send_each_reminder_once(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar
) -> None:
    """Sweep A takes the overdue actions and holds them (slow enqueue) while sweep B runs.

    On PostgreSQL B's candidates skip A's locked rows (`FOR UPDATE SKIP LOCKED`), so B does
    not wait for A and finds nothing to remind; on SQLite B waits for A's write lock and then
    finds every guard already moved. Either way each action is in exactly one reminder.
    """
    mine = overdue_actions(engine, 100, dispatched=datetime(2026, 3, 2, 9, 0, tzinfo=BUSINESS_TZ))
    clock = FrozenClock(at(date(2026, 3, 10)))
    a_holds, finished = threading.Event(), {}
    plain = sla_notice_enqueuer(catalogue=catalogue, issuer=ISSUER, clock=clock)

    def slow(session: Any, requests: list[SlaNoticeRequest]) -> int:
        a_holds.set()
        time.sleep(2.0)
        queued = plain(session, requests)
        finished["a_enqueued"] = time.monotonic()  # A still holds its lock until it commits
        return queued

    base = sweep_with(catalogue, calendar, clock)
    results: dict[str, SweepResult] = {}
    errors: list[BaseException] = []

    def run(name: str, sweep: Sweep) -> None:
        try:
            if name == "b":
                assert a_holds.wait(30), "sweep A never reached its notices"
            results[name] = run_sweep(engine, sweep)
            finished[name] = time.monotonic()
        except BaseException as exc:  # surfaced below: a thread cannot fail the test itself
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=("a", Sweep(**{**base.__dict__, "enqueue": slow}))),
        threading.Thread(target=run, args=("b", base)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []

    assert set(mine) <= set(results["a"].reminded)
    assert not set(results["a"].reminded) & set(results["b"].reminded)
    assert notices_per_action(engine, mine)["reminder"] == Counter(mine)
    if engine.dialect.name == "postgresql":
        assert finished["b"] < finished["a"], "B waited for A's locks instead of skipping them"
    else:
        # B could not write before A released its lock. (Compared with the end of A's enqueue,
        # not with A's return: once A commits, B may finish before A's thread runs again.)
        assert finished["b"] > finished["a_enqueued"]


# --- the report ----------------------------------------------------------------------------


def test_the_report_and_its_command_on_a_fresh_database(
    tmp_path: Path,
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"sqlite:///{tmp_path / 'report.db'}"
    db.upgrade(url)
    fresh = db.make_engine(url)
    actions = dispatched_batch(fresh, catalogue, calendar, units=4)
    quick, slow, reminded, _silent = actions.values()
    acknowledge(fresh, quick, at(date(2026, 9, 29)))  # 1 WD
    acknowledge(fresh, slow, at(date(2026, 10, 9)))  # 9-29, 9-30, 10-8, 10-9: 4 WD
    clock = FrozenClock(at(date(2026, 10, 12)))
    run_sweep(fresh, sweep_with(catalogue, calendar, clock))
    acknowledge(fresh, reminded, at(date(2026, 10, 13)))  # … 10-10, 10-12, 10-13: 7 WD
    clock.set(at(date(2026, 10, 19)))
    run_sweep(fresh, sweep_with(catalogue, calendar, clock))

    with session_scope(fresh) as session:
        lines = sla_report(session, catalogue=catalogue, calendar=calendar, today=clock.today())
    fresh.dispose()
    departments = catalogue.departments_of(MEMORANDUM)
    assert [line.department for line in lines] == [
        code for code in catalogue.departments if code in departments
    ]
    ndrc = next(line for line in lines if line.department == "ndrc")
    assert (ndrc.actions, ndrc.open, ndrc.overdue, ndrc.on_time) == (4, 4, 1, 3)
    assert (ndrc.reminded, ndrc.escalated, ndrc.acknowledged) == (2, 1, 3)
    assert ndrc.median_ack_wd == 4  # of 1, 4 and 7 working days
    assert ndrc.name == catalogue.departments["ndrc"].short_name

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JOINTCREDIT_DATABASE_URL", url)
    monkeypatch.setenv("JOINTCREDIT_NOW", clock.now().isoformat())
    app = typer.Typer()
    app.add_typer(sla_app, name="sla")
    runner = CliRunner()

    table = runner.invoke(app, ["sla", "report"])
    assert table.exit_code == 0, table.output
    assert "各部门办理时限统计" in table.output
    assert "合计" in table.output

    as_csv = runner.invoke(app, ["sla", "report", "--format", "csv"])
    assert as_csv.exit_code == 0, as_csv.output
    header, *rows = as_csv.output.splitlines()
    assert header.startswith("部门代码（department）,部门（name）,事项总数（actions）")
    assert "ndrc,国家发展改革委,4,4,3,1,2,1,3,4.0" in rows

    as_json = runner.invoke(app, ["sla", "report", "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert '"median_ack_wd": 4.0' in as_json.output

    wrong = runner.invoke(app, ["sla", "report", "--format", "xlsx"])
    assert wrong.exit_code != 0
