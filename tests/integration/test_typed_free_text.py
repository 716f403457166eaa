"""Issue 13 item 9: what an operator types is stored and shown with ID numbers masked and, where
one line is meant, as one line — from every entry point (`registry.free_text`).

The real `jointcredit` commands on a real SQLite file: an import with a reporter, a batch decision
with a decision number carrying a forged mail header, an objection filed and dismissed, an
application for early removal and its refusal, a department's feedback. Afterwards no table, no
letter and no view holds the typed number, and no single-line field holds a line break.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from memoranda.loader import Catalogue
from registry.clock import FrozenClock
from registry.free_text import clean_free_text, clean_single_line, unmasked_resident_id
from registry.identifiers import mask_resident_id
from registry.routing import Routing, close_defence_windows, notify_proposed
from tests.factories.listings import clock_at, in_force, run, serve_prior_notices
from tests.integration.cli_runner import run as cli
from tests.integration.cli_runner import run_json

RAW = "510104196812030351"
"""The issue's number (a Chengdu resident born in 1968; the check digit is right)."""
SPACED = "510104 19681203 0351"
MASKED = mask_resident_id(RAW)
MISTYPED = "510104 19681203 0352"
"""A check digit wrong: a returned sheet refuses a valid number (it is read by `CellReader`),
but a mistyped one is personal data all the same and is stored masked."""
FORGED = "\r\nBcc: attacker@example.org"
TYPED = f"王建国 {RAW}{FORGED}"


def _ok(result: object) -> str:
    assert getattr(result, "returncode") == 0, getattr(result, "stderr")  # noqa: B009
    return str(getattr(result, "stdout"))  # noqa: B009


def _batch_file(tmp_path: Path) -> Path:
    path = tmp_path / f"报送-{RAW}.csv"
    source = Path(__file__).parents[2] / "deployments" / "demo_data" / "batch-2026.csv"
    with source.open(encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows[:2])  # the header and one unit
    return path


def test_every_entry_point_stores_and_shows_typed_ids_masked_and_one_line_fields_as_one_line(
    local: tuple[sa.Engine, dict[str, str]],
    catalogue: Catalogue,
    routing: Routing,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    engine, env = local
    clock_at(clock, date(2026, 11, 2))
    at = {**env, "JOINTCREDIT_NOW": clock.now().isoformat()}
    imported = run_json(tmp_path, "import", str(_batch_file(tmp_path)), "--reporter", TYPED, env=at)
    batch = imported["batch_id"]
    notified = run(engine, notify_proposed, batch, routing)
    serve_prior_notices(engine, notified.moved, clock.today())  # e-mailed: the demo rows agreed
    clock_at(clock, date(2026, 11, 27))
    run(engine, close_defence_windows, batch, routing)
    now = {**env, "JOINTCREDIT_NOW": clock.now().isoformat()}

    decision = "川应急信决〔2026〕1号" + FORGED + "\u2028X-Injected: yes"
    _ok(
        cli(
            tmp_path,
            "confirm",
            str(batch),
            "--reviewer",
            TYPED,
            "--decision-number",
            decision,
            env=now,
        )
    )
    with engine.connect() as connection:
        (new_listing,) = connection.execute(
            sa.text("SELECT id FROM listing WHERE batch_id = :b"), {"b": batch}
        ).scalars()
    _ok(cli(tmp_path, "respond", "--department", "ndrc", "--listing", str(new_listing),
            "--feedback", f"已标注。经办人 {MISTYPED}{FORGED}", env=now))  # fmt: skip

    objection = run_json(tmp_path, "objection", "file", str(new_listing), "--by", TYPED,
                         "--reason", f"异议人身份证 {RAW}\r\n认定有误", env=now)  # fmt: skip
    _ok(cli(tmp_path, "objection", "decide", str(objection["objection_id"]), "--reviewer", TYPED,
            "--dismissed", "--reason", f"经核 {RAW} 所述不实", env=now))  # fmt: skip

    _old_batch, (old_listing,) = in_force(
        engine, catalogue, clock, routing, published=date(2025, 6, 2)
    )
    clock_at(clock, date(2026, 11, 27))
    _ok(cli(tmp_path, "removal", "apply", str(old_listing),
            "--evidence", f"整改报告（负责人 {RAW}）{FORGED}",
            "--commitment", f"本人 {RAW} 承诺守信", env=now))  # fmt: skip
    _ok(cli(tmp_path, "removal", "decide", str(old_listing), "--reviewer", TYPED, "--refuse",
            "--reason", f"材料不全 {RAW}", env=now))  # fmt: skip

    # What operators read back.
    uscc = imported_uscc(engine, batch)
    shown = [
        _ok(cli(tmp_path, "archive", uscc, env=now)),
        _ok(cli(tmp_path, "archive", uscc, "--json", env=now)),
        _ok(cli(tmp_path, "batch", "show", str(batch), env=now)),
        _ok(cli(tmp_path, "batch", "show", str(batch), "--json", env=now)),
        _ok(cli(tmp_path, "listing", "show", str(old_listing), "--json", env=now)),
    ]
    everything = "\n".join(shown) + "\n" + _dump(engine)
    for form in (RAW, SPACED, MISTYPED, MISTYPED.replace(" ", "")):
        assert form not in everything
    assert MASKED in everything  # what was typed is kept, masked

    with engine.connect() as connection:
        single_line = [
            *connection.execute(sa.text("SELECT reporter, source_name, proposed_by FROM batch")),
            *connection.execute(sa.text("SELECT decision_number, decided_by FROM listing")),
            *connection.execute(sa.text("SELECT filed_by, decided_by FROM objection")),
            *connection.execute(sa.text("SELECT decided_by FROM removal_application")),
            *connection.execute(sa.text("SELECT actor, source FROM audit_event")),
        ]
        numbers = connection.execute(
            sa.text("SELECT DISTINCT decision_number FROM listing WHERE batch_id = :b"),
            {"b": batch},
        ).scalars()
        assert list(numbers) == ["川应急信决〔2026〕1号 Bcc: attacker@example.org X-Injected: yes"]
        letters = connection.execute(sa.text("SELECT subject, body_text FROM notice")).all()
    for value in (v for row in single_line for v in row if v is not None):
        assert not any(ch in value for ch in "\r\n\u2028\u2029\x85"), value
    assert letters
    for subject, body in letters:
        assert "\r" not in subject + body
        assert "\n" not in subject
        assert not [line for line in body.splitlines() if line.lstrip().startswith("Bcc:")]
        assert not [line for line in body.splitlines() if line.startswith("X-Injected")]


def imported_uscc(engine: sa.Engine, batch: int) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                sa.text(
                    "SELECT s.uscc FROM subject s JOIN listing l ON l.subject_id = s.id"
                    " WHERE l.batch_id = :b"
                ),
                {"b": batch},
            ).scalar_one()
        )


def _dump(engine: sa.Engine) -> str:
    """Every text the database holds, table by table."""
    parts: list[str] = []
    with engine.connect() as connection:
        for table in sa.inspect(connection).get_table_names():
            rows = connection.execute(sa.text(f'SELECT * FROM "{table}"')).all()
            parts.append(json.dumps([list(r) for r in rows], ensure_ascii=False, default=str))
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (f"王建国{RAW}号", f"王建国{MASKED}号"),
        (SPACED, MASKED),
        ("510104-19681203-0351", MASKED),
        ("51010419681203035x", "510104********035X"),
        ("旧证 510104681203035", "旧证 5101*********35"),
        ("电话 13800138000，代码 91510100MA62K0R6XW", "电话 13800138000，代码 91510100MA62K0R6XW"),
        ("编号 123456789012345678", "编号 123456789012345678"),
    ],
)
def test_the_cleaner_masks_every_id_shape_and_leaves_other_numbers(typed: str, stored: str) -> None:
    assert clean_free_text(typed) == stored
    assert clean_single_line(typed) == stored


def test_single_line_fields_lose_every_line_break_and_control_character() -> None:
    assert clean_single_line(
        "  川应急信决〔2026〕1号\r\nBcc: x@y\u2028A\u2029B\x85C\x0bD\x00E\t "
    ) == ("川应急信决〔2026〕1号 Bcc: x@y A B C DE")
    assert clean_free_text("第一行\r\n第二行\r第三行\x00") == "第一行\n第二行\n第三行"
    assert clean_single_line(None) is None
    assert clean_free_text(None) is None


FULL_WIDTH = RAW.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
OTHER = "11010519491231002X"
"""A Beijing number whose check character is X."""


def _leaks(text: str, *numbers: str) -> list[str]:
    """The numbers found in `text` however typed: full-width, or with separators inside."""
    compact = re.sub(r"[\s_/.\-]+", "", unicodedata.normalize("NFKC", text)).upper()
    return [number for number in numbers if number in compact]


@pytest.mark.parametrize(
    "typed",
    [
        FULL_WIDTH,
        "510104\u300019681203\u30000351",
        "510104  19681203  0351",
        "510104\u00a019681203\u00a00351",
        "510104－19681203－0351",
        "510104.19681203.0351",
        "510104_19681203_0351",
        "510104/19681203/0351",
        "510104\u200b19681203\u200b0351",
        "5１0１0４ 1９6８1２0３ 0３5１",
        "ID510104196812030351",
        "身份证510104196812030351号",
    ],
)
def test_the_cleaner_masks_ids_typed_full_width_separated_or_glued(typed: str) -> None:
    for clean in (clean_free_text, clean_single_line):
        assert clean(f"王建国，{typed}。") in (f"王建国，{MASKED}。", f"王建国，ID{MASKED}。",
                                              f"王建国，身份证{MASKED}号。")  # fmt: skip
    assert unmasked_resident_id(typed) == MASKED
    assert unmasked_resident_id(clean_free_text(typed)) is None


def test_the_cleaner_keeps_full_width_text_and_masks_a_full_width_check_letter() -> None:
    assert (
        clean_single_line("李娜 11010519491231002Ｘ（复核）") == "李娜 110105********002X（复核）"
    )
    assert clean_single_line("电话：１３８００１３８０００，地址：成都市") == (
        "电话：１３８００１３８０００，地址：成都市"
    )
    # An ID glued inside a longer run of digits is still found, as the renderer finds it.
    assert clean_single_line(f"9{RAW}") == f"9{MASKED}"


def test_ids_typed_full_width_or_separated_on_the_command_line_are_stored_masked(
    local: tuple[sa.Engine, dict[str, str]],
    routing: Routing,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    """The attack of the masking hardening through the real CLI: a reporter, a reviewer and a
    decision number with full-width numbers (the confirmation used to be refused by the letter
    renderer after the decision was committed), an objection with the number in U+3000 groups."""
    engine, env = local
    clock_at(clock, date(2026, 11, 2))
    at = {**env, "JOINTCREDIT_NOW": clock.now().isoformat()}
    imported = run_json(tmp_path, "import", str(_batch_file(tmp_path)),
                        "--reporter", f"报送人 {FULL_WIDTH}", env=at)  # fmt: skip
    batch = imported["batch_id"]
    notified = run(engine, notify_proposed, batch, routing)
    serve_prior_notices(engine, notified.moved, clock.today())  # e-mailed: the demo rows agreed
    clock_at(clock, date(2026, 11, 27))
    run(engine, close_defence_windows, batch, routing)
    now = {**env, "JOINTCREDIT_NOW": clock.now().isoformat()}
    decision = f"川应急信决〔2026〕3号 {FULL_WIDTH}"
    printed = _ok(cli(tmp_path, "confirm", str(batch), "--reviewer", "李娜 11010519491231002Ｘ",
                      "--decision-number", decision, env=now))  # fmt: skip
    with engine.connect() as connection:
        (listing,) = connection.execute(
            sa.text("SELECT id FROM listing WHERE batch_id = :b"), {"b": batch}
        ).scalars()
    filed = run_json(tmp_path, "objection", "file", str(listing), "--by", f"王建国 {FULL_WIDTH}",
                     "--reason", "身份证 510104\u300019681203\u30000351", env=now)  # fmt: skip
    assert filed["objection_id"]

    everything = printed + "\n" + _dump(engine)
    assert not _leaks(everything, RAW, OTHER)
    assert MASKED in everything
    with engine.connect() as connection:
        filed_by, reason = connection.execute(
            sa.text("SELECT filed_by, reason FROM objection")
        ).one()
        (reporter,) = connection.execute(sa.text("SELECT reporter FROM batch")).one()
        (number,) = connection.execute(
            sa.text("SELECT DISTINCT decision_number FROM listing WHERE batch_id = :b"),
            {"b": batch},
        ).one()
    assert (filed_by, reason) == (f"王建国 {MASKED}", f"身份证 {MASKED}")
    assert reporter == f"报送人 {MASKED}"
    assert number == f"川应急信决〔2026〕3号 {MASKED}"
