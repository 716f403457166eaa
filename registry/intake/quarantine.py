"""The quarantine report: `<reference>.csv` beside the `import_rejection` rows, for the reporter.

The report is written as `.<reference>.csv.part` and renamed when the import is complete. The
writer holds an exclusive `flock` on the part for as long as it is open, and the kernel drops
that lock when the process dies however it dies (SIGKILL, the OOM killer). So a part nobody
holds a lock on belongs to no live import — its transaction rolled back with its process — and
the next import removes it (`remove_stale_parts`); a part still locked is another import at
work and is left alone.
"""

from __future__ import annotations

import csv
import fcntl
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from registry.spreadsheet import QuarantineLine, spreadsheet_cell

PART_PATTERN = ".*.csv.part"


def remove_stale_parts(directory: Path) -> list[Path]:
    """Remove the half-written reports of imports that died; return what was removed."""
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for part in directory.glob(PART_PATTERN):
        try:
            descriptor = os.open(part, os.O_RDONLY)
        except FileNotFoundError:  # renamed or removed meanwhile
            continue
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a live import is writing it
                continue
            # Still the file we locked (not renamed and replaced meanwhile): remove it.
            if os.stat(part).st_ino == os.fstat(descriptor).st_ino:
                part.unlink()
                removed.append(part)
        except FileNotFoundError:
            continue
        finally:
            os.close(descriptor)
    return removed


class QuarantineFile:
    """`<reference>.csv` (UTF-8 with BOM for Excel), written aside and renamed when complete."""

    COLUMNS = ("行号", "列", "值", "原因", "reason")

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path: Path | None = None
        self._part: Path | None = None
        self._handle: TextIO | None = None
        self._writer: Any = None

    def write(self, reference: str, lines: Sequence[QuarantineLine]) -> None:
        if self._writer is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.path = self.directory / f"{reference}.csv"
            self._part = self.directory / f".{reference}.csv.part"
            self._handle = _open_locked(self._part)
            self._writer = csv.writer(self._handle)
            self._writer.writerow(self.COLUMNS)
        self._writer.writerows(
            (
                line.row_number,
                spreadsheet_cell(line.column),
                spreadsheet_cell(line.value or ""),
                spreadsheet_cell(line.reason_zh),
                spreadsheet_cell(line.reason_en),
            )
            for line in lines
        )

    def complete(self) -> Path | None:
        if self._handle is None or self._part is None or self.path is None:
            return None
        self._handle.flush()
        os.replace(self._part, self.path)  # under the lock: a sweep never sees it unlocked
        self._handle.close()
        self._handle = None
        self._part = None
        return self.path

    def discard(self) -> None:
        """After a failure: no half-written report is left behind."""
        if self._part is not None:
            self._part.unlink(missing_ok=True)
            self._part = None
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _open_locked(part: Path) -> TextIO:
    """Open the part for writing and lock it; a sweep that removed it between the open and the
    lock leaves an unlinked file, so open it again."""
    while True:
        handle = part.open("w", encoding="utf-8-sig", newline="")
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        if os.fstat(handle.fileno()).st_nlink > 0:
            return handle
        handle.close()
