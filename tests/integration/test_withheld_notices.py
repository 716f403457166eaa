"""A letter the renderer refuses parks that one notice, never the step that causes it.

The renderer's last check (`notifications.render`) refuses a letter that would show an unmasked
resident ID number. Text typed today is cleaned before it is stored (`registry.free_text`), so
the check can only fire on text that never passed the cleaner — here a subject's name stored
raw by a version before the cleaner. The refusal used to raise inside `confirm` after the
decision and publication were committed: the listing stood in force with no department
actions, and every later `route` failed. Now the notice is stored `withheld` with the reason
(nothing of the letter is kept), the step commits everything else, and the operator sees it in
`outbox status` and `batch show`.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from registry.clock import FrozenClock
from registry.identifiers import mask_resident_id
from registry.routing import Routing, close_defence_windows, notify_proposed
from tests.factories.listings import clock_at, run, serve_prior_notices
from tests.integration.cli_runner import run as cli
from tests.integration.cli_runner import run_json

RAW = "510104196812030351"
MASKED = mask_resident_id(RAW)


def _two_units(tmp_path: Path) -> Path:
    path = tmp_path / "报送.csv"
    source = Path(__file__).parents[2] / "deployments" / "demo_data" / "batch-2026.csv"
    with source.open(encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows[:3])  # the header and two units
    return path


def _leaks(text: str) -> bool:
    return RAW in re.sub(r"[\s_/.\-]+", "", unicodedata.normalize("NFKC", text))


def test_a_letter_the_renderer_refuses_is_withheld_and_the_batch_routes_on(
    local: tuple[sa.Engine, dict[str, str]],
    routing: Routing,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    engine, env = local
    clock_at(clock, date(2026, 11, 2))
    at = {**env, "JOINTCREDIT_NOW": clock.now().isoformat()}
    batch = run_json(tmp_path, "import", str(_two_units(tmp_path)), env=at)["batch_id"]
    notified = run(engine, notify_proposed, batch, routing)
    serve_prior_notices(engine, notified.moved, clock.today())  # e-mailed: the demo rows agreed
    clock_at(clock, date(2026, 11, 27))
    run(engine, close_defence_windows, batch, routing)
    now = {**env, "JOINTCREDIT_NOW": clock.now().isoformat()}
    with engine.begin() as connection:
        (first, second) = connection.execute(
            sa.text("SELECT id, subject_id FROM listing WHERE batch_id = :b ORDER BY id"),
            {"b": batch},
        ).all()
        # A name stored raw before the cleaner existed, full-width as it was typed.
        legacy = (
            "某化工有限公司（法定代表人 "
            + RAW.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
            + "）"
        )
        connection.execute(
            sa.text("UPDATE subject SET name = :n WHERE id = :s"), {"n": legacy, "s": first[1]}
        )

    confirmed = cli(tmp_path, "confirm", str(batch), "--reviewer", "李娜", env=now)
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
    assert "Traceback" not in confirmed.stderr

    with engine.connect() as connection:
        states = dict(
            connection.execute(
                sa.text("SELECT id, state FROM listing WHERE batch_id = :b"), {"b": batch}
            ).all()
        )
        actions = dict(
            connection.execute(
                sa.text("SELECT listing_id, COUNT(*) FROM department_action GROUP BY listing_id")
            ).all()
        )
        notices = connection.execute(
            sa.text(
                "SELECT listing_id, kind, state, subject, body_text, last_error FROM notice"
                " WHERE state != 'sent' AND kind IN ('listing_decision', 'department_dispatch')"
            )
        ).all()
    assert states == {first[0]: "in_force", second[0]: "in_force"}
    assert actions.get(first[0], 0) > 0
    assert actions.get(second[0], 0) > 0
    withheld = [n for n in notices if n.state == "withheld"]
    assert withheld, notices
    # The first unit's decision letter, and each department's dispatch letter that names it;
    # the second unit's decision letter goes out.
    assert {n.listing_id for n in withheld if n.listing_id is not None} == {first[0]}
    assert {n.kind for n in withheld} == {"listing_decision", "department_dispatch"}
    assert [n.state for n in notices if n.listing_id == second[0]] == ["queued"]
    for notice in withheld:
        assert notice.body_text == ""
        assert "未脱敏的身份证号" in notice.last_error
        assert MASKED in notice.last_error

    status = cli(tmp_path, "outbox", "status", env=now)
    assert status.returncode == 0, status.stderr
    assert "未脱敏的身份证号" in status.stdout
    shown = cli(tmp_path, "batch", "show", str(batch), env=now)
    assert shown.returncode == 0, shown.stderr
    assert "内容含未脱敏信息" in shown.stdout

    again = cli(tmp_path, "route", str(batch), env=now)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Traceback" not in again.stderr

    with engine.connect() as connection:
        stored = json.dumps(
            [list(r) for r in connection.execute(sa.text("SELECT * FROM notice")).all()],
            ensure_ascii=False,
            default=str,
        )
    # Nothing of the refused letter is kept or shown (`batch show` lists the legacy name itself,
    # as stored: cleaning rows stored before the cleaner is not this test's matter).
    assert not _leaks(stored + status.stdout + again.stdout)
