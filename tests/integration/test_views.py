"""Operator read views (`registry.views`) and their commands, on real rows.

Listings are walked with `apply_transition`, so the history a view shows is the audit trail the
lifecycle really wrote. Rows with no factory yet (department actions, notices, commitments,
removal applications, objections) are inserted with Core. One person is created from a raw
resident ID number, which must never appear in any view, JSON or command output.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from sqlmodel import Session, col
from stdnum.cn import ric, uscc
from typer.testing import CliRunner

from deployments.view_commands import archive, batch_app, listing_app
from memoranda.loader import Catalogue
from registry.calendar import WorkingCalendar
from registry.clock import BUSINESS_TZ, FrozenClock
from registry.digests import digest_step
from registry.errors import NotFound
from registry.identifiers import check_resident_id, mask_resident_id
from registry.lifecycle import Event, apply_transition
from registry.models import (
    AuditEvent,
    Commitment,
    DepartmentAction,
    Listing,
    Notice,
    Objection,
    RemovalApplication,
)
from registry.repository import add_subject
from registry.views import (
    batch_view,
    credit_archive,
    credit_archive_by_identifier,
    listing_view,
    scrub,
)
from tests.factories.listings import (
    PROPOSER,
    REVIEWER,
    ROUTE_ACTOR,
    column,
    mail_prior_notices,
    make_listings,
    notify_new_listings,
)

KEY = "test-views-id-hash-key"
START = datetime(2026, 11, 27, 10, 0, tzinfo=BUSINESS_TZ)
LISTING = sa.inspect(Listing).local_table
UNKNOWN = 999_999_999


def new_uscc(rng: random.Random) -> str:
    body = "91110108" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    return body + uscc.calc_check_digit(body)


def new_resident_id(rng: random.Random) -> str:
    birth = date(1960, 1, 1) + timedelta(days=rng.randrange(15_000))
    body = f"110105{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return body + ric.calc_check_digit(body + "0")


def walk(
    session: Session,
    ids: list[int],
    events: list[Event],
    clock: FrozenClock,
    catalogue: Catalogue,
    calendar: WorkingCalendar,
) -> tuple[list[int], list[int]]:
    """Apply `events` in order, ten days apart (defence windows lapse); the 告知书 is e-mailed
    and served the day of NOTIFY, which opens the window. Returns the audit seqs, and the ids of
    the 告知书 letters."""
    seqs: list[int] = []
    letters: list[int] = []
    for event in events:
        result = apply_transition(
            session,
            ids,
            event,
            actor=PROPOSER if event is Event.NOTIFY else REVIEWER,
            source="test:views",
            clock=clock,
            catalogue=catalogue,
            calendar=calendar,
            decision_number="应急失信〔2026〕7号" if event is Event.CONFIRM else None,
        )
        seqs.extend(result.audit_seqs)
        if event is Event.NOTIFY:
            letters += mail_prior_notices(
                session, ids, clock=clock, catalogue=catalogue, calendar=calendar
            )
            seqs.extend(
                session.execute(
                    sa.select(AuditEvent.seq)
                    .where(
                        AuditEvent.action == "listing.defence_window_opened",
                        col(AuditEvent.entity_id).in_([str(i) for i in ids]),
                    )
                    .order_by(AuditEvent.seq)
                ).scalars()
            )
        clock.advance(timedelta(days=10))
    return seqs, letters


def add_action(session: Session, listing_id: int, state: str, **values: Any) -> int:
    row = {
        "listing_id": listing_id,
        "department": "mof",
        "memorandum": "ndrc-2016-1001",
        "measures": ["政府采购限制"],
        "state": state,
        "escalation_level": 0,
        "dispatched_at": START.astimezone(UTC),
        "ack_due": date(2026, 12, 4),
        "ack_provisional": False,
        "feedback_provisional": False,
        "lift_provisional": False,
        **values,
    }
    return int(
        session.execute(
            sa.insert(DepartmentAction).values(**row).returning(DepartmentAction.id)
        ).scalar_one()
    )


def add_notice(
    session: Session,
    *,
    batch_id: int,
    listing_id: int | None,
    state: str,
    kind: str,
    department_code: str | None = None,
    key: str | None = None,
) -> int:
    key = key or uuid.uuid4().hex
    row = {
        "department_code": department_code,
        "kind": kind,
        "idempotency_key": key,
        "message_id": f"<{key}@jointcredit.test>",
        "recipient": "party@example.org",
        "recipient_name": "当事单位联系人",
        "subject": "通知",
        "body_text": "正文",
        "batch_id": batch_id,
        "listing_id": listing_id,
        "state": state,
        "attempts": 1 if state == "sent" else 0,
        "attempts_at_requeue": 0,
        "created_at": START.astimezone(UTC),
        "sent_at": START.astimezone(UTC) + timedelta(minutes=5) if state == "sent" else None,
    }
    if state == "sent":  # the outbox records an accepted e-mail as served that day
        row |= {"service_state": "served", "service_method": "email", "served_on": START.date()}
    return int(session.execute(sa.insert(Notice).values(**row).returning(Notice.id)).scalar_one())


def batch_of(session: Session, listing_id: int) -> int:
    return int(column(session, LISTING, "batch_id", [listing_id])[0])


# --- batch -------------------------------------------------------------------------------


def test_a_batch_in_its_defence_window_waits_on_the_window_and_the_operator(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> None:
    with Session(engine) as session:
        ids = notify_new_listings(session, catalogue, calendar, clock, count=3)
        later = FrozenClock(clock.now() + timedelta(days=10))
        walk(session, ids[:1], [Event.AWAIT_CONFIRMATION], later, catalogue, calendar)
        session.commit()
        view = batch_view(session, batch_of(session, ids[0]))

    assert view.listing_states == {"notified": 2, "awaiting_confirmation": 1}
    assert view.listing_total == 3
    assert [line.id for line in view.listings] == ids
    assert view.next_defence_due == date(2026, 12, 4)
    assert view.next_defence_provisional is False
    assert view.waiting_on == "等待陈述申辩期满（2026-12-04）；等待操作员确认"
    assert view.as_dict()["next_defence_due"] == "2026-12-04"


def test_a_published_batch_counts_actions_and_notices_until_all_is_pushed(
    engine: sa.Engine, catalogue: Catalogue
) -> None:
    with Session(engine) as session:
        ids = make_listings(
            session, catalogue, rule_set="mem-2023-serious", state="in_force", count=3
        )
        batch_id = batch_of(session, ids[0])
        first = add_action(session, ids[0], "dispatched", escalation_level=1)
        add_action(session, ids[1], "feedback_reported")
        add_notice(
            session, batch_id=batch_id, listing_id=ids[0], state="sent", kind="listing_decision"
        )
        queued = add_notice(
            session, batch_id=batch_id, listing_id=None, state="queued", kind="department_dispatch"
        )
        other = make_listings(session, catalogue, rule_set="mem-2023-serious", state="in_force")
        add_notice(
            session,
            batch_id=batch_of(session, other[0]),
            listing_id=other[0],
            state="failed",
            kind="listing_decision",
        )
        session.commit()
        pending = batch_view(session, batch_id, listing_limit=2)

        add_action(session, ids[2], "feedback_reported")
        session.execute(
            sa.update(DepartmentAction)
            .where(DepartmentAction.id == first)
            .values(state="feedback_reported")
        )
        session.execute(sa.update(Notice).where(Notice.id == queued).values(state="sent"))
        session.commit()
        done = batch_view(session, batch_id)

    assert pending.listing_states == {"in_force": 3}
    assert pending.undispatched_in_force == 1
    assert pending.action_states == {"dispatched": 1, "feedback_reported": 1}
    assert pending.escalated_actions == 1
    assert pending.notice_states == {"sent": 1, "queued": 1}
    assert pending.waiting_on == "等待推送各部门；等待部门响应；等待通知投递"
    assert (len(pending.listings), pending.listing_total, pending.listings_truncated) == (
        2,
        3,
        True,
    )
    assert done.action_states == {"feedback_reported": 3}
    assert done.notice_states == {"sent": 2}
    assert done.waiting_on == "已全部生效并推送"


@contextmanager
def statements(engine: sa.Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_a_view_costs_the_same_few_queries_however_large_the_batch(
    engine: sa.Engine, catalogue: Catalogue
) -> None:
    costs = []
    with Session(engine) as session:
        for count in (1, 40):
            ids = make_listings(
                session, catalogue, rule_set="mem-2023-serious", state="in_force", count=count
            )
            for listing_id in ids:
                add_action(session, listing_id, "acknowledged")
                add_notice(
                    session,
                    batch_id=batch_of(session, listing_id),
                    listing_id=listing_id,
                    state="sent",
                    kind="listing_decision",
                )
            batch_id = batch_of(session, ids[0])
            session.commit()
            with statements(engine) as seen:
                view = batch_view(session, batch_id)
            assert view.listing_total == count
            costs.append(len(seen))
    # batch, states, defence, dispatch, actions, notices, lines, letters awaiting service, and
    # the decision (reviewers, decision numbers; rejections cost their reasons and names)
    assert costs[0] == costs[1] == 9


def test_unknown_ids_are_not_found_in_chinese(engine: sa.Engine) -> None:
    with Session(engine) as session:
        with pytest.raises(NotFound, match="批次不存在"):
            batch_view(session, UNKNOWN)
        with pytest.raises(NotFound, match="名单不存在"):
            listing_view(session, UNKNOWN)


# --- one unit, one of its persons, their listings and everything around them -------------


@dataclass(frozen=True)
class Scenario:
    uscc: str
    raw_id: str
    masked_id: str
    unit_listing: int
    person_listing: int
    unit_batch: int
    person_batch: int
    unit_seqs: list[int]
    person_seqs: list[int]
    action: int
    notices: list[int]


@pytest.fixture(scope="module")
def scenario(engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar) -> Scenario:
    rng = random.Random(uuid.uuid4().int)
    code, raw = new_uscc(rng), new_resident_id(rng)
    person_id = check_resident_id(raw, KEY)
    clock = FrozenClock(START)
    now = clock.now()
    fresh = {"defence_from": None, "defence_wd": None, "defence_due": None}
    unpublished = {"published_at": None, "expires_on": None, "removal_reason": None}
    with Session(engine) as session:
        unit = add_subject(session, kind="unit", name="示例化工有限公司", uscc=code, created_at=now)
        person = add_subject(
            session,
            kind="person",
            name="王某",
            id_hash=person_id.lookup_hash,
            id_masked=person_id.masked,
            unit_id=unit,
            created_at=now,
        )
        add_subject(session, kind="unit", name="无关单位", created_at=now)
        (unit_listing,) = make_listings(
            session,
            catalogue,
            rule_set="mem-2023-serious",
            subject_id=unit,
            decision_number=None,
            **fresh,
            **unpublished,
        )
        (person_listing,) = make_listings(
            session,
            catalogue,
            rule_set="mem-2023-serious",
            subject_id=person,
            note=f"法定代表人，身份证号 {raw}",
            **fresh,
            **unpublished,
        )
        unit_seqs, unit_letters = walk(
            session,
            [unit_listing],
            [Event.NOTIFY, Event.AWAIT_CONFIRMATION, Event.CONFIRM, Event.PUBLISH],
            clock,
            catalogue,
            calendar,
        )
        person_seqs, _ = walk(
            session,
            [person_listing],
            [Event.NOTIFY, Event.AWAIT_CONFIRMATION],
            FrozenClock(START),
            catalogue,
            calendar,
        )
        unit_batch = batch_of(session, unit_listing)
        person_batch = batch_of(session, person_listing)
        dispatched = clock.now()
        action = add_action(
            session,
            unit_listing,
            "acknowledged",
            dispatched_at=dispatched,
            acknowledged_at=dispatched + timedelta(days=1),
        )
        notices = [
            *unit_letters,  # the 告知书, served by e-mail the day it was sent
            add_notice(
                session,
                batch_id=unit_batch,
                listing_id=unit_listing,
                state="sent",
                kind="listing_decision",
            ),
            add_notice(  # the 推送函 to the department of the unit's action, naming it
                session,
                batch_id=unit_batch,
                listing_id=None,
                state="queued",
                kind="department_dispatch",
                department_code="mof",
                key=f"department_dispatch|batch:{unit_batch}|{digest_step([unit_listing])}|mof@x",
            ),
        ]
        commitment = int(
            session.execute(
                sa.insert(Commitment)
                .values(
                    subject_id=unit,
                    kind="credit_repair",
                    text="本单位公开承诺：严格落实安全生产主体责任。",
                    made_on=date(2027, 3, 1),
                    public=True,
                    recorded_at=now,
                )
                .returning(Commitment.id)
            ).scalar_one()
        )
        session.execute(
            sa.insert(RemovalApplication).values(
                listing_id=unit_listing,
                applied_at=datetime(2027, 3, 2, 2, 0, tzinfo=UTC),
                evidence="整改完成报告",
                commitment_id=commitment,
                state="open",
                decide_provisional=False,
            )
        )
        session.execute(
            sa.insert(Objection).values(
                listing_id=person_listing,
                filed_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
                filed_by="王某",
                reason=f"本人（身份证号 {raw}）不是主要负责人",
                state="open",
                answer_provisional=False,
            )
        )
        session.commit()
    return Scenario(
        uscc=code,
        raw_id=raw,
        masked_id=person_id.masked,
        unit_listing=unit_listing,
        person_listing=person_listing,
        unit_batch=unit_batch,
        person_batch=person_batch,
        unit_seqs=unit_seqs,
        person_seqs=person_seqs,
        action=action,
        notices=notices,
    )


def audit_trail(session: Session, listing_id: int) -> list[tuple[Any, ...]]:
    events = session.execute(
        sa.select(AuditEvent)
        .where(AuditEvent.entity_type == "listing", AuditEvent.entity_id == str(listing_id))
        .order_by(AuditEvent.seq)
    ).scalars()
    return [(e.seq, e.at, e.actor, e.action, e.before, e.after, e.source) for e in events]


def test_a_listing_shows_its_dates_actions_notices_and_audit_history(
    engine: sa.Engine, scenario: Scenario
) -> None:
    with Session(engine) as session:
        view = listing_view(session, scenario.unit_listing)
        trail = audit_trail(session, scenario.unit_listing)

    history = [(e.seq, e.at, e.actor, e.action, e.before, e.after, e.source) for e in view.history]
    assert history == trail
    assert [e.seq for e in view.history] == scenario.unit_seqs
    assert [e.action for e in view.history] == [
        "listing.notify",
        "listing.defence_window_opened",
        "listing.await_confirmation",
        "listing.confirm",
        "listing.publish",
    ]
    assert [e.actor for e in view.history] == [
        PROPOSER,
        ROUTE_ACTOR,
        REVIEWER,
        REVIEWER,
        REVIEWER,
    ]
    assert [(e.before, e.after["state"]) for e in (view.history[0], view.history[2])] == [
        ({"state": "proposed"}, "notified"),
        ({"state": "notified"}, "awaiting_confirmation"),
    ]
    assert view.history[1].after == {
        "defence_from": "2026-11-27",
        "defence_wd": 5,
        "defence_due": "2026-12-04",
        "defence_provisional": False,
    }
    assert view.state == "in_force"
    assert view.subject.identifier == scenario.uscc
    assert view.notified_at == START.astimezone(UTC)
    assert view.defence_due == date(2026, 12, 4)
    assert view.decided_at == START.astimezone(UTC) + timedelta(days=20)
    assert view.decision_number == "应急失信〔2026〕7号"
    assert view.published_at == START.astimezone(UTC) + timedelta(days=30)
    assert view.expires_on == date(2029, 12, 27)
    assert [(a.id, a.state) for a in view.actions] == [(scenario.action, "acknowledged")]
    assert [n.id for n in view.notices] == scenario.notices
    assert [n.listing_id for n in view.notices] == [scenario.unit_listing] * 2 + [None]
    data = view.as_dict()
    assert data["history"][0]["at"] == START.astimezone(UTC).isoformat()
    assert data["subject"]["identifier"] == scenario.uscc


def test_the_archive_of_a_unit_is_everything_in_time_order(
    engine: sa.Engine, scenario: Scenario
) -> None:
    with Session(engine) as session:
        found = credit_archive(session, uscc=scenario.uscc.lower())

    assert found.subject.identifier == scenario.uscc
    assert found.unit is None
    assert [(p.name, p.identifier) for p in found.persons] == [("王某", scenario.masked_id)]
    assert [item.id for item in found.listings] == [scenario.unit_listing]
    assert found.listings[0].decision_number == "应急失信〔2026〕7号"
    assert [a.id for a in found.actions] == [scenario.action]
    assert [n.id for n in found.notices] == scenario.notices
    assert [c.kind for c in found.commitments] == ["credit_repair"]
    assert [r.evidence for r in found.removal_applications] == ["整改完成报告"]
    assert found.objections == []  # the objection is about the person's listing
    assert [e.seq for e in found.history] == scenario.unit_seqs

    times = [e.at for e in found.entries]
    assert times == sorted(times)
    kinds = [e.kind for e in found.entries]
    assert set(kinds) == {
        "listing",
        "audit",
        "action",
        "notice",
        "commitment",
        "removal_application",
    }
    # The walked listing's steps come from its audit events, not again from its date columns.
    assert kinds.count("listing") == 1
    assert kinds.count("audit") == 5  # notify, window opened on service, and three more
    assert found.entries[0].summary_zh.startswith(f"名单 {scenario.unit_listing} 提出列入黑名单")
    assert found.entries[0].source.startswith("batch:")
    confirm = next(e for e in found.entries if "认定列入" in e.summary_zh)
    assert "应急失信〔2026〕7号" in confirm.summary_zh
    assert confirm.source == f"audit:{scenario.unit_seqs[3]} test:views"


def test_the_archive_of_a_person_by_hash_or_number_shows_only_the_masked_id(
    engine: sa.Engine, scenario: Scenario
) -> None:
    person = check_resident_id(scenario.raw_id, KEY)
    with Session(engine) as session:
        by_hash = credit_archive(session, id_hash=person.lookup_hash)
        by_number = credit_archive_by_identifier(session, scenario.raw_id, id_hash_key=KEY)

    assert by_hash == by_number
    assert by_hash.subject.identifier == scenario.masked_id
    assert by_hash.unit is not None
    assert by_hash.unit.identifier == scenario.uscc
    assert [item.id for item in by_hash.listings] == [scenario.person_listing]
    assert [e.seq for e in by_hash.history] == scenario.person_seqs
    (objection,) = by_hash.objections
    assert scenario.masked_id in objection.reason
    assert any(
        e.kind == "objection" and scenario.masked_id in e.summary_zh for e in by_hash.entries
    )


def test_no_view_ever_holds_the_raw_id_number(engine: sa.Engine, scenario: Scenario) -> None:
    with Session(engine) as session:
        views = [
            batch_view(session, scenario.person_batch),
            batch_view(session, scenario.unit_batch),
            listing_view(session, scenario.person_listing),
            listing_view(session, scenario.unit_listing),
            credit_archive(session, uscc=scenario.uscc),
            credit_archive_by_identifier(session, scenario.raw_id, id_hash_key=KEY),
        ]
    person_listing = views[2]
    assert person_listing.subject.identifier == scenario.masked_id
    assert person_listing.note == f"法定代表人，身份证号 {scenario.masked_id}"
    for view in views:
        text = json.dumps(view.as_dict(), ensure_ascii=False)
        assert scenario.raw_id not in text
        assert scenario.raw_id[6:14] not in text  # not even the birth date


def test_unknown_subjects_are_named_masked(engine: sa.Engine) -> None:
    rng = random.Random(uuid.uuid4().int)
    raw, code = new_resident_id(rng), new_uscc(rng)
    with Session(engine) as session:
        with pytest.raises(NotFound) as by_number:
            credit_archive_by_identifier(session, raw, id_hash_key=KEY)
        with pytest.raises(NotFound, match=f"主体不存在：{code}"):
            credit_archive(session, uscc=code)
    assert mask_resident_id(raw) in by_number.value.message
    assert raw not in json.dumps(by_number.value.as_dict(), ensure_ascii=False)


def test_scrub_masks_id_numbers_in_free_text_and_leaves_codes_alone() -> None:
    raw = new_resident_id(random.Random(7))
    code = new_uscc(random.Random(7))
    assert (
        scrub(f"身份证号{raw}，信用代码{code}")
        == f"身份证号{mask_resident_id(raw)}，信用代码{code}"
    )
    assert scrub(None) is None


# --- the commands ------------------------------------------------------------------------


@pytest.fixture
def invoke(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The view commands on a local Typer app, against the test database, as the lead wires them."""
    app = typer.Typer()
    app.add_typer(batch_app, name="batch")
    app.add_typer(listing_app, name="listing")
    app.command("archive")(archive)
    monkeypatch.chdir(tmp_path)  # no developer .env
    runner = CliRunner()
    env = {
        "JOINTCREDIT_DATABASE_URL": database_url,
        "JOINTCREDIT_ID_HASH_KEY": KEY,
        "COLUMNS": "200",
    }

    def run(*args: str) -> Any:
        return runner.invoke(app, list(args), env=env)

    return run


def test_the_commands_print_tables_and_json(invoke: Any, scenario: Scenario) -> None:
    shown = invoke("batch", "show", str(scenario.unit_batch))
    assert shown.exit_code == 0, shown.output
    assert "当前等待" in shown.stdout
    assert "等待部门反馈；等待通知投递" in shown.stdout
    assert scenario.uscc in shown.stdout

    data = json.loads(invoke("batch", "show", str(scenario.person_batch), "--json").stdout)
    assert data["listing_states"] == {"awaiting_confirmation": 1}
    assert data["listings"][0]["identifier"] == scenario.masked_id

    listing = invoke("listing", "show", str(scenario.unit_listing))
    assert listing.exit_code == 0, listing.output
    assert "操作记录" in listing.stdout
    assert "制发告知书" in listing.stdout
    assert "告知书已送达，陈述申辩期起算" in listing.stdout
    history = json.loads(invoke("listing", "show", str(scenario.unit_listing), "--json").stdout)
    assert [e["seq"] for e in history["history"]] == scenario.unit_seqs

    unit = invoke("archive", scenario.uscc)
    assert unit.exit_code == 0, unit.output
    assert "信用档案" in unit.stdout
    assert scenario.masked_id in unit.stdout

    outputs = [shown, listing, unit]
    for args in (
        ("archive", scenario.raw_id),
        ("archive", scenario.raw_id, "--json"),
        ("listing", "show", str(scenario.person_listing)),
        ("listing", "show", str(scenario.person_listing), "--json"),
        ("batch", "show", str(scenario.person_batch)),
    ):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        assert scenario.masked_id in result.stdout
        outputs.append(result)
    for result in outputs:
        assert scenario.raw_id not in result.stdout + result.stderr


def test_the_commands_report_unknown_ids_with_exit_code_2(invoke: Any) -> None:
    batch = invoke("batch", "show", str(UNKNOWN))
    assert batch.exit_code == 2
    assert f"批次不存在：{UNKNOWN}" in batch.stderr
    assert "Traceback" not in batch.output

    listing = invoke("listing", "show", str(UNKNOWN), "--json")
    assert listing.exit_code == 2
    assert json.loads(listing.stdout)["error"] == "NotFound"
    assert "名单不存在" in json.loads(listing.stdout)["message"]

    raw = new_resident_id(random.Random(uuid.uuid4().int))
    person = invoke("archive", raw)
    assert person.exit_code == 2
    assert f"主体不存在：{mask_resident_id(raw)}" in person.stderr
    assert raw not in person.stdout + person.stderr

    typo = invoke("archive", raw[:-1])  # a digit short: not an ID number, still personal
    assert typo.exit_code == 2
    assert "无法识别的标识" in typo.stderr
    assert raw[6:14] not in typo.stdout + typo.stderr

    nonsense = invoke("archive", "abc")
    assert nonsense.exit_code == 2
    assert "无法识别的标识" in nonsense.stderr
