"""`import_batch`: a file becomes proposed listings in one batch; bad rows are quarantined.

The database lives for the whole session, so every test imports fresh identifiers
(`import_files.good_rows`) or files nobody else imports (the corpus), and compares counts
before and after rather than absolute numbers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from sqlmodel import Session, SQLModel, col
from typer.testing import CliRunner

from deployments.import_commands import import_file_command
from memoranda.loader import Catalogue
from registry import db
from registry.audit import verify
from registry.clock import FrozenClock
from registry.intake import ImportFileError, ImportResult, import_batch
from registry.models import AuditEvent
from registry.spreadsheet import ROW_LABEL
from tests.factories import import_files as samples

KEY = "test-id-hash-key"
PROPOSER = "导入员 陈静"
CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "import"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
TABLES = ("batch", "subject", "listing", "import_rejection", "audit_event")

Importer = Callable[..., ImportResult]


@pytest.fixture
def quarantine_dir(tmp_path: Path) -> Path:
    return tmp_path / "quarantine"


@pytest.fixture
def run_import(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, quarantine_dir: Path
) -> Importer:
    """Import one file and commit, as the CLI does."""

    def run(path: Path, **options: Any) -> ImportResult:
        with Session(engine) as session:
            result = import_batch(
                session,
                path,
                catalogue=catalogue,
                id_hash_key=KEY,
                clock=clock,
                proposed_by=PROPOSER,
                quarantine_dir=quarantine_dir,
                **options,
            )
            session.commit()
        return result

    return run


def counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(
                sa.select(sa.func.count()).select_from(SQLModel.metadata.tables[name])
            ).scalar_one()
            for name in TABLES
        }


def listings(engine: sa.Engine, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Listings joined with their subjects, in id (= file row) order."""
    query = sa.text(
        "SELECT l.*, s.kind, s.name, s.uscc, s.uscc_status, s.id_hash, s.id_masked, s.unit_id "
        "FROM listing l JOIN subject s ON s.id = l.subject_id WHERE l.id IN "
        f"({','.join(str(i) for i in ids) or 'NULL'}) ORDER BY l.id"
    )
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def projection(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    def grounds(value: Any) -> list[str]:
        return json.loads(value) if isinstance(value, str) else list(value)

    return [
        (
            r["list_type"],
            r["kind"],
            r["rule_set"],
            grounds(r["grounds"]),
            _day(r["decision_date"]),
            bool(r["typical_case"]),
            bool(r["needs_review"]),
            r["unit_id"] is not None,
        )
        for r in rows
    ]


def warnings_of(row: dict[str, Any]) -> str:
    value = row["warnings"]
    return "；".join(json.loads(value) if isinstance(value, str) else value)


def _day(value: Any) -> Any:
    from datetime import date

    return date.fromisoformat(value) if isinstance(value, str) else value


def batch_row(engine: sa.Engine, batch_id: int) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(
            sa.text("SELECT * FROM batch WHERE id = :id"), {"id": batch_id}
        ).one()
    return dict(row._mapping)


# --- the same good rows in every format -----------------------------------------------


def _csv(encoding: str, style: str = "zh") -> Callable[[Path, list[dict[str, Any]]], Path]:
    def write(directory: Path, rows: list[dict[str, Any]]) -> Path:
        return samples.write_csv(
            directory / f"名单-{encoding}-{style}.csv", rows, encoding=encoding, style=style
        )

    return write


def _xlsx(style: str) -> Callable[[Path, list[dict[str, Any]]], Path]:
    def write(directory: Path, rows: list[dict[str, Any]]) -> Path:
        return samples.write_xlsx(directory / f"名单-{style}.xlsx", rows, style=style)

    return write


def _json(style: str, wrap: bool) -> Callable[[Path, list[dict[str, Any]]], Path]:
    def write(directory: Path, rows: list[dict[str, Any]]) -> Path:
        return samples.write_json(directory / f"名单-{style}.json", rows, style=style, wrap=wrap)

    return write


FORMATS = {
    "csv-utf8-zh": (_csv("utf-8"), "utf-8"),
    "csv-utf8-bom-zh": (_csv("utf-8-sig"), "utf-8-sig"),
    "csv-gbk-zh": (_csv("gbk"), "gb18030"),
    "csv-utf8-en-loose": (_csv("utf-8", "en-loose"), "utf-8"),
    "xlsx-zh": (_xlsx("zh"), None),
    "xlsx-en": (_xlsx("en"), None),
    "json-list-en": (_json("en", wrap=False), "utf-8"),
    "json-rows-zh": (_json("zh", wrap=True), "utf-8"),
}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_good_rows_become_the_same_listings_in_every_format(
    fmt: str, run_import: Importer, engine: sa.Engine, catalogue: Catalogue, tmp_path: Path
) -> None:
    write, encoding = FORMATS[fmt]
    path = write(tmp_path, samples.good_rows())
    result = run_import(path)

    assert (result.accepted, result.rejected, result.quarantine_path) == (6, 0, None)
    assert result.encoding == encoding
    rows = listings(engine, result.listing_ids)
    assert projection(rows) == samples.EXPECTED
    assert {r["state"] for r in rows} == {"proposed"}
    assert {r["proposed_by"] for r in rows} == {PROPOSER}
    assert {r["catalogue_hash"] for r in rows} == {catalogue.content_hash}
    assert result.needs_review == 1
    assert "未找到所属单位" in warnings_of(rows[5])
    batch = batch_row(engine, result.batch_id)
    assert batch["reference"] == result.batch_reference
    assert batch["reference"].startswith("IMP-20261127-")
    assert (batch["list_type"], batch["rule_set"], batch["source_kind"]) == ("mixed", None, "file")
    assert (batch["accepted_count"], batch["rejected_count"]) == (6, 0)
    assert batch["source_name"] == path.name


def test_a_single_list_and_rule_set_are_recorded_on_the_batch(
    run_import: Importer, engine: sa.Engine, tmp_path: Path
) -> None:
    rows = [r for r in samples.good_rows() if r["decision_date"].startswith("2026")]
    result = run_import(
        samples.write_csv(tmp_path / "black.csv", rows), reporter="广东省应急管理厅"
    )
    batch = batch_row(engine, result.batch_id)
    assert (batch["list_type"], batch["rule_set"]) == ("black", "mem-2023-serious")
    assert batch["reporter"] == "广东省应急管理厅"


def test_chunking_does_not_change_the_outcome_and_reports_progress(
    run_import: Importer, engine: sa.Engine, tmp_path: Path
) -> None:
    seen: list[int] = []
    path = samples.write_csv(tmp_path / "chunks.csv", samples.good_rows())
    result = run_import(path, chunk_rows=4, progress=seen.append)
    assert seen == [4, 6]
    assert projection(listings(engine, result.listing_ids)) == samples.EXPECTED


# --- identifiers --------------------------------------------------------------------------


def test_a_pilot_code_is_accepted_but_needs_review(
    run_import: Importer, engine: sa.Engine, tmp_path: Path
) -> None:
    row = {
        "list_type": "黑名单",
        "subject_kind": "单位",
        "name": "福建闽侯矿业有限公司",
        "uscc": "91350100M0001TGQXM",
        "grounds": "B2",
        "decision_date": "2026-02-02",
    }
    result = run_import(samples.write_csv(tmp_path / "pilot.csv", [row]))
    [listing] = listings(engine, result.listing_ids)
    assert listing["needs_review"]
    assert listing["uscc_status"] == "check_mismatch"
    assert "校验位不符" in warnings_of(listing)
    assert result.needs_review == 1


def test_persons_are_linked_to_their_unit_from_the_database_or_anywhere_in_the_file(
    run_import: Importer, engine: sa.Engine, tmp_path: Path
) -> None:
    n = samples.fresh()
    stored_unit, later_unit = samples.valid_uscc(n), samples.valid_uscc(n + 1)
    base = {"list_type": "黑名单", "grounds": "A4", "decision_date": "2026-03-01"}
    first = run_import(
        samples.write_csv(
            tmp_path / "unit.csv",
            [{**base, "subject_kind": "单位", "name": f"已登记单位{n}", "uscc": stored_unit}],
        )
    )
    rows = [
        {**base, "subject_kind": "个人", "name": f"甲{n}", "id_number": samples.resident_id(n),
         "unit_uscc": stored_unit},
        {**base, "subject_kind": "个人", "name": f"乙{n}", "id_number": samples.resident_id(n + 1),
         "unit_uscc": later_unit},
        {**base, "subject_kind": "单位", "name": f"后出现的单位{n}", "uscc": later_unit},
    ]  # fmt: skip
    result = run_import(samples.write_csv(tmp_path / "persons.csv", rows), chunk_rows=1)
    person_a, person_b, unit_b = listings(engine, result.listing_ids)
    [stored] = listings(engine, first.listing_ids)
    assert person_a["unit_id"] == stored["subject_id"]
    assert person_b["unit_id"] == unit_b["subject_id"]
    assert warnings_of(person_b) == ""  # the provisional warning was withdrawn
    assert person_a["id_masked"].startswith("110105********")
    assert samples.resident_id(n) not in json.dumps(person_a, default=str)


# --- duplicates ---------------------------------------------------------------------------


def test_reimporting_a_file_rejects_every_row_naming_the_existing_listing(
    run_import: Importer, engine: sa.Engine, tmp_path: Path, quarantine_dir: Path
) -> None:
    path = samples.write_csv(tmp_path / "twice.csv", samples.good_rows())
    first = run_import(path)
    before = counts(engine)

    again = run_import(path)

    assert (again.accepted, again.rejected, list(again.listing_ids)) == (0, 6, [])
    assert [line.row_number for line in again.quarantine] == [2, 3, 4, 5, 6, 7]
    for line, listing_id in zip(again.quarantine, first.listing_ids, strict=True):
        printed = f"{first.batch_reference}-{listing_id}"  # as every letter prints it
        assert f"名单 {printed}，编号 {listing_id}" in line.reason_zh
        assert printed in line.reason_en
    after = counts(engine)
    assert after["subject"] == before["subject"]
    assert after["listing"] == before["listing"]
    assert after["batch"] == before["batch"] + 1  # kept for its quarantine
    assert after["import_rejection"] == before["import_rejection"] + 6
    assert any("所有 6 行均被拒绝" in w for w in again.warnings)
    assert again.quarantine_path == quarantine_dir / f"{again.batch_reference}.csv"
    assert batch_row(engine, again.batch_id)["accepted_count"] == 0


def test_a_row_repeated_in_the_file_names_the_first_occurrence(
    run_import: Importer, engine: sa.Engine, tmp_path: Path
) -> None:
    first = samples.good_rows()[0]
    other_ground = {**first, "grounds": "B1"}
    result = run_import(samples.write_csv(tmp_path / "repeat.csv", [first, other_ground, first]))
    assert (result.accepted, result.rejected) == (2, 1)
    [line] = result.quarantine
    assert (line.row_number, line.column) == (4, "认定依据")
    assert "与第 2 行重复" in line.reason_zh


def test_a_removed_listing_is_no_duplicate(
    run_import: Importer, engine: sa.Engine, tmp_path: Path
) -> None:
    path = samples.write_csv(tmp_path / "again.csv", samples.good_rows()[:1])
    first = run_import(path)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE listing SET state = 'removed' WHERE id = :id"),
            {"id": first.listing_ids[0]},
        )
    again = run_import(path)
    assert (again.accepted, again.rejected) == (1, 0)
    assert (
        listings(engine, again.listing_ids)[0]["subject_id"]
        == (listings(engine, first.listing_ids)[0]["subject_id"])
    )


# --- whole-file failures ------------------------------------------------------------------


def test_a_missing_required_column_fails_the_file_and_writes_nothing(
    run_import: Importer, engine: sa.Engine, tmp_path: Path, quarantine_dir: Path
) -> None:
    rows = [{k: v for k, v in r.items() if k not in ("grounds", "decision_date")}
            for r in samples.good_rows()]  # fmt: skip
    before = counts(engine)
    with pytest.raises(ImportFileError) as caught:
        run_import(samples.write_csv(tmp_path / "short.csv", rows))
    assert caught.value.fields["missing"] == ["grounds", "decision_date"]
    assert "认定依据" in caught.value.message
    assert "处罚决定日期" in caught.value.message
    assert counts(engine) == before
    assert not quarantine_dir.exists()


def _write_bytes(name: str, content: bytes) -> Callable[[Path], Path]:
    def write(directory: Path) -> Path:
        path = directory / name
        path.write_bytes(content)
        return path

    return write


UNREADABLE = {
    "random-bytes.xlsx": (_write_bytes("x.xlsx", os.urandom(2048)), "XLSX"),
    "corrupt-zip.xlsx": (_write_bytes("x.xlsx", b"PK\x03\x04" + os.urandom(512)), "XLSX"),
    "json-object-without-rows": (_write_bytes("x.json", b'{"data": []}'), "JSON"),
    "json-scalar": (_write_bytes("x.json", b"42"), "JSON"),
    "json-broken": (_write_bytes("x.json", b'[{"name": '), "JSON"),
    "json-empty-list": (_write_bytes("x.json", b"[]"), "没有数据行"),
    "empty-csv": (_write_bytes("x.csv", b""), "文件为空"),
    "blank-csv": (_write_bytes("x.csv", b"\xef\xbb\xbf\r\n\r\n"), "文件为空"),
    "header-only-csv": (
        _write_bytes("x.csv", "名单类型,主体类型,名称,认定依据,处罚决定日期\n".encode()),
        "没有数据行",
    ),
    "latin1-csv": (
        _write_bytes("x.csv", "list_type,name\nblack,Café Zoë\n".encode("latin-1")),
        "UTF-8",
    ),
    "zip-named-csv": (_write_bytes("x.csv", b"PK\x03\x04" + bytes(100)), "XLSX"),
    "binary-csv": (_write_bytes("x.csv", b"a,b\n\x00\x01\x02\n"), "NUL"),
    "legacy-xls": (_write_bytes("x.xls", b"\xd0\xcf\x11\xe0"), ".xls"),
    "pdf": (_write_bytes("x.pdf", b"%PDF-1.4"), "不支持的文件类型"),
    "missing-file": (lambda directory: directory / "nowhere.csv", "文件不存在"),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_an_unreadable_file_fails_and_writes_nothing(
    case: str, run_import: Importer, engine: sa.Engine, tmp_path: Path, quarantine_dir: Path
) -> None:
    write, needle = UNREADABLE[case]
    before = counts(engine)
    with pytest.raises(ImportFileError) as caught:
        run_import(write(tmp_path))
    assert needle in caught.value.message
    assert counts(engine) == before
    assert not quarantine_dir.exists()


def test_a_failure_halfway_leaves_no_rows_and_no_report(
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    tmp_path: Path,
    quarantine_dir: Path,
) -> None:
    """Chunks already written are rolled back with the caller's transaction; no .part remains."""
    rows = samples.good_rows()
    rows.insert(1, {**rows[0], "name": "=1+1"})
    rows.append({**rows[0], "note": "x" * 200_000})  # beyond the csv module's field limit
    path = samples.write_csv(tmp_path / "halfway.csv", rows)
    before = counts(engine)
    with Session(engine) as session, pytest.raises(ImportFileError) as caught:
        import_batch(
            session,
            path,
            catalogue=catalogue,
            id_hash_key=KEY,
            clock=clock,
            proposed_by=PROPOSER,
            quarantine_dir=quarantine_dir,
            chunk_rows=2,
        )
    assert "第 9 行" in caught.value.message
    assert counts(engine) == before
    assert list(quarantine_dir.iterdir()) == []


# --- the quarantine -----------------------------------------------------------------------


def test_the_quarantine_is_stored_and_reported_without_raw_id_numbers(
    run_import: Importer, engine: sa.Engine, tmp_path: Path
) -> None:
    rows = samples.good_rows()
    raw_id = rows[4]["id_number"]
    bad_id = raw_id[:-1] + ("0" if raw_id[-1] != "0" else "1")
    rows[4] = {**rows[4], "id_number": bad_id}
    rows[0] = {**rows[0], "name": '=HYPERLINK("http://x","y")'}
    rows[2] = {**rows[2], "note": f"法定代表人身份证号 {raw_id}"}  # personal data in free text
    result = run_import(samples.write_csv(tmp_path / "quarantine.csv", rows))

    assert (result.accepted, result.rejected, result.quarantine_total) == (3, 3, 3)
    shown = {line.row_number: line for line in result.quarantine}
    assert shown[2].column == "名称"
    assert shown[2].value == '=HYPERLINK("http://x","y")'
    assert shown[4].column == "备注"
    assert shown[4].value == f"法定代表人身份证号 {raw_id[:6]}********{raw_id[-4:]}"
    assert shown[6].value == f"{bad_id[:6]}********{bad_id[-4:]}"

    with engine.connect() as connection:
        stored = connection.execute(
            sa.text(
                "SELECT row_number, column_name, value, reason_zh, reason_en "
                "FROM import_rejection WHERE batch_id = :b ORDER BY row_number"
            ),
            {"b": result.batch_id},
        ).all()
        events = connection.execute(sa.text("SELECT before, after FROM audit_event")).all()
    assert [tuple(r) for r in stored] == [
        (x.row_number, x.column, x.value, x.reason_zh, x.reason_en) for x in result.quarantine
    ]
    assert result.quarantine_path is not None
    report = result.quarantine_path.read_bytes()
    assert report.startswith(b"\xef\xbb\xbf")
    text = report.decode("utf-8-sig")
    assert text.splitlines()[0] == "行号,列,值,原因,reason"
    assert "'=HYPERLINK" in text  # neutralised for whoever opens the report in Excel
    for haystack in (text, json.dumps([tuple(r) for r in stored]), repr(events)):
        assert raw_id not in haystack
        assert bad_id not in haystack


def test_the_quarantine_kept_in_memory_is_capped(
    run_import: Importer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("registry.intake.writer.QUARANTINE_KEPT", 2)
    rows = [{**r, "decision_date": "2099-01-01"} for r in samples.good_rows()]
    result = run_import(samples.write_csv(tmp_path / "capped.csv", rows))
    assert (result.rejected, result.quarantine_total, len(result.quarantine)) == (6, 6, 2)
    assert result.quarantine_path is not None
    assert len(result.quarantine_path.read_text(encoding="utf-8-sig").splitlines()) == 7


def test_the_audit_chain_records_each_proposal_and_the_import(
    run_import: Importer, engine: sa.Engine, tmp_path: Path
) -> None:
    path = samples.write_csv(tmp_path / "audited.csv", samples.good_rows())
    result = run_import(path)
    with Session(engine) as session:
        assert verify(session).ok
        events = (
            session.execute(
                sa.select(AuditEvent)
                .where(col(AuditEvent.source) == f"import:{path.name}")
                .order_by(col(AuditEvent.seq).desc())
                .limit(7)
            )
            .scalars()
            .all()
        )
    batch_event, *proposals = events
    assert batch_event.action == "batch.import"
    assert batch_event.after is not None
    assert batch_event.after["accepted"] == 6
    assert sorted(int(e.entity_id) for e in proposals) == list(result.listing_ids)
    assert {(e.action, e.actor) for e in proposals} == {("listing.propose", PROPOSER)}


# --- the bad-input corpus -----------------------------------------------------------------


CORPUS_FILES = [name for name in EXPECTED if name != "failures"]


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_every_bad_row_is_quarantined_and_every_good_row_listed(
    name: str, run_import: Importer, engine: sa.Engine
) -> None:
    expected = EXPECTED[name]
    result = run_import(CORPUS / name)

    lines = {(line.row_number, line.column) for line in result.quarantine}
    wanted = {(bad["row"], bad["column"]) for bad in expected["bad"]}
    assert wanted - lines == set(), "missing quarantine lines (row, column)"
    assert {row for row, _ in lines} == {row for row, _ in wanted}, "unexpected rejected rows"
    assert result.rejected == len(expected["bad"])
    assert result.accepted == len(expected["good"])
    names = [r["name"] for r in listings(engine, result.listing_ids)]
    assert sorted(names) == sorted(expected["good"])


def test_corpus_holds_at_least_fifty_malformed_rows() -> None:
    assert sum(len(EXPECTED[name]["bad"]) for name in CORPUS_FILES) >= 50
    assert any(bad["column"] == ROW_LABEL for name in CORPUS_FILES for bad in EXPECTED[name]["bad"])


@pytest.mark.parametrize("name", list(EXPECTED["failures"]))
def test_corpus_unreadable_files_fail_whole(
    name: str, run_import: Importer, engine: sa.Engine
) -> None:
    before = counts(engine)
    with pytest.raises(ImportFileError) as caught:
        run_import(CORPUS / name)
    assert EXPECTED["failures"][name] in caught.value.message
    assert counts(engine) == before


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A migrated SQLite database and data folder, in a working directory with no `.env`."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db.upgrade(url)
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("JOINTCREDIT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("JOINTCREDIT_DATABASE_URL", url)
    monkeypatch.setenv("JOINTCREDIT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("JOINTCREDIT_NOW", "2026-11-27T10:00:00+08:00")
    return tmp_path


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("import")(import_file_command)
    app.command("noop")(lambda: None)  # two commands, so `import` is addressed by name
    return app


def test_cli_imports_and_prints_json(cli_env: Path) -> None:
    rows = samples.good_rows()
    rows.append({**rows[0], "contact_email": "not-an-email"})
    path = samples.write_csv(cli_env / "cli.csv", rows)
    result = CliRunner().invoke(_cli(), ["import", str(path), "--reporter", "省厅", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (payload["accepted"], payload["rejected"]) == (6, 1)
    assert payload["quarantine"][0]["column"] == "联系邮箱"
    assert Path(payload["quarantine_path"]).parent == cli_env / "var" / "quarantine"

    text = CliRunner().invoke(_cli(), ["import", str(path)])
    assert text.exit_code == 0, text.output
    printed = "".join(text.stdout.split())  # rich wraps at its own width
    assert "接受0行" in printed
    assert "拒绝7行" in printed


def test_cli_reports_a_bad_file_as_one_error(cli_env: Path) -> None:
    path = cli_env / "bad.json"
    path.write_text('{"x": 1}', encoding="utf-8")
    result = CliRunner().invoke(_cli(), ["import", str(path), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"] == "ImportFileError"
