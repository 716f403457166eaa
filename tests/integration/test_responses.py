"""Department responses on SQLite and PostgreSQL, on actions dispatched by the real routing steps.

Ack, feedback and lift confirmation through `registry.responses`; returned spreadsheets from
`tests/corpus/responses/` (placeholders filled with this database's listing ids); and
`jointcredit respond` through a local Typer app running the real command function.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
import typer
from sqlmodel import col
from typer.testing import CliRunner

from deployments.respond_commands import respond
from memoranda.loader import Catalogue
from registry.audit import verify
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.intake import ImportFileError
from registry.models import AuditEvent, Batch, DepartmentAction
from registry.responses import (
    Outcome,
    Response,
    ResponseRefused,
    ResponseRequestError,
    ResponseResult,
    record_response_sheet,
    record_responses,
    response_request,
)
from registry.routing import (
    Decision,
    Routing,
    close_defence_windows,
    decide,
    dispatch_in_force,
    notify_proposed,
    publish_confirmed,
)
from registry.vocabulary import ResponseKind
from tests.conftest import REPO
from tests.factories.listings import REVIEWER, proposed_batch, serve_prior_notices

CORPUS = REPO / "tests" / "corpus" / "responses"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
OPERATOR = "cli:录入员"


def dispatched_batch(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing, units: int = 2
) -> tuple[int, list[int]]:
    """A black-list batch (mem-2023-serious) routed to dispatch; the clock is then 2026-12-17."""
    batch, ids = proposed_batch(engine, catalogue, clock, units=units, persons=0)
    with session_scope(engine) as session:
        notify_proposed(session, batch, routing)
    serve_prior_notices(engine, ids, clock.today())
    clock.advance(timedelta(days=20))
    decision = Decision(REVIEWER)
    with session_scope(engine) as session:
        close_defence_windows(session, batch, routing)
        decide(session, batch, decision, routing)
        publish_confirmed(session, batch, routing)
        assert dispatch_in_force(session, batch, routing).actions_created
    return batch, ids


def record(
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    *responses: Response,
    source: str = "cli:respond",
) -> ResponseResult:
    with session_scope(engine) as session:
        return record_responses(
            session,
            responses=responses,
            catalogue=catalogue,
            clock=clock,
            recorded_by=OPERATOR,
            source=source,
        )


def actions(engine: sa.Engine, ids: list[int], department: str) -> list[DepartmentAction]:
    with session_scope(engine) as session:
        return list(
            session.execute(
                sa.select(DepartmentAction)
                .where(
                    col(DepartmentAction.listing_id).in_(ids),
                    col(DepartmentAction.department) == department,
                )
                .order_by(col(DepartmentAction.listing_id))
            ).scalars()
        )


def audit_events(engine: sa.Engine, action_ids: list[int | None]) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(
            session.execute(
                sa.select(AuditEvent)
                .where(
                    col(AuditEvent.entity_type) == "department_action",
                    col(AuditEvent.entity_id).in_([str(i) for i in action_ids]),
                )
                .order_by(col(AuditEvent.seq))
            ).scalars()
        )


def chain_ok(engine: sa.Engine) -> bool:
    with session_scope(engine) as session:
        return verify(session).ok


def test_an_acknowledgement_on_time_is_recorded_once(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    _batch, ids = dispatched_batch(engine, catalogue, clock, routing)
    ack = response_request(department="mem", kind="ack", listings=ids)

    first = record(engine, catalogue, clock, ack)
    again = record(engine, catalogue, clock, ack)

    assert (len(first.recorded), len(first.late), first.refused) == (2, 0, [])
    assert (len(again.recorded), len(again.already)) == (0, 2)
    rows = actions(engine, ids, "mem")
    assert [(a.state, a.acknowledged_at, a.ack_late) for a in rows] == [
        ("acknowledged", clock.now(), False)
    ] * 2
    events = audit_events(engine, [a.id for a in rows])
    assert [(e.action, e.actor, e.source) for e in events] == [
        ("action.acknowledge", "department:mem", "cli:respond")
    ] * 2
    assert events[0].before == {"state": "dispatched"}
    assert events[0].after is not None
    assert events[0].after["recorded_by"] == OPERATOR
    assert first.as_dict()["by_kind"] == {"ack": {"recorded": 2, "already": 0, "late": 0}}
    assert chain_ok(engine)


def test_a_late_acknowledgement_is_accepted_and_marked_late(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    _batch, ids = dispatched_batch(engine, catalogue, clock, routing, units=1)
    due = actions(engine, ids, "ndrc")[0].ack_due
    assert due is not None
    clock.advance(timedelta(days=(due - clock.today()).days + 1))

    late = record(
        engine, catalogue, clock, response_request(department="ndrc", kind="响应", listings=ids)
    )

    assert [r.late for r in late.recorded] == [True]
    assert late.as_dict()["late_listing_ids"] == ids
    action = actions(engine, ids, "ndrc")[0]
    assert (action.state, action.ack_late, action.acknowledged_at) == (
        "acknowledged",
        True,
        clock.now(),
    )


def test_lateness_is_judged_on_the_day_the_department_answered(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    """A letter answered on the due date but typed in three days later is on time; a reply dated
    after today or before the dispatch is refused, naming the field."""
    _batch, ids = dispatched_batch(engine, catalogue, clock, routing, units=2)
    [first, second] = actions(engine, ids, "ndrc")
    due = first.ack_due
    assert due is not None
    dispatched_on = clock.today()
    clock.advance(timedelta(days=(due - clock.today()).days + 3))

    future = clock.today() + timedelta(days=1)
    refused = record(
        engine,
        catalogue,
        clock,
        response_request(department="ndrc", kind="ack", listings=ids, answered_on=future),
        response_request(
            department="ndrc",
            kind="ack",
            listings=[ids[1]],
            answered_on=dispatched_on - timedelta(days=1),
        ),
    )
    assert refused.recorded == []
    assert [(r.listing_id, r.field) for r in refused.refused] == [
        (ids[0], "answered_on"),
        (ids[1], "answered_on"),
        (ids[1], "answered_on"),
    ]
    assert "晚于今天" in refused.refused[0].reason_zh
    assert "早于推送日期" in refused.refused[2].reason_zh

    on_time = record(
        engine,
        catalogue,
        clock,
        response_request(department="ndrc", kind="ack", listings=[ids[0]], answered_on=due),
        response_request(department="ndrc", kind="ack", listings=[ids[1]]),
    )
    assert sorted((r.listing_id, r.late) for r in on_time.recorded) == [
        (ids[0], False),
        (ids[1], True),
    ]
    rows = actions(engine, ids, "ndrc")
    assert [(a.ack_late, a.acknowledged_at) for a in rows] == [
        (False, clock.now()),  # entered now, answered on the due date
        (True, clock.now()),
    ]
    events = audit_events(engine, [first.id, second.id])
    assert [e.after and e.after.get("answered_on") for e in events] == [due.isoformat(), None]
    assert chain_ok(engine)


def test_feedback_implies_the_acknowledgement_and_a_repeat_changes_nothing(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    _batch, ids = dispatched_batch(engine, catalogue, clock, routing)
    applied = response_request(
        department="mnr", kind="feedback", listings=ids, feedback="暂停供地审批，已纳入重点关注"
    )

    first = record(engine, catalogue, clock, applied)
    clock.advance(timedelta(hours=2))
    again = record(engine, catalogue, clock, applied)
    ack_after = record(
        engine, catalogue, clock, response_request(department="mnr", kind="ack", listings=ids)
    )

    assert (len(first.recorded), len(again.already), len(ack_after.already)) == (2, 2, 2)
    rows = actions(engine, ids, "mnr")
    for action in rows:
        assert action.state == "feedback_reported"
        assert action.feedback_outcome == "applied"
        assert action.feedback_text == "暂停供地审批，已纳入重点关注"
        assert action.acknowledged_at == action.feedback_at == clock.now() - timedelta(hours=2)
        assert (action.ack_late, action.feedback_late) == (False, False)
    events = audit_events(engine, [a.id for a in rows])
    assert [e.action for e in events] == ["action.feedback"] * 2
    assert events[0].after is not None
    assert events[0].after["ack_late"] is False
    assert events[0].after["feedback_outcome"] == "applied"


def test_not_applicable_needs_a_reason(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    _batch, ids = dispatched_batch(engine, catalogue, clock, routing, units=1)
    mute = response_request(department="mee", kind="feedback", listings=ids, not_applicable=True)

    refused = record(engine, catalogue, clock, mute)

    assert refused.recorded == []
    assert [(r.listing_id, r.field) for r in refused.refused] == [(ids[0], "feedback")]
    assert "须在反馈内容中说明理由" in refused.refused[0].reason_zh
    assert actions(engine, ids, "mee")[0].state == "dispatched"

    reasoned = Response(
        "mee",
        ResponseKind.FEEDBACK,
        tuple(ids),
        feedback_text="该单位无排污许可事项",
        outcome=Outcome.NOT_APPLICABLE,
    )
    assert len(record(engine, catalogue, clock, reasoned).recorded) == 1
    action = actions(engine, ids, "mee")[0]
    assert (action.feedback_outcome, action.feedback_text) == (
        "not_applicable",
        "该单位无排污许可事项",
    )
    with pytest.raises(ResponseRequestError):
        response_request(department="mee", kind="ack", listings=ids, not_applicable=True)


def test_unknown_departments_and_unsent_listings_are_refused_by_name(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    _batch, ids = dispatched_batch(engine, catalogue, clock, routing)
    _other, never = proposed_batch(engine, catalogue, clock, units=1, persons=0)

    result = record(
        engine,
        catalogue,
        clock,
        response_request(department="nosuch", kind="ack", listings=ids),
        response_request(department="pbc", kind="ack", listings=ids[:1]),
        response_request(department="csrc", kind="ack", listings=[ids[0], *never, 987_654_321]),
    )

    assert [r.listing_id for r in result.recorded] == [ids[0]]
    reasons = {(r.department, r.listing_id, r.field): r.reason_zh for r in result.refused}
    assert reasons == {
        ("nosuch", ids[0], "department"): "未知部门 nosuch：不在部门目录中",
        ("nosuch", ids[1], "department"): "未知部门 nosuch：不在部门目录中",
        ("pbc", ids[0], "listing_id"): f"名单 {ids[0]} 未向 pbc 推送，无从答复",
        ("csrc", never[0], "listing_id"): f"名单 {never[0]} 未向 csrc 推送，无从答复",
        ("csrc", 987_654_321, "listing_id"): "名单 987654321 不存在",
    }
    with pytest.raises(ResponseRefused) as raised:
        result.raise_if_refused()
    assert "nosuch" in raised.value.message
    assert raised.value.fields["recorded"] == 1
    assert {r["field"] for r in raised.value.fields["refusals"]} == {"department", "listing_id"}


def test_a_lift_is_confirmed_only_after_it_was_requested(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    batch, ids = dispatched_batch(engine, catalogue, clock, routing)
    lift = response_request(department="nfra", kind="lift", listings=ids)

    early = record(engine, catalogue, clock, lift)
    assert early.recorded == []
    assert {r.reason_zh for r in early.refused} == {"未收到解除函，无需确认解除"}
    by_batch = record(
        engine, catalogue, clock, response_request(department="nfra", kind="lift", batch_id=batch)
    )
    assert [(r.listing_id, r.field, r.reason_zh) for r in by_batch.refused] == [
        (None, "batch_id", "本批次没有待确认的解除函")
    ]

    today = clock.today()
    with session_scope(engine) as session:  # the lift request itself is built elsewhere
        for listing_id, due in zip(ids, (today - timedelta(days=1), today), strict=True):
            session.execute(
                sa.update(DepartmentAction)
                .where(
                    col(DepartmentAction.listing_id) == listing_id,
                    col(DepartmentAction.department) == "nfra",
                )
                .values(state="lift_requested", lift_requested_at=clock.now(), lift_due=due)
            )
    feedback_now = record(
        engine,
        catalogue,
        clock,
        response_request(department="nfra", kind="feedback", listings=ids[:1], feedback="已实施"),
    )
    confirmed = record(
        engine, catalogue, clock, response_request(department="nfra", kind="lift", batch_id=batch)
    )
    again = record(engine, catalogue, clock, lift)

    assert {r.reason_zh for r in feedback_now.refused} == {"已发出解除函，不再接收反馈"}
    assert sorted((r.listing_id, r.late) for r in confirmed.recorded) == [
        (ids[0], True),
        (ids[1], False),
    ]
    assert len(again.already) == 2
    rows = actions(engine, ids, "nfra")
    assert [(a.state, a.lift_late, a.lift_confirmed_at) for a in rows] == [
        ("lift_confirmed", True, clock.now()),
        ("lift_confirmed", False, clock.now()),
    ]
    assert [e.action for e in audit_events(engine, [a.id for a in rows])] == [
        "action.lift_confirm"
    ] * 2
    assert chain_ok(engine)


def test_a_batch_answers_for_every_listing_sent_and_references_must_match(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    batch, ids = dispatched_batch(engine, catalogue, clock, routing, units=3)
    with session_scope(engine) as session:
        reference = session.get_one(Batch, batch).reference

    quoted = record(
        engine,
        catalogue,
        clock,
        response_request(
            department="miit",
            kind="ack",
            listings=[f"{reference}-{ids[0]}", f"IMP-20200101-000000-{ids[1]}"],
        ),
    )
    whole = record(
        engine, catalogue, clock, response_request(department="miit", kind="ack", batch_id=batch)
    )
    missing = record(
        engine, catalogue, clock, response_request(department="miit", kind="ack", batch_id=987_654)
    )

    assert [r.listing_id for r in quoted.recorded] == [ids[0]]
    assert [(r.listing_id, r.field) for r in quoted.refused] == [(ids[1], "listing_id")]
    assert f"属于批次 {reference}" in quoted.refused[0].reason_zh
    assert sorted(r.listing_id for r in whole.recorded) == ids[1:]
    assert [r.listing_id for r in whole.already] == [ids[0]]
    assert [r.reason_zh for r in missing.refused] == ["批次 987654 不存在"]
    with pytest.raises(ResponseRequestError):
        response_request(department="miit", kind="ack", listings=["12a"])
    with pytest.raises(ResponseRequestError):
        response_request(department="miit", kind="ack")


# --- returned spreadsheets ---------------------------------------------------------------


def fill(name: str, target_dir: Path, tokens: dict[str, int | str]) -> Path:
    """A corpus file with this database's listing ids in place of its placeholders."""
    source, target = CORPUS / name, target_dir / name
    if source.suffix == ".xlsx":
        workbook = openpyxl.load_workbook(source)
        for row in workbook.worksheets[0].iter_rows():
            for cell in row:
                if not isinstance(cell.value, str) or "{" not in cell.value:
                    continue
                if cell.value in tokens:
                    cell.value = tokens[cell.value]
                else:
                    cell.value = _replaced(cell.value, tokens)
        workbook.save(target)
    else:
        text = _replaced(source.read_bytes().decode("gb18030"), tokens)
        target.write_bytes(text.encode("gbk"))
    return target


def _replaced(text: str, tokens: dict[str, int | str]) -> str:
    for token, value in tokens.items():
        text = text.replace(token, str(value))
    return text


@pytest.fixture
def updates(engine: sa.Engine) -> Iterator[list[str]]:
    """The UPDATE statements run against department_action while the test runs."""
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE DEPARTMENT_ACTION"):
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listen)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", listen)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_returned_sheet_records_its_good_rows_and_names_every_bad_one(
    name: str,
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    routing: Routing,
    tmp_path: Path,
    updates: list[str],
) -> None:
    batch, ids = dispatched_batch(engine, catalogue, clock, routing, units=3)
    _other, never = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    with session_scope(engine) as session:
        reference = session.get_one(Batch, batch).reference
    tokens: dict[str, int | str] = {
        "{L1}": ids[0],
        "{L2}": ids[1],
        "{L3}": ids[2],
        "{REF2}": f"{reference}-{ids[1]}",
        "{NEVER}": never[0],
    }
    path = fill(name, tmp_path, tokens)
    expected = EXPECTED[name]
    updates.clear()

    with session_scope(engine) as session:
        outcome = record_response_sheet(
            session,
            path,
            catalogue=catalogue,
            clock=clock,
            recorded_by=OPERATOR,
            department=expected["department"],
        )

    payload = outcome.as_dict()
    assert [[p.row_number, p.column] for p in outcome.problems] == expected["problems"]
    assert all(p.reason_zh and p.reason_en for p in outcome.problems)
    assert {k: v["recorded"] for k, v in payload["by_kind"].items()} == expected["recorded"]
    assert payload["skipped_rows"] == expected["skipped_rows"]
    # One UPDATE per (kind, department), whatever the number of rows.
    assert len(updates) == len(expected["recorded"])
    department = expected["department"] or "mem"
    states = {a.listing_id: a.state for a in actions(engine, ids, department)}
    assert "dispatched" not in states.values()
    with session_scope(engine) as session:
        sources = set(
            session.execute(
                sa.select(col(AuditEvent.source)).where(
                    col(AuditEvent.entity_type) == "department_action",
                    col(AuditEvent.source) == f"file:{name}",
                )
            ).scalars()
        )
    assert sources == {f"file:{name}"}
    assert chain_ok(engine)


def test_the_returned_sheets_feedback_lands_as_written(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing, tmp_path: Path
) -> None:
    batch, ids = dispatched_batch(engine, catalogue, clock, routing, units=3)
    with session_scope(engine) as session:
        reference = session.get_one(Batch, batch).reference
        tokens: dict[str, int | str] = {
            "{L1}": ids[0],
            "{L2}": ids[1],
            "{L3}": ids[2],
            "{REF2}": f"{reference}-{ids[1]}",
            "{NEVER}": 987_654_321,
        }
        record_response_sheet(
            session,
            fill("returned-mem.xlsx", tmp_path, tokens),
            catalogue=catalogue,
            clock=clock,
            recorded_by=OPERATOR,
        )
    rows = {a.listing_id: a for a in actions(engine, ids, "mem")}
    assert (rows[ids[0]].feedback_outcome, rows[ids[0]].feedback_text) == (
        "applied",
        "已列为重点监管对象，增加检查频次",
    )
    assert rows[ids[1]].state == "acknowledged"
    assert (rows[ids[2]].state, rows[ids[2]].feedback_outcome) == (
        "feedback_reported",
        "not_applicable",
    )


def test_a_returned_sheet_may_date_each_answer(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing, tmp_path: Path
) -> None:
    """The 答复日期 column: a row dated on the due date is on time however late it is typed in;
    an impossible date is named at its row; a row without one is judged on today."""
    _batch, ids = dispatched_batch(engine, catalogue, clock, routing, units=3)
    due = actions(engine, ids, "mem")[0].ack_due
    assert due is not None
    clock.advance(timedelta(days=(due - clock.today()).days + 4))
    sheet = tmp_path / "回执.csv"
    sheet.write_text(
        "部门代码,名单编号,响应,答复日期\n"
        f"mem,{ids[0]},是,{due:%Y/%m/%d}\n"
        f"mem,{ids[1]},是,2026-02-30\n"
        f"mem,{ids[2]},是,\n",
        encoding="utf-8-sig",
    )
    with session_scope(engine) as session:
        done = record_response_sheet(
            session, sheet, catalogue=catalogue, clock=clock, recorded_by=OPERATOR
        )
    assert sorted((r.listing_id, r.late) for r in done.result.recorded) == [
        (ids[0], False),
        (ids[2], True),
    ]
    assert [(p.row_number, p.column) for p in done.problems] == [(3, "答复日期")]
    assert "YYYY-MM-DD" in done.problems[0].reason_zh


@pytest.mark.parametrize(
    ("name", "department", "reason"),
    [
        ("missing-listing-column.csv", "mem", "缺少必需的列：名单编号（listing_id）"),
        ("no-answer-columns.csv", None, "没有任何答复列"),
        ("not-a-workbook.xlsx", None, "不是有效的 XLSX 文件"),
        ("no-department.csv", None, "缺少必需的列：部门代码（department）"),
        ("absent.csv", None, "文件不存在"),
    ],
)
def test_an_unreadable_or_incomplete_sheet_records_nothing(
    name: str,
    department: str | None,
    reason: str,
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    path = CORPUS / name
    if name == "no-department.csv":
        path = tmp_path / name
        path.write_text("名单编号,响应\n1,是\n", encoding="utf-8")
    with session_scope(engine) as session, pytest.raises(ImportFileError) as raised:
        record_response_sheet(
            session,
            path,
            catalogue=catalogue,
            clock=clock,
            recorded_by=OPERATOR,
            department=department,
        )
    assert reason in raised.value.message
    assert "未记录任何答复" in raised.value.message


# --- jointcredit respond -------------------------------------------------------------------


@pytest.fixture
def cli(
    engine: sa.Engine, clock: FrozenClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """`respond` as `jointcredit respond` runs it, in a clean directory (no developer .env)."""
    app = typer.Typer()
    app.command()(respond)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JOINTCREDIT_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        monkeypatch.setenv("JOINTCREDIT_NOW", clock.now().isoformat())
        return runner.invoke(app, list(args))

    return invoke


def test_jointcredit_respond_with_flags_and_with_a_file(
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    routing: Routing,
    cli: Any,
    tmp_path: Path,
) -> None:
    batch, ids = dispatched_batch(engine, catalogue, clock, routing, units=3)
    with session_scope(engine) as session:
        reference = session.get_one(Batch, batch).reference

    acked = cli("-d", "mem", "-l", str(ids[0]), "-l", f"{reference}-{ids[1]}", "--ack", "--json")
    again = cli("--department", "mem", "--listing", str(ids[0]), "--ack")
    refused = cli("-d", "pbc", "-l", str(ids[0]), "--ack", "--json")
    confused = cli("-d", "mem", "-l", str(ids[0]), "--ack", "--lifted", "--json")
    reasonless = cli("-d", "mem", "-l", str(ids[2]), "--feedback", "", "--not-applicable")
    reasoned = cli(
        "-d", "mem", "-l", str(ids[2]), "--feedback", "不适用：无相关许可", "--not-applicable"
    )

    assert acked.exit_code == 0, acked.output
    assert json.loads(acked.stdout)["recorded"] == 2
    assert again.exit_code == 0
    assert "此前已记录" in again.stdout
    assert refused.exit_code == 2  # nothing recorded: every answer refused
    assert json.loads(refused.stdout)["refusals"][0]["reason_zh"] == (
        f"名单 {ids[0]} 未向 pbc 推送，无从答复"
    )
    assert confused.exit_code == 2
    assert json.loads(confused.stdout)["error"] == "ResponseRequestError"
    assert reasonless.exit_code == 2
    assert "须在反馈内容中说明理由" in reasonless.stderr
    assert reasoned.exit_code == 0, reasoned.output
    assert actions(engine, ids[2:], "mem")[0].feedback_outcome == "not_applicable"

    tokens: dict[str, int | str] = {"{L1}": ids[0], "{L2}": ids[1], "{L3}": ids[2]}
    sheet = fill("returned-ndrc-gbk.csv", tmp_path, tokens)
    from_file = cli("--file", str(sheet), "--department", "ndrc", "--json")
    missing = cli("--file", str(CORPUS / "no-answer-columns.csv"), "--json")

    assert from_file.exit_code == 1
    payload = json.loads(from_file.stdout)
    assert (payload["encoding"], payload["bad_rows"], payload["recorded"]) == ("gb18030", 5, 3)
    assert missing.exit_code == 2
    assert json.loads(missing.stdout)["error"] == "ImportFileError"
