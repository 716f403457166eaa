"""Write the intake bad-input corpus and its expectations (`expected.json`).

Run from the repository root: `.venv/bin/python tests/corpus/import/make_corpus.py`. The files
are committed; this script documents how each one was made and regenerates them identically
(except the XLSX's zip timestamps). Every malformed row is declared next to the column its
quarantine line must name, so the expectation cannot drift from the data.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
from stdnum.cn import ric, uscc

HERE = Path(__file__).resolve().parent
ROW = "（整行）"
ZH = {
    "list_type": "名单类型",
    "subject_kind": "主体类型",
    "name": "名称",
    "uscc": "统一社会信用代码",
    "id_number": "身份证号",
    "unit_uscc": "所属单位信用代码",
    "region": "行政区划代码",
    "industry": "行业",
    "grounds": "认定依据",
    "decision_number": "决定书文号",
    "decision_date": "处罚决定日期",
    "typical_case": "典型案例",
    "contact_email": "联系邮箱",
    "note": "备注",
    "rule_set": "规则",
}


def code(n: int) -> str:
    """A valid USCC in Shenzhen (440300), numbered apart from every other test's codes."""
    body = f"91440300MC{n:07d}"
    return body + uscc.calc_check_digit(body)


def resident(n: int, *, valid: bool = True) -> str:
    """A resident ID number (Beijing Chaoyang, born 1980), or one with a wrong check digit.

    The region must have existed on the birth date: stdnum checks that (Nanshan 440305 did not).
    """
    born = date.fromordinal(date(1980, 1, 1).toordinal() + n)
    body = f"110105{born:%Y%m%d}{n % 1000:03d}"
    check = ric.calc_check_digit(body + "0")  # stdnum skips the last character
    if not valid:
        check = "0" if check != "0" else "1"
    return body + check


def unit(n: int, name: str, **extra: Any) -> dict[str, Any]:
    row = {
        "list_type": "黑名单",
        "subject_kind": "单位",
        "name": name,
        "uscc": code(n),
        "grounds": "A4",
        "decision_date": "2026-05-20",
    }
    row.update(extra)
    return row


def person(n: int, name: str, **extra: Any) -> dict[str, Any]:
    row = {
        "list_type": "黑名单",
        "subject_kind": "个人",
        "name": name,
        "id_number": resident(n),
        "grounds": "A5",
        "decision_date": "2026-05-20",
    }
    row.update(extra)
    return row


# (row values, the column its quarantine line names or None for a good row, why)
Spec = list[tuple[Any, str | None, str]]  # values are usually a dict; JSON may hold anything


def mixed_utf8() -> Spec:
    """Chinese headers, UTF-8 without BOM: most kinds of bad cell, between good rows."""
    good_unit = unit(1, "深圳样本一号化工有限公司", region="440300", contact_email="a@example.org")
    return [
        (good_unit, None, "good unit"),
        (person(1, "赵样本", unit_uscc=code(1)), None, "good person linked to row 2's unit"),
        (unit(2, "深圳样本二号矿业有限公司", decision_date="2026-02-30"), "decision_date",
         "impossible date"),
        (unit(3, "深圳样本三号", decision_date="20261301"), "decision_date", "compact, month 13"),
        (unit(4, "深圳样本四号", decision_date="2027-01-15"), "decision_date", "future date"),
        (unit(5, "深圳样本五号", decision_date="2026-13-01"), "decision_date", "month 13"),
        (unit(6, "深圳样本六号", decision_date="昨天"), "decision_date", "not a date"),
        (unit(7, "深圳样本七号", decision_date=""), "decision_date", "missing date"),
        (unit(8, "深圳样本八号", grounds="A9"), "grounds", "unknown ground"),
        (unit(9, "深圳样本九号", grounds="Z1;A4"), "grounds", "one unknown ground of two"),
        (unit(10, "深圳样本十号", grounds="R"), "grounds", "red-list ground on a black row"),
        (unit(11, "深圳样本十一号", list_type="红名单", grounds="A4"), "grounds",
         "black-list ground on a red row"),
        (unit(12, "深圳样本十二号", grounds="saws-2017-sanction:S2.1"), "grounds",
         "ground of the 2017 rule-set on a 2026 decision"),
        (unit(13, "深圳样本十三号", grounds=""), "grounds", "no ground"),
        (unit(14, "深圳样本十四号", uscc="12345"), "uscc", "USCC too short"),
        (unit(15, "深圳样本十五号", uscc="9135010OM0001TGQXM"), "uscc", "letter O in region"),
        (unit(16, "深圳样本十六号", uscc="91350100M0001IGQXM"), "uscc", "letter I in the body"),
        (unit(17, "深圳样本十七号", uscc=""), "uscc", "unit without USCC"),
        (person(2, "钱样本", id_number=resident(2, valid=False)), "id_number", "bad check digit"),
        (person(3, "孙样本", id_number="11010519800101123"), "id_number", "17 characters"),
        (person(4, "李样本", id_number="110105199913321234"), "id_number", "no such birth date"),
        (person(5, "周样本", id_number=""), "id_number", "person without ID"),
        (good_unit, "grounds", "exact repeat of the first row"),
        (unit(18, "深" * 10_240), "name", "10 KB name"),
        (unit(19, "名" * 201), "name", "201 characters"),
        (unit(20, '=HYPERLINK("http://x","y")'), "name", "formula injection"),
        (unit(21, "深圳样本二十一号", decision_number="+1"), "decision_number", "formula +"),
        (unit(22, "深圳样本二十二号", note="@SUM(A1)"), "note", "formula @"),
        (unit(23, "深圳样本二十三号", industry="-2+3"), "industry", "formula -"),
        (unit(24, "\t=1+1"), "name", "leading tab"),
        (unit(25, "深圳样本二十五号", contact_email="foo@"), "contact_email", "no domain"),
        (unit(26, "深圳样本二十六号", contact_email="a b@c.cn"), "contact_email", "space"),
        (unit(27, "深圳样本二十七号", contact_email="safety.example.org"), "contact_email",
         "no @"),
        (unit(28, ""), "name", "empty name"),
        (unit(29, "   "), "name", "blank name"),
        (unit(30, "深圳样本三十号", list_type="灰名单"), "list_type", "unknown list type"),
        (unit(31, "深圳样本三十一号", subject_kind="公司"), "subject_kind", "unknown kind"),
        (unit(32, "深圳样本三十二号", region="44030"), "region", "5-digit region"),
        (unit(33, "深圳样本三十三号", region="ABCDEF"), "region", "letters in region"),
        (unit(34, "深圳样本三十四号", typical_case="也许"), "typical_case", "not yes/no"),
        (unit(35, "深圳样本\x07三十五号"), "name", "control character"),
        (unit(36, "深圳样本\u202e号六十三"), "name", "bidi override"),
        (unit(37, "深圳样本三十七号", list_type="红名单", grounds="R",
              decision_date="2016-06-01"), "decision_date", "before any red-list rule-set"),
        (unit(38, "深圳样本三十八号", typical_case="是", decision_number="深应急罚〔2026〕38号",
              industry="危险化学品", note="瞒报事故"), None, "good, every optional column"),
        (unit(39, "深圳样本三十九号", grounds="mem-2023-serious:B1；A2"), None,
         "good, canonical and bare codes with a full-width separator"),
        (unit(40, "深圳样本四十号", decision_date="2026/5/3"), None, "good, YYYY/M/D"),
        (unit(41, "深圳样本四十一号", list_type="red", subject_kind="unit", grounds="R",
              decision_date="2025-01-10", typical_case="否"), None, "good red unit, English"),
        (unit(42, "深圳样本四十二号", decision_date="2022-03-01", grounds="S2.6"), None,
         "good, legacy rule-set by date"),
        (person(6, "吴样本", unit_uscc=code(99)), None, "good person, unknown unit: warning"),
        (unit(43, "深圳样本四十三号", grounds="a4"), None, "good, lower-case code"),
        (unit(1, "深圳样本一号化工有限公司", grounds="B1"), None,
         "good: same unit, another ground"),
        (unit(44, "深圳样本四十四号", uscc=code(44)[:-1] + ("0" if code(44)[-1] != "0" else "1")),
         None, "good, check mismatch: needs review"),
    ]  # fmt: skip


def english_gbk() -> Spec:
    """English headers with a rule_set column, GBK-encoded (Excel on Chinese Windows)."""
    return [
        (unit(50, "广东样本五十号有限公司", rule_set="mem-2023-serious"), None, "good"),
        (unit(51, "广东样本五十一号", rule_set="mem-2099"), "rule_set", "unknown rule-set"),
        (unit(52, "广东样本五十二号", rule_set="saws-2017-incentive"), "rule_set",
         "red rule-set on a black row"),
        (unit(53, "广东样本五十三号", rule_set="saws-2017-sanction", decision_date="2024-01-05",
              grounds="S2.1"), "rule_set", "rule-set not in force on the date"),
        (unit(54, "广东样本五十四号", rule_set="ndrc-2026-repair"), "rule_set",
         "repair rule-set is not a list"),
        (person(50, "郑样本", unit_uscc="9144030OMC0000050X"), "unit_uscc",
         "malformed unit code"),
        (person(51, "王样本", unit_uscc=code(50), rule_set=""), None,
         "good person linked to row 2"),
        (unit(55, "广东样本五十五号", rule_set="saws-2017-sanction", decision_date="2020-08-08",
              grounds="S3.2"), None, "good, legacy rule-set named"),
        (unit(56, "广东样本五十六号", list_type="black", grounds="B1;B9"), "grounds",
         "B9 unknown"),
        (unit(57, "广东样本五十七号", subject_kind="person"), "id_number",
         "person row with a USCC and no ID"),
        (unit(50, "广东样本五十号有限公司", rule_set="mem-2023-serious"), "grounds",
         "repeat of row 2"),
    ]  # fmt: skip


def sheet_xlsx() -> Spec:
    """XLSX: date cells, numbers, a formula cell, an ID typed as a number."""
    return [
        (unit(60, "江苏样本六十号", decision_date=date(2026, 4, 1), region=320100), None,
         "good, date cell, numeric region"),
        (person(60, "冯样本", id_number=110105198001010000), "id_number", "ID as a number"),
        (unit(61, "江苏样本六十一号", decision_date=date(2027, 3, 1)), "decision_date",
         "future date cell"),
        (unit(62, '=HYPERLINK("http://x","y")'), "name", "formula cell"),
        (unit(63, "江苏样本六十三号", typical_case=True), None, "good, boolean cell"),
        (unit(64, "江苏样本六十四号", region=3201), "region", "4-digit number"),
        (unit(65, "江苏样本六十五号", decision_date=datetime(2026, 6, 1, 0, 0)), None,
         "good, datetime cell"),
        (unit(66, "江苏样本六十六号", decision_date=46000), "decision_date",
         "date serial typed as a number"),
    ]  # fmt: skip


def rows_json() -> Spec:
    """JSON list of objects with English keys: wrong types and a non-object item."""
    return [
        (unit(70, "浙江样本七十号", grounds=["A4", "B1"], typical_case=False), None,
         "good, grounds as a list"),
        ("not an object", ROW, "a string item"),
        (unit(71, "浙江样本七十一号", grounds=4), "grounds", "number as a ground"),
        (unit(72, {"zh": "浙江样本七十二号"}), "name", "object as a name"),
        ({k: v for k, v in unit(73, "浙江样本七十三号").items() if k != "decision_date"},
         "decision_date", "key missing"),
        (unit(74, "浙江样本七十四号", typical_case="maybe"), "typical_case", "not yes/no"),
        (person(70, "褚样本", id_number=resident(70, valid=False)), "id_number", "bad check"),
        (person(71, "卫样本", unit_uscc=code(70)), None, "good person linked to item 1"),
    ]  # fmt: skip


def write_csv(path: Path, spec: Spec, *, labels: dict[str, str], encoding: str) -> list[str]:
    names = [n for n in ZH if any(n in values for values, _, _ in spec)]
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([labels[n] for n in names])
        for values, _, _ in spec:
            writer.writerow([values.get(n, "") for n in names])
    return [labels[n] for n in names]


def write_xlsx(path: Path, spec: Spec) -> None:
    names = [n for n in ZH if any(n in values for values, _, _ in spec)]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "名单"
    sheet.append([ZH[n] for n in names])
    for values, _, _ in spec:
        sheet.append([values.get(n) for n in names])
    sheet.append([])  # a blank row in the middle is skipped, numbering unchanged
    sheet.append([None] * len(names))
    good = unit(67, "江苏样本六十七号", decision_date=date(2026, 7, 7))
    sheet.append([good.get(n) for n in names])
    stamp = datetime(2026, 11, 27, 12, 0)
    workbook.properties.created = workbook.properties.modified = stamp
    workbook.save(path)


def expectation(spec: Spec, *, first_row: int, labels: dict[str, str]) -> dict[str, Any]:
    good: list[str] = []
    bad: list[dict[str, Any]] = []
    for index, (values, column, why) in enumerate(spec):
        row = first_row + index
        if column is None:
            good.append(values["name"])
        else:
            bad.append({"row": row, "column": labels.get(column, column), "why": why})
    return {"good": good, "bad": bad}


def misaligned_csv(path: Path) -> dict[str, Any]:
    """Hand-written CSV: a name with an unquoted comma shifts every later cell."""
    good = [unit(80, "四川样本八十号"), unit(81, "四川样本八十一号")]
    header = ["名单类型", "主体类型", "名称", "统一社会信用代码", "认定依据", "处罚决定日期"]
    lines = [",".join(header)]
    lines.append(",".join([good[0][k] for k in ("list_type", "subject_kind", "name", "uscc",
                                                  "grounds", "decision_date")]))  # fmt: skip
    lines.append(f"黑名单,单位,四川样本,八十二号,{code(82)},A4,2026-05-20")
    lines.append(f"黑名单,单位,四川样本八十一号,{code(81)},A4,2026-05-20")
    lines.append("黑名单,单位,四川样本八十三号")  # short row: required cells missing
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "good": [good[0]["name"], good[1]["name"]],
        "bad": [
            {"row": 3, "column": ROW, "why": "unquoted comma: one cell too many"},
            {"row": 5, "column": "统一社会信用代码", "why": "short row: no USCC"},
        ],
    }


def main() -> None:
    expected: dict[str, Any] = {}
    zh = dict(ZH)
    en = {n: n for n in ZH}

    spec = mixed_utf8()
    write_csv(HERE / "mixed-utf8.csv", spec, labels=zh, encoding="utf-8")
    expected["mixed-utf8.csv"] = expectation(spec, first_row=2, labels=zh)

    spec = english_gbk()
    write_csv(HERE / "english-gbk.csv", spec, labels=en, encoding="gbk")
    expected["english-gbk.csv"] = expectation(spec, first_row=2, labels=en)

    spec = sheet_xlsx()
    write_xlsx(HERE / "sheet.xlsx", spec)
    sheet = expectation(spec, first_row=2, labels=zh)
    sheet["good"].append("江苏样本六十七号")
    expected["sheet.xlsx"] = sheet

    spec = rows_json()
    items = [values for values, _, _ in spec]
    (HERE / "rows.json").write_text(
        json.dumps({"rows": items}, ensure_ascii=False, indent=1, default=str) + "\n",
        encoding="utf-8",
    )
    expected["rows.json"] = expectation(spec, first_row=1, labels=en)

    expected["misaligned.csv"] = misaligned_csv(HERE / "misaligned.csv")

    # Whole-file failures: nothing is written, one ImportFileError names the reason.
    latin1 = "list_type,subject_kind,name,uscc,grounds,decision_date\n"
    latin1 += f"black,unit,Café Müller GmbH,{code(90)},A4,2026-05-20\n"
    (HERE / "latin1.csv").write_bytes(latin1.encode("latin-1"))
    (HERE / "missing-columns.csv").write_text(
        f"名单类型,主体类型,名称,统一社会信用代码\n黑名单,单位,缺列样本,{code(91)}\n",
        encoding="utf-8",
    )
    (HERE / "not-a-workbook.xlsx").write_bytes(bytes(range(256)) * 4)
    (HERE / "object-without-rows.json").write_text('{"listings": []}\n', encoding="utf-8")
    # Latin-1 bytes that happen to be valid GB18030 cannot be told from GBK: the row is read as
    # mojibake ("Müller" → "M黮ler") and the result warns that GBK/GB18030 was used.
    mojibake = "list_type,subject_kind,name,uscc,grounds,decision_date\n"
    mojibake += f"black,unit,Müller Bau AG,{code(92)},A4,2026-05-20\n"
    (HERE / "latin1-as-gbk.csv").write_bytes(mojibake.encode("latin-1"))
    expected["latin1-as-gbk.csv"] = {
        "good": ["Müller Bau AG".encode("latin-1").decode("gb18030")],
        "bad": [],
    }
    expected["failures"] = {
        "latin1.csv": "UTF-8",
        "missing-columns.csv": "认定依据",
        "not-a-workbook.xlsx": "XLSX",
        "object-without-rows.json": "JSON",
    }

    buffer = io.StringIO()
    json.dump(expected, buffer, ensure_ascii=False, indent=1)
    (HERE / "expected.json").write_text(buffer.getvalue() + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
