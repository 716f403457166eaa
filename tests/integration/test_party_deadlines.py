"""The party's own deadlines are swept (issue 14 item 4): an objection or a removal application
still open past its answer date gets one reminder to our office, then — `escalate_after_wd`
working days later — one escalation to the supervising office, each audited and linked to the
listing. The session database is shared, so assertions are about this test's cases."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlmodel import col

from memoranda.loader import Catalogue
from notifications.party_deadline_notices import party_notice_enqueuer
from notifications.sla_notices import sla_notice_enqueuer
from registry.audit import verify
from registry.calendar import WorkingCalendar
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.models import AuditEvent, Notice, NoticeListing, Objection, RemovalApplication
from registry.party_deadlines import PartySweepResult, sweep_party_deadlines
from registry.removal import apply_for_removal, decide_objection, file_objection
from registry.reporting.party_cases import party_case_figures
from registry.routing import Routing
from registry.sla_sweep import Sweep
from tests.factories.listings import REVIEWER, clock_at, in_force, run
from tests.factories.routing import ISSUER


def sweep(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> PartySweepResult:
    swept = Sweep(
        catalogue=catalogue,
        calendar=calendar,
        clock=clock,
        actor="flow:sweep-sla",
        source="test",
        enqueue=sla_notice_enqueuer(catalogue=catalogue, issuer=ISSUER, clock=clock),
    )
    enqueue = party_notice_enqueuer(catalogue=catalogue, issuer=ISSUER, clock=clock)
    with session_scope(engine) as session:
        return sweep_party_deadlines(session, swept, enqueue)


def letters(engine: sa.Engine, listing: int) -> list[tuple[str, str, str]]:
    with session_scope(engine) as session:
        return [
            (str(kind), str(recipient), str(body))
            for kind, recipient, body in session.execute(
                sa.select(col(Notice.kind), col(Notice.recipient), col(Notice.body_text))
                .join(NoticeListing, col(NoticeListing.notice_id) == col(Notice.id))
                .where(
                    col(NoticeListing.listing_id) == listing,
                    col(Notice.kind).like("party_deadline_%"),
                )
                .order_by(col(Notice.id))
            )
        ]


def test_an_overdue_objection_and_application_are_reminded_then_escalated_once_each(
    engine: sa.Engine,
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    clock: FrozenClock,
    routing: Routing,
) -> None:
    _b, (objected,) = in_force(engine, catalogue, clock, routing, published=date(2026, 10, 9))
    _c, (applied,) = in_force(engine, catalogue, clock, routing, published=date(2025, 6, 2))
    clock_at(clock, date(2026, 11, 2))
    objection = run(engine, file_objection, objected, filed_by="当事人", reason="主体有误",
                    routing=routing)  # fmt: skip
    application = run(engine, apply_for_removal, applied, evidence="已整改",
                      commitment="公开承诺守法经营", routing=routing)  # fmt: skip
    with session_scope(engine) as session:
        answer_due = session.get(Objection, objection).answer_due  # type: ignore[union-attr]
        decide_due = session.get(RemovalApplication, application.id).decide_due  # type: ignore[union-attr]
    assert (answer_due, decide_due) == (date(2026, 11, 23), date(2026, 11, 30))

    clock_at(clock, date(2026, 11, 23))  # due today: not yet overdue
    assert ("objection", objection) not in sweep(engine, catalogue, calendar, clock).reminded

    clock_at(clock, date(2026, 11, 24))
    first = sweep(engine, catalogue, calendar, clock)
    again = sweep(engine, catalogue, calendar, clock)
    assert ("objection", objection) in first.reminded
    assert ("removal_application", application.id) not in first.reminded
    assert ("objection", objection) not in again.reminded
    (reminder,) = letters(engine, objected)
    assert reminder[0] == "party_deadline_reminder"
    assert reminder[1] == ISSUER.email  # the authority's own office
    assert f"异议第{objection}号" in reminder[2]

    after = catalogue.time_limits.escalate_after_wd
    escalation_day = calendar.add_working_days(date(2026, 11, 24), after).due
    clock_at(clock, calendar.add_working_days(date(2026, 11, 24), after - 1).due)
    assert ("objection", objection) not in sweep(engine, catalogue, calendar, clock).escalated
    clock_at(clock, escalation_day)
    escalated = sweep(engine, catalogue, calendar, clock)
    assert ("objection", objection) in escalated.escalated
    assert ("removal_application", application.id) in escalated.reminded
    assert ("objection", objection) not in sweep(engine, catalogue, calendar, clock).escalated
    kinds = [kind for kind, _, _ in letters(engine, objected)]
    assert kinds == ["party_deadline_reminder", "party_deadline_escalation"]
    assert letters(engine, objected)[1][1] == catalogue.supervising_office.mailbox
    assert [kind for kind, _, _ in letters(engine, applied)] == ["party_deadline_reminder"]

    with session_scope(engine) as session:
        audited = session.execute(
            sa.select(col(AuditEvent.action)).where(
                col(AuditEvent.entity_type) == "objection",
                col(AuditEvent.entity_id) == str(objection),
            )
        ).scalars()
        assert sorted(audited) == ["objection.escalate", "objection.file", "objection.remind"]
        assert verify(session).ok


def test_the_sla_figures_count_cases_received_answered_on_time_late_and_open_overdue(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    _b, (first, second, third) = in_force(
        engine, catalogue, clock, routing, published=date(2026, 10, 9), units=3
    )
    clock_at(clock, date(2026, 11, 2))
    clock.advance(timedelta(minutes=17))  # the database is shared: count only this minute's
    since = clock.now()
    ids = [
        run(engine, file_objection, listing, filed_by="当事人", reason="有误", routing=routing)
        for listing in (first, second, third)
    ]  # all due 2026-11-23
    until = clock.now() + timedelta(seconds=1)
    clock_at(clock, date(2026, 11, 23))  # the due date itself is on time
    run(engine, decide_objection, ids[0], upheld=False, reviewer=REVIEWER, reason="证据充分",
        routing=routing)  # fmt: skip
    clock_at(clock, date(2026, 11, 24))
    run(engine, decide_objection, ids[1], upheld=False, reviewer=REVIEWER, reason="证据充分",
        routing=routing)  # fmt: skip
    clock_at(clock, date(2026, 11, 25))
    with session_scope(engine) as session:
        figures = party_case_figures(session, today=clock.today(), since=since, until=until)
    objections = next(f for f in figures if f.case == "objection")
    assert (
        objections.received,
        objections.answered_on_time,
        objections.answered_late,
        objections.open_overdue,
    ) == (3, 1, 1, 1)
