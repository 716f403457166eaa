"""Reading an intake file (CSV / XLSX / JSON) as a header and a stream of raw rows.

- **Whole file or row.** A file we cannot read, or whose header lacks a required column, raises
  one `ImportFileError` before anything is written; a bad *row* only carries a `RowProblem`.
- **Streaming.** CSV and XLSX are read row by row: memory never grows with the file.
- **Limits** (`registry.input_limits`): sizes of XLSX parts, header width, cell length, record
  length and rows per file are checked before or while parsing; JSON's size before reading.
- Encodings, guards and header matching are `registry.spreadsheet`'s, shared with the
  department response sheets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from registry.input_limits import (
    InputLimits,
    cells_checked,
    check_cells,
    check_json_size,
    check_json_values,
    check_width,
    check_xlsx,
    count_row,
    csv_records,
    first_line,
)
from registry.spreadsheet import (
    ROW,
    ROW_LABEL,
    XLSX_ERRORS,
    Column,
    ImportFileError,
    RowProblem,
    detect_encoding,
    file_error,
    first_nonblank,
    guard_xlsx,
    header_key,
    header_width,
    is_blank,
    match_columns,
    shown_value,
)

COLUMNS: tuple[Column, ...] = (
    Column("list_type", "名单类型", required=True),
    Column("subject_kind", "主体类型", required=True),
    Column("name", "名称", required=True, aliases=("主体名称",)),
    Column("uscc", "统一社会信用代码", aliases=("社会信用代码",)),
    Column("id_number", "身份证号", aliases=("身份证号码", "公民身份号码")),
    Column("unit_uscc", "所属单位信用代码", aliases=("所属单位统一社会信用代码",)),
    Column("region", "行政区划代码", aliases=("region_code",)),
    Column("industry", "行业"),
    Column("grounds", "认定依据", required=True),
    Column("penalty_number", "处罚决定书文号", aliases=("决定书文号", "decision_number")),
    Column("decision_date", "处罚决定日期", required=True, aliases=("决定日期",)),
    Column("typical_case", "典型案例"),
    Column("contact_email", "联系邮箱", aliases=("email",)),
    Column("e_service_consent", "同意电子送达", aliases=("电子送达",)),
    Column("note", "备注"),
    Column("rule_set", "规则", aliases=("规则集",)),
)


REQUIRED = tuple(c.name for c in COLUMNS if c.required)


HEADER_INDEX: dict[str, str] = {
    header_key(label): column.name
    for column in COLUMNS
    for label in (column.name, column.zh, *column.aliases)
}


@dataclass(frozen=True)
class Header:
    """Which file column holds which field, and how the file names it (for quarantine lines)."""

    positions: dict[int, str]
    labels: dict[str, str]
    unknown: list[str]
    width: int
    """Cells up to the last named header cell, known or not: a value beyond is misaligned."""

    def label(self, name: str) -> str:
        if name == ROW:
            return ROW_LABEL
        return self.labels.get(name) or COLUMN_ZH.get(name, name)


def map_header(cells: Sequence[object], *, file_name: str) -> Header:
    """Map header cells to fields; a repeated or missing required column fails the file."""

    def duplicate(name: str, first: str, second: str) -> Exception:
        return ImportFileError(
            f"文件 {file_name} 的表头中「{first}」与「{second}」是同一列，无法确定取哪一列"
            f"（duplicate column: {name}）",
            file=file_name,
            column=name,
        )

    positions, labels, unknown = match_columns(cells, HEADER_INDEX, duplicate)
    missing = [name for name in REQUIRED if name not in labels]
    if missing:
        wanted = "、".join(f"{COLUMN_ZH[name]}（{name}）" for name in missing)
        raise ImportFileError(
            f"文件 {file_name} 缺少必需的列：{wanted}；未写入任何数据"
            f"（missing required columns: {', '.join(missing)}; nothing was imported）",
            file=file_name,
            missing=missing,
            found=list(labels.values()) + unknown,
        )
    return Header(positions, labels, unknown, width=header_width(cells))


COLUMN_ZH = {c.name: c.zh for c in COLUMNS}


@dataclass(frozen=True, slots=True)
class RawRow:
    """One data row as read: its number as the user sees it and its cells by field."""

    number: int
    values: dict[str, object]
    problem: RowProblem | None = None


@dataclass
class Source:
    """An open file: its header and a one-pass iterator over its data rows."""

    format: str
    encoding: str | None
    header: Header
    rows: Iterator[RawRow]
    warnings: list[str] = field(default_factory=list)


@contextmanager
def open_rows(path: Path, limits: InputLimits | None = None) -> Iterator[Source]:
    """Open a CSV, XLSX or JSON file; the header is checked before the first row is returned."""
    limits = limits or InputLimits()
    if not path.is_file():
        raise ImportFileError(f"文件不存在（file not found）：{path}", file=str(path))
    if path.stat().st_size == 0:
        raise file_error(path, "文件为空（empty file）")
    suffix = path.suffix.lower()
    with ExitStack() as stack:
        if suffix in {".csv", ".tsv", ".txt"}:
            source = _csv_source(path, stack, limits)
        elif suffix in {".xlsx", ".xlsm"}:
            source = _xlsx_source(path, stack, limits)
        elif suffix == ".json":
            source = _json_source(path, limits)
        elif suffix == ".xls":
            raise file_error(
                path, "不支持旧版 .xls 文件，请另存为 .xlsx（legacy .xls: save as .xlsx）"
            )
        else:
            raise file_error(
                path,
                f"不支持的文件类型 {suffix or '(无扩展名)'}：只接受 CSV、XLSX、JSON"
                "（unsupported file type: use .csv, .xlsx or .json）",
            )
        if source.header.unknown:
            source.warnings.append(
                f"已忽略无法识别的列：{'、'.join(source.header.unknown)}（unknown columns ignored）"
            )
        yield source


def _csv_source(path: Path, stack: ExitStack, limits: InputLimits) -> Source:
    encoding = detect_encoding(path)
    line = first_line(path, encoding, limits)
    delimiter = ","
    if "," not in line:
        delimiter = "\t" if "\t" in line else ";" if ";" in line else ","
    handle: TextIO = stack.enter_context(path.open(encoding=encoding, newline=""))
    records = csv_records(path, handle, delimiter, limits)
    first = first_nonblank(records)
    if first is None:
        raise file_error(path, "文件为空（empty file）")
    _, header_cells = first
    header = map_header(header_cells, file_name=path.name)
    rows = _table_rows(path, records, header, limits, extra_cells_rejected=True)
    warnings = []
    if encoding == "gb18030":
        warnings.append("文件按 GBK/GB18030 编码读取（decoded as GBK/GB18030）")
    return Source("csv", encoding, header, rows, warnings)


def _xlsx_source(path: Path, stack: ExitStack, limits: InputLimits) -> Source:
    with path.open("rb") as handle:
        if handle.read(4) != b"PK\x03\x04":
            raise file_error(path, "不是有效的 XLSX 文件（not an XLSX workbook）")
    check_xlsx(path, limits)  # before openpyxl reads the parts it holds whole
    try:
        # Formulas are read as their text (not cached values) so `=HYPERLINK(…)` is refused.
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except (InvalidFileException, *XLSX_ERRORS) as exc:
        raise file_error(path, f"XLSX 文件已损坏或无法读取（corrupt XLSX）：{exc}") from exc
    stack.callback(workbook.close)
    sheets = workbook.worksheets
    if not sheets:
        raise file_error(path, "工作簿中没有工作表（no worksheet）")
    sheet = sheets[0]
    # Read-only mode trusts the sheet's recorded dimensions, which other tools often get wrong.
    sheet.reset_dimensions()
    rows_read = enumerate(sheet.iter_rows(values_only=True), start=1)
    records = cells_checked(path, guard_xlsx(path, rows_read), limits)
    first = first_nonblank(records)
    if first is None:
        raise file_error(path, "工作表为空（empty worksheet）")
    check_width(path, header_width(first[1]), limits)
    header = map_header(first[1], file_name=path.name)
    warnings = []
    if len(sheets) > 1:
        warnings.append(
            f"工作簿有 {len(sheets)} 个工作表，只导入第一个「{sheet.title}」"
            f"(only the first worksheet is imported)"
        )
    rows = _table_rows(path, records, header, limits, extra_cells_rejected=False)
    return Source("xlsx", None, header, rows, warnings)


def _table_rows(
    path: Path,
    records: Iterator[tuple[int, Sequence[object]]],
    header: Header,
    limits: InputLimits,
    *,
    extra_cells_rejected: bool,
) -> Iterator[RawRow]:
    width = header.width  # cells under an unknown (ignored) column are not extra cells
    read = 0
    for number, cells in records:
        if is_blank(cells):
            continue
        read += 1
        count_row(path, read, number, limits)
        values = {name: cells[i] for i, name in header.positions.items() if i < len(cells)}
        problem = None
        if extra_cells_rejected and len(cells) > width and not is_blank(cells[width:]):
            extra = [str(c) for c in cells[width:] if c not in (None, "")]
            problem = RowProblem(
                ROW,
                shown_value(ROW, ",".join(extra)),
                f"本行比表头多出 {len(cells) - width} 列，可能是名称中有未加引号的逗号",
                f"{len(cells) - width} more cells than the header (an unquoted comma?)",
            )
        yield RawRow(number, values, problem)


def _json_source(path: Path, limits: InputLimits) -> Source:
    check_json_size(path, limits)
    data = path.read_bytes()
    check_json_values(path, data, limits)  # before `json` builds a value of it
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise file_error(path, "JSON 文件必须是 UTF-8 编码（JSON must be UTF-8）") from exc
    del data
    seen: set[str] = set()

    def members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        # Every object's keys, as it is built: the 201st distinct key refuses the file before
        # the rest is (a wrapper's "rows" is the one key allowed beyond the header's width).
        seen.update(key for key, _ in pairs)
        if len(seen) > limits.max_columns + 1:
            check_width(path, len(seen), limits)
        return dict(pairs)

    try:
        data = json.loads(text, object_pairs_hook=members)
    except json.JSONDecodeError as exc:
        raise file_error(
            path, f"JSON 无法解析：第 {exc.lineno} 行第 {exc.colno} 列（invalid JSON: {exc.msg}）"
        ) from exc
    except RecursionError as exc:
        raise file_error(path, "JSON 嵌套层数过多（JSON nested too deeply）") from exc
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise file_error(path, f"JSON 含有无法读取的值（unreadable JSON value: {exc}）") from exc
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        data = data["rows"]
    if not isinstance(data, list):
        raise file_error(
            path, 'JSON 应为对象数组，或 {"rows": [...]}（expected a list of objects）'
        )
    keys = list(dict.fromkeys(k for item in data if isinstance(item, dict) for k in item))
    if not data:
        raise file_error(path, "没有数据行（no data rows）")
    check_width(path, len(keys), limits)
    count_row(path, len(data), limits.max_rows + 1, limits)  # items, counted before any is read
    header = map_header(keys, file_name=path.name)
    by_key = {keys[i]: name for i, name in header.positions.items()}
    return Source("json", "utf-8", header, _json_rows(path, data, by_key, limits))


def _json_rows(
    path: Path, data: list[Any], by_key: Mapping[str, str], limits: InputLimits
) -> Iterator[RawRow]:
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            yield RawRow(
                index,
                {},
                RowProblem(
                    ROW,
                    shown_value(ROW, item),
                    "该项不是对象（JSON 行应为 {列名: 值}）",
                    "item is not an object",
                ),
            )
            continue
        values = {by_key[k]: v for k, v in item.items() if k in by_key}
        if is_blank(values.values()):
            continue
        check_cells(path, index, list(values.values()), limits)
        yield RawRow(index, values)
