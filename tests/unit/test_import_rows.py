"""The pure half of intake: headers, encodings, one row's validation, what a quarantine shows.

No database: `validate_row` decides everything about a row except duplicates and unit links.
"""

from __future__ import annotations

import codecs
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memoranda.loader import Catalogue
from registry.intake import COLUMNS, ImportFileError, RowRules, ValidRow, open_rows, validate_row
from registry.intake.reading import map_header
from registry.spreadsheet import (
    VALUE_MAX,
    RowProblem,
    detect_encoding,
    shown_value,
    split_bilingual,
    spreadsheet_cell,
)

TODAY = date(2026, 11, 27)
UNIT = "91512081MA62K0260E"
PERSON_ID = "11010519491231002X"
GOOD_UNIT: dict[str, object] = {
    "list_type": "黑名单",
    "subject_kind": "单位",
    "name": "四川蜀安化工有限公司",
    "uscc": UNIT,
    "grounds": "A2",
    "decision_date": "2026-03-01",
}


@pytest.fixture(scope="module")
def rules(catalogue: Catalogue) -> RowRules:
    return RowRules(catalogue, "unit-test-key", TODAY)


def problems(outcome: ValidRow | tuple[RowProblem, ...]) -> dict[str, str]:
    assert isinstance(outcome, tuple), outcome
    return {p.field: p.reason_zh for p in outcome}


# --- headers ------------------------------------------------------------------------------


def test_headers_match_in_chinese_english_any_case_spacing_and_bom() -> None:
    header = map_header(
        ["\ufeff名单类型", " Subject Kind ", "NAME", "认定依据", "decision-date", None, "其他"],
        file_name="x.csv",
    )
    assert header.positions == {
        0: "list_type",
        1: "subject_kind",
        2: "name",
        3: "grounds",
        4: "decision_date",
    }
    assert header.label("subject_kind") == "Subject Kind"
    assert header.label("uscc") == "统一社会信用代码"  # not in the file: its Chinese name
    assert header.unknown == ["其他"]


def test_missing_required_columns_are_all_named() -> None:
    with pytest.raises(ImportFileError) as caught:
        map_header(["名称", "uscc"], file_name="x.csv")
    assert caught.value.fields["missing"] == [
        "list_type",
        "subject_kind",
        "grounds",
        "decision_date",
    ]


def test_the_same_column_twice_is_ambiguous() -> None:
    with pytest.raises(ImportFileError, match="同一列"):
        map_header(
            ["名单类型", "主体类型", "名称", "name", "认定依据", "处罚决定日期"], file_name="x.csv"
        )


# --- encodings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("名称\n".encode(), "utf-8"),
        (codecs.BOM_UTF8 + "名称\n".encode(), "utf-8-sig"),
        ("名称\n".encode("gbk"), "gb18030"),
        ("名称\n".encode("utf-16"), "utf-16"),
        (b"name\n", "utf-8"),
    ],
)
def test_encoding_is_detected(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    assert detect_encoding(path) == expected


def test_a_late_invalid_byte_is_found_before_anything_is_read(tmp_path: Path) -> None:
    """The whole file is scanned, so a bad byte at the end cannot strand half an import."""
    path = tmp_path / "x.csv"
    path.write_bytes("名称\n".encode() * 400_000 + b"\xff\xfe\n")
    with pytest.raises(ImportFileError, match="无法识别文件编码"):
        detect_encoding(path)


# --- one row ------------------------------------------------------------------------------


def test_a_good_unit_row(rules: RowRules) -> None:
    row = validate_row(GOOD_UNIT, rules)
    assert isinstance(row, ValidRow)
    assert (row.list_type, row.kind, row.rule_set, row.grounds) == (
        "black",
        "unit",
        "mem-2023-serious",
        ("A2",),
    )
    assert not row.needs_review


def test_a_person_keeps_only_hash_and_mask(rules: RowRules) -> None:
    row = validate_row(
        {**GOOD_UNIT, "subject_kind": "个人", "uscc": None, "id_number": PERSON_ID}, rules
    )
    assert isinstance(row, ValidRow)
    assert row.id_masked == "110105********002X"
    assert row.id_hash is not None
    assert PERSON_ID not in repr(row)


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"decision_date": "2026-02-30"}, "decision_date", "日期不存在"),
        ({"decision_date": "2026-11-28"}, "decision_date", "晚于今天"),
        ({"decision_date": "1.3.2026"}, "decision_date", "YYYY-MM-DD"),
        ({"grounds": "A2；Q7"}, "grounds", "Q7"),
        ({"grounds": "R"}, "grounds", "saws-2017-incentive"),
        ({"grounds": " ; ；"}, "grounds", "必填"),
        ({"uscc": "91512081MA62K026"}, "uscc", "18位"),
        ({"name": "=cmd|' /C calc'!A0"}, "name", "公式"),
        ({"name": "x" * 201}, "name", "过长"),
        ({"name": "甲\u202e乙"}, "name", "U+202E"),
        ({"note": "行一\n行二\x00"}, "note", "U+0000"),
        ({"region": "１１０１０５"}, "region", "6位数字"),  # full-width digits are not digits
        ({"rule_set": "saws-2017-incentive"}, "rule_set", "红名单"),
        ({"subject_kind": None}, "subject_kind", "必填"),
        ({"name": ["a", "b"]}, "name", "类型无效"),
    ],
)
def test_bad_cells_are_named(
    rules: RowRules, change: dict[str, object], field: str, reason: str
) -> None:
    found = problems(validate_row({**GOOD_UNIT, **change}, rules))
    assert field in found
    assert reason in found[field]


def test_every_problem_of_a_row_is_reported_at_once(rules: RowRules) -> None:
    found = problems(
        validate_row(
            {**GOOD_UNIT, "name": "", "uscc": "123", "region": "1", "contact_email": "x@"}, rules
        )
    )
    assert set(found) == {"name", "uscc", "region", "contact_email"}


def test_a_check_mismatch_is_a_warning_not_a_rejection(rules: RowRules) -> None:
    row = validate_row({**GOOD_UNIT, "uscc": "91350100M0001TGQXM"}, rules)
    assert isinstance(row, ValidRow)
    assert row.needs_review
    assert row.uscc_status == "check_mismatch"
    assert "校验位不符" in row.warnings[0]


def test_spreadsheet_cells_are_understood(rules: RowRules) -> None:
    row = validate_row(
        {
            **GOOD_UNIT,
            "decision_date": datetime(2026, 3, 1),
            "region": 510100,
            "typical_case": True,
        },
        rules,
    )
    assert isinstance(row, ValidRow)
    assert (row.decision_date, row.region, row.typical_case) == (date(2026, 3, 1), "510100", True)


def test_an_id_number_typed_as_a_number_is_refused(rules: RowRules) -> None:
    found = problems(
        validate_row({**GOOD_UNIT, "subject_kind": "个人", "id_number": 1.1010519491231e17}, rules)
    )
    assert "数字" in found["id_number"]


# --- what a quarantine line shows ---------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [
        '=HYPERLINK("http://example.org","x")',
        ' =HYPERLINK("http://example.org","x")',
        '\u00a0=HYPERLINK("http://example.org","x")',
        "\u3000+1",
        "  \t-1+2",
        "\n@SUM(A1)",
        "\u200b=1",
        "\ufeff=1",
        "＝1+1",
        "\t",
        "\u00ad=1",
        "\u2061=1",
        "\u180e\u2063\u034f\u3164\ufe0f=1",
        "\U000e0001\u00a0-1",
        "\x0b@SUM(A1)",
        "\u2028=1",
    ],
)
def test_a_report_cell_a_spreadsheet_would_evaluate_after_trimming_is_quoted(cell: str) -> None:
    """Issue 13, item 14: Excel and LibreOffice trim spaces and NBSP before they look for `=`."""
    assert spreadsheet_cell(cell) == "'" + cell


@pytest.mark.parametrize(
    "cell", ["深圳样本化工", " 深圳", "a=1", "", "A4；B1", "2026-05-20", "\u00ad深圳", "\u2061 a=1"]
)
def test_a_report_cell_that_is_no_formula_is_kept_as_written(cell: str) -> None:
    assert spreadsheet_cell(cell) == cell


def test_shown_values_mask_ids_escape_controls_and_are_short() -> None:
    assert shown_value("id_number", PERSON_ID) == "110105********002X"
    assert shown_value("note", f"见 {PERSON_ID}。") == "见 110105********002X。"
    assert shown_value("uscc", "911101050000000000") == "911101050000000000"
    assert shown_value("name", "a\x1b[31mb") == "a\\u001b[31mb"
    long = shown_value("name", "长" * 500)
    assert long is not None
    assert len(long) == VALUE_MAX
    assert long.endswith("…")


def test_bilingual_messages_split() -> None:
    assert split_bilingual("格式错误：应为18位（invalid length）") == (
        "格式错误：应为18位",
        "invalid length",
    )
    assert split_bilingual("plain") == ("plain", "plain")


# --- properties ---------------------------------------------------------------------------

_PLAUSIBLE: dict[str, list[object]] = {
    "list_type": ["黑名单", "红名单", "black", "RED", "灰名单"],
    "subject_kind": ["单位", "个人", "unit", "Person"],
    "uscc": [UNIT, "91350100M0001TGQXM", "9135010OM0001TGQXM"],
    "id_number": [PERSON_ID, "110105194912310021", "11010519491231002x"],
    "unit_uscc": [UNIT, "bad"],
    "grounds": ["A2", "R", "mem-2023-serious:A1；B4", "S2.6", "saws-2017-sanction:S2.1"],
    "decision_date": ["2026-03-01", "2022/5/6", "2016-01-01", "2026-11-28", "2026-02-29"],
    "rule_set": ["mem-2023-serious", "saws-2017-sanction", "ndrc-2026-repair"],
    "typical_case": ["是", "否", "0", True],
}


def _value(name: str) -> st.SearchStrategy[object]:
    anything: st.SearchStrategy[object] = st.one_of(
        st.none(),
        st.text(max_size=40),
        st.text(alphabet="=+-@\t\r\n\x00 \u202e0123456789X;；:", max_size=20),
        st.integers(),
        st.floats(allow_nan=True),
        st.booleans(),
        st.dates(),
        st.lists(st.text(max_size=5), max_size=3),
    )
    plausible = _PLAUSIBLE.get(name)
    return st.one_of(st.sampled_from(plausible), anything) if plausible else anything


ARBITRARY_ROWS = st.fixed_dictionaries({}, optional={c.name: _value(c.name) for c in COLUMNS})
# Mostly plausible rows, so the property also covers the path to an accepted row.
PLAUSIBLE_ROWS = st.fixed_dictionaries(
    {
        "list_type": st.sampled_from(_PLAUSIBLE["list_type"]),
        "subject_kind": st.sampled_from(_PLAUSIBLE["subject_kind"]),
        "name": st.one_of(st.text(min_size=1, max_size=30), st.sampled_from(["甲公司", " 乙 "])),
        "grounds": st.sampled_from(_PLAUSIBLE["grounds"]),
        "decision_date": st.sampled_from(["2026-03-01", "2022/5/6", *_PLAUSIBLE["decision_date"]]),
        "uscc": st.sampled_from([UNIT, UNIT, *_PLAUSIBLE["uscc"]]),
        "id_number": st.sampled_from([PERSON_ID, PERSON_ID, *_PLAUSIBLE["id_number"]]),
    },
    optional={
        name: st.sampled_from(_PLAUSIBLE[name])
        for name in ("unit_uscc", "rule_set", "typical_case")
    },
)
ROWS = st.one_of(ARBITRARY_ROWS, PLAUSIBLE_ROWS)


@settings(max_examples=400, deadline=None)
@given(values=ROWS)
def test_any_row_is_either_valid_or_quarantined_never_an_exception(
    catalogue: Catalogue, values: dict[str, Any]
) -> None:
    outcome = validate_row(values, RowRules(catalogue, "k", TODAY))
    if isinstance(outcome, ValidRow):
        assert outcome.name.strip() == outcome.name
        assert outcome.name
        assert not outcome.name.startswith(("=", "+", "-", "@"))
        assert outcome.rule_set in catalogue.rule_sets
        assert outcome.decision_date <= TODAY
        assert outcome.grounds
        return
    assert outcome
    fields = {c.name for c in COLUMNS}
    for problem in outcome:
        assert isinstance(problem, RowProblem)
        assert problem.field in fields
        assert problem.reason_zh
        assert problem.reason_en
        assert problem.value is None or len(problem.value) <= VALUE_MAX
        assert PERSON_ID not in (problem.value or "")


@settings(max_examples=150, deadline=None)
@given(
    content=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(lambda t: "名单类型,主体类型,名称,认定依据,处罚决定日期\n" + t),
    ),
    suffix=st.sampled_from([".csv", ".json", ".xlsx"]),
)
def test_any_bytes_are_read_or_refused_as_one_file_error(content: bytes | str, suffix: str) -> None:
    data = content.encode("gb18030") if isinstance(content, str) else content
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"f{suffix}"
        path.write_bytes(data)
        try:
            with open_rows(path) as source:
                for _ in source.rows:
                    pass
        except ImportFileError:
            pass
