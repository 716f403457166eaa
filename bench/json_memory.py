"""Peak RSS of reading JSON files at the edge of the limits (issue 13, item 8 follow-up).

    python -m bench.json_memory

Each file is read by `registry.intake.reading.open_rows` in a fresh child process (its rows
consumed, nothing written); the child's `ru_maxrss` is reported with the outcome.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from registry.input_limits import JSON_BYTES_PER_VALUE, InputLimits

ROW = {
    "list_type": "黑名单",
    "subject_kind": "单位",
    "name": "样本化工有限公司",
    "uscc": "91350100M000100Y43",
    "grounds": "A4",
    "decision_date": "2026-05-20",
}


LIMITS = InputLimits()
MOST = LIMITS.max_json_bytes // JSON_BYTES_PER_VALUE
ROWS = int(LIMITS.max_json_bytes * 0.98) // (len(json.dumps(ROW, ensure_ascii=False).encode()) + 1)
LABELS = [
    f"{ROWS:,} rows of six cells",
    f"{MOST // 2:,} empty objects",
    f"{MOST:,} numbers",
    f"one object of {MOST - 1:,} keys",
    f"{MOST:,} objects of one distinct key",
    "5,000,000 empty objects",
]


def files(folder: Path) -> dict[str, Path]:
    """Written in a child of their own: a child forked from a parent that built them would
    start with the parent's pages, and `ru_maxrss` would count them."""
    row = json.dumps(ROW, ensure_ascii=False)
    made = {
        LABELS[0]: "[" + ",".join([row] * ROWS) + "]",
        LABELS[1]: "[" + ",".join(["{}"] * (MOST // 2)) + "]",
        LABELS[2]: "[" + ",".join(["1"] * (MOST - 2)) + "]",
        LABELS[3]: "[{" + ",".join(f'"k{n}":1' for n in range(MOST - 2)) + "}]",
        LABELS[4]: "[" + ",".join(f'{{"k{n}":1}}' for n in range(MOST // 2 - 1)) + "]",
        LABELS[5]: "[" + ",".join(["{}"] * 5_000_000) + "]",
    }
    paths = {}
    for number, (label, text) in enumerate(made.items()):
        paths[label] = folder / f"{number}.json"
        paths[label].write_text(text, encoding="utf-8")
    return paths


CHILD = """
import resource, sys
from pathlib import Path

from registry.input_limits import JSON_BYTES_PER_VALUE, InputLimits
from registry.intake.reading import open_rows
from registry.spreadsheet import ImportFileError
try:
    with open_rows(Path(sys.argv[1])) as source:
        outcome = f"read {sum(1 for _ in source.rows):,} rows"
except ImportFileError as exc:
    outcome = "refused: " + exc.message.split("：", 1)[1][:40]
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, outcome, sep="\\t")
"""


def main(argv: list[str]) -> None:
    if argv[:1] == ["--make"]:
        files(Path(argv[1]))
        return
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "bench.json_memory", "--make", folder], check=True)
        for number, label in enumerate(LABELS):
            path = Path(folder) / f"{number}.json"
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True
            )
            rss, outcome = done.stdout.strip().split("\t")
            size = path.stat().st_size / (1 << 20)
            print(f"| {label} | {size:.1f} MB | {float(rss):.0f} MB | {outcome} |")


if __name__ == "__main__":
    main(sys.argv[1:])
