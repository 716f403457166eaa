"""Issue 13 item 12: every state change a user can make is on the audit trail.

`test_every_command_is_classified` walks the `jointcredit` command tree (Typer/Click) and fails
on a command that is in none of the tables below, so a new command cannot slip through: it is
either read-only (and proved so by `test_read_only_commands_change_nothing`), one of the few
that change no entity a user can change (each with its reason), or state-changing with a
scenario in `STATE_CHANGING` that `test_every_state_changing_command_appends_an_event` runs
through the real console script, checking that the database changed and the trail grew.

The Prefect forms answer through the same core calls as a command (`FORMS`); every `RunInput`
form in `flows/` must be mapped to the command whose scenario covers its path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer

from memoranda.loader import Catalogue
from registry import db
from registry.clock import FrozenClock
from registry.routing import Routing, close_defence_windows, notify_proposed
from tests.factories.listings import clock_at, in_force, proposed_batch, run, serve_prior_notices
from tests.integration.cli_runner import run as cli

READ_ONLY = {
    "archive": "the credit archive of a subject",
    "audit verify": "recomputes the chain",
    "batch show": "a batch's status",
    "batch quarantine": "a batch's quarantined rows",
    "calendar status": "which holiday years are known",
    "catalogue validate": "checks the YAML files",
    "deadline": "a date computation",
    "inbox": "what waits for an operator",
    "listing show": "a listing's history",
    "notice print": "writes printable files of stored letters; changes no row",
    "outbox status": "counts notices",
    "screen": "what measures apply today",
    "sla report": "per-department figures",
    "uscc check": "checks a code",
}
NO_USER_ENTITY = {
    "db upgrade": "changes the schema, not a row (Alembic keeps its own version)",
    "demo": "builds its own demo database from scratch (refused in production)",
    "mail-sink": "the local SMTP sink: writes received mail to files, no database",
    "outbox drain": "delivery, not a decision: every attempt is a notice_attempt row",
    "serve": "starts the deployments; their runs are the flows covered here",
    "up": "starts the Prefect server and the deployments",
}
STATE_CHANGING: dict[str, list[str]] = {
    # Run in this order on one scenario; `{name}` is filled from `Scenario`.
    # The scenario's events were written by factories that anchor nothing, like a database
    # from before anchoring: its operator accepts the head first.
    "audit anchor": ["audit", "anchor", "--accept-current-head", "--by", "信用办 李娜"],
    "import": ["import", "good.csv"],
    "route": ["route", "{proposed_batch}"],  # the batch `import` just made
    "confirm": [
        "confirm",
        "{awaiting_batch}",
        "--reviewer",
        "审核人 李娜",
        "--decision-number",
        "川应急信决〔2026〕7号",
    ],
    "respond": ["respond", "--department", "ndrc", "--listing", "{objected}", "--ack"],
    "sla sweep": ["sla", "sweep"],
    "calendar reload": ["calendar", "reload"],
    "outbox retry-failed": ["outbox", "retry-failed", "--id", "{failed_notice}"],
    "objection file": ["objection", "file", "{objected}", "--by", "当事人", "--reason", "认定有误"],
    "objection decide": [
        "objection",
        "decide",
        "{objection}",
        "--reviewer",
        "审核人 李娜",
        "--dismissed",
        "--reason",
        "所述不实",
    ],
    "removal review": ["removal", "review"],
    "removal apply": [
        "removal",
        "apply",
        "{repaired}",
        "--evidence",
        "整改报告",
        "--commitment",
        "公开承诺守信",
    ],
    "removal decide": [
        "removal",
        "decide",
        "{repaired}",
        "--reviewer",
        "审核人 李娜",
        "--approve",
    ],
    "removal restore": [
        "removal",
        "restore",
        "{repaired}",
        "--reviewer",
        "审核人 李娜",
        "--reason",
        "承诺系以欺诈取得",
    ],
    "report monthly": ["report", "monthly", "--month", "2026-10"],
    "notice served": [
        *("notice", "served", "{post_notice}", "--on", "2026-11-20", "--method", "post"),
        *("--note", "挂号信 XA123456789CN", "--by", "信用办 李娜"),
    ],
    "contact set": [
        "contact",
        "set",
        "--department",
        "ndrc",
        "--address",
        "xinyong@ndrc.example.cn",
    ],
}
RECORDED_EVEN_WHEN_NOTHING_MOVES = {"calendar reload", "audit anchor"}
"""Commands whose run is itself on the record (how many deadlines it checked; who accepted
which audit head), even when the scenario gives them nothing else to change."""
FORMS = {
    "ConfirmationForm": "confirm",  # route-batch → record_decision, like `confirm`
    "RemovalForm": "removal decide",  # review-removals → decide_removal
    "ResponseForm": "respond",  # record-responses → record_response
}
GOOD_CSV = (
    "名单类型,主体类型,名称,统一社会信用代码,认定依据,处罚决定日期\n"
    "黑名单,单位,苏州审计样本有限公司,91320500MA1MXQ4E7B,A4,2026-10-20\n"
)


def command_paths() -> set[str]:
    from deployments.cli import app

    def walk(command: Any, prefix: str) -> Iterator[str]:
        if hasattr(command, "commands"):  # a group (Typer ships its own copy of Click)
            for name, sub in command.commands.items():
                yield from walk(sub, f"{prefix} {name}".strip())
        else:
            yield prefix

    return set(walk(typer.main.get_command(app), ""))


def test_every_command_is_classified() -> None:
    tables = [set(READ_ONLY), set(NO_USER_ENTITY), set(STATE_CHANGING)]
    classified = set().union(*tables)
    assert sum(len(t) for t in tables) == len(classified), "a command is in two tables"
    unknown = sorted(command_paths() - classified)
    assert unknown == [], (
        f"new command(s) {unknown}: add to STATE_CHANGING with a scenario (and make it append an"
        " audit event in the same transaction), or to READ_ONLY"
    )
    assert sorted(classified - command_paths()) == []


def test_every_form_takes_a_covered_command_path() -> None:
    from prefect.input import RunInput

    import flows.removal
    import flows.responses
    import flows.route  # noqa: F401  (every flow that asks the operator)

    def subclasses(cls: type) -> Iterator[type]:
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = {c.__name__ for c in subclasses(RunInput) if c.__module__.startswith("flows.")}
    assert ours == set(FORMS)
    assert set(FORMS.values()) <= set(STATE_CHANGING)


@dataclass
class Scenario:
    directory: Path
    engine: sa.Engine
    env: dict[str, str]
    values: dict[str, str]

    def args(self, template: list[str]) -> list[str]:
        return [a.format(**self.values) for a in template]


@pytest.fixture
def scenario(
    tmp_path: Path, catalogue: Catalogue, routing: Routing, clock: FrozenClock
) -> Iterator[Scenario]:
    url = f"sqlite:///{tmp_path / 'walk.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    _, (expired,) = in_force(engine, catalogue, clock, routing, published=date(2023, 6, 1))
    _, (repaired,) = in_force(engine, catalogue, clock, routing, published=date(2025, 6, 2))
    _, (objected,) = in_force(engine, catalogue, clock, routing, published=date(2026, 6, 1))
    clock_at(clock, date(2026, 11, 2))
    awaiting, awaiting_ids = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    run(engine, notify_proposed, awaiting, routing)
    serve_prior_notices(engine, awaiting_ids, clock.today())
    by_post, (unserved,) = proposed_batch(
        engine, catalogue, clock, units=1, persons=0, consent=False
    )
    run(engine, notify_proposed, by_post, routing)
    clock_at(clock, date(2026, 11, 27))
    run(engine, close_defence_windows, awaiting, routing)
    with engine.begin() as connection:  # one notice the relay refused, for retry-failed
        failed = connection.execute(sa.text("SELECT min(id) FROM notice")).scalar_one()
        post_notice = connection.execute(
            sa.text("SELECT id FROM notice WHERE listing_id = :i"), {"i": unserved}
        ).scalar_one()
        connection.execute(
            sa.text("UPDATE notice SET state = 'failed' WHERE id = :i"), {"i": failed}
        )
    (tmp_path / "good.csv").write_text(GOOD_CSV, encoding="utf-8")
    env = {
        "JOINTCREDIT_DATABASE_URL": url,
        "JOINTCREDIT_DATA_DIR": str(tmp_path / "var"),
        "JOINTCREDIT_NOW": clock.now().isoformat(),
        "JOINTCREDIT_SMTP_PORT": "9",  # nothing here delivers
    }
    values = {
        "awaiting_batch": str(awaiting),
        "objected": str(objected),
        "repaired": str(repaired),
        "expired": str(expired),
        "failed_notice": str(failed),
        "post_notice": str(post_notice),
    }
    yield Scenario(tmp_path, engine, env, values)
    engine.dispose()


def snapshot(engine: sa.Engine) -> dict[str, str]:
    """A digest of every table's rows, by table."""
    digests = {}
    with engine.connect() as connection:
        for table in sorted(sa.inspect(connection).get_table_names()):
            rows = connection.execute(sa.text(f'SELECT * FROM "{table}" ORDER BY 1')).all()
            text = json.dumps([list(r) for r in rows], ensure_ascii=False, default=str)
            digests[table] = hashlib.sha256(text.encode()).hexdigest()
    return digests


def audit_count(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT count(*) FROM audit_event")).scalar_one())


def _read_only_args(scenario: Scenario) -> dict[str, list[str]]:
    with scenario.engine.connect() as connection:
        uscc = connection.execute(sa.text("SELECT uscc FROM subject LIMIT 1")).scalar_one()
        seq, digest = connection.execute(
            sa.text("SELECT last_seq, last_hash FROM audit_head")
        ).one()
    return {
        "archive": ["archive", uscc],
        # Nothing anchored the scenario's head (see STATE_CHANGING): as from a monthly report.
        "audit verify": ["audit", "verify", "--head", f"{seq}:{digest}"],
        "batch show": ["batch", "show", scenario.values["awaiting_batch"]],
        "batch quarantine": ["batch", "quarantine", scenario.values["awaiting_batch"]],
        "calendar status": ["calendar", "status"],
        "catalogue validate": ["catalogue", "validate"],
        "deadline": ["deadline", "--from", "2026-11-27", "--working-days", "5"],
        "inbox": ["inbox", "--all"],
        "listing show": ["listing", "show", scenario.values["objected"]],
        "notice print": ["notice", "print", "--out", str(scenario.directory / "printed")],
        "outbox status": ["outbox", "status"],
        "screen": ["screen", uscc],
        "sla report": ["sla", "report"],
        "uscc check": ["uscc", "check", uscc],
    }


def test_read_only_commands_change_nothing(scenario: Scenario) -> None:
    commands = _read_only_args(scenario)
    assert set(commands) == set(READ_ONLY)
    before = snapshot(scenario.engine)
    for name, args in commands.items():
        result = cli(scenario.directory, *args, env=scenario.env)
        assert result.returncode == 0, (name, result.stdout, result.stderr)
        assert snapshot(scenario.engine) == before, f"{name} changed the database"


def test_every_state_changing_command_appends_an_event(scenario: Scenario) -> None:
    for name, template in STATE_CHANGING.items():
        with scenario.engine.connect() as connection:  # what the previous commands created
            for key, table in (("proposed_batch", "batch"), ("objection", "objection")):
                newest = connection.execute(sa.text(f"SELECT max(id) FROM {table}")).scalar()
                scenario.values[key] = str(newest)
        before, events = snapshot(scenario.engine), audit_count(scenario.engine)
        result = cli(scenario.directory, *scenario.args(template), env=scenario.env)
        assert result.returncode == 0, (name, result.stdout, result.stderr)
        after = snapshot(scenario.engine)
        changed = sorted(t for t in after if after[t] != before[t])
        if name not in RECORDED_EVEN_WHEN_NOTHING_MOVES:  # the scenario exercises the command
            assert set(changed) - {"audit_event", "audit_head"}, f"{name} changed nothing"
        assert audit_count(scenario.engine) > events, f"{name} changed {changed} with no event"
    verified = cli(scenario.directory, "audit", "verify", env=scenario.env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
