"""Benchmark: import a 100,000-row CSV batch file (`registry.intake.import_batch`).

Not a test (DESIGN: targets live in benchmarks). The file is what a province sends: UTF-8 with
a BOM, the Chinese header, 100,000 rows — units of several regions (a tenth with an early pilot
code whose check character does not match), persons linked to a unit of the same file by its
code, and 2 % bad rows (an impossible code, an unknown ground, a date in the future, a formula)
that must land in the quarantine. Written once, not timed.

Timed, each in a fresh process on a fresh SQLite file so that peak RSS is its own:
- **import**: `import_batch` in one transaction, commit included — header matching, every row
  validated (USCC, resident ID with its keyed hash, grounds against the rule-set, dates),
  duplicates looked up, subjects and listings inserted, one audit event per listing, the
  quarantine table and CSV report.
- **baseline**: the same file read with `csv.DictReader` and the same subject and listing rows
  inserted with SQLAlchemy Core — no validation, no audit, no quarantine.

Target (issue 7): import ≥ 20,000 rows/s and peak RSS < 300 MB. Prints one line of JSON.

    .venv/bin/python -m bench.import_csv [--rows 100000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session
from stdnum.cn import ric, uscc

from memoranda.loader import load_catalogue
from registry import db
from registry.clock import BUSINESS_TZ, FrozenClock
from registry.intake import COLUMNS, import_batch
from registry.models import Listing, Subject
from registry.repository import add_batch, insert_returning_ids
from registry.settings import get_settings

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=BUSINESS_TZ)
TARGET_ROWS_PER_S = 20_000
TARGET_PEAK_MB = 300
ZH = {column.name: column.zh for column in COLUMNS}
FIELDS = [
    "list_type",
    "subject_kind",
    "name",
    "uscc",
    "id_number",
    "unit_uscc",
    "region",
    "industry",
    "grounds",
    "decision_number",
    "decision_date",
    "typical_case",
    "contact_email",
]
REGIONS = ("110105", "310115", "440305", "510104", "350100", "610113")
INDUSTRIES = ("危险化学品", "非煤矿山", "冶金", "建筑施工", "烟花爆竹", "工贸")
BAD_EVERY = 50  # 2 % of rows are bad, each in one of four ways
LISTING = cast(sa.Table, sa.inspect(Listing).local_table)
SUBJECT = cast(sa.Table, sa.inspect(Subject).local_table)


def _mb(kilobytes: int) -> float:
    return round(kilobytes / 1024, 1)  # ru_maxrss is in KiB on Linux


# --- the file (not timed) ------------------------------------------------------------------


def unit_code(n: int) -> str:
    body = f"91{REGIONS[n % len(REGIONS)]}MA{n:07d}"
    code = body + uscc.calc_check_digit(body)
    if n % 10 == 7:  # an early pilot code: well formed, check character off (a warning)
        code = code[:-1] + ("0" if code[-1] != "0" else "1")
    return code


def person_id(n: int) -> str:
    birth = date(1960, 1, 1).toordinal() + (n // 1000) % 15_000
    body = f"{REGIONS[n % len(REGIONS)]}{date.fromordinal(birth):%Y%m%d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum ignores the last character


def row(n: int) -> dict[str, str]:
    """Row `n`: four in five are units, every fifth a person working at the unit before it."""
    person = n % 5 == 4
    values = {
        "list_type": "黑名单",
        "subject_kind": "个人" if person else "单位",
        "name": f"张{n:06d}" if person else f"基准化工有限公司{n:06d}",
        "uscc": "" if person else unit_code(n),
        "id_number": person_id(n) if person else "",
        "unit_uscc": unit_code(n - 1) if person else "",
        "region": REGIONS[n % len(REGIONS)],
        "industry": INDUSTRIES[n % len(INDUSTRIES)],
        "grounds": "A4" if n % 3 else "mem-2023-serious:B1；A2",
        "decision_number": f"应急罚〔2026〕{n}号",
        "decision_date": f"2026-{1 + n % 10:02d}-{1 + n % 28:02d}",
        "typical_case": "是" if n % 4 == 0 else "否",
        "contact_email": "" if person else f"safety{n}@example.org",
    }
    if n % BAD_EVERY == 1:
        flaw = (n // BAD_EVERY) % 4
        if flaw == 0:
            values["uscc"] = f"91{n:015d}I"  # I is not in the alphabet
        elif flaw == 1:
            values["grounds"] = "Z9"
        elif flaw == 2:
            values["decision_date"] = "2027-01-05"
        else:
            values["name"] = '=HYPERLINK("http://example.org")'
    return values


def write_file(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([ZH[name] for name in FIELDS])
        for n in range(rows):
            values = row(n)
            writer.writerow([values[name] for name in FIELDS])


# --- the timed parts (each in a child process) ---------------------------------------------


def run_import(url: str, path: Path, quarantine_dir: Path) -> dict[str, Any]:
    settings = get_settings()
    catalogue = load_catalogue(settings.catalogue_dir)
    db.upgrade(url)
    engine = db.make_engine(url)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu_started = time.perf_counter(), time.process_time()
    with db.session_scope(engine) as session:
        result = import_batch(
            session,
            path,
            catalogue=catalogue,
            id_hash_key=settings.id_hash_key.get_secret_value(),
            clock=FrozenClock(NOW),
            proposed_by="基准测试",
            reporter="基准测试省应急管理厅",
            quarantine_dir=quarantine_dir,
            limits=settings.input_limits,
        )
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    engine.dispose()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "accepted": result.accepted,
        "rejected": result.rejected,
        "warnings": len(result.warnings),
        "rss_before_mb": _mb(rss_before),
        "peak_rss_mb": _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
    }


def run_baseline(url: str, path: Path) -> dict[str, Any]:
    """The same rows, read and inserted with nothing checked: the floor of any importer."""
    db.upgrade(url)
    engine = db.make_engine(url)
    now = NOW.astimezone(UTC)
    started = time.perf_counter()
    rows = 0
    with Session(engine) as session:
        batch = add_batch(
            session,
            reference="BENCH-IMPORT-BASE",
            list_type="black",
            rule_set="mem-2023-serious",
            source_kind="bench",
            proposed_by="基准测试",
            catalogue_hash="bench",
            created_at=now,
        )
        by_zh = {column.zh: column.name for column in COLUMNS}
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            chunk: list[dict[str, str]] = []
            for record in reader:
                chunk.append({by_zh[key]: value for key, value in record.items()})
                if len(chunk) == 1_000:
                    rows += _insert_plain(session, batch, chunk, now)
                    chunk = []
            rows += _insert_plain(session, batch, chunk, now)
        session.commit()
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "rows": rows}


def _insert_plain(session: Session, batch: int, chunk: list[dict[str, str]], now: datetime) -> int:
    if not chunk:
        return 0
    subjects = insert_returning_ids(
        session,
        SUBJECT,
        [
            {
                "kind": "person" if values["subject_kind"] == "个人" else "unit",
                "name": values["name"],
                "uscc": values["uscc"] or None,
                "uscc_status": "valid" if values["uscc"] else None,
                "region_code": values["region"],
                "industry": values["industry"],
                "contact_email": values["contact_email"] or None,
                "created_at": now,
            }
            for values in chunk
        ],
    )
    session.execute(
        sa.insert(LISTING),
        [
            {
                "subject_id": subject,
                "batch_id": batch,
                "list_type": "black",
                "rule_set": "mem-2023-serious",
                "grounds": values["grounds"].split("；"),
                "decision_number": values["decision_number"],
                "typical_case": values["typical_case"] == "是",
                "needs_review": False,
                "warnings": [],
                "state": "proposed",
                "proposed_at": now,
                "proposed_by": "基准测试",
                "defence_provisional": False,
                "catalogue_hash": "bench",
                "updated_at": now,
            }
            for subject, values in zip(subjects, chunk, strict=True)
        ],
    )
    return len(chunk)


def _child(args: list[str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.import_csv", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:1])} failed:\n{done.stderr[-4000:]}")
    return cast(dict[str, Any], json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--import-only", nargs=3, metavar=("URL", "FILE", "DIR"), help=argparse.SUPPRESS
    )
    parser.add_argument("--baseline-only", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ["DO_NOT_TRACK"] = "1"
    if args.import_only:
        url, file, directory = args.import_only
        print(json.dumps(run_import(url, Path(file), Path(directory))))
        return
    if args.baseline_only:
        url, file = args.baseline_only
        print(json.dumps(run_baseline(url, Path(file))))
        return
    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        source = work / "batch.csv"
        write_file(source, args.rows)
        size_mb = round(source.stat().st_size / 1e6, 1)
        imported = _child(
            ["--import-only", f"sqlite:///{work / 'import.db'}", str(source), str(work / "q")]
        )
        baseline = _child(["--baseline-only", f"sqlite:///{work / 'base.db'}", str(source)])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rate = args.rows / imported["seconds"]
    base_rate = baseline["rows"] / baseline["seconds"]
    print(
        json.dumps(
            {
                "benchmark": "import_csv",
                "rows": args.rows,
                "file_mb": size_mb,
                "accepted": imported["accepted"],
                "rejected": imported["rejected"],
                "import_s": round(imported["seconds"], 2),
                "rows_per_s": round(rate),
                "baseline_s": round(baseline["seconds"], 2),
                "baseline_rows_per_s": round(base_rate),
                "ratio_to_baseline": round(imported["seconds"] / baseline["seconds"], 2),
                "peak_rss_mb": imported["peak_rss_mb"],
                "target_rows_per_s": TARGET_ROWS_PER_S,
                "target_peak_mb": TARGET_PEAK_MB,
                "meets_target": rate >= TARGET_ROWS_PER_S
                and imported["peak_rss_mb"] < TARGET_PEAK_MB,
                "timed": "import_batch in one transaction incl. commit, fresh SQLite file; "
                "baseline = csv.DictReader + Core inserts of the same subject and listing rows",
                "machine": f"{platform.machine()}, {os.cpu_count()} CPU, "
                f"Python {platform.python_version()}",
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
