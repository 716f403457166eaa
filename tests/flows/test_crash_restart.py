"""Crash and restart (issue 7): each unattended flow SIGKILLed at each step boundary in turn,
then run again — and the end is the end an uninterrupted run reaches.

Each case plays one scenario in a fresh SQLite database with a real mail sink: the phase that
holds the kill point runs in a child process with `JOINTCREDIT_KILL_AT` set (registry.faults),
which must die of SIGKILL; that phase is then run again here, the later phases follow, and a
final drain delivers the outbox after every lease has run out. Then, for every case:

- no listing lost or stuck: the listings' states are the scenario's final states;
- every department action exactly once per (listing, department), as many as expected;
- every notice exactly once per idempotency key, and every one sent;
- the sink holds exactly one distinct Message-ID per notice sent; duplicates (same Message-ID
  twice) only where the kill fell between SMTP accepting DATA and our recording it — the
  RFC 1047 window — and never more than the batch that was in flight;
- the audit chain verifies;
- listings, actions, notices and audit events are those of the same scenario played without a
  kill (played once per scenario, in this module).

docs/reliability.md explains what each kill point proves.
"""

from __future__ import annotations

import shutil
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from memoranda.loader import Catalogue
from notifications.delivery import DEFAULT_BATCH
from notifications.sink import message_id_counts, running_sink
from registry import db
from registry.audit import verify
from registry.calendar import WorkingCalendar
from registry.clock import BUSINESS_TZ, FrozenClock
from registry.db import session_scope
from registry.faults import KILL_POINTS
from registry.models import AuditEvent, DepartmentAction, Listing, Notice, NoticeAttempt
from registry.models import ListingState as S
from registry.settings import Settings
from tests.factories.listings import REVIEWER, in_force, proposed_batch
from tests.factories.outbox import queue_notices
from tests.factories.routing import MEMORANDUM, at, dispatched_batch, make_routing
from tests.flows.crash_runner import Answer, ForkServer, run_here

START = datetime(2026, 11, 27, 10, 0, tzinfo=BUSINESS_TZ)
OUTBOX_NOTICES = DEFAULT_BATCH + 50  # two batches: one in flight when killed, one not yet claimed
UNCLAIMED = OUTBOX_NOTICES - DEFAULT_BATCH
LEASE = timedelta(seconds=Settings.model_fields["outbox_lease_seconds"].default)


@dataclass(frozen=True)
class Phase:
    """One run of a flow at one business time (`JOINTCREDIT_NOW`), answering its form."""

    flow: str
    at: datetime
    parameters: dict[str, Any] = field(default_factory=dict)
    answer: Answer | None = None


@dataclass(frozen=True)
class Scenario:
    phases: list[Phase]
    final_states: Counter[str]
    actions: int


@dataclass(frozen=True)
class Outcome:
    """What a played scenario left, without the ids and addresses that differ between plays."""

    listings: list[tuple[int, str]]
    actions: list[tuple[int, str, str, str, int]]
    notices: Counter[tuple[str, int | None, int | None, str | None, str]]
    audit: Counter[tuple[str, str, str]]


@dataclass(frozen=True)
class Played:
    outcome: Outcome
    duplicates: int
    attempts: Counter[tuple[int, int]]
    """(the notice's attempt counter, attempts recorded for it) → how many notices."""


# --- scenarios: the data each flow starts from, the runs that take it to its end ------------


def _departments(catalogue: Catalogue, rule_set: str) -> int:
    memoranda = catalogue.memoranda_for(rule_set)
    return len({d for m in memoranda for d in catalogue.departments_of(m.id)})


def route_scenario(engine: sa.Engine, catalogue: Catalogue, _calendar: WorkingCalendar) -> Scenario:
    """Two units and one person: notified, their 告知书 delivered (served by e-mail that day, so
    the windows run from it), the window closes 20 days on, the operator confirms the units and
    rejects the person, the units are published and dispatched."""
    batch, ids = proposed_batch(engine, catalogue, FrozenClock(START), units=2, persons=1)
    decision = {
        "reviewer": REVIEWER,
        "approve_others": True,
        "rejections": [{"listing_id": ids[2], "reason": "身份信息待核实，暂不列入"}],
    }
    parameters = {"batch_id": batch, "confirmation_poll_seconds": 1}
    return Scenario(
        phases=[
            Phase("route-batch", START, parameters),
            Phase("deliver-notices", START + timedelta(hours=1)),
            Phase("route-batch", START + timedelta(days=20), parameters, lambda: decision),
        ],
        final_states=Counter({S.IN_FORCE.value: 2, S.REJECTED.value: 1}),
        actions=2 * _departments(catalogue, "mem-2023-serious"),
    )


def sla_scenario(engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar) -> Scenario:
    """Two listings dispatched on 28 September nobody answers: reminded on 12 October,
    escalated on 19 October."""
    dispatched_batch(engine, catalogue, calendar, units=2)
    return Scenario(
        phases=[
            Phase("sweep-sla", at(date(2026, 10, 12))),
            Phase("sweep-sla", at(date(2026, 10, 19))),
        ],
        final_states=Counter({S.IN_FORCE.value: 2}),
        actions=2 * len(catalogue.departments_of(MEMORANDUM)),
    )


def removal_scenario(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar
) -> Scenario:
    """A current-rule listing removed at expiry; two expired legacy listings the operator
    decides on — one removed, one retained — in two transactions."""
    clock = FrozenClock(START)
    routing = make_routing(catalogue, calendar, clock)
    in_force(engine, catalogue, clock, routing, published=date(2023, 11, 20))
    _b, legacy = in_force(
        engine,
        catalogue,
        clock,
        routing,
        published=date(2025, 11, 3),
        rule_set="saws-2017-sanction",
        units=2,
    )
    approve, retain = legacy

    def decision() -> dict[str, Any]:
        # What the operator sees is what waits now: after a crash, only the undecided.
        pending = _in_review(engine)
        return {
            "reviewer": REVIEWER,
            "approve": [i for i in pending if i == approve],
            "refusals": [
                {"listing_id": i, "reason": "整改尚未验收，暂不移出"}
                for i in pending
                if i == retain
            ],
        }

    return Scenario(
        phases=[Phase("review-removals", START, {"decision_poll_seconds": 1}, decision)],
        final_states=Counter({S.REMOVED.value: 2, S.IN_FORCE.value: 1}),
        actions=_departments(catalogue, "mem-2023-serious")
        + 2 * _departments(catalogue, "saws-2017-sanction"),
    )


def deliver_scenario(
    engine: sa.Engine, _catalogue: Catalogue, _calendar: WorkingCalendar
) -> Scenario:
    """More notices than one batch holds, delivered in one run."""
    queue_notices(engine, FrozenClock(START), OUTBOX_NOTICES)
    return Scenario(phases=[Phase("deliver-notices", START)], final_states=Counter(), actions=0)


SCENARIOS: dict[str, Callable[[sa.Engine, Catalogue, WorkingCalendar], Scenario]] = {
    "route-batch": route_scenario,
    "sweep-sla": sla_scenario,
    "review-removals": removal_scenario,
    "deliver-notices": deliver_scenario,
}

KILLED_PHASE = {"route-batch:before-notify-commit": 0, "route-batch:after-notify": 0}
"""The phase that holds each kill point: the last one unless named here (route-batch crosses
every boundary in every run, but only its first run has anyone to notify)."""


def _in_review(engine: sa.Engine) -> list[int]:
    with session_scope(engine) as session:
        rows = session.execute(
            sa.select(col(Listing.id))
            .where(col(Listing.state) == S.REMOVAL_REVIEW.value)
            .order_by(col(Listing.id))
        )
        return list(rows.scalars())


# --- playing a scenario ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database file, copied for every play (Alembic once, not 40 times)."""
    path = tmp_path_factory.mktemp("schema") / "crash.db"
    url = f"sqlite:///{path}"
    db.upgrade(url)
    engine = db.make_engine(url)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="module")
def forks(prefect_server: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    server = ForkServer(tmp_path_factory.mktemp("forks"))
    yield server
    server.close()


@pytest.fixture
def player(
    forks: ForkServer,
    schema: Path,
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[str, str | None, Path], Any]:
    """`await play(flow, kill_at, folder)`: the scenario of `flow`, killed at `kill_at`."""

    async def play(flow: str, kill_at: str | None, folder: Path) -> Played:
        folder.mkdir()
        monkeypatch.chdir(folder)  # no developer .env, here or in the child
        path = folder / "crash.db"
        shutil.copyfile(schema, path)
        url = f"sqlite:///{path}"
        monkeypatch.setenv("JOINTCREDIT_DATABASE_URL", url)
        for name in ("KILL_AT", "FAULT_AFTER_STEP", "ENV"):
            monkeypatch.delenv(f"JOINTCREDIT_{name}", raising=False)
        with _engine(url) as engine, running_sink(folder / "mail") as sink:
            monkeypatch.setenv("JOINTCREDIT_SMTP_HOST", sink.host)
            monkeypatch.setenv("JOINTCREDIT_SMTP_PORT", str(sink.port))
            scenario = SCENARIOS[flow](engine, catalogue, calendar)
            killed = KILLED_PHASE.get(kill_at or "", len(scenario.phases) - 1)
            for number, phase in enumerate(scenario.phases):
                monkeypatch.setenv("JOINTCREDIT_NOW", phase.at.isoformat())
                if kill_at is not None and number == killed:
                    child = await forks.run(
                        phase.flow,
                        phase.parameters,
                        cwd=folder,
                        kill_at=kill_at,
                        answer=phase.answer,
                    )
                    assert child.returncode == -signal.SIGKILL, child.tail()
                    _check_what_the_kill_left(kill_at, engine, sink.directory)
                await run_here(phase.flow, phase.parameters, answer=phase.answer)
            # Whatever a killed deliverer held is claimable again once its lease has run out.
            settle = scenario.phases[-1].at + LEASE + timedelta(minutes=1)
            monkeypatch.setenv("JOINTCREDIT_NOW", settle.isoformat())
            await run_here("deliver-notices", {})
            return _checked(scenario, engine, sink.directory)

    return play


@contextmanager
def _engine(url: str) -> Iterator[sa.Engine]:
    engine = db.make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _check_what_the_kill_left(kill_at: str, engine: sa.Engine, mail: Path) -> None:
    """The deliverer's points are where they say they are (the others show in the outcome)."""
    if not kill_at.startswith("deliver-notices:"):
        return
    states = Counter(n.state for n in _notices(engine))
    received = sum(message_id_counts(mail).values())
    expected = {
        "deliver-notices:after-claim": ({"sending": DEFAULT_BATCH, "queued": UNCLAIMED}, 0),
        "deliver-notices:after-send": (
            {"sending": DEFAULT_BATCH, "queued": UNCLAIMED},
            DEFAULT_BATCH,
        ),
        "deliver-notices:after-record": (
            {"sent": DEFAULT_BATCH, "queued": UNCLAIMED},
            DEFAULT_BATCH,
        ),
    }[kill_at]
    assert (dict(states), received) == expected


def _notices(engine: sa.Engine) -> list[Notice]:
    with session_scope(engine) as session:
        return list(session.execute(sa.select(Notice)).scalars())


def _checked(scenario: Scenario, engine: sa.Engine, mail: Path) -> Played:
    """The invariants every case must end with; returns what is compared with the control."""
    with session_scope(engine) as session:
        listings = [
            (row[0], row[1])
            for row in session.execute(
                sa.select(col(Listing.id), col(Listing.state)).order_by(col(Listing.id))
            )
        ]
        actions = [
            (row[0], row[1], row[2], row[3], row[4])
            for row in session.execute(
                sa.select(
                    col(DepartmentAction.listing_id),
                    col(DepartmentAction.department),
                    col(DepartmentAction.memorandum),
                    col(DepartmentAction.state),
                    col(DepartmentAction.escalation_level),
                ).order_by(col(DepartmentAction.listing_id), col(DepartmentAction.department))
            )
        ]
        audit = Counter(
            (row[0], row[1], row[2])
            for row in session.execute(
                sa.select(
                    col(AuditEvent.action), col(AuditEvent.entity_type), col(AuditEvent.entity_id)
                )
            )
        )
        chain = verify(session)
        recorded = Counter(session.execute(sa.select(col(NoticeAttempt.notice_id))).scalars().all())
    notices = _notices(engine)

    assert Counter(state for _, state in listings) == scenario.final_states
    per_department = Counter((listing, department) for listing, department, *_ in actions)
    assert len(actions) == scenario.actions
    assert set(per_department.values()) <= {1}, "a department got one listing twice"
    keys = Counter(n.idempotency_key for n in notices)
    assert set(keys.values()) <= {1}, "a notice was queued twice"
    assert all(n.state == "sent" for n in notices), Counter(n.state for n in notices)
    arrived = message_id_counts(mail)
    assert set(arrived) == {n.message_id for n in notices}, "a notice lost, or a stranger mailed"
    assert chain.ok, chain
    return Played(
        outcome=Outcome(
            listings=listings,
            actions=actions,
            notices=Counter(
                (n.kind, n.batch_id, n.listing_id, n.department_code, n.state) for n in notices
            ),
            audit=audit,
        ),
        duplicates=sum(count - 1 for count in arrived.values()),
        attempts=Counter((n.attempts, recorded[n.id]) for n in notices),
    )


# --- the cases -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def controls() -> dict[str, Played]:
    """Each scenario played once without a kill (lazily, by the first case that needs it)."""
    return {}


def _cases() -> Iterator[Any]:
    for point in KILL_POINTS:
        flow, _, _boundary = point.partition(":")
        yield pytest.param(flow, point, id=point)


@pytest.mark.parametrize(("flow", "kill_at"), list(_cases()))
async def test_killed_and_run_again_ends_as_if_never_killed(
    prefect_server: None,
    player: Callable[[str, str | None, Path], Any],
    controls: dict[str, Played],
    tmp_path: Path,
    flow: str,
    kill_at: str,
) -> None:
    if flow not in controls:
        controls[flow] = await player(flow, None, tmp_path / "control")
    control = controls[flow]
    assert control.duplicates == 0

    played = await player(flow, kill_at, tmp_path / "killed")

    assert played.outcome == control.outcome
    if kill_at == "deliver-notices:after-send":
        # The RFC 1047 window: the batch the relay accepted before the kill went out again
        # with the same Message-IDs — once more each, and never more than that one batch.
        assert played.duplicates == DEFAULT_BATCH
    else:
        assert played.duplicates == 0
    if kill_at == "deliver-notices:after-send":
        # The killed attempt counts against the retry budget and leaves no record: the gap
        # (attempt 2, one attempt recorded) is the trace of the crash. A claim that died
        # before its sends began (after-claim) made no attempt, so it counts none.
        assert played.attempts == {(2, 1): DEFAULT_BATCH, (1, 1): UNCLAIMED}
    else:
        assert set(played.attempts) <= {(1, 1)}
