"""`jointcredit screen`, `removal …` and `objection …` as an operator and a department run them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa

from memoranda.loader import Catalogue
from registry.clock import FrozenClock
from registry.routing import Routing
from tests.factories.listings import clock_at, in_force
from tests.integration.cli_runner import run, run_json, run_json_error


def test_screen_objection_and_removal_from_the_command_line(
    local: tuple[sa.Engine, dict[str, str]],
    catalogue: Catalogue,
    routing: Routing,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    engine, env = local
    _batch, (listing,) = in_force(engine, catalogue, clock, routing, published=date(2026, 6, 1))
    with engine.connect() as connection:
        uscc = connection.execute(
            sa.text("SELECT s.uscc FROM subject s JOIN listing l ON l.subject_id = s.id")
        ).scalar_one()
    clock_at(clock, date(2026, 11, 27))
    env = {**env, "JOINTCREDIT_NOW": clock.now().isoformat()}

    screened = run_json(tmp_path, "screen", uscc, "--department", "mem", env=env)
    assert screened["under_sanction"] is True
    assert {m["department"] for m in screened["measures"]} == {"mem"}
    text = run(tmp_path, "screen", uscc, env=env)
    assert "今日在施措施" in text.stdout
    clear = run(tmp_path, "screen", "91512081MA62K0260E", env=env)
    assert "无在施的联合奖惩措施" in clear.stdout
    bad = run_json_error(tmp_path, "screen", "12345", env=env)
    assert bad["error"] == "IdentifierError"

    # Every answer names the listing both ways (issue 13 item 7), and a department with no
    # measure of its own for a subject on the black list is told it is on the black list.
    reference = _listing_reference(engine, listing)
    assert [row["reference"] for row in screened["listings"]] == [reference]
    assert {m["reference"] for m in screened["measures"]} == {reference}
    assert f"{listing}（{reference}，黑）" in text.stdout.replace("\n", "").replace("│", "")
    other = _department_without_measures(engine, catalogue)
    unmeasured = run_json(tmp_path, "screen", uscc, "--department", other, env=env)
    assert (unmeasured["under_sanction"], unmeasured["on_black_list"]) == (False, True)
    assert unmeasured["department"] == other
    plain = run(tmp_path, "screen", uscc, "--department", other.upper(), env=env)
    assert plain.returncode == 0, plain.stderr
    assert f"在黑名单上：名单 {listing}（{reference}），自 2026-06-01 起" in plain.stdout
    assert f"{catalogue.departments[other].name}（{other}）" in plain.stdout
    assert "该主体仍在黑名单上" in plain.stdout
    assert "无在施的联合奖惩措施" not in plain.stdout
    assert run_json(tmp_path, "screen", "91512081MA62K0260E", env=env)["on_black_list"] is False

    early = run_json_error(
        tmp_path,
        "removal",
        "apply",
        str(listing),
        "--evidence",
        "整改完毕",
        "--commitment",
        "公开承诺",
        env=env,
    )
    assert early["earliest"] == "2027-06-01"

    filed = run_json(
        tmp_path,
        "objection",
        "file",
        str(listing),
        "--by",
        "当事人",
        "--reason",
        "认定有误",
        env=env,
    )
    decided = run_json(
        tmp_path,
        "objection",
        "decide",
        str(filed["objection_id"]),
        "--reviewer",
        "李娜",
        "--upheld",
        "--reason",
        "经核查，认定有误",
        env=env,
    )
    assert decided["moved"] == 1
    assert run_json(tmp_path, "screen", uscc, env=env)["measures"] == []


def _listing_reference(engine: sa.Engine, listing: int) -> str:
    with engine.connect() as connection:
        batch = connection.execute(
            sa.text(
                "SELECT b.reference FROM batch b JOIN listing l ON l.batch_id = b.id"
                " WHERE l.id = :id"
            ),
            {"id": listing},
        ).scalar_one()
    return f"{batch}-{listing}"


def _department_without_measures(engine: sa.Engine, catalogue: Catalogue) -> str:
    with engine.connect() as connection:
        acting = set(
            connection.execute(sa.text("SELECT DISTINCT department FROM department_action"))
            .scalars()
            .all()
        )
    return sorted(set(catalogue.departments) - acting)[0]
