"""Benchmark: peak RSS of an import of 100,000 rows against one of 1,000,000 (issue 13, item 8).

The file is `bench.import_csv`'s (units and persons of several regions, 2 % bad rows that
land in the quarantine), written once per size, not timed. Each import runs in a fresh child
process on a fresh SQLite file (`bench.import_csv --import-only`, so the code measured is the
same), with the row limit raised to the file's size; the child's peak RSS is its own
`ru_maxrss`, and the parent also reads `RUSAGE_CHILDREN` after it exits.

Target: the 1M-row import peaks at most 40 MB above the 100k-row one (under 47 bytes per
extra row; the listing ids and row numbers kept are 12) — memory independent of the row count.
Before issue 13 it grew ~0.8 KB a row (864 MB at 1M rows).
The 1M-row run takes several minutes on 2 cores. Prints one line of JSON.

    .venv/bin/python -m bench.import_memory [--rows 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, cast

from bench.import_csv import write_file

TARGET_EXTRA_MB = 40


def _child_import(work: Path, rows: int) -> dict[str, Any]:
    source = work / f"rows-{rows}.csv"
    write_file(source, rows)
    command = [
        sys.executable,
        "-m",
        "bench.import_csv",
        "--import-only",
        f"sqlite:///{work / f'import-{rows}.db'}",
        str(source),
        str(work / f"q-{rows}"),
    ]
    environment = {**os.environ, "JOINTCREDIT_IMPORT_MAX_ROWS": str(rows), "DO_NOT_TRACK": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=environment)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        raise SystemExit(f"import of {rows} rows failed:\n{done.stderr[-4000:]}")
    result = cast(dict[str, Any], json.loads(done.stdout.strip().splitlines()[-1]))
    result["file_mb"] = round(source.stat().st_size / 1e6, 1)
    result["children_maxrss_mb"] = round(max(before, after) / 1024, 1)
    source.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs=2, default=[100_000, 1_000_000])
    args = parser.parse_args()
    small_rows, large_rows = args.rows
    work = Path(tempfile.mkdtemp(prefix="bench-import-memory-"))
    try:
        small = _child_import(work, small_rows)
        large = _child_import(work, large_rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
    extra = large["peak_rss_mb"] - small["peak_rss_mb"]
    print(
        json.dumps(
            {
                "benchmark": "import_memory",
                "rows": [small_rows, large_rows],
                "file_mb": [small["file_mb"], large["file_mb"]],
                "accepted": [small["accepted"], large["accepted"]],
                "rejected": [small["rejected"], large["rejected"]],
                "import_s": [round(small["seconds"], 1), round(large["seconds"], 1)],
                "peak_rss_mb": [small["peak_rss_mb"], large["peak_rss_mb"]],
                "rss_before_import_mb": [small["rss_before_mb"], large["rss_before_mb"]],
                "peak_ratio": round(ratio, 3),
                "extra_mb": round(extra, 1),
                "bytes_per_extra_row": round(extra * 1024 * 1024 / (large_rows - small_rows)),
                "target": f"extra <= {TARGET_EXTRA_MB} MB",
                "meets_target": extra <= TARGET_EXTRA_MB,
                "measured": "ru_maxrss of a fresh child process per import (import_batch in "
                "one transaction incl. commit, fresh SQLite file)",
                "machine": f"{platform.machine()}, {os.cpu_count()} CPU, "
                f"Python {platform.python_version()}",
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
