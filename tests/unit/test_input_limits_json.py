"""JSON within its size limit must not cost memory far beyond it (issue 13, item 8 follow-up):
a 15 MB `[{},{},…]` took 486 MB before the row limit refused it. The values are now counted
in the text, before `json` builds them; the traced peak stays near the text's own size."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from registry.input_limits import InputLimits
from registry.intake.reading import open_rows
from registry.spreadsheet import ImportFileError


def traced_refusal(path: Path, limits: InputLimits) -> tuple[str, int]:
    tracemalloc.start()
    try:
        with pytest.raises(ImportFileError) as caught, open_rows(path, limits) as source:
            list(source.rows)
        return caught.value.message, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_many_empty_objects_are_refused_before_they_are_built(tmp_path: Path) -> None:
    path = tmp_path / "objects.json"
    path.write_text("[" + ",".join(["{}"] * 2_000_000) + "]")  # 6 MB
    message, peak = traced_refusal(path, InputLimits())
    assert "1,000,000 行的上限" in message
    # The text (bytes and str) is 12 MB; two million dicts would be well over 100 MB.
    assert peak < 40 << 20, f"traced peak {peak / (1 << 20):.0f} MB"


@pytest.mark.parametrize(
    "text",
    [
        "[{" + ",".join(f'"k{n}":1' for n in range(1_000_000)) + "}]",  # 11 MB
        "[" + ",".join(f'{{"k{n}":1}}' for n in range(600_000)) + "]",  # 8 MB
    ],
    ids=["one-object", "one-key-per-object"],
)
def test_a_million_distinct_keys_are_refused_before_they_are_built(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "keys.json"
    path.write_text(text)
    message, peak = traced_refusal(path, InputLimits(max_json_bytes=12 << 20))
    assert "超过上限" in message
    # The text is 16–22 MB as bytes and str; the keys as objects would be over 100 MB.
    assert peak < 60 << 20, f"traced peak {peak / (1 << 20):.0f} MB"


def test_objects_beyond_the_row_limit_name_the_row_limit(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    path.write_text("[" + ",".join(['{"名称": "甲"}'] * 11) + "]")
    message, _ = traced_refusal(path, InputLimits(max_rows=10))
    assert "10 行的上限" in message


def test_brackets_and_commas_inside_strings_are_not_counted(tmp_path: Path) -> None:
    noisy = '{[,,,]}\\"{{,' + "{,[" * 10
    row = (
        '{"list_type": "黑名单", "subject_kind": "单位", "name": "NAME", "grounds": "A4",'
        ' "decision_date": "2026-05-20"}'
    ).replace("NAME", noisy)
    path = tmp_path / "strings.json"
    path.write_text("[" + row + "]")
    # One object: a count of `{` that looked inside the strings would find fourteen.
    with open_rows(path, InputLimits(max_rows=1)) as source:
        assert len(list(source.rows)) == 1
