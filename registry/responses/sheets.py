"""The spreadsheet a department sends back: rows become `Response`s; bad rows are reported.

Reading (encodings, guards, header matching, cell cleaning) is `registry.spreadsheet`'s, the same
as intake's, within the same `registry.input_limits`; every problem names its row and column.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException
from sqlmodel import Session

from memoranda.loader import Catalogue
from registry.clock import Clock
from registry.input_limits import (
    InputLimits,
    cells_checked,
    check_width,
    check_xlsx,
    count_row,
    csv_records,
    first_line,
)
from registry.responses.recording import record_responses
from registry.responses.requests import (
    Outcome,
    Response,
    ResponseRequestError,
    ResponseResult,
    parse_answer_date,
    parse_listing_reference,
    resolve_department,
)
from registry.spreadsheet import (
    XLSX_ERRORS,
    CellReader,
    Column,
    ImportFileError,
    QuarantineLine,
    detect_encoding,
    first_nonblank,
    guard_xlsx,
    header_key,
    header_width,
    is_blank,
    match_columns,
    shown_value,
    yes_or_no,
)
from registry.vocabulary import ResponseKind

COLUMNS: tuple[Column, ...] = (
    Column("department", "部门代码", aliases=("部门", "department_code")),
    Column("listing_id", "名单编号", required=True, aliases=("listing", "listing_reference")),
    Column("ack", "响应", aliases=("acknowledged", "已响应")),
    Column("feedback", "反馈", aliases=("反馈内容", "feedback_text")),
    Column("outcome", "措施实施情况", aliases=("实施情况", "feedback_outcome")),
    Column("lifted", "解除确认", aliases=("lift_confirmed", "已解除")),
    Column("answered_on", "答复日期", aliases=("回复日期", "answer_date")),
)


COLUMN_ZH = {c.name: c.zh for c in COLUMNS}


HEADER_INDEX = {header_key(label): c.name for c in COLUMNS for label in (c.name, c.zh, *c.aliases)}


_ANSWERS = ("ack", "feedback", "outcome", "lifted")


_OUTCOMES = {
    "已实施": Outcome.APPLIED,
    "已落实": Outcome.APPLIED,
    "applied": Outcome.APPLIED,
    "不适用": Outcome.NOT_APPLICABLE,
    "not_applicable": Outcome.NOT_APPLICABLE,
    "not applicable": Outcome.NOT_APPLICABLE,
    "n/a": Outcome.NOT_APPLICABLE,
}


@dataclass(frozen=True)
class ResponseSheet:
    """A returned sheet read row by row: the responses it holds and the rows that are bad."""

    file: str
    format: str
    encoding: str | None
    rows: int
    responses: list[Response]
    problems: list[QuarantineLine]
    skipped: list[int]
    warnings: list[str]
    labels: dict[str, str]

    def label(self, name: str) -> str:
        return self.labels.get(name, COLUMN_ZH.get(name, name))


@dataclass(frozen=True)
class SheetResult:
    """What a returned sheet did: the responses' result, and every bad row with its column."""

    sheet: ResponseSheet
    result: ResponseResult
    problems: list[QuarantineLine]

    @property
    def bad_rows(self) -> list[int]:
        return sorted({p.row_number for p in self.problems})

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.sheet.file,
            "format": self.sheet.format,
            "encoding": self.sheet.encoding,
            "rows": self.sheet.rows,
            "bad_rows": len(self.bad_rows),
            "skipped_rows": self.sheet.skipped,
            **self.result.as_dict(),
            "problems": [p.as_dict() for p in self.problems],
            "warnings": self.sheet.warnings,
        }


def record_response_sheet(
    session: Session,
    path: Path,
    *,
    catalogue: Catalogue,
    clock: Clock,
    recorded_by: str,
    department: str | None = None,
    limits: InputLimits | None = None,
) -> SheetResult:
    """Record a department's returned sheet; bad rows are reported, good rows land.

    Raises `ImportFileError` (nothing recorded) only when the file is unreadable or lacks the
    listing column, the department column (without `department`), or every answer column.
    """
    sheet = read_response_sheet(path, catalogue=catalogue, department=department, limits=limits)
    result = record_responses(
        session,
        responses=sheet.responses,
        catalogue=catalogue,
        clock=clock,
        recorded_by=recorded_by,
        source=f"file:{path.name}"[:100],
    )
    refused = [
        QuarantineLine(r.row or 0, sheet.label(r.field), r.value, r.reason_zh, r.reason_en)
        for r in result.refused
    ]
    problems = sorted([*sheet.problems, *refused], key=lambda p: p.row_number)
    return SheetResult(sheet, result, problems)


def read_response_sheet(
    path: Path,
    *,
    catalogue: Catalogue,
    department: str | None = None,
    limits: InputLimits | None = None,
) -> ResponseSheet:
    """Read a returned CSV (UTF-8, BOM or GBK) or XLSX; check each row without the database."""
    limits = limits or InputLimits()
    default = None
    if department is not None:
        default = resolve_department(catalogue, department)
        if default is None:
            raise ResponseRequestError(
                f"未知部门 {department}：不在部门目录中（unknown department）",
                department=department,
            )
    with ExitStack() as stack:
        file_format, encoding, records = _open_records(path, stack, limits)
        first = first_nonblank(records)
        if first is None:
            raise _sheet_error(path, "文件为空（empty file）")
        width = header_width(first[1])
        check_width(path, width, limits, _sheet_error)
        positions, labels, unknown = _map_header(first[1], path, has_default=default is not None)
        responses: list[Response] = []
        problems: list[QuarantineLine] = []
        skipped: list[int] = []
        rows = 0
        for number, cells in records:
            if is_blank(cells):
                continue
            rows += 1
            count_row(path, rows, number, limits, _sheet_error)
            values = {name: cells[i] for i, name in positions.items() if i < len(cells)}
            if file_format == "csv" and len(cells) > width and not is_blank(cells[width:]):
                extra = len(cells) - width
                problems.append(
                    QuarantineLine(
                        number,
                        "（整行）",
                        shown_value("", ",".join(map(str, cells[width:]))),
                        f"本行比表头多出 {extra} 列，可能是反馈中有未加引号的逗号",
                        f"{extra} more cells than the header (an unquoted comma?)",
                    )
                )
                continue
            found, bad = _row_responses(number, values, catalogue, default, labels)
            responses += found
            problems += bad
            if not found and not bad:
                skipped.append(number)
    if rows == 0:
        raise _sheet_error(path, "没有数据行（no data rows）")
    warnings = []
    if unknown:
        warnings.append(f"已忽略无法识别的列：{'、'.join(unknown)}（unknown columns ignored）")
    if encoding == "gb18030":
        warnings.append("文件按 GBK/GB18030 编码读取（decoded as GBK/GB18030）")
    if skipped:
        shown = "、".join(map(str, skipped[:20])) + ("…" if len(skipped) > 20 else "")
        warnings.append(
            f"第 {shown} 行没有任何答复，已跳过（{len(skipped)} rows without an answer skipped）"
        )
    return ResponseSheet(
        path.name, file_format, encoding, rows, responses, problems, skipped, warnings, labels
    )


def _sheet_error(path: Path, reason: str) -> ImportFileError:
    return ImportFileError(
        f"无法读取回执文件 {path.name}：{reason}；未记录任何答复（nothing was recorded）",
        file=path.name,
        reason=reason,
    )


def _open_records(
    path: Path, stack: ExitStack, limits: InputLimits
) -> tuple[str, str | None, Iterator[tuple[int, Sequence[object]]]]:
    if not path.is_file():
        raise _sheet_error(path, "文件不存在（file not found）")
    if path.stat().st_size == 0:
        raise _sheet_error(path, "文件为空（empty file）")
    suffix = path.suffix.lower()
    if suffix in {".csv", ".tsv", ".txt"}:
        encoding = detect_encoding(path)
        line = first_line(path, encoding, limits)
        delimiter = "\t" if "," not in line and "\t" in line else ","
        handle = stack.enter_context(path.open(encoding=encoding, newline=""))
        return "csv", encoding, csv_records(path, handle, delimiter, limits, _sheet_error)
    if suffix in {".xlsx", ".xlsm"}:
        with path.open("rb") as raw:
            if raw.read(4) != b"PK\x03\x04":
                raise _sheet_error(path, "不是有效的 XLSX 文件（not an XLSX workbook）")
        check_xlsx(path, limits, _sheet_error)  # before openpyxl reads the parts it holds whole
        try:
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=False)
        except (InvalidFileException, *XLSX_ERRORS) as exc:
            raise _sheet_error(path, f"XLSX 文件已损坏或无法读取（corrupt XLSX）：{exc}") from exc
        stack.callback(workbook.close)
        if not workbook.worksheets:
            raise _sheet_error(path, "工作簿中没有工作表（no worksheet）")
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()
        records = enumerate(sheet.iter_rows(values_only=True), start=1)
        return "xlsx", None, cells_checked(path, guard_xlsx(path, records), limits, _sheet_error)
    raise _sheet_error(
        path,
        f"不支持的文件类型 {suffix or '(无扩展名)'}：只接受 CSV、XLSX（use .csv or .xlsx）",
    )


def _map_header(
    cells: Sequence[object], path: Path, *, has_default: bool
) -> tuple[dict[int, str], dict[str, str], list[str]]:
    def duplicate(name: str, first: str, second: str) -> Exception:
        return _sheet_error(
            path, f"表头中「{first}」与「{second}」是同一列（duplicate column: {name}）"
        )

    positions, labels, unknown = match_columns(cells, HEADER_INDEX, duplicate)
    missing = [name for name in ("listing_id",) if name not in labels]
    if "department" not in labels and not has_default:
        missing.insert(0, "department")
    if missing:
        wanted = "、".join(f"{COLUMN_ZH[name]}（{name}）" for name in missing)
        hint = "；或用 --department 指定部门" if "department" in missing else ""
        raise _sheet_error(path, f"缺少必需的列：{wanted}{hint}（missing required columns）")
    if not any(name in labels for name in _ANSWERS):
        wanted = "、".join(f"{COLUMN_ZH[name]}（{name}）" for name in _ANSWERS)
        raise _sheet_error(path, f"没有任何答复列，应至少有 {wanted} 之一（no answer column）")
    return positions, labels, unknown


def _row_responses(
    number: int,
    values: Mapping[str, object],
    catalogue: Catalogue,
    default: str | None,
    labels: Mapping[str, str],
) -> tuple[list[Response], list[QuarantineLine]]:
    """One row → up to three responses (ack, feedback, lift), or every problem of the row.

    A row with any problem records nothing: the department corrects and resends it, and the
    rows that were fine are no-ops the second time.
    """
    row = CellReader(values)
    department = _department_cell(row, catalogue, default)
    listing = _listing_cell(row)
    ack = _yes_no(row, "ack", "响应")
    lifted = _yes_no(row, "lifted", "解除确认")
    feedback = row.text("feedback", multi_line=True)
    outcome = _outcome_cell(row, feedback)
    answered_on = _answer_date_cell(row)
    if row.problems:
        return [], [
            QuarantineLine(
                number,
                labels.get(p.field, COLUMN_ZH.get(p.field, p.field)),
                p.value,
                p.reason_zh,
                p.reason_en,
            )
            for p in row.problems
        ]
    assert listing is not None  # no problems: both were read
    assert department is not None
    listing_id, reference = listing
    common: dict[str, Any] = {
        "department": department,
        "listing_ids": (listing_id,),
        "references": {listing_id: reference} if reference else {},
        "row": number,
        "answered_on": answered_on,
    }
    found = []
    if ack:
        found.append(Response(kind=ResponseKind.ACK, **common))
    if outcome is not None:
        found.append(
            Response(kind=ResponseKind.FEEDBACK, feedback_text=feedback, outcome=outcome, **common)
        )
    if lifted:
        found.append(Response(kind=ResponseKind.LIFT, **common))
    return found, []


def _department_cell(row: CellReader, catalogue: Catalogue, default: str | None) -> str | None:
    """The row's department: its own cell (which must match a department given for the whole
    sheet), else the one given; an unknown code is kept, for the rules to refuse by name."""
    department = default
    written = row.text("department")
    if written is not None:
        resolved = resolve_department(catalogue, written)
        if default is not None and resolved != default:
            row.fail(
                "department",
                f"与指定的部门 {default} 不一致",
                f"differs from the department given ({default})",
            )
        department = resolved or written  # an unknown code is refused by the rules, by name
    elif default is None:
        row.fail("department", "部门代码为必填项", "department is required")
    return department


def _listing_cell(row: CellReader) -> tuple[int, str | None] | None:
    """The listing answered: a bare id, or `<batch reference>-<id>` as the letter gave it."""
    listing = None
    listing_text = row.text("listing_id")
    if listing_text is None:
        if not any(p.field == "listing_id" for p in row.problems):
            row.fail("listing_id", "名单编号为必填项", "listing id is required")
    else:
        listing = parse_listing_reference(listing_text)
        if listing is None:
            row.fail(
                "listing_id",
                "名单编号应为数字，或推送函中的“批次编号-名单编号”",
                "listing id must be a number or <batch reference>-<id>",
            )
    return listing


def _outcome_cell(row: CellReader, feedback: str | None) -> Outcome | None:
    """措施实施情况: required when feedback text is given."""
    outcome_text = row.text("outcome")
    outcome = None
    if outcome_text is not None:
        outcome = _OUTCOMES.get(outcome_text.casefold())
        if outcome is None:
            row.fail(
                "outcome",
                "措施实施情况应为 已实施 或 不适用",
                "outcome must be applied or not_applicable",
            )
    elif feedback is not None:
        row.fail(
            "outcome",
            "填写了反馈内容，请同时填写措施实施情况（已实施 / 不适用）",
            "feedback given without an outcome (applied / not_applicable)",
            value="",
        )
    return outcome


def _answer_date_cell(row: CellReader) -> date | None:
    """The optional 答复日期 of a returned row: a date cell, or text as `parse_answer_date`."""
    raw = row.values.get("answered_on")
    if isinstance(raw, date):
        return raw.date() if isinstance(raw, datetime) else raw
    text = row.text("answered_on")
    try:
        return parse_answer_date(text)
    except ResponseRequestError:
        row.fail("answered_on", "答复日期应为存在的日期，格式 YYYY-MM-DD", "invalid answer date")
        return None


def _yes_no(row: CellReader, name: str, zh: str) -> bool:
    text = row.text(name)
    if text is None:
        return False
    answer = yes_or_no(text)
    if answer is None:
        row.fail(name, f"{zh}应为 是 或 否", f"{name} must be yes or no")
        return False
    return answer
