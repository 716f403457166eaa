"""Intake: a batch file (CSV / XLSX / JSON) becomes `proposed` listings; bad rows are quarantined.

- `reading`: the file as a header and a stream of raw rows (whole-file errors only).
- `rows`: one row validated, pure — the typed row or every problem found.
- `writer`: one new batch written in chunks, rejected rows quarantined (table + CSV report).
- `quarantine`: the CSV report written aside and renamed when complete.
"""

from registry.intake.reading import COLUMNS, open_rows
from registry.intake.rows import RowRules, ValidRow, validate_row
from registry.intake.writer import ImportResult, import_batch
from registry.spreadsheet import ImportFileError, QuarantineLine, RowProblem

__all__ = [
    "COLUMNS",
    "ImportFileError",
    "ImportResult",
    "QuarantineLine",
    "RowProblem",
    "RowRules",
    "ValidRow",
    "import_batch",
    "open_rows",
    "validate_row",
]
