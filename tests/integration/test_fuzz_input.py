"""Hypothesis against intake and the returned-sheet parser: whatever the bytes, text or JSON, they
raise nothing but the project's errors (`JointcreditError`) and never store a row that breaks a
rule.

"Breaks a rule" is checked by an oracle written here from the rules themselves (DOMAIN.md §5 and
the intake docstring) — not by calling the validator under test — on what actually reached the
database. Every example runs in a transaction that is rolled back, so the database the session
shares is untouched and examples do not see each other. Derandomized: CI runs the same examples
every time; the settings keep the whole file well under 30 s.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from memoranda.loader import Catalogue
from registry.clock import BUSINESS_TZ, FrozenClock
from registry.db import session_scope
from registry.errors import JointcreditError
from registry.identifiers import UsccStatus, check_uscc, is_resident_id
from registry.intake import import_batch
from registry.responses import record_response_sheet
from registry.routing import (
    Decision,
    close_defence_windows,
    decide,
    dispatch_in_force,
    notify_proposed,
    publish_confirmed,
)
from tests.corpus.bad_input.make_corpus import IMPORT_ZH, resident_id, valid_uscc
from tests.factories.listings import REVIEWER, proposed_batch, serve_prior_notices
from tests.factories.routing import make_routing

TODAY = date(2026, 11, 27)
FUZZ = settings(
    max_examples=60,
    deadline=timedelta(seconds=3),  # generous: CI machines are shared; a hang still fails
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
COLUMNS = list(IMPORT_ZH)
HEADER = "名单类型,主体类型,名称,统一社会信用代码,认定依据,处罚决定日期\n"

# Characters that break rules, mixed with ordinary ones: controls, invisibles, formula starts,
# separators, quotes, CJK, full-width forms, digits and X (resident-ID-like runs).
_NASTY = "\x00\x07\t\n\r\x0b\x1b\x7f\x85\u200b\u202e\u2028\ufeff=+-@,;；\"'：:"
_PLAIN = "0123456789XxABCMEO 黑红单位个人名称苏州化工有限公司ＡＢ１２"
cells = st.one_of(
    st.text(alphabet=_NASTY + _PLAIN, max_size=40),
    st.text(max_size=40),
    st.sampled_from(["", " ", "=1+1", "是", "否", "A4", "R", "2026-02-30", "9" * 18]),
    st.builds(lambda n: resident_id(n), st.integers(0, 10_000)),
    st.builds(lambda n: "x" * n, st.integers(150, 2100)),
)

_CONTROLS = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)
_NOTE_CONTROLS = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)
_ID_RUN = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_MASKED = re.compile(r"^[0-9]{6}\*{8}[0-9]{3}[0-9X]$")


def clean_text(value: str | None, *, limit: int, multi_line: bool = False) -> bool:
    """The rules for any text we store: trimmed, not a formula, no control or invisible
    character (a note may hold tabs and line breaks), no resident ID number, within its limit."""
    if value is None:
        return True
    bad = (_NOTE_CONTROLS if multi_line else _CONTROLS).search(value)
    ids = [m for m in _ID_RUN.findall(value) if is_resident_id(m.upper())]
    return (
        value == value.strip()
        and value != ""
        and not value.startswith(("=", "+", "-", "@"))
        and bad is None
        and not ids
        and len(value) <= limit
    )


def assert_stored_rows_obey_the_rules(session: Session, batch_id: int, catalogue: Catalogue) -> int:
    """Every listing of the batch, and its subject, as stored: the oracle. Returns how many."""
    rows = session.execute(
        sa.text(
            "SELECT l.list_type, l.rule_set, l.grounds, l.decision_date, l.note, l.warnings, "
            "l.decision_number, s.kind, s.name, s.uscc, s.uscc_status, s.id_hash, s.id_masked, "
            "s.region_code, s.industry, s.contact_email "
            "FROM listing l JOIN subject s ON s.id = l.subject_id WHERE l.batch_id = :b"
        ),
        {"b": batch_id},
    ).all()
    for row in rows:
        r = row._mapping
        rules = catalogue.rule_sets[r["rule_set"]]
        grounds = json.loads(r["grounds"]) if isinstance(r["grounds"], str) else r["grounds"]
        decided = r["decision_date"]
        decided = date.fromisoformat(decided) if isinstance(decided, str) else decided
        assert r["list_type"] in ("black", "red")
        assert rules.list_type == r["list_type"]
        assert grounds
        assert set(grounds) <= {g.code for g in rules.grounds}, grounds
        assert decided <= TODAY
        assert rules.effective_from <= decided
        assert rules.effective_until is None or decided <= rules.effective_until
        assert clean_text(r["name"], limit=200), r["name"]
        assert clean_text(r["industry"], limit=100), r["industry"]
        assert clean_text(r["decision_number"], limit=100), r["decision_number"]
        assert clean_text(r["note"], limit=2000, multi_line=True), r["note"]
        assert clean_text(r["contact_email"], limit=254), r["contact_email"]
        assert r["contact_email"] is None or re.fullmatch(
            r"[^@\s]+@[^@\s]+\.[^@\s]+", r["contact_email"]
        )
        assert r["region_code"] is None or re.fullmatch(r"[0-9]{6}", r["region_code"])
        stored = r["warnings"]
        warnings = "；".join(json.loads(stored) if isinstance(stored, str) else stored or [])
        assert not [m for m in _ID_RUN.findall(warnings) if is_resident_id(m.upper())], warnings
        if r["kind"] == "unit":
            assert check_uscc(r["uscc"]).status is not UsccStatus.INVALID_FORMAT, r["uscc"]
            assert not is_resident_id(r["uscc"]), "a resident ID number stored as a USCC"
            assert r["id_hash"] is None
            assert r["id_masked"] is None
        else:
            assert r["kind"] == "person"
            assert r["uscc"] is None
            assert re.fullmatch(r"[0-9a-f]{64}", r["id_hash"])
            assert _MASKED.match(r["id_masked"]), r["id_masked"]
    return len(rows)


class Target:
    """The shared database and the catalogue (a short repr: Hypothesis prints its arguments)."""

    def __init__(self, engine: sa.Engine, catalogue: Catalogue) -> None:
        self.engine = engine
        self.catalogue = catalogue

    def __repr__(self) -> str:
        return f"Target({self.engine.url})"


@pytest.fixture(scope="module")
def target(engine: sa.Engine, catalogue: Catalogue) -> Target:
    return Target(engine, catalogue)


@contextmanager
def rolled_back(engine: sa.Engine) -> Iterator[Session]:
    """A session whose work is never committed: examples leave the shared database as it was."""
    with Session(engine) as session:
        try:
            yield session
        finally:
            session.rollback()


def import_bytes(target: Target, content: bytes, suffix: str = ".csv") -> int | None:
    """Import `content` as a file; the number of listings stored, or None for a refused file.
    Anything but a JointcreditError propagates and fails the test."""
    engine, catalogue = target.engine, target.catalogue
    clock = FrozenClock(datetime(2026, 11, 27, 10, 0, tzinfo=BUSINESS_TZ))
    with tempfile.TemporaryDirectory() as folder, rolled_back(engine) as session:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(content)
        try:
            result = import_batch(
                session,
                path,
                catalogue=catalogue,
                id_hash_key="fuzz-key",
                clock=clock,
                proposed_by="fuzz",
                quarantine_dir=Path(folder) / "q",
            )
        except JointcreditError:
            return None
        stored = assert_stored_rows_obey_the_rules(session, result.batch_id, catalogue)
        assert stored == result.accepted
        for line in result.quarantine:
            assert line.reason_zh
            assert line.row_number >= 1
            raw = [m for m in _ID_RUN.findall(line.value or "") if is_resident_id(m.upper())]
            assert not raw, "a quarantine line shows a resident ID number unmasked"
        return stored


def good_row(n: int) -> dict[str, Any]:
    return {
        "list_type": "黑名单",
        "subject_kind": "单位",
        "name": f"苏州模糊测试化工{n}",
        "uscc": valid_uscc(900_000 + n),
        "grounds": "A4",
        "decision_date": "2026-05-20",
    }


def csv_bytes(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([IMPORT_ZH[c] for c in columns])
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return buffer.getvalue().encode("utf-8")


# --- intake ----------------------------------------------------------------------------------


@FUZZ
@given(tail=st.binary(max_size=600))
@example(tail=b"\xff\xfe\x00")
@example(tail=b'"unterminated,' + b"x" * 50)
@example(tail="黑名单,单位,=1+1,91320505ME0000012X,A4,2026-05-20\n".encode("gbk"))
def test_arbitrary_bytes_after_a_valid_header_and_row(target: Target, tail: bytes) -> None:
    head = csv_bytes([good_row(1)], [*COLUMNS[:3], "uscc", "grounds", "decision_date"])
    import_bytes(target, head + tail)


@FUZZ
@given(content=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".xlsx", ".json", ".tsv"]))
@example(content=b"PK\x03\x04" + bytes(40), suffix=".xlsx")
@example(content=b"[" * 5000, suffix=".json")
def test_arbitrary_bytes_as_a_file(target: Target, content: bytes, suffix: str) -> None:
    import_bytes(target, content, suffix)


@settings(FUZZ, max_examples=150)
@given(column=st.sampled_from(COLUMNS), value=cells, kind=st.sampled_from(["单位", "个人"]))
@example(column="name", value=" \u202e苏州", kind="单位")
@example(column="id_number", value=resident_id(7)[:-1] + "0", kind="个人")
@example(column="note", value="法定代表人 " + resident_id(8), kind="单位")
@example(column="uscc", value=resident_id(9), kind="单位")
def test_arbitrary_text_in_one_cell_of_a_valid_row(
    target: Target, column: str, value: str, kind: str
) -> None:
    row = good_row(2)
    if kind == "个人":
        row = {**row, "subject_kind": "个人", "id_number": resident_id(42), "uscc": ""}
    row[column] = value
    stored = import_bytes(target, csv_bytes([row, good_row(3)], COLUMNS))
    if "\x00" not in value:  # NUL makes the file binary: refused whole, by design
        assert stored is not None  # a bad cell never costs the good row
        assert stored >= 1


_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    cells,
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@FUZZ
@given(document=_json_values)
@example(document={"rows": [None, 1, "x", []]})
def test_an_arbitrary_json_document(target: Target, document: Any) -> None:
    import_bytes(target, json.dumps(document, ensure_ascii=False).encode(), ".json")


@settings(FUZZ, max_examples=80)
@given(
    rows=st.lists(
        st.dictionaries(st.sampled_from([*COLUMNS, "其他"]), _json_values, max_size=8),
        max_size=4,
    )
)
@example(rows=[{"uscc": [resident_id(5)]}])
def test_arbitrary_json_rows_beside_a_valid_one(target: Target, rows: list[dict[str, Any]]) -> None:
    items = [good_row(4), *rows]
    stored = import_bytes(target, json.dumps(items, ensure_ascii=False).encode(), ".json")
    assert stored is not None
    assert stored >= 1


# --- returned department sheets --------------------------------------------------------------


@pytest.fixture(scope="module")
def dispatched_ids(engine: sa.Engine, catalogue: Catalogue, calendar: Any) -> list[int]:
    """Two listings dispatched to the 2023 memorandum's departments (committed once)."""

    clock = FrozenClock(datetime(2026, 11, 27, 10, 0, tzinfo=BUSINESS_TZ))
    routing = make_routing(catalogue, calendar, clock)
    batch, ids = proposed_batch(engine, catalogue, clock, units=2, persons=0)
    with session_scope(engine) as session:
        notify_proposed(session, batch, routing)
    serve_prior_notices(engine, ids, clock.today())
    clock.advance(timedelta(days=20))
    with session_scope(engine) as session:
        close_defence_windows(session, batch, routing)
        decide(session, batch, Decision(REVIEWER), routing)
        publish_confirmed(session, batch, routing)
        dispatch_in_force(session, batch, routing)
    return ids


RESPONSE_HEADER = ["部门代码", "名单编号", "响应", "反馈", "措施实施情况", "解除确认"]


def record_sheet(target: Target, content: bytes, suffix: str = ".csv") -> None:
    """Record a sheet in a rolled-back transaction; check what was recorded against the rules."""
    engine, catalogue = target.engine, target.catalogue
    clock = FrozenClock(datetime(2026, 12, 17, 10, 0, tzinfo=BUSINESS_TZ))
    with tempfile.TemporaryDirectory() as folder, rolled_back(engine) as session:
        path = Path(folder) / f"回执{suffix}"
        path.write_bytes(content)
        try:
            outcome = record_response_sheet(
                session, path, catalogue=catalogue, clock=clock, recorded_by="fuzz"
            )
        except JointcreditError:
            return
        bad_rows = set(outcome.bad_rows)
        for recorded in outcome.result.recorded:
            assert recorded.department in catalogue.departments
        for response in outcome.sheet.responses:
            assert response.row not in {p.row_number for p in outcome.sheet.problems}
            if response.feedback_text is not None and response.row not in bad_rows:
                assert clean_text(response.feedback_text, limit=4000, multi_line=True)
        texts = session.execute(
            sa.text("SELECT feedback_text FROM department_action WHERE feedback_text IS NOT NULL")
        ).scalars()
        for text in texts:
            assert clean_text(text, limit=4000, multi_line=True), text


def sheet_bytes(rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(RESPONSE_HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


@settings(FUZZ, max_examples=120)
@given(position=st.integers(0, 5), value=cells)
@example(position=3, value="=cmd|' /C calc'!A0")
@example(position=1, value="0")
def test_arbitrary_text_in_one_cell_of_a_returned_sheet(
    target: Target, dispatched_ids: list[int], position: int, value: str
) -> None:
    row: list[Any] = ["mem", dispatched_ids[0], "是", "已纳入重点监管", "已实施", ""]
    row[position] = value
    record_sheet(target, sheet_bytes([row, ["ndrc", dispatched_ids[1], "是", "", "", ""]]))


@FUZZ
@given(tail=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".xlsx", ".txt"]))
def test_arbitrary_bytes_in_a_returned_sheet(
    target: Target, dispatched_ids: list[int], tail: bytes, suffix: str
) -> None:
    head = sheet_bytes([["mem", dispatched_ids[0], "是", "", "", ""]]) if suffix != ".xlsx" else b""
    record_sheet(target, head + tail, suffix)
