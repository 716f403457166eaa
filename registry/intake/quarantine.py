"""The quarantine report: `<reference>.csv` beside the `import_rejection` rows, for the reporter."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from registry.spreadsheet import QuarantineLine, spreadsheet_cell


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
            self._handle = self._part.open("w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(self.COLUMNS)
        self._writer.writerows(
            (
                line.row_number,
                spreadsheet_cell(line.column),
                spreadsheet_cell(line.value or ""),
                line.reason_zh,
                line.reason_en,
            )
            for line in lines
        )

    def complete(self) -> Path | None:
        if self._handle is None or self._part is None or self.path is None:
            return None
        self._handle.close()
        self._handle = None
        os.replace(self._part, self.path)
        self._part = None
        return self.path

    def discard(self) -> None:
        """After a failure: no half-written report is left behind."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._part is not None:
            self._part.unlink(missing_ok=True)
            self._part = None
