"""Write the returned-spreadsheet corpus and its expectations (`expected.json`).

Run from the repository root: `.venv/bin/python tests/corpus/responses/make_corpus.py`. The
files are committed; this script documents how each was made. Listing ids differ per test
database, so cells hold placeholders the test fills in before reading the file:
`{L1}` `{L2}` `{L3}` (three dispatched listings), `{REF2}` (listing 2 quoted as in the 推送函,
`<batch reference>-<id>`), `{NEVER}` (a listing that exists but was never dispatched). A cell
that is exactly `{L1}` becomes a number in the workbook, as Excel would store it. Every bad row
is declared next to the column its line must name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl

HERE = Path(__file__).resolve().parent
ROW = "（整行）"

# department, listing, subject (an extra column a department keeps), ack, feedback, outcome,
# lifted — then the column the row must be reported under, or None for a good row.
XLSX_ROWS: list[tuple[list[Any] | None, str | None, str]] = [
    (["mem", "{L1}", "测试化工甲", "是", "已列为重点监管对象，增加检查频次", "已实施", ""], None,
     "ack + feedback applied"),
    (["mem", "{REF2}", "测试化工乙", "是", "", "", ""], None, "ack, quoted by reference"),
    (None, None, "a blank row: skipped, numbering kept"),
    (["mem", "{L3}", "测试化工丙", "", "该单位不在本部门监管范围", "不适用", ""], None,
     "feedback not applicable, with its reason"),
    (["mem", "abc", "", "是", "", "", ""], "名单编号", "not a listing id"),
    (["mem", "{L1}", "", "收到", "", "", ""], "响应", "ack must be 是/否"),
    (["mem", "{L2}", "", "", "部分落实", "部分实施", ""], "措施实施情况", "unknown outcome"),
    (["mem", "{L2}", "", "", '=HYPERLINK("http://x.example")', "已实施", ""], "反馈",
     "formula injection"),
    (["nosuch", "{L1}", "", "是", "", "", ""], "部门代码", "unknown department (refused)"),
    (["mem", "{NEVER}", "", "是", "", "", ""], "名单编号", "never sent to mem (refused)"),
    (["mem", "{L2}", "", "", "", "", "是"], "解除确认", "no lift request (refused)"),
    (["mem", "{L2}", "", "", "", "不适用", ""], "反馈", "not applicable without reason (refused)"),
    (["mem", "IMP-20200101-000000-{L3}", "", "是", "", "", ""], "名单编号",
     "reference of another batch (refused)"),
    (["mem", "{L3}", "", "否", "", "", ""], None, "no answer: skipped"),
    (["应急管理部", "{L3}", "", "是", "", "", ""], None, "department by short name"),
]  # fmt: skip
XLSX_HEADER = ["部门代码", "名单编号", "主体名称", "响应", "反馈", "措施实施情况", "解除确认"]

# Hand-written lines (so a row can have an unquoted comma), read with --department ndrc.
CSV_LINES: list[tuple[str, str | None, str]] = [
    (",{L1},yes,,,", None, "ack; the department column may stay empty"),
    (",{L2},,限制发行企业债券，从严审核项目,applied,", None, "feedback implies the ack"),
    ("mem,{L3},yes,,,", "department", "differs from --department ndrc"),
    (",{L3},maybe,,,", "ack", "ack must be yes/no"),
    (",99999999,yes,,,", "listing_id", "no such listing (refused)"),
    ("NDRC,{L3},Y,,,", None, "code in upper case"),
    (",{L2},,另一种说法,applied,", "feedback", "a different second feedback (refused)"),
    (",{L1},,已实施限制措施,含逗号,applied,否", ROW, "an unquoted comma: one cell too many"),
    (",{L1},是,,,", None, "the same ack again: merged, not an error"),
]
CSV_HEADER = "department,listing_id,ack,feedback,outcome,lifted"


def write_xlsx(path: Path) -> list[list[Any]]:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "回执"
    sheet.append(XLSX_HEADER)
    problems = []
    for number, (cells, column, _why) in enumerate(XLSX_ROWS, start=2):
        sheet.append(cells or [None] * len(XLSX_HEADER))
        if column is not None:
            problems.append([number, column])
    workbook.save(path)
    return problems


def write_csv(path: Path) -> list[list[Any]]:
    lines = [CSV_HEADER, *(line for line, _column, _why in CSV_LINES)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    return [
        [number, column]
        for number, (_line, column, _why) in enumerate(CSV_LINES, start=2)
        if column is not None
    ]


def main() -> None:
    expected = {
        "returned-mem.xlsx": {
            "department": None,
            "recorded": {"ack": 3, "feedback": 2},
            "skipped_rows": [15],
            "problems": write_xlsx(HERE / "returned-mem.xlsx"),
        },
        "returned-ndrc-gbk.csv": {
            "department": "ndrc",
            "recorded": {"ack": 2, "feedback": 1},
            "skipped_rows": [],
            "problems": write_csv(HERE / "returned-ndrc-gbk.csv"),
        },
    }
    (HERE / "missing-listing-column.csv").write_text(
        "部门代码,响应\nmem,是\n", encoding="utf-8-sig"
    )
    (HERE / "no-answer-columns.csv").write_text(
        "部门代码,名单编号,主体名称\nmem,1,测试化工甲\n", encoding="utf-8"
    )
    (HERE / "not-a-workbook.xlsx").write_bytes(b"this is not a zip archive\n")
    (HERE / "expected.json").write_text(
        json.dumps(expected, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
