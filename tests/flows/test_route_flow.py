"""`route-batch` on the Prefect engine: the pause form answered with a real RunInput payload,
the CLI confirming instead, re-runs that change nothing, and a crash between steps."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.flow_runs import aresume_flow_run
from sqlmodel import col

from flows.intake import intake_batch
from flows.route import route_batch
from memoranda.loader import Catalogue
from notifications.artifacts import markdown_cell
from registry.audit import verify
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.models import DepartmentAction, Listing, Notice
from registry.routing import Decision
from service.runtime import opened_runtime
from service.steps import record_decision
from tasks.routing import InjectedFault
from tests.factories.flow_runs import form_defaults, form_description, paused_run
from tests.factories.identities import leaks, new_resident_id
from tests.factories.import_files import good_rows, write_csv
from tests.factories.listings import PROPOSER, REVIEWER, proposed_batch, serve_prior_notices
from tests.integration.cli_runner import run

DECISION_NUMBER = re.compile(r"^应急信列〔2026〕\d+号$")  # from the sequence, per listing


def _at(monkeypatch: pytest.MonkeyPatch, clock: FrozenClock) -> None:
    monkeypatch.setenv("JOINTCREDIT_NOW", clock.now().isoformat())


def _states(engine: sa.Engine, batch: int) -> Counter[str]:
    with session_scope(engine) as session:
        rows = session.execute(sa.select(col(Listing.state)).where(col(Listing.batch_id) == batch))
        return Counter(rows.scalars())


def _counts(engine: sa.Engine) -> tuple[int, int]:
    with session_scope(engine) as session:
        actions = session.execute(sa.select(sa.func.count()).select_from(DepartmentAction))
        notices = session.execute(sa.select(sa.func.count()).select_from(Notice))
        return actions.scalar_one(), notices.scalar_one()


async def test_the_operator_confirms_in_the_pause_form(
    prefect_server: None,
    database: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch, ids = proposed_batch(database, catalogue, clock, units=2, persons=1)
    _at(monkeypatch, clock)

    first = await route_batch(batch)
    assert first["waiting_on"] == "service"  # the 告知书 are composed, not yet served
    assert _states(database, batch) == {"notified": 3}
    serve_prior_notices(database, ids, clock.today())  # e-mailed and accepted today
    served = await route_batch(batch)
    assert served["waiting_on"] == "defence_window"
    assert _states(database, batch) == {"notified": 3}

    clock.advance(timedelta(days=20))
    _at(monkeypatch, clock)
    running = asyncio.create_task(route_batch(batch, confirmation_poll_seconds=1))
    paused = await paused_run()
    async with get_client() as client:
        keys = await client.filter_flow_run_input(
            flow_run_id=paused.id, key_prefix="", limit=10, exclude_keys=set()
        )
    shown = " ".join(json.loads(k.value) for k in keys if k.key.endswith("description"))
    assert "待确认名单" in shown
    assert markdown_cell("110105********123X") in shown  # masked, `*` escaped (as stored)
    await aresume_flow_run(
        paused.id,
        run_input={
            "reviewer": REVIEWER,
            "approve_others": True,
            "rejections": [{"listing_id": ids[2], "reason": "身份信息待核实，暂不列入"}],
        },
    )
    result = await asyncio.wait_for(running, timeout=120)

    assert result["waiting_on"] == "nothing"
    assert _states(database, batch) == {"in_force": 2, "rejected": 1}
    departments = len(catalogue.departments_of("mem-2023-art78"))
    assert _counts(database) == (2 * departments, 3 + 1 + 2 + departments)
    with session_scope(database) as session:
        decided = session.execute(
            sa.select(col(Listing.decided_by), col(Listing.decision_number)).where(
                col(Listing.id) == ids[0]
            )
        ).one()
        assert decided[0] == REVIEWER
        assert DECISION_NUMBER.match(decided[1])
        assert verify(session).ok

    before = _counts(database)
    again = await route_batch(batch)
    assert again["states"] == result["states"]
    assert _counts(database) == before


def test_the_cli_confirms_instead_and_the_run_sees_it_is_done(
    prefect_server: None,
    database: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    batch, _ids = proposed_batch(
        database, catalogue, clock, rule_set="saws-2017-incentive", units=2, persons=0
    )
    _at(monkeypatch, clock)
    waiting = asyncio.run(route_batch(batch, wait_for_operator=False))
    assert waiting["waiting_on"] == "operator"

    env = {
        "JOINTCREDIT_DATABASE_URL": str(database.url),
        "JOINTCREDIT_NOW": clock.now().isoformat(),
    }
    confirmed = run(tmp_path, "confirm", str(batch), "--reviewer", REVIEWER, "--json", env=env)
    assert confirmed.returncode == 0, confirmed.stderr
    payload = json.loads(confirmed.stdout)
    assert payload["states"] == {"in_force": 2}
    again = run(tmp_path, "confirm", str(batch), "--reviewer", "另一审核人", env=env)
    assert again.returncode == 2  # the second decision changed nothing and says whose stands
    assert "已由他人决定" in again.stderr
    assert REVIEWER in again.stderr

    before = _counts(database)
    done = asyncio.run(route_batch(batch))  # would pause if anything still awaited a decision
    assert done["waiting_on"] == "nothing"
    assert _counts(database) == before


def test_a_crash_between_steps_is_finished_by_the_next_run(
    prefect_server: None,
    database: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch, _ids = proposed_batch(
        database, catalogue, clock, rule_set="saws-2017-incentive", units=3, persons=0
    )
    _at(monkeypatch, clock)
    asyncio.run(route_batch(batch, wait_for_operator=False))
    with opened_runtime() as runtime:
        record_decision(runtime, batch, Decision(REVIEWER), source="test")
    monkeypatch.setenv("JOINTCREDIT_FAULT_AFTER_STEP", "publish")
    with pytest.raises(InjectedFault):
        asyncio.run(route_batch(batch))
    assert _states(database, batch) == {"in_force": 3}
    assert _counts(database) == (0, 3)  # published and the awards queued; nothing dispatched
    monkeypatch.delenv("JOINTCREDIT_FAULT_AFTER_STEP")

    finished = asyncio.run(route_batch(batch))
    again = asyncio.run(route_batch(batch))

    assert finished["waiting_on"] == again["waiting_on"] == "nothing"
    memoranda = catalogue.memoranda_for("saws-2017-incentive")
    departments = {d for m in memoranda for d in catalogue.departments_of(m.id)}
    assert _counts(database) == (3 * len(departments), 3 + len(departments))
    with session_scope(database) as session:
        actions = session.execute(
            sa.select(col(DepartmentAction.listing_id), col(DepartmentAction.department))
        ).all()
    assert len(actions) == len(set(actions)) == 3 * len(departments)


def test_jointcredit_route_runs_the_flow_once_and_never_waits(
    database: sa.Engine, catalogue: Catalogue, clock: FrozenClock, tmp_path: Path
) -> None:
    batch, _ids = proposed_batch(
        database, catalogue, clock, rule_set="saws-2017-incentive", units=1, persons=0
    )
    env = {
        "JOINTCREDIT_DATABASE_URL": str(database.url),
        "JOINTCREDIT_NOW": clock.now().isoformat(),
    }
    routed = run(tmp_path, "route", str(batch), env=env)
    assert routed.returncode == 0, routed.stderr
    assert "等待操作员确认" in routed.stdout
    assert f"jointcredit confirm {batch}" in routed.stdout
    assert "告知：变更" in routed.stdout  # the step's Chinese name, not its code
    assert "notify：" not in routed.stdout
    missing = run(tmp_path, "route", "987654", "--json", env=env)
    assert missing.returncode == 2
    assert json.loads(missing.stdout)["error"] == "NotFound"


async def test_a_mixed_file_goes_from_intake_to_in_force_through_the_form(
    prefect_server: None,
    database: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Black and red, units and persons, a pilot-code USCC, three rule-sets, one invalid row."""
    rows = [*good_rows(), {**good_rows()[0], "grounds": "Z9"}]
    for agreed in (rows[0], rows[4]):  # the first unit and its employee: 同意电子送达
        agreed["e_service_consent"] = "是"
    path = write_csv(tmp_path / "报送名单.csv", rows, encoding="utf-8-sig")
    monkeypatch.setenv("JOINTCREDIT_DATA_DIR", str(tmp_path / "var"))
    _at(monkeypatch, clock)

    intake = await intake_batch(str(path), proposed_by="省级报送员 王强")

    assert (intake["accepted"], intake["rejected"], intake["needs_review"]) == (6, 1, 1)
    assert intake["quarantine"][0]["row"] == 8
    assert intake["quarantine"][0]["column"] == "认定依据"
    # Five black parties; only the first unit (and its employee) gave a mailbox and agreed to
    # e-mail service, the other three are printed for post; the red listing needs no prior notice.
    assert intake["notify"]["notices_queued"] == 5  # every letter is composed and stored
    assert len(intake["notify"]["for_post"]) == 3
    batch = intake["batch_id"]
    with session_scope(database) as session:
        listed = list(
            session.execute(
                sa.select(col(Listing.id)).where(col(Listing.batch_id) == batch)
            ).scalars()
        )
    serve_prior_notices(database, listed, clock.today())  # e-mailed, or posted and signed for

    clock.advance(timedelta(days=20))
    _at(monkeypatch, clock)
    running = asyncio.create_task(route_batch(batch, confirmation_poll_seconds=1))
    paused = await paused_run()
    await aresume_flow_run(
        paused.id,
        run_input={"reviewer": REVIEWER, "rejections": []},
    )
    result = await asyncio.wait_for(running, timeout=120)

    assert result["states"] == {"in_force": 6}
    per_rule_set = {
        "mem-2023-serious": 4,  # two units and two persons
        "saws-2017-sanction": 1,
        "saws-2017-incentive": 1,
    }
    expected_actions = sum(
        count * len({d for m in catalogue.memoranda_for(r) for d in catalogue.departments_of(m.id)})
        for r, count in per_rule_set.items()
    )
    with session_scope(database) as session:
        actions = session.execute(
            sa.select(sa.func.count())
            .select_from(DepartmentAction)
            .join(Listing, col(Listing.id) == col(DepartmentAction.listing_id))
            .where(col(Listing.batch_id) == batch)
        ).scalar_one()
        kinds = Counter(
            session.execute(
                sa.select(col(Notice.kind), col(Notice.channel)).where(
                    sa.or_(
                        col(Notice.batch_id) == batch,
                        col(Notice.listing_id).in_(
                            sa.select(col(Listing.id)).where(col(Listing.batch_id) == batch)
                        ),
                    )
                )
            ).tuples()
        )
        assert verify(session).ok
    assert actions == expected_actions
    assert kinds[("prior_notice", "email")] == 2
    assert kinds[("listing_decision", "email")] == 2
    assert kinds[("red_award", "email")] == 0  # the red unit has no mailbox either
    # The parties without a mailbox get the same letters, printed for post.
    assert kinds[("prior_notice", "post")] == kinds[("listing_decision", "post")] == 3
    assert kinds[("red_award", "post")] == 1
    digests = {
        (rule, d)
        for rule in per_rule_set
        for m in catalogue.memoranda_for(rule)
        for d in catalogue.departments_of(m.id)
    }
    assert kinds[("department_dispatch", "email")] == len(digests)


async def test_a_refused_answer_is_answered_in_the_form_and_the_run_waits_again(
    prefect_server: None,
    database: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 15: the proposer as reviewer changes nothing; the same form comes back with the
    reason above the review, the run stays paused, and the right answer then completes it."""
    batch, ids = proposed_batch(
        database, catalogue, clock, rule_set="saws-2017-incentive", units=2, persons=0
    )
    _at(monkeypatch, clock)
    await route_batch(batch, wait_for_operator=False)
    assert _states(database, batch) == {"awaiting_confirmation": 2}

    caplog.set_level(logging.INFO)
    running = asyncio.create_task(route_batch(batch, confirmation_poll_seconds=1))
    paused = await paused_run()
    first = await form_description(paused.id, f"confirm-batch-{batch}")
    assert "表单有误" not in first
    assert "系统逐条自动编号" in first
    typed_id = new_resident_id(random.Random(15))
    await aresume_flow_run(
        paused.id,
        run_input={
            "reviewer": PROPOSER,
            "rejections": [{"listing_id": ids[1], "reason": f"材料不全，负责人 {typed_id}"}],
        },
    )

    again = await form_description(paused.id, f"confirm-batch-{batch}-2")
    assert again.startswith("### 表单有误，请修改后重新提交\n\n- ")
    assert "审核人不得为提出人" in again
    assert "待确认名单" in again
    assert _states(database, batch) == {"awaiting_confirmation": 2}  # nothing recorded
    assert not running.done()
    # The form comes back filled in with what was refused, to be corrected, not retyped.
    filled = await form_defaults(paused.id, f"confirm-batch-{batch}-2")
    assert filled["reviewer"] == PROPOSER
    assert [r["listing_id"] for r in filled["rejections"]] == [ids[1]]
    assert filled["rejections"][0]["reason"].startswith("材料不全，负责人 ")
    assert leaks(json.dumps(filled, ensure_ascii=False), [typed_id]) == []  # stored masked

    await aresume_flow_run(
        paused.id,
        run_input={
            "reviewer": REVIEWER,
            "rejections": [{"listing_id": ids[1], "reason": "材料不全，暂不列入"}],
        },
    )
    result = await asyncio.wait_for(running, timeout=120)
    assert _states(database, batch) == {"in_force": 1, "rejected": 1}
    assert result["waiting_on"] == "nothing"
    logged = [r for r in caplog.records if r.name.startswith("prefect")]
    messages = [r.getMessage() for r in logged]
    assert any("等待操作员在表单中确认批次" in m and "运行已暂停" in m for m in messages)
    assert any(
        f"审核人 {REVIEWER}，确认列入 1 条，不予列入 1 条（名单 {ids[1]}：材料不全，暂不列入）" in m
        for m in messages
    ), messages
    assert [r.getMessage() for r in logged if r.levelno >= logging.ERROR] == []
