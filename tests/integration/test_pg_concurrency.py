"""Four workers sweep and deliver at once on PostgreSQL for a minute (issue 7, part 3).

The deployment beyond one machine (DESIGN.md §4) runs `sweep-sla` and `deliver-notices` on N
workers against one PostgreSQL database; their only coordination is in the database: guarded
UPDATEs with `FOR UPDATE SKIP LOCKED` for the SLA levels and the outbox claims, the audit head
row lock for the hash chain, unique idempotency keys for the letters. This test puts that to
work: a 10,000-listing backlog (70,000 department actions, `tests.factories.bulk.seed_backlog`) and
1,000 queued notices, then `WORKERS` separate processes, each looping for `DURATION_S`:

    sweep_overdue (one transaction)  →  drain_outbox (at most `DRAIN.limit` notices)

against one real SMTP sink that answers slowly, so sends from different workers overlap.

Time: every worker reads one shared simulated clock, `SIM_START` plus one day per `SIM_DAY_S`
seconds of wall time since a common start, so the minute is a month of sweeps; each new
day makes new reminders, escalations and feedback reminders due at once for all workers —
the race this test is about (`overlapping_sweeps` counts the pairs of sweeps of different
workers that ran at the same time). Delivery reads the same simulated instant, so its lease is
scaled to match (`LEASE`): a lease is a promise in real time, and at ~43,000× a five-minute
lease would expire between claim and send — a takeover and a duplicate this test would rightly
fail on.

Afterwards: each action reminded at most once and escalated at most once (the audit events name
the actions; the stamps on the rows agree), each digest queued once, each notice sent once
(distinct Message-IDs in the sink == notices sent, none received twice), no worker failed, no
deadlock, no session left idle in transaction, no lock of a dead backend, the audit chain
intact, and a final sweep at the last working instant finds nothing the workers skipped.

The test owns a schema (`SCHEMA`) in the test database rather than `public`: the session's
other tests sweep and drain whatever is in `public`, and 70,000 actions there would change what
they find. `test_the_first_two_audit_events_at_once_both_join_the_chain` checks a race this
test found in `registry.audit.append_events` (fixed: the first tip is inserted with ON CONFLICT
DO NOTHING, then locked). The seed writes the batch's audit event first, as intake does.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import Session, col

from memoranda.loader import Catalogue, load_catalogue
from notifications.delivery import DrainOptions, drain_outbox
from notifications.outbox import RetryPolicy
from notifications.sink import message_id_counts, running_sink
from notifications.sla_notices import sla_notice_enqueuer
from notifications.smtp import SmtpConfig
from registry import db
from registry.audit import ChainReport, EventDraft, append_events, verify
from registry.calendar import WorkingCalendar
from registry.clock import BUSINESS_TZ, FrozenClock
from registry.models import AuditEvent, Notice, NoticeAttempt, NoticeState
from registry.sla_sweep import ACTION, Sweep, sweep_overdue
from tests.conftest import CATALOGUE_DIR, PG_ENV, REPO
from tests.factories.bulk import Situation, seed_backlog
from tests.factories.routing import ISSUER
from tests.smtp_scripts import ScriptedSink

DURATION_S = 60.0  # issue 7: "for a minute"
WORKERS = 4
LISTINGS = 10_000
QUEUED_NOTICES = 1_000
SIM_START = datetime(2026, 11, 2, 9, 0, tzinfo=BUSINESS_TZ)  # a Monday, a working day
SIM_DAY_S = 2.0  # one simulated day per 2 s: the minute covers a month of sweeps
STARTUP_TIMEOUT_S = 120.0  # to import, load the catalogue and connect, on a busy machine
IDLE_PAUSE_S = 0.05  # after a loop that found nothing to do
SINK_DELAY_S = 0.005  # per message, so four deliverers' SMTP sessions overlap
LEASE = timedelta(days=365)  # see the module docstring: scaled like the clock
DRAIN = DrainOptions(policy=RetryPolicy(), lease=LEASE, batch_size=10, limit=20)
SCHEMA = "jointcredit_concurrency"
APPLICATION = "jointcredit-concurrency"
SOURCE = "test:pg-concurrency"
WORKER_MODULE = "tests.integration.test_pg_concurrency"

pytestmark = pytest.mark.postgres


def simulated(elapsed_s: float) -> datetime:
    return SIM_START + timedelta(days=elapsed_s / SIM_DAY_S)


# --- the worker (a separate process) --------------------------------------------------------


class Worker:
    """One deployment worker: its own engine and clock; the sweep and the drain of production."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.name = f"worker-{config['worker']}"
        self.duration = float(config["duration"])
        self.engine = db.make_engine(
            config["url"], connect_args={"application_name": f"{APPLICATION}-{self.name}"}
        )
        catalogue = load_catalogue(CATALOGUE_DIR)
        calendar = WorkingCalendar(catalogue.calendar_years, CATALOGUE_DIR / "calendar")
        self.clock = FrozenClock(SIM_START)
        self.sweep = Sweep(
            catalogue=catalogue,
            calendar=calendar,
            clock=self.clock,
            actor=f"flow:sweep-sla/{self.name}",
            source=SOURCE,
            enqueue=sla_notice_enqueuer(catalogue=catalogue, issuer=ISSUER, clock=self.clock),
        )
        self.smtp = SmtpConfig(host="127.0.0.1", port=config["smtp_port"], timeout=30)
        with self.engine.connect() as connection:  # connected before the start, not after
            connection.execute(sa.select(sa.func.count()).select_from(ACTION))
        self.report: dict[str, Any] = {
            "worker": self.name,
            "sweeps": 0,
            "working_day_sweeps": 0,
            "letters_queued": 0,
            "reminded": [],
            "escalated": [],
            "sweep_intervals": [],  # [start, end, actions moved] of each working-day sweep
            "last_working_instant": None,
            "claimed": 0,
            "sent": 0,
            "retry": 0,
            "lease_lost": 0,
            "sweep_s": 0.0,
            "drain_s": 0.0,
        }

    async def run(self, start: float) -> dict[str, Any]:
        """Loop sweep → drain until `duration` has passed since `start` (wall clock)."""
        report = self.report
        while (elapsed := time.time() - start) < self.duration:
            self.clock.set(simulated(elapsed))
            began = time.time()
            with db.session_scope(self.engine) as session:
                result = sweep_overdue(session, self.sweep)
            ended = time.time()
            report["sweep_s"] += ended - began
            report["sweeps"] += 1
            moved = len(result.reminded) + len(result.escalated)
            if result.working_day:
                report["working_day_sweeps"] += 1
                report["last_working_instant"] = self.clock.now().isoformat()
                report["sweep_intervals"].append([began, ended, moved])
            report["reminded"] += result.reminded
            report["escalated"] += result.escalated
            report["letters_queued"] += result.notices_queued
            drained = await drain_outbox(
                self.engine,
                self.smtp,
                clock=FrozenClock(self.clock.now()),
                options=DRAIN,
                deliverer=self.name,
            )
            report["drain_s"] += time.time() - ended
            for key in ("claimed", "sent", "retry", "lease_lost"):
                report[key] += getattr(drained, key)
            if not moved and not drained.claimed:
                await asyncio.sleep(IDLE_PAUSE_S)  # a schedule, not a busy loop
        self.engine.dispose()
        return report


def main(argv: list[str]) -> None:
    """`CONFIG` (JSON) as the only argument; prints the report as one line of JSON.

    Ready (imported, catalogue loaded, connected) is signalled by creating `ready_file`; the
    common start time, in wall-clock seconds, then arrives on stdin, so all workers begin
    together however long each took to start on a busy machine.
    """
    os.environ.setdefault("DO_NOT_TRACK", "1")
    config = json.loads(argv[0])
    worker = Worker(config)
    Path(config["ready_file"]).touch()
    start = float(sys.stdin.readline())
    print(json.dumps(asyncio.run(worker.run(start))))


def overlapping_sweeps(reports: list[dict[str, Any]]) -> tuple[int, int]:
    """Pairs of working-day sweeps of different workers that ran at the same time; and of
    those, the pairs in which both moved actions (both won part of the same day's work)."""
    spans = [(r["worker"], *span) for r in reports for span in r["sweep_intervals"]]
    both = moving = 0
    for i, (worker_a, start_a, end_a, moved_a) in enumerate(spans):
        for worker_b, start_b, end_b, moved_b in spans[i + 1 :]:
            if worker_a != worker_b and start_a < end_b and start_b < end_a:
                both += 1
                moving += bool(moved_a and moved_b)
    return both, moving


# --- the test -------------------------------------------------------------------------------


@contextmanager
def own_schema(schema: str) -> Iterator[str]:
    """The test database's URL with `search_path` set to a fresh schema, dropped afterwards."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} 未设置，跳过 PostgreSQL 并发测试（set {PG_ENV} to run it）")
    if make_url(url).get_backend_name() != "postgresql":
        pytest.skip(f"{PG_ENV} 不是 PostgreSQL，跳过并发测试（SKIP LOCKED, pg_locks needed）")
    admin = db.make_engine(url)
    with admin.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    own = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    own_url = own.render_as_string(hide_password=False)
    try:
        db.upgrade(own_url)
        yield own_url
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with own_schema(SCHEMA) as url:
        yield url


def _rows(engine: sa.Engine, query: str) -> list[sa.Row[Any]]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text(query)).all())


def _deadlocks(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        return int(
            connection.execute(
                sa.text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            ).scalar_one()
        )


def _sessions_of_ours(engine: sa.Engine) -> list[sa.Row[Any]]:
    return _rows(
        engine,
        "SELECT pid, application_name, state FROM pg_stat_activity "
        f"WHERE application_name LIKE '{APPLICATION}%' AND pid <> pg_backend_pid()",
    )


def test_four_workers_sweep_and_deliver_for_a_minute_without_a_double(
    pg_url: str, catalogue: Catalogue, calendar: WorkingCalendar, tmp_path: Path
) -> None:
    engine = db.make_engine(pg_url, connect_args={"application_name": f"{APPLICATION}-test"})
    seeding = time.perf_counter()
    backlog = seed_backlog(
        engine,
        catalogue,
        calendar,
        listings=LISTINGS,
        first_day=SIM_START.date(),
        queued_notices=QUEUED_NOTICES,
    )
    seed_s = time.perf_counter() - seeding
    assert (backlog.listings, len(backlog.notice_ids)) == (LISTINGS, QUEUED_NOTICES)
    deadlocks_before = _deadlocks(engine)
    mail_dir = tmp_path / "mail"

    with running_sink(mail_dir, handler=ScriptedSink(mail_dir, delay=SINK_DELAY_S)) as sink:
        reports = run_workers(pg_url, sink.port, tmp_path)
        assert_nothing_left_in_the_server(engine, deadlocks_before)

        # SKIP LOCKED skipped nothing for good: a last sweep at the last working instant any
        # worker swept finds no action the workers left behind.
        last = max(r["last_working_instant"] for r in reports if r["last_working_instant"])
        clock = FrozenClock(datetime.fromisoformat(last))
        sweep = Sweep(
            catalogue=catalogue,
            calendar=calendar,
            clock=clock,
            actor="flow:sweep-sla/test",
            source=SOURCE,
            enqueue=sla_notice_enqueuer(catalogue=catalogue, issuer=ISSUER, clock=clock),
        )
        with db.session_scope(engine) as session:
            final_sweep = sweep_overdue(session, sweep)
        assert (final_sweep.reminded, final_sweep.escalated) == ([], [])

        # What the workers' last loops queued is delivered, once, by one last drain.
        smtp = SmtpConfig(host=sink.host, port=sink.port, timeout=30)
        final_drain = asyncio.run(
            drain_outbox(engine, smtp, clock=clock, options=DrainOptions(lease=LEASE))
        )
    assert final_drain.retry == final_drain.failed == final_drain.lease_lost == 0

    figures = _check_the_outcome(engine, reports, backlog.by_situation, mail_dir)
    assert sum(r["sent"] for r in reports) + final_drain.sent == figures["notices"]
    figures.update(
        seed_s=round(seed_s, 1),
        actions=backlog.actions,
        notices_sent_by_final_drain=final_drain.sent,
        simulated_days=(datetime.fromisoformat(last).date() - SIM_START.date()).days + 1,
    )
    print(json.dumps(figures, ensure_ascii=False))  # the figures docs/reliability.md quotes
    engine.dispose()


def run_workers(url: str, smtp_port: int, directory: Path) -> list[dict[str, Any]]:
    """Start `WORKERS` processes, release them together once all are ready, collect their
    reports; a worker that fails or hangs (an undetected deadlock) fails the test."""
    processes: list[subprocess.Popen[str]] = []
    files = [
        (directory / f"worker-{n}.out", directory / f"worker-{n}.err", directory / f"w{n}.ready")
        for n in range(WORKERS)
    ]
    try:
        for n, (out, err, ready) in enumerate(files):
            config = {
                "worker": n,
                "url": url,
                "smtp_port": smtp_port,
                "duration": DURATION_S,
                "ready_file": str(ready),
            }
            with out.open("w") as stdout, err.open("w") as stderr:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", WORKER_MODULE, json.dumps(config)],
                        cwd=REPO,
                        env={**os.environ, "DO_NOT_TRACK": "1"},
                        stdin=subprocess.PIPE,
                        stdout=stdout,
                        stderr=stderr,
                        text=True,
                    )
                )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not all(ready.exists() for _, _, ready in files):
            assert all(p.poll() is None for p in processes), "a worker died starting up"
            assert time.monotonic() < deadline, "the workers did not start in time"
            time.sleep(0.1)
        start = time.time() + 0.5
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(f"{start}\n")
            process.stdin.close()
        for process in processes:
            process.wait(timeout=DURATION_S + 180)
    finally:
        for process in processes:
            if process.poll() is None:  # hung: a deadlock the database did not detect
                process.kill()
                process.wait()
    errors = [err.read_text() for _, err, _ in files]
    assert [p.returncode for p in processes] == [0] * WORKERS, errors
    assert not any("Traceback" in text or "deadlock" in text.lower() for text in errors), errors
    return [json.loads(out.read_text().strip().splitlines()[-1]) for out, _, _ in files]


def assert_nothing_left_in_the_server(engine: sa.Engine, deadlocks_before: int) -> None:
    """After the workers exit: none of their sessions lingers (idle in transaction or at all),
    no lock belongs to a backend that is gone, no lock is waited for, no deadlock was
    detected (PostgreSQL counts them per database, `pg_stat_database.deadlocks`)."""
    for _ in range(50):  # a backend ends a moment after its client process
        if not _sessions_of_ours(engine):
            break
        time.sleep(0.2)
    assert _sessions_of_ours(engine) == []
    idle_in_transaction = (
        "SELECT pid, application_name FROM pg_stat_activity "
        "WHERE datname = current_database() AND state LIKE 'idle in transaction%' "
        "AND pid <> pg_backend_pid()"
    )
    assert _rows(engine, idle_in_transaction) == []
    orphaned = (
        "SELECT l.pid, l.locktype, l.mode FROM pg_locks l "
        "LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.pid IS NOT NULL AND a.pid IS NULL"
    )
    assert _rows(engine, orphaned) == []
    assert _rows(engine, "SELECT pid, locktype, mode FROM pg_locks WHERE NOT granted") == []
    assert _deadlocks(engine) == deadlocks_before


def _check_the_outcome(
    engine: sa.Engine, reports: list[dict[str, Any]], seeded: dict[str, int], mail_dir: Path
) -> dict[str, Any]:
    with db.session_scope(engine) as session:
        events = session.execute(
            sa.select(col(AuditEvent.action), col(AuditEvent.at), col(AuditEvent.after)).where(
                col(AuditEvent.action).in_(["action.remind", "action.escalate"])
            )
        ).all()
        actions = session.execute(
            sa.select(
                ACTION.c.id, ACTION.c.escalation_level, ACTION.c.reminded_at, ACTION.c.escalated_at
            )
        ).all()
        notices = list(session.execute(sa.select(Notice)).scalars())
        attempt_count = Counter(session.execute(sa.select(col(NoticeAttempt.notice_id))).scalars())
        chain = verify(session)
    assert chain.ok, chain

    # Each action in at most one reminder and one escalation, as the audit trail tells it …
    named: dict[str, Counter[int]] = {"action.remind": Counter(), "action.escalate": Counter()}
    stamped: dict[tuple[str, int], datetime] = {}
    for action, at, after in events:
        named[action].update(after["action_ids"])
        for action_id in after["action_ids"]:
            stamped[action, action_id] = at
    reminded, escalated = named["action.remind"], named["action.escalate"]
    assert reminded
    assert escalated
    assert max(reminded.values()) == 1
    assert max(escalated.values()) == 1
    # … as the workers' own RETURNING tells it (disjoint between workers) …
    by_workers = {kind: [i for r in reports for i in r[kind]] for kind in ("reminded", "escalated")}
    assert Counter(by_workers["reminded"]) == reminded
    assert Counter(by_workers["escalated"]) == escalated
    # … and as the rows tell it: each stamp is the instant of the one event naming the action.
    seeded_at_level_1 = 0
    for action_id, level, reminded_at, escalated_at in actions:
        if action_id in reminded:
            assert reminded_at == stamped["action.remind", action_id]
        elif level >= 1:  # reminded before the test began (the REMINDED situation)
            assert reminded_at < SIM_START
            seeded_at_level_1 += 1
        if action_id in escalated:
            assert level == 2
            assert escalated_at == stamped["action.escalate", action_id]
            assert escalated_at > reminded_at
        else:
            assert level <= 1
            assert escalated_at is None
        assert (level == 0) == (reminded_at is None)
    assert seeded_at_level_1 == seeded[Situation.REMINDED.value]

    # Every digest queued exactly once, and it is the only notice with its key.
    keys = Counter(n.idempotency_key for n in notices)
    assert max(keys.values()) == 1
    assert max(Counter(n.message_id for n in notices).values()) == 1
    digests = {after["step"] for _, _, after in events}
    letters = [n for n in notices if n.kind in ("reminder", "escalation")]
    assert {n.idempotency_key.split("|")[2] for n in letters} == digests
    assert len(letters) == len(events) == sum(r["letters_queued"] for r in reports)

    # Every notice sent, once: the sink holds each Message-ID exactly once.
    assert {n.state for n in notices} == {NoticeState.SENT.value}
    assert set(attempt_count.values()) == {1}
    assert len(attempt_count) == len(notices)
    counts = message_id_counts(mail_dir)
    assert set(counts) == {n.message_id for n in notices}
    assert set(counts.values()) == {1}

    # The race really happened: several workers won reminders, escalations and sends.
    def winners(kind: str) -> int:
        return sum(1 for r in reports if r[kind])

    assert winners("reminded") >= 2, "one worker took every reminder: no concurrency"
    assert winners("escalated") >= 2, "one worker took every escalation: no concurrency"
    assert winners("sent") >= 2, "one worker sent everything: no concurrency"
    overlapping, both_moving = overlapping_sweeps(reports)
    assert overlapping > 0, "no two sweeps ever ran at the same time"
    return {
        "workers": len(reports),
        "duration_s": DURATION_S,
        "sweeps": sum(r["sweeps"] for r in reports),
        "working_day_sweeps": sum(r["working_day_sweeps"] for r in reports),
        "reminded": len(reminded),
        "escalated": len(escalated),
        "reminded_by_worker": [len(r["reminded"]) for r in reports],
        "escalated_by_worker": [len(r["escalated"]) for r in reports],
        "overlapping_sweeps": overlapping,
        "overlapping_sweeps_both_moving": both_moving,
        "letters_queued": len(letters),
        "notices": len(notices),
        "notices_sent_by_workers": [r["sent"] for r in reports],
        "lease_lost": sum(r["lease_lost"] for r in reports),
        "distinct_message_ids_in_sink": len(counts),
        "duplicates": sum(counts.values()) - len(counts),
        "sweep_s_by_worker": [round(r["sweep_s"], 1) for r in reports],
        "drain_s_by_worker": [round(r["drain_s"], 1) for r in reports],
    }


def test_the_first_two_audit_events_at_once_both_join_the_chain() -> None:
    """Two transactions append the very first audit events at the same time (N workers on a
    new database). On PostgreSQL the loser's INSERT of the head row waits for the winner's
    commit and then fails; SQLite serialises writers, so only PostgreSQL shows it."""
    with own_schema(f"{SCHEMA}_audit") as url:
        engine = db.make_engine(url, connect_args={"application_name": f"{APPLICATION}-audit"})
        at = SIM_START.astimezone(BUSINESS_TZ)
        draft = EventDraft("测试", "test.first", "test", 1, None, {"n": 1}, SOURCE)
        errors: list[BaseException] = []

        def second() -> None:
            try:
                with db.session_scope(engine) as session:
                    append_events(session, [draft], at=at)
            except BaseException as exc:  # surfaced below: a thread cannot fail the test
                errors.append(exc)

        with Session(engine) as first:
            append_events(first, [draft], at=at)  # holds the new head row, not yet committed
            thread = threading.Thread(target=second)
            thread.start()
            waiting = (
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                f"AND application_name = '{APPLICATION}-audit'"
            )
            for _ in range(100):
                if _rows(engine, waiting)[0][0]:
                    break
                time.sleep(0.05)
            first.commit()
            thread.join(30)
        try:
            if errors:
                raise errors[0]
            with db.session_scope(engine) as session:
                assert verify(session) == ChainReport(True, 2)
        finally:
            engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1:])
