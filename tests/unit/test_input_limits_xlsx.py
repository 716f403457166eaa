"""XLSX limits that a crafted package must not slip past (issue 13, item 8 follow-up).

Each workbook here is built with openpyxl and then has its package edited the way an attacker
would; each is refused by `check_xlsx`, before openpyxl reads a part whole.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import openpyxl
import pytest

from registry.input_limits import SHARED_STRINGS, WORKSHEET, InputLimits, check_xlsx
from registry.spreadsheet import ImportFileError

STRINGS = "xl/sharedStrings.xml"
SST = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
SHARED_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def override(name: str, kind: str) -> bytes:
    return f'<Override PartName="/{name}" ContentType="{kind}"/>'.encode()


def edited(
    path: Path,
    *,
    overrides: bytes = b"",
    parts: Mapping[str, bytes],
    rels: bytes = b"",
    undeclared: str | None = None,
) -> Path:
    """A plain one-sheet workbook, its `[Content_Types].xml` given `overrides` (after dropping
    the declaration of `undeclared`), its workbook relationships given `rels`, and `parts`
    added (or replaced)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["名单类型", "主体类型", "名称"])
    plain = path.with_suffix(".plain.xlsx")
    workbook.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            if info.filename in parts:
                continue
            data = source.read(info.filename)
            if info.filename == "[Content_Types].xml":
                if undeclared:
                    data = re.sub(rf'<Override PartName="/{undeclared}"[^>]*/>'.encode(), b"", data)
                data = data.replace(b"</Types>", overrides + b"</Types>")
            if info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", rels + b"</Relationships>")
            out.writestr(info.filename, data)
        for name, data in parts.items():
            out.writestr(name, data)
    plain.unlink()
    return path


def many_strings(count: int) -> bytes:
    return SST + b"<si><t>x</t></si>" * count + b"</sst>"


def refused(path: Path, limits: InputLimits) -> str:
    with pytest.raises(ImportFileError) as caught:
        check_xlsx(path, limits)
    return caught.value.message


def test_a_part_declared_twice_is_refused(tmp_path: Path) -> None:
    """openpyxl takes the first declaration (shared strings, read whole); the check used to
    take the last (a worksheet, streamed) and neither limited nor counted the strings."""
    path = edited(
        tmp_path / "twice.xlsx",
        overrides=override(STRINGS, SHARED_STRINGS) + override(STRINGS, WORKSHEET),
        parts={STRINGS: many_strings(5_000)},
    )
    message = refused(path, InputLimits(max_shared_strings=1_000))
    assert "/xl/sharedStrings.xml" in message
    assert "重复声明" in message


def test_a_part_declared_twice_with_one_type_is_refused_too(tmp_path: Path) -> None:
    path = edited(
        tmp_path / "same.xlsx",
        overrides=override(STRINGS, SHARED_STRINGS) + override(STRINGS.upper(), SHARED_STRINGS),
        parts={STRINGS: many_strings(10)},
    )
    assert "重复声明" in refused(path, InputLimits())


def test_the_workbooks_shared_strings_target_is_counted_whatever_its_declared_type(
    tmp_path: Path,
) -> None:
    path = edited(
        tmp_path / "target.xlsx",
        overrides=override(STRINGS, WORKSHEET),
        rels=f'<Relationship Id="rIdS" Type="{SHARED_REL}" Target="sharedStrings.xml"/>'.encode(),
        parts={STRINGS: many_strings(5_000)},
    )
    assert "共享字符串超过 1,000 个" in refused(path, InputLimits(max_shared_strings=1_000))


def test_a_part_openpyxl_reads_whole_keeps_the_part_limit_when_declared_a_worksheet(
    tmp_path: Path,
) -> None:
    styles = b"<styleSheet>" + b"<!-- padding -->" * 100_000 + b"</styleSheet>"
    path = edited(
        tmp_path / "styles.xlsx",
        overrides=override("xl/styles.xml", WORKSHEET),
        undeclared="xl/styles.xml",
        parts={"xl/styles.xml": styles},
    )
    message = refused(path, InputLimits(max_part_bytes=MB_HALF, max_ratio=10_000))
    assert "xl/styles.xml" in message
    assert "超过上限" in message


MB_HALF = 1 << 19


# --- one huge cell inside a worksheet (streamed, so not held to the whole-part limit) ---------

SHEET = "xl/worksheets/sheet1.xml"
SHEET_OPEN = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>'
)
SHEET_CLOSE = b"</t></is></c></row></sheetData></worksheet>"


def one_cell_sheet(path: Path, text: bytes) -> Path:
    return edited(path, parts={SHEET: SHEET_OPEN + text + SHEET_CLOSE})


def test_a_cell_longer_than_any_cell_may_be_is_refused_before_openpyxl_reads_it(
    tmp_path: Path,
) -> None:
    """Item 8 follow-up: a 292.8M-character inline string (34:1, within the ratio) was
    refused only once openpyxl held it: 668 MB. Now the worksheet stream is measured first."""
    path = one_cell_sheet(tmp_path / "cell.xlsx", b"x" * 400_000)
    message = refused(path, InputLimits())
    assert SHEET in message
    assert "32,767" in message


@pytest.mark.parametrize(
    "text",
    [
        b"<!-- -->".join([b"x" * 1_000] * 400),  # text joined across comments by the parser
        b"<![CDATA[" + b"x<" * 200_000 + b"]]>",
        b"<?pi?>x",
    ],
    ids=["comments", "cdata", "processing-instruction"],
)
def test_markup_no_spreadsheet_writes_in_a_worksheet_is_refused(
    tmp_path: Path, text: bytes
) -> None:
    path = one_cell_sheet(tmp_path / "markup.xlsx", text)
    message = refused(path, InputLimits())
    assert SHEET in message


def test_the_longest_cell_excel_allows_passes_even_escaped(tmp_path: Path) -> None:
    """32,767 characters that each take ten bytes (`&#x10FFFF;`) are still a legal cell."""
    path = one_cell_sheet(tmp_path / "long.xlsx", b"&#x10FFFF;" * 32_767)
    check_xlsx(path, InputLimits())
