"""Reading spreadsheets that people send us: shared by intake and returned response sheets.

Owns what both readers must do the same way, so neither keeps a copy:

- **Encodings.** Excel on Chinese Windows writes GBK; everything else writes UTF-8. A BOM decides;
  otherwise the whole file is first scanned (constant memory) as strict UTF-8, then GB18030 (a
  superset of GBK). Anything else is refused rather than guessed: a wrong guess would silently
  corrupt names that then go out in legal notices.
- **Guards.** XLSX parse errors, and what a damaged workbook raises from inside openpyxl,
  become one `ImportFileError` naming the row (CSV records: `registry.input_limits`).
- **Headers.** Column matching by normalised header text (Chinese, English or an alias).
- **Cells.** `CellReader` cleans one row's cells and collects every problem: formula injection
  (`=`, `+`, `-`, `@`, tab, CR) refused, control and invisible characters refused, a resident ID
  number outside the ID column refused; values shown back are masked (DOMAIN.md §5).
"""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from registry.errors import JointcreditError
from registry.free_text import mask_resident_ids, unmasked_resident_id
from registry.identifiers import is_resident_id, mask_resident_id

VALUE_MAX = 100
ROW = ""
"""The `field` of a problem with the whole row (too many cells, not a JSON object)."""
ROW_LABEL = "（整行）"
_SCAN_BYTES = 1 << 20


class ImportFileError(JointcreditError):
    """The file as a whole cannot be imported (unreadable, columns missing); nothing was written."""


@dataclass(frozen=True)
class Column:
    name: str
    zh: str
    required: bool = False
    aliases: tuple[str, ...] = ()


def header_key(text: str) -> str:
    """Headers match case-, whitespace-, `_`/`-`-insensitively, with any BOM stripped."""
    return re.sub(r"[\s_\-\ufeff]+", "", text).casefold()


def match_columns(
    cells: Sequence[object],
    index: Mapping[str, str],
    duplicate: Callable[[str, str, str], Exception],
) -> tuple[dict[int, str], dict[str, str], list[str]]:
    """Header cells → (position → field, field → header text as written, unknown headers).

    `index` maps normalised header text (`header_key`) to field names; two headers naming the
    same field raise `duplicate(field, first text, second text)`. Shared by intake and the
    department response sheets.
    """
    positions: dict[int, str] = {}
    labels: dict[str, str] = {}
    unknown: list[str] = []
    for position, cell in enumerate(cells):
        if cell is None or not str(cell).strip():
            continue
        text = str(cell).replace("\ufeff", "").strip()
        name = index.get(header_key(text))
        if name is None:
            unknown.append(text)
        elif name in labels:
            raise duplicate(name, labels[name], text)
        else:
            positions[position] = name
            labels[name] = text
    return positions, labels, unknown


def header_width(cells: Sequence[object]) -> int:
    """Cells up to the last named header cell, known or not: a value beyond it is misaligned
    (an unquoted comma), a value under an unknown column is merely ignored."""
    named = [i for i, cell in enumerate(cells) if not is_blank([cell])]
    return max(named, default=-1) + 1


def file_error(path: Path, reason: str) -> ImportFileError:
    return ImportFileError(
        f"无法导入文件 {path.name}：{reason}；未写入任何数据", file=path.name, reason=reason
    )


def detect_encoding(path: Path) -> str:
    """BOM first; else the encoding the *whole* file decodes in strictly: UTF-8, then GB18030."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        if head.startswith(b"PK\x03\x04"):
            raise file_error(path, "这是 XLSX/ZIP 文件，不是 CSV（a ZIP/XLSX file named .csv）")
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        if _decodes_strictly(path, encoding):
            return encoding
    raise file_error(
        path,
        "无法识别文件编码：既不是 UTF-8 也不是 GBK/GB18030，请另存为 UTF-8 CSV"
        "（undecodable: neither UTF-8 nor GBK/GB18030; save as UTF-8）",
    )


def _decodes_strictly(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(_SCAN_BYTES):
                text = decoder.decode(chunk)
                if "\x00" in text:
                    raise file_error(path, "含有 NUL 字符，不是文本文件（binary content）")
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


# What a damaged workbook raises from inside openpyxl: the ZIP layer, the XML parsers
# (ElementTree's ParseError and lxml's errors are SyntaxErrors) and openpyxl's own lookups.
XLSX_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    ValueError,
    OSError,
    EOFError,
    SyntaxError,
)


def guard_xlsx(
    path: Path, records: Iterator[tuple[int, tuple[object, ...]]]
) -> Iterator[tuple[int, Sequence[object]]]:
    number = 0
    try:
        for number, record in records:
            yield number, record
    except XLSX_ERRORS as exc:
        raise file_error(path, f"第 {number + 1} 行附近 XLSX 内容损坏（corrupt sheet）") from exc


def first_nonblank(
    records: Iterator[tuple[int, Sequence[object]]],
) -> tuple[int, Sequence[object]] | None:
    for number, cells in records:
        if not is_blank(cells):
            return number, cells
    return None


def is_blank(cells: Iterable[object]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why a row is refused: the field (canonical), the shown value, the reason zh + en."""

    field: str
    value: str | None
    reason_zh: str
    reason_en: str


BOOLEANS = {
    "是": True,
    "否": False,
    "yes": True,
    "no": False,
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "y": True,
    "n": False,
}


def yes_or_no(text: str) -> bool | None:
    """A yes/no cell as people type it: 是/否, yes/no, Y, 1/0, full-width ｙｅｓ or １ too
    (NFKC); None when it is neither, for the caller to refuse with the row and column."""
    return BOOLEANS.get(unicodedata.normalize("NFKC", text).strip().casefold())


FORMULA_START = ("=", "+", "-", "@")


# Control, line-separator, bidi-override and zero-width characters: invisible or misleading in a
# name that goes into a legal notice. A note may hold tabs and line breaks inside it.
_INVISIBLE = r"\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"


SINGLE_LINE_BAD = re.compile(r"[\x00-\x1f" + _INVISIBLE + "]")


MULTI_LINE_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f" + _INVISIBLE + "]")


_DATE = re.compile(r"^([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$")


ID_LIKE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def contains_resident_id(text: str) -> bool:
    """A valid resident ID number inside free text would be stored raw (DOMAIN.md §5): found
    however it is typed — full-width, separated, glued to letters (`registry.free_text`)."""
    return unmasked_resident_id(text) is not None


class CellReader:
    """Collects every problem and warning of one row, so a user fixes them in one pass."""

    def __init__(
        self,
        values: Mapping[str, object],
        *,
        labels: Mapping[str, str] | None = None,
        limits: Mapping[str, int] | None = None,
        code_fields: frozenset[str] = frozenset(),
    ) -> None:
        """`labels`: the Chinese name of each field; `limits`: longest text per field;
        `code_fields`: fields that may hold an identifier (no ID-number check there)."""
        self.values = values
        self.labels = labels or {}
        self.limits = limits or {}
        self.code_fields = code_fields
        self.problems: list[RowProblem] = []
        self.warnings: list[str] = []

    def fail(self, name: str, zh: str, en: str, value: object = None) -> None:
        shown = self.values.get(name) if value is None else value
        self.problems.append(RowProblem(name, shown_value(name, shown), zh, en))

    def text(self, name: str, *, multi_line: bool = False) -> str | None:
        """The stripped text of a cell, or None when empty or refused (with a problem)."""
        raw = self.values.get(name)
        if raw is None or raw == "":  # most optional cells: the hot path of a large file
            return None
        if isinstance(raw, str):
            text = raw.strip()
            if text and (raw[0] in ("\t", "\r") or first_visible(text) in FORMULA_START):
                self.fail(
                    name,
                    "以 = + - @ 或制表符开头的值可能是表格公式，已拒绝（请删除开头的符号）",
                    "value starts with = + - @ or a tab: possible formula injection",
                )
                return None
        elif isinstance(raw, bool):
            text = "true" if raw else "false"
        elif isinstance(raw, int):
            text = str(raw)
        elif isinstance(raw, float):
            text = str(int(raw)) if raw.is_integer() else repr(raw)
        elif isinstance(raw, datetime | date):
            text = raw.isoformat()
        else:
            self.fail(name, "值的类型无效（应为文本）", f"invalid value type {type(raw).__name__}")
            return None
        if not text:
            return None
        bad = (MULTI_LINE_BAD if multi_line else SINGLE_LINE_BAD).search(text)
        if bad:
            self.fail(
                name,
                f"含有控制字符或不可见字符 U+{ord(bad.group()):04X}",
                f"contains a control or invisible character U+{ord(bad.group()):04X}",
            )
            return None
        if name not in self.code_fields and contains_resident_id(text):
            self.fail(
                name,
                "含有身份证号：个人身份证号只能填在“身份证号”列（此列不得含个人身份信息）",
                "contains a resident ID number: put it in the id_number column only",
            )
            return None
        limit = self.limits.get(name)
        if limit is not None and len(text) > limit:
            self.fail(
                name,
                f"过长：{len(text)} 个字符，最多 {limit} 个",
                f"too long: {len(text)} characters, at most {limit}",
            )
            return None
        return text

    def required(self, name: str) -> str | None:
        text = self.text(name)
        if text is None and not any(p.field == name for p in self.problems):
            self.fail(name, f"{self.labels.get(name, name)}为必填项", f"{name} is required")
        return text

    def choice(self, name: str, options: Mapping[str, str], zh: str, en: str) -> str | None:
        text = self.required(name)
        if text is None:
            return None
        chosen = options.get(text.casefold())
        if chosen is None:
            self.fail(name, zh, en)
        return chosen


def calendar_date(text: str) -> date | None:
    """`YYYY-MM-DD` or `YYYY/MM/DD` (with a midnight time, as spreadsheets export dates) → the
    date; None when the text has another shape; ValueError for a date that does not exist."""
    match = _DATE.match(text)
    if match is None:
        return None
    return date(int(match[1]), int(match[3]), int(match[4]))


def split_bilingual(message: str) -> tuple[str, str]:
    """`中文（English）` → (`中文`, `English`); a message without brackets is used for both."""
    head, sep, tail = message.rpartition("（")
    if sep and tail.endswith("）"):
        return head.strip("：: "), tail[:-1]
    return message, message


def shown_value(name: str, value: object) -> str | None:
    """A value as it may be stored and printed: ID numbers masked, controls escaped, ≤100 chars."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if name == "id_number":
        text = mask_resident_id(text)
    elif name in ("uscc", "unit_uscc"):  # a code may be all digits; an ID number there is not
        text = ID_LIKE.sub(
            lambda m: mask_resident_id(m.group()) if is_resident_id(m.group()) else m.group(), text
        )
        if unmasked_resident_id(text) is not None:
            text = mask_resident_ids(text)
    else:
        text = mask_resident_ids(ID_LIKE.sub(lambda m: mask_resident_id(m.group()), text))
    text = SINGLE_LINE_BAD.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text if len(text) <= VALUE_MAX else text[: VALUE_MAX - 1] + "…"


@dataclass(frozen=True, slots=True)
class QuarantineLine:
    """One reason one row was refused, as the user sees it."""

    row_number: int
    column: str
    value: str | None
    reason_zh: str
    reason_en: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row_number,
            "column": self.column,
            "value": self.value,
            "reason_zh": self.reason_zh,
            "reason_en": self.reason_en,
        }


_FORMULA_START = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
_LINE_START = frozenset("\t\r\n")
_TRIMMED_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
_IGNORABLE = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u3164\uffa0"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
)
"""Default-ignorable characters outside the categories below (variation selectors, Hangul
fillers, U+034F): invisible, so a reader cannot see what stands before the formula."""


def _trimmed(char: str) -> bool:
    return (
        unicodedata.category(char) in _TRIMMED_CATEGORIES
        or char in _IGNORABLE
        or 0xE0100 <= ord(char) <= 0xE01EF  # variation selectors supplement
    )


def first_visible(text: str) -> str:
    """The first character of `text` a reader can see ("" if none): what a spreadsheet looks
    at once it has trimmed what stands before (see `spreadsheet_cell`)."""
    return next((char for char in text if not _trimmed(char)), "")


def spreadsheet_cell(text: str) -> str:
    """Neutralise a formula for spreadsheet readers of the report (the value is evidence): the
    cell is prefixed with `'`, so it is shown as text, exactly as written after the quote.

    A cell a spreadsheet may evaluate is one whose first visible character is a formula
    character (ASCII or full-width `=+-@`) — one rule for what stands before it: every space,
    line or paragraph separator, control and format character (Unicode categories Zs, Zl, Zp,
    Cc, Cf: NBSP, U+3000, zero-width characters, the BOM, the soft hyphen, U+2061…) and every
    other default-ignorable character is skipped, as Excel and LibreOffice trim some and a
    reader cannot see any of them; a leading tab or line break is quoted in any case (OWASP's
    CSV injection list)."""
    if text[:1] in _LINE_START:
        return "'" + text
    return "'" + text if first_visible(text) in _FORMULA_START else text
