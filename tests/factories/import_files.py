"""Intake files for tests: the same good rows written as CSV (three encodings), XLSX and JSON.

Every call to `good_rows` uses fresh identifiers, because the test database lives for the whole
session and a repeated subject with the same ground would (rightly) be refused as a duplicate.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
from stdnum.cn import ric, uscc

from registry.intake import COLUMNS

ZH = {c.name: c.zh for c in COLUMNS}
_counter = itertools.count(1)


def valid_uscc(n: int, region: str = "110105") -> str:
    body = f"91{region}MA{n:07d}"
    return body + uscc.calc_check_digit(body)


def mismatched_uscc(n: int, region: str = "350100") -> str:
    """Well formed, wrong check character: like the early pilot codes (DOMAIN.md §5)."""
    code = valid_uscc(n, region)
    return code[:-1] + ("0" if code[-1] != "0" else "1")


def resident_id(n: int) -> str:
    birth = date(1960, 1, 1).toordinal() + n // 1000
    body = f"110105{date.fromordinal(birth):%Y%m%d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum skips the last character


def fresh() -> int:
    return next(_counter) * 10 + 500_000


def good_rows() -> list[dict[str, Any]]:
    """Six good rows: black and red, unit and person, pilot-like code, legacy rule-set.

    The person in row 5 (file row 6) works at the unit of row 1; the person in row 6 names a
    unit that is nowhere (accepted with a warning).
    """
    n = fresh()
    unit = valid_uscc(n)
    return [
        {
            "list_type": "黑名单",
            "subject_kind": "单位",
            "name": f"样本化工有限公司{n}",
            "uscc": unit,
            "region": "110105",
            "industry": "危险化学品",
            "grounds": "A4",
            "penalty_number": f"京应急罚〔2026〕{n}号",
            "decision_date": "2026-03-15",
            "typical_case": "是",
            "contact_email": "safety@example.org",
            "note": "瞒报事故",
        },
        {
            "list_type": "black",
            "subject_kind": "unit",
            "name": f"样本矿业有限公司{n}",
            "uscc": mismatched_uscc(n + 1),
            "grounds": "mem-2023-serious:B1；A2",
            "decision_date": "2026/3/5",
        },
        {
            "list_type": "红名单",
            "subject_kind": "单位",
            "name": f"样本机械制造有限公司{n}",
            "uscc": valid_uscc(n + 2, "330100"),
            "grounds": "R",
            "decision_date": "2025-06-01",
            "typical_case": "否",
        },
        {
            "list_type": "黑名单",
            "subject_kind": "单位",
            "name": f"样本建材有限公司{n}",
            "uscc": valid_uscc(n + 3),
            "grounds": "S2.6",
            "decision_date": "2022-05-10",
        },
        {
            "list_type": "黑名单",
            "subject_kind": "个人",
            "name": f"张样本{n}",
            "id_number": resident_id(n),
            "unit_uscc": unit,
            "grounds": "A4",
            "decision_date": "2026-03-15",
        },
        {
            "list_type": "黑名单",
            "subject_kind": "个人",
            "name": f"李样本{n}",
            "id_number": resident_id(n + 1),
            "unit_uscc": valid_uscc(n + 4),
            "grounds": "A5",
            "decision_date": "2026-04-01",
        },
    ]


# What the six good rows become, whatever the file format: in row order.
EXPECTED = [
    ("black", "unit", "mem-2023-serious", ["A4"], date(2026, 3, 15), True, False, False),
    ("black", "unit", "mem-2023-serious", ["B1", "A2"], date(2026, 3, 5), False, True, False),
    ("red", "unit", "saws-2017-incentive", ["R"], date(2025, 6, 1), False, False, False),
    ("black", "unit", "saws-2017-sanction", ["S2.6"], date(2022, 5, 10), False, False, False),
    ("black", "person", "mem-2023-serious", ["A4"], date(2026, 3, 15), False, False, True),
    ("black", "person", "mem-2023-serious", ["A5"], date(2026, 4, 1), False, False, False),
]
"""(list type, kind, rule-set, grounds, decision date, typical, needs review, linked to unit)."""


def header(names: Sequence[str], style: str) -> list[str]:
    if style == "zh":
        return [ZH[n] for n in names]
    if style == "en-loose":  # case and whitespace do not matter
        return [f" {n.upper().replace('_', ' ')} " for n in names]
    return list(names)


def columns_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(k for row in rows for k in row))


def write_csv(
    path: Path,
    rows: Sequence[dict[str, Any]],
    *,
    encoding: str = "utf-8",
    style: str = "zh",
    names: Sequence[str] | None = None,
) -> Path:
    names = list(names or columns_of(rows))
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header(names, style))
        for row in rows:
            writer.writerow(["" if row.get(n) is None else row.get(n) for n in names])
    return path


def write_xlsx(path: Path, rows: Sequence[dict[str, Any]], *, style: str = "zh") -> Path:
    """Dates as real date cells and region codes as numbers, as Excel users type them."""
    names = columns_of(rows)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header(names, style))
    for row in rows:
        cells: list[Any] = []
        for name in names:
            value = row.get(name)
            if name == "decision_date" and isinstance(value, str):
                value = date(*(int(p) for p in value.replace("/", "-").split("-")))
            elif name == "region" and value:
                value = int(value)
            cells.append(value)
        sheet.append(cells)
    workbook.save(path)
    return path


def write_json(
    path: Path, rows: Sequence[dict[str, Any]], *, style: str = "en", wrap: bool = False
) -> Path:
    """Booleans as JSON booleans and grounds as lists, as another system would send them."""
    items = []
    for row in rows:
        item: dict[str, Any] = {}
        for name, value in row.items():
            if name == "typical_case":
                value = value in ("是", "yes")
            elif name == "grounds":
                value = [g.strip() for g in value.replace("；", ";").split(";")]
            item[header([name], style)[0]] = value
        items.append(item)
    payload: Any = {"rows": items} if wrap else items
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    return path
