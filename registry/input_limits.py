"""How much a file we are sent may hold, checked before (or while) it is parsed.

A small upload must not exhaust memory (issue 13, item 8): a 2.8 MB workbook whose shared
strings unpack to gigabytes, a CSV whose one header row is 30 MB of commas, a million rows. The
limits here are checked where the cost is still small, and each breach is one `ImportFileError`
in Chinese (with an English gloss) naming the part, row or column:

- **XLSX**: the ZIP directory is read before openpyxl opens the workbook. openpyxl streams the
  worksheets in read-only mode but reads every other part whole — the shared strings above all —
  so a part that `[Content_Types].xml` does not declare a worksheet may unpack to at most
  `max_part_bytes`, a worksheet to `max_sheet_bytes`, no part larger than a megabyte may unpack
  to more than `max_ratio` times its compressed size, and the shared strings are counted (a
  streaming parse that keeps nothing) before openpyxl builds its list of them. A part declared
  twice is refused; shared strings by any declaration or by the workbook's relationships, a
  relationships part and a part openpyxl reads by its fixed name (styles, theme, properties)
  keep the whole-part limit even when declared a worksheet. Every worksheet is then streamed
  once as bytes (`_scan_worksheet`): no text node or tag may be longer than a cell can take, so
  the parser never holds more than that of one.
- **CSV**: lines are handed to the csv module through a reader that stops a record at
  `record_chars` characters, so neither a huge header nor an unclosed quote is buffered; every
  record's width and every cell's length are checked as it is read.
- **Rows per file** are counted as they are read (`count_row`): the import is one transaction,
  so a file found too long part-way writes nothing.
- **JSON** is parsed whole by `json`, so its size is limited before it is read, and its values,
  members and objects are counted in the bytes before `json` builds any (`check_json_values`).

Over 500 lines because each format's checks sit with the one limit type they share, and the
XLSX package rules (declarations, parts read whole, the worksheet pre-scan) must be read
together to see that no part escapes them.

The core never reads settings: `registry.settings.Settings.input_limits` builds the value the
service layer passes in; the defaults here are the settings' defaults.
"""

from __future__ import annotations

import csv
import posixpath
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from xml.etree.ElementTree import ParseError, iterparse

from openpyxl.utils import get_column_letter

from registry.spreadsheet import ImportFileError, file_error

MB = 1 << 20
RATIO_FLOOR = MB
"""Parts smaller than this unpacked are not held to the compression ratio (tiny parts of
repeated markup compress far better than data, and cannot hurt)."""
MAX_PARTS = 10_000
"""ZIP entries in one workbook: a real one has a few dozen."""
WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
SHARED_STRINGS = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_CONTENT_TYPES = "[Content_Types].xml"
_SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"

FileError = Callable[[Path, str], ImportFileError]


@dataclass(frozen=True)
class InputLimits:
    """The limits of one file; the defaults are those of `JOINTCREDIT_IMPORT_MAX_*`."""

    max_rows: int = 1_000_000
    """Data rows per file (blank rows not counted)."""
    max_columns: int = 200
    """Cells in the header, and in any CSV record."""
    max_field_chars: int = 32_767
    """Characters in one cell: Excel's own limit, so no spreadsheet can produce a longer one."""
    max_json_bytes: int = 10 * MB
    max_sheet_bytes: int = 1024 * MB
    """Unpacked size of one worksheet part (streamed by openpyxl)."""
    max_part_bytes: int = 32 * MB
    """Unpacked size of any other part (read whole by openpyxl: shared strings, styles, …)."""
    max_shared_strings: int = 1_000_000
    max_ratio: int = 100
    """Unpacked ÷ compressed size of any part over `RATIO_FLOOR`."""

    @property
    def record_chars(self) -> int:
        """The longest CSV record that could hold `max_columns` cells of `max_field_chars`."""
        return self.max_columns * (self.max_field_chars + 3)


def _mb(size: int) -> str:
    return f"{size / MB:,.1f} MB"


# --- XLSX ----------------------------------------------------------------------------------


def check_xlsx(path: Path, limits: InputLimits, error: FileError = file_error) -> None:
    """Refuse a workbook whose parts would exhaust memory; read only its ZIP directory, its
    content types and (streaming) its shared strings."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            if len(parts) > MAX_PARTS:
                raise error(
                    path, f"XLSX 含有 {len(parts)} 个部件，超过上限 {MAX_PARTS}（too many parts）"
                )
            content_types = next((p for p in parts if p.filename == _CONTENT_TYPES), None)
            if content_types is None:
                raise error(
                    path, "不是有效的 XLSX 文件：缺少 [Content_Types].xml（not an XLSX workbook）"
                )
            _check_part(path, content_types, limits.max_part_bytes, limits, error)
            types = _declared_types(path, archive, error)
            strings = {name for name, kind in types.items() if kind == SHARED_STRINGS}
            strings |= _shared_strings_targets(archive, types)
            streamed = {
                name
                for name, kind in types.items()
                if kind == WORKSHEET
                and name not in strings
                and name[1:] not in _READ_WHOLE
                and not name.endswith(".rels")
            }
            for part in parts:
                whole = "/" + part.filename not in streamed
                limit = limits.max_part_bytes if whole else limits.max_sheet_bytes
                _check_part(path, part, limit, limits, error)
            for name in sorted(strings):
                if name[1:] in archive.NameToInfo:
                    _count_shared_strings(path, archive, name[1:], limits, error)
            for name in sorted(streamed):
                if name[1:] in archive.NameToInfo:
                    _scan_worksheet(path, archive, name[1:], limits, error)
    except (zipfile.BadZipFile, zlib.error, ParseError, EOFError, OSError) as exc:
        raise error(path, f"XLSX 文件已损坏或无法读取（corrupt XLSX）：{exc}") from exc


def _check_part(
    path: Path, part: zipfile.ZipInfo, limit: int, limits: InputLimits, error: FileError
) -> None:
    # zipfile stops a part at its declared size (and fails its CRC beyond), so the directory's
    # sizes bound what openpyxl can be given.
    if part.file_size > limit:
        raise error(
            path,
            f"XLSX 部件 {part.filename} 解压后为 {_mb(part.file_size)}，超过上限 {_mb(limit)}"
            f"（part {part.filename} unpacks to {part.file_size} bytes, limit {limit}）",
        )
    if part.file_size > RATIO_FLOOR and part.file_size > limits.max_ratio * max(
        part.compress_size, 1
    ):
        ratio = part.file_size // max(part.compress_size, 1)
        raise error(
            path,
            f"XLSX 部件 {part.filename} 的压缩比为 {ratio}:1，超过上限 {limits.max_ratio}:1，"
            f"疑为压缩炸弹（part {part.filename} compressed {ratio}:1: a ZIP bomb?）",
        )


def _declared_types(path: Path, archive: zipfile.ZipFile, error: FileError) -> dict[str, str]:
    """`/part/name` → content type, from the `Override` entries openpyxl itself reads.

    A part declared twice is refused: openpyxl's `Manifest.find` takes the first declaration
    of a type, so a check that kept another one would limit the part by the wrong rule (a
    shared-strings part, read whole, declared a second time as a worksheet, which is streamed).
    Part names are compared without case, as the package format (OPC) does.
    """
    types: dict[str, str] = {}
    seen: dict[str, str] = {}
    with archive.open(_CONTENT_TYPES) as source:
        for _, element in iterparse(source):
            if element.tag != f"{_TYPES_NS}Override":
                continue
            name = element.get("PartName", "")
            if name.lower() in seen:
                raise error(
                    path,
                    f"XLSX 的 [Content_Types].xml 重复声明了部件 {seen[name.lower()]}，"
                    "无法确定其类型（part declared twice in [Content_Types].xml）",
                )
            seen[name.lower()] = name
            types[name] = element.get("ContentType", "")
    return types


_READ_WHOLE = frozenset(
    {
        _CONTENT_TYPES,
        "xl/workbook.xml",
        "xl/styles.xml",
        "xl/theme/theme1.xml",
        "xl/sharedStrings.xml",
        "docProps/core.xml",
        "docProps/app.xml",
        "docProps/custom.xml",
    }
)
"""Parts openpyxl reads whole by their fixed names whatever `[Content_Types].xml` says, and the
usual name of the shared strings: none of them is ever streamed as a worksheet."""
_WORKBOOK_TYPES = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
        "application/vnd.ms-excel.template.macroEnabled.main+xml",
    }
)
_RELS_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def _shared_strings_targets(archive: zipfile.ZipFile, types: Mapping[str, str]) -> set[str]:
    """`/part/name`s the workbook's relationships name as its shared strings (openpyxl finds
    them by content type, other readers by this relationship: both are held to the
    shared-strings limits). The relationships part is small: it was limited as a whole part."""
    workbook = next(
        (name[1:] for name, kind in types.items() if kind in _WORKBOOK_TYPES), "xl/workbook.xml"
    )
    folder, file = posixpath.split(workbook)
    rels = posixpath.join(folder, "_rels", f"{file}.rels")
    if rels not in archive.NameToInfo:
        return set()
    targets = set()
    with archive.open(rels) as source:
        for _, element in iterparse(source):
            if element.tag != f"{_RELS_NS}Relationship" or element.get("TargetMode") == "External":
                continue
            if not element.get("Type", "").endswith("/sharedStrings"):
                continue
            target = element.get("Target", "")
            if not target.startswith("/"):
                target = "/" + posixpath.normpath(posixpath.join(folder, target))
            targets.add(target)
    return targets


def _count_shared_strings(
    path: Path, archive: zipfile.ZipFile, name: str, limits: InputLimits, error: FileError
) -> None:
    count = 0
    with archive.open(name) as source:
        root = None
        for event, element in iterparse(source, events=("start", "end")):
            if root is None:
                root = element
            if event == "end" and element.tag == f"{_SHEET_NS}si":
                count += 1
                root.clear()  # keep nothing: this pass only counts
                if count > limits.max_shared_strings:
                    raise error(
                        path,
                        f"XLSX 的共享字符串超过 {limits.max_shared_strings:,} 个的上限"
                        f"（more than {limits.max_shared_strings} shared strings）",
                    )


_SCAN_CHUNK = MB
_BYTES_PER_CHAR = 10
"""The most bytes one character of a cell can take in worksheet XML (`&#x10FFFF;`)."""


def _scan_worksheet(
    path: Path, archive: zipfile.ZipFile, name: str, limits: InputLimits, error: FileError
) -> None:
    """Stream a worksheet's bytes once, keeping nothing, before openpyxl parses it: no stretch
    between two `<` may be longer than the longest cell can take (`max_field_chars` characters
    of ten bytes each, plus 4 KB), and no comment, CDATA section, DTD or processing instruction
    may appear after the XML declaration.

    openpyxl streams a worksheet, but its parser holds a whole text node (and a whole tag) in
    memory, so one 300M-character cell costs gigabytes before its row can be checked. A stretch
    without `<` bounds every text node and every tag; the markup refused is the only way to
    join text across a `<` (the parser joins text on both sides of a comment, and a CDATA
    section may hold `<`), and no spreadsheet writes it into a worksheet.
    """
    longest = _BYTES_PER_CHAR * limits.max_field_chars + 4096
    run = 0  # bytes since the last `<`, carried from chunk to chunk
    previous = b""  # the last byte of the chunk before, for a `<!` or `<?` across chunks
    first = True
    with archive.open(name) as source:
        while chunk := source.read(_SCAN_CHUNK):
            if first:
                first = False
                start = chunk.lstrip(b"\xef\xbb\xbf \t\r\n")
                if start.startswith(b"<?xml") and b"?>" in start:
                    chunk = start[start.index(b"?>") + 2 :]
            joined = previous + chunk
            if b"<!" in joined or b"<?" in joined:
                raise error(
                    path,
                    f"XLSX 工作表 {name} 含有注释、CDATA、DTD 或处理指令，"
                    "电子表格软件不会写入这些内容"
                    f"（worksheet {name} holds comments, CDATA, a DTD or processing instructions）",
                )
            stretches = chunk.split(b"<")
            run += len(stretches[0])
            if len(stretches) > 1:  # the stretches this chunk closes, then the one it opens
                run = max(run, *map(len, stretches[1:-1]))
                if run <= longest:
                    run = len(stretches[-1])
            if run > longest:
                raise error(
                    path,
                    f"XLSX 工作表 {name} 中有一段文本或标记超过 {longest:,} 字节，"
                    f"必有单元格超过 {limits.max_field_chars:,} 个字符的上限"
                    f"（worksheet {name}: a cell longer than {limits.max_field_chars} characters）",
                )
            previous = chunk[-1:]


# --- CSV -----------------------------------------------------------------------------------


class _RecordTooLong(Exception):
    """A CSV record ran past `InputLimits.record_chars` before it ended."""


class _BoundedLines:
    """Lines for `csv.reader`, of which no record may be longer than `limit` characters.

    A record may span lines (a quoted line break), so the count runs until the reader has
    returned the record and `csv_records` resets it.
    """

    def __init__(self, handle: TextIO, limit: int) -> None:
        self.handle = handle
        self.limit = limit
        self.record_chars = 0

    def __iter__(self) -> _BoundedLines:
        return self

    def __next__(self) -> str:
        line = self.handle.readline(self.limit - self.record_chars + 1)
        if not line:
            raise StopIteration
        self.record_chars += len(line)
        if self.record_chars > self.limit:
            raise _RecordTooLong
        return line


def first_line(path: Path, encoding: str, limits: InputLimits) -> str:
    """The file's first line (to choose the delimiter), read no further than a record may be."""
    with path.open(encoding=encoding, newline="") as probe:
        return probe.readline(limits.record_chars)


def csv_records(
    path: Path,
    handle: TextIO,
    delimiter: str,
    limits: InputLimits,
    error: FileError = file_error,
) -> Iterator[tuple[int, list[str]]]:
    """(record number, cells) of a CSV file; a record too long, too wide or with a cell too
    long, and any parse error, fails the file naming the record."""
    lines = _BoundedLines(handle, limits.record_chars)
    reader = csv.reader(lines, delimiter=delimiter)
    number = 0
    try:
        for number, record in enumerate(reader, start=1):
            if len(record) > limits.max_columns:
                raise error(
                    path,
                    f"第 {number} 行有 {len(record):,} 列，超过上限 {limits.max_columns} 列"
                    f"（row {number} has {len(record)} cells, limit {limits.max_columns}）",
                )
            if lines.record_chars > limits.max_field_chars:  # else no cell can be too long
                check_cells(path, number, record, limits, error)
            lines.record_chars = 0
            yield number, record
    except _RecordTooLong:
        raise error(
            path,
            f"第 {number + 1} 行超过 {limits.record_chars:,} 个字符仍未结束"
            "（列数过多、内容过长或缺少右引号）"
            f"（row {number + 1} is longer than {limits.record_chars} characters: "
            "too many cells, or an unclosed quote?）",
        ) from None
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise _field_too_long(path, number + 1, None, limits, error) from exc
        raise error(path, f"第 {number + 1} 行无法解析（unparseable CSV）：{exc}") from exc
    except UnicodeDecodeError as exc:
        raise error(path, f"第 {number + 1} 行无法解码（undecodable）：{exc.reason}") from exc


def check_cells(
    path: Path,
    number: int,
    cells: Sequence[object],
    limits: InputLimits,
    error: FileError = file_error,
) -> None:
    """No text cell longer than `max_field_chars` (CSV records, XLSX rows, JSON values)."""
    for position, cell in enumerate(cells):
        if isinstance(cell, str) and len(cell) > limits.max_field_chars:
            raise _field_too_long(path, number, position, limits, error, len(cell))


def cells_checked(
    path: Path,
    records: Iterator[tuple[int, Sequence[object]]],
    limits: InputLimits,
    error: FileError = file_error,
) -> Iterator[tuple[int, Sequence[object]]]:
    """Worksheet rows as read, each refused if a cell is longer than `max_field_chars`."""
    for number, cells in records:
        check_cells(path, number, cells, limits, error)
        yield number, cells


def _field_too_long(
    path: Path,
    number: int,
    position: int | None,
    limits: InputLimits,
    error: FileError,
    length: int | None = None,
) -> ImportFileError:
    where = f"第 {number} 行"
    if position is not None:
        where += f" {get_column_letter(position + 1)} 列（第 {position + 1} 列）"
    size = f"有 {length:,} 个字符，" if length is not None else ""
    return error(
        path,
        f"{where}的内容{size}超过单元格上限 {limits.max_field_chars:,} 个字符"
        f"（a cell of row {number} is longer than {limits.max_field_chars} characters）",
    )


# --- every format --------------------------------------------------------------------------


def check_width(path: Path, width: int, limits: InputLimits, error: FileError = file_error) -> None:
    """The header may name at most `max_columns` columns (`width`: up to its last named cell)."""
    if width > limits.max_columns:
        raise error(
            path,
            f"表头有 {width:,} 列，超过上限 {limits.max_columns} 列"
            f"（header has {width} columns, limit {limits.max_columns}）",
        )


def count_row(
    path: Path, rows: int, number: int, limits: InputLimits, error: FileError = file_error
) -> None:
    """`rows` data rows read so far, the last at file row `number`: no more than `max_rows`."""
    if rows > limits.max_rows:
        raise error(
            path,
            f"数据行超过每个文件 {limits.max_rows:,} 行的上限（第 {number} 行），请拆分为多个文件"
            f"（more than {limits.max_rows} data rows: split the file）",
        )


def check_json_size(path: Path, limits: InputLimits) -> None:
    """JSON is parsed whole: its size is limited before it is read."""
    size = path.stat().st_size
    if size > limits.max_json_bytes:
        raise file_error(
            path,
            f"JSON 文件为 {_mb(size)}，超过上限 {_mb(limits.max_json_bytes)}；"
            "较大的批次请用 CSV 或 XLSX（JSON is read whole: use CSV or XLSX for large batches）",
        )


JSON_BYTES_PER_VALUE = 16
"""At most one JSON value per this many bytes of the size limit (1,310,720 at 20 MB): a real
row spends 20–40 bytes on each of its values, while `json` spends 50–100 bytes of memory on
each value whatever its size in the text."""
_JSON_STRING = re.compile(rb'"[^"]*"')
_JSON_SLICE = 256 * 1024


def check_json_values(path: Path, data: bytes, limits: InputLimits) -> None:
    """Count the values of a JSON file before `json` builds them: `{`, `[` and `,` outside
    strings (one per object, array and further element or member). Objects beyond
    `max_rows` (+1 for a `{"rows": [...]}` wrapper) name the row limit; values beyond
    `max_json_bytes // JSON_BYTES_PER_VALUE` the value limit; more members (`:`) than
    objects × (`max_columns` + 1) mean an object wider than the header may be.

    Exact for valid JSON, and cheap: on the UTF-8 bytes (no multi-byte character holds an
    ASCII byte), escaped backslashes and quotes are dropped, then slice by slice the strings
    are cut out by one regular expression and the rest counted, so nothing is built but one
    copy of the text and one slice's pieces.
    """
    data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    objects = keys = values = 0
    inside = False  # whether the slice starts inside a string
    for start in range(0, len(data), _JSON_SLICE):
        piece = data[start : start + _JSON_SLICE]
        if inside:
            piece = b'"' + piece
        inside = piece.count(b'"') % 2 == 1
        if inside:
            piece = piece[: piece.rindex(b'"')]
        bare = _JSON_STRING.sub(b"", piece)
        objects += bare.count(b"{")
        keys += bare.count(b":")
        values += bare.count(b"{") + bare.count(b"[") + bare.count(b",")
    del data
    count_row(path, objects - 1, limits.max_rows + 1, limits)
    if keys > objects * (limits.max_columns + 1):  # then one object has more keys than that
        check_width(path, keys, limits)
    most = limits.max_json_bytes // JSON_BYTES_PER_VALUE
    if values > most:
        raise file_error(
            path,
            f"JSON 含有约 {values:,} 个值，超过上限 {most:,} 个值（每 {JSON_BYTES_PER_VALUE} 字节"
            "一个）；较大的批次请用 CSV 或 XLSX"
            f"（about {values} JSON values, limit {most}: use CSV or XLSX for large batches）",
        )
