"""A small upload must not exhaust memory (issue 13, items 8 and 15).

- XLSX parts are checked from the ZIP directory before openpyxl reads them; a shared-strings
  bomb is refused by intake and by returned response sheets alike.
- A CSV record is never buffered past its limit: a 20 MB header line is refused in a few MB.
- An import's memory does not grow with its rows (traced Python allocations, 2,000 vs 10,000
  rows); the full measurement (100k vs 1M rows, peak RSS) is `python -m bench.import_memory`.
- A killed import's `.part` report is removed by the next import; a live one's is left alone.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from memoranda.loader import Catalogue
from registry.clock import FrozenClock
from registry.input_limits import MB, SHARED_STRINGS, InputLimits
from registry.intake import COLUMNS, ImportFileError, ImportResult, import_batch
from registry.intake.quarantine import QuarantineFile, remove_stale_parts
from registry.responses import record_response_sheet
from registry.spreadsheet import QuarantineLine
from tests.factories import import_files as samples

KEY = "test-id-hash-key"
ZH = {c.name: c.zh for c in COLUMNS}
HEADER = ["list_type", "subject_kind", "name", "uscc", "grounds", "decision_date", "note"]
REPO = Path(__file__).resolve().parents[2]


def run_import(
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    path: Path,
    quarantine_dir: Path,
    **options: Any,
) -> ImportResult:
    with Session(engine) as session:
        result = import_batch(
            session,
            path,
            catalogue=catalogue,
            id_hash_key=KEY,
            clock=clock,
            proposed_by="导入员 陈静",
            quarantine_dir=quarantine_dir,
            **options,
        )
        session.commit()
    return result


def unit_rows(path: Path, count: int, *, first: int, bad_every: int = 0) -> Path:
    """`count` distinct units (USCCs of a region no other test uses); every `bad_every`-th row
    has a future decision date, so the quarantine is written as well."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([ZH[name] for name in HEADER])
        for n in range(first, first + count):
            bad = bad_every and n % bad_every == 0
            date = "2027-01-05" if bad else "2026-05-20"
            uscc = samples.valid_uscc(n, region="650102")
            writer.writerow(["黑名单", "单位", f"限额测试化工{n}", uscc, "A4", date, f"备注{n}"])
    return path


def shared_strings_bomb(path: Path, *, strings: int, text: str) -> Path:
    """A valid workbook plus a shared-strings part of `strings` entries, each `text`: the
    part unpacks to far more than the file (openpyxl writes inline strings itself)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append([ZH[name] for name in HEADER[:6]])
    sheet.append(
        ["黑名单", "单位", "样本", samples.valid_uscc(samples.fresh()), "A4", "2026-05-20"]
    )
    plain = path.with_suffix(".plain.xlsx")
    workbook.save(plain)
    override = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SHARED_STRINGS}"/>'
    entry = f"<si><t>{text}</t></si>".encode()
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", override.encode() + b"</Types>")
            out.writestr(info.filename, data)
        with out.open("xl/sharedStrings.xml", "w") as part:
            part.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            for _ in range(strings):
                part.write(entry)
            part.write(b"</sst>")
    plain.unlink()
    return path


def test_a_shared_strings_bomb_is_refused_before_openpyxl_reads_it(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, tmp_path: Path
) -> None:
    # 40 MB of shared strings in a file of about 100 KB: over the default 32 MB part limit.
    bomb = shared_strings_bomb(tmp_path / "bomb.xlsx", strings=400_000, text="深" * 30)
    assert bomb.stat().st_size < MB
    with pytest.raises(ImportFileError) as caught:
        run_import(engine, catalogue, clock, bomb, tmp_path / "q")
    assert "xl/sharedStrings.xml" in caught.value.message
    assert "超过上限" in caught.value.message
    # The same guard stands in front of a returned department sheet (`respond --file`).
    with Session(engine) as session, pytest.raises(ImportFileError) as refused:
        record_response_sheet(session, bomb, catalogue=catalogue, clock=clock, recorded_by="x")
    assert "xl/sharedStrings.xml" in refused.value.message
    assert "未记录任何答复" in refused.value.message


def test_shared_strings_are_counted_before_openpyxl_builds_their_list(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, tmp_path: Path
) -> None:
    workbook = shared_strings_bomb(tmp_path / "many.xlsx", strings=5_000, text="x")
    with pytest.raises(ImportFileError) as caught:
        run_import(
            engine,
            catalogue,
            clock,
            workbook,
            tmp_path / "q",
            limits=InputLimits(max_shared_strings=1_000),
        )
    assert "共享字符串超过 1,000 个" in caught.value.message
    # Under the limit the workbook imports as usual.
    result = run_import(engine, catalogue, clock, workbook, tmp_path / "q")
    assert result.accepted == 1


def test_a_20_mb_header_line_is_refused_without_being_buffered(tmp_path: Path) -> None:
    wide = tmp_path / "wide.csv"
    with wide.open("w", encoding="utf-8") as handle:
        handle.write("名单类型,主体类型,名称,认定依据,处罚决定日期")
        handle.write(",x" * 10_000_000)
        handle.write("\n")
    # In a fresh interpreter, so that what it allocates is this file's alone.
    code = (
        "import sys, tracemalloc\n"
        "from pathlib import Path\n"
        "from registry.intake import ImportFileError, open_rows\n"
        "tracemalloc.start()\n"
        "try:\n"
        "    with open_rows(Path(sys.argv[1])) as source:\n"
        "        raise SystemExit('opened')\n"
        "except ImportFileError as exc:\n"
        "    print(exc.message)\n"
        "print(tracemalloc.get_traced_memory()[1] // 1024 // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(wide)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    message, peak_mb = done.stdout.strip().splitlines()
    assert "第 1 行超过" in message, message
    assert int(peak_mb) < 40, f"{peak_mb} MB traced reading a 20 MB line"


def test_an_import_does_not_grow_with_its_rows(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, tmp_path: Path
) -> None:
    """Traced Python allocations while importing 2,000 and then 10,000 rows (chunks of 500).
    Before issue 13 every row left ~0.8 KB behind (subjects, duplicate keys): +6 MB here."""

    def traced_peak(rows: int, first: int) -> tuple[int, ImportResult]:
        path = unit_rows(tmp_path / f"{rows}.csv", rows, first=first, bad_every=50)
        tracemalloc.start()
        try:
            result = run_import(engine, catalogue, clock, path, tmp_path / "q", chunk_rows=500)
            return tracemalloc.get_traced_memory()[1], result
        finally:
            tracemalloc.stop()

    small, small_result = traced_peak(2_000, 1_000_000)
    large, large_result = traced_peak(10_000, 2_000_000)
    assert (small_result.accepted, large_result.accepted) == (1_960, 9_800)
    assert large - small < 1.5 * MB, f"grew {(large - small) / MB:.1f} MB for 8,000 more rows"


def test_duplicates_across_chunks_are_found_in_the_database(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, tmp_path: Path
) -> None:
    """Nothing about a row is kept past its chunk, yet a repeat 3 chunks later names its row."""
    path = unit_rows(tmp_path / "twice.csv", 6, first=3_000_000)
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines, lines[2]]) + "\n", encoding="utf-8")  # row 3 again
    result = run_import(engine, catalogue, clock, path, tmp_path / "q", chunk_rows=2)
    assert (result.accepted, result.rejected) == (6, 1)
    [line] = result.quarantine
    assert line.row_number == 8
    assert "与第 3 行重复" in line.reason_zh


# --- item 15: the half-written report of a killed import -----------------------------------


def test_a_killed_imports_part_file_is_removed_by_the_next_import(
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    tmp_path: Path,
    database_url: str,
) -> None:
    quarantine = tmp_path / "quarantine"
    doomed = unit_rows(tmp_path / "doomed.csv", 40, first=4_000_000, bad_every=2)
    # The child writes the first chunk's rejections to its report, then dies as the OOM
    # killer would kill it: no `finally`, no rollback, no discard.
    code = (
        "import os, signal, sys\n"
        "from datetime import datetime\n"
        "from pathlib import Path\n"
        "from sqlmodel import Session\n"
        "from memoranda.loader import load_catalogue\n"
        "from registry import db\n"
        "from registry.clock import FrozenClock\n"
        "from registry.intake import import_batch\n"
        "url, path, quarantine, catalogue, now = sys.argv[1:]\n"
        "with Session(db.make_engine(url)) as session:\n"
        "    import_batch(\n"
        "        session, Path(path), catalogue=load_catalogue(Path(catalogue)), id_hash_key='k',\n"
        "        clock=FrozenClock(datetime.fromisoformat(now)), proposed_by='x',\n"
        "        quarantine_dir=Path(quarantine), chunk_rows=10,\n"
        "        progress=lambda rows: os.kill(os.getpid(), signal.SIGKILL),\n"
        "    )\n"
    )
    arguments = [database_url, doomed, quarantine, REPO / "memoranda", clock.now().isoformat()]
    child = subprocess.run(
        [sys.executable, "-c", code, *map(str, arguments)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    [stale] = quarantine.glob(".*.csv.part")

    # Another import at work meanwhile: its report is open (and locked) and must survive.
    live = QuarantineFile(quarantine)
    live.write("IMP-20261127-LIVE01", [QuarantineLine(3, "名称", "x", "测试", "test")])
    try:
        good = unit_rows(tmp_path / "next.csv", 2, first=4_100_000)
        result = run_import(engine, catalogue, clock, good, quarantine)
        assert result.accepted == 2
        assert not stale.exists()
        assert [p.name for p in quarantine.glob(".*.csv.part")] == [".IMP-20261127-LIVE01.csv.part"]
    finally:
        live.discard()
    assert remove_stale_parts(quarantine) == []
    assert list(quarantine.glob(".*.csv.part")) == []
