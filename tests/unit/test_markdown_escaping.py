"""`markdown_cell`, the one escaper: whatever is stored, the Prefect UI shows it as stored.

Proved by parsing: the escaped value is put where the artifacts put values (a paragraph, a list
item, a GFM table cell, a heading) and parsed with CommonMark + GFM tables (markdown-it-py, the
parser rich uses); the text the parser gives back is the stored value, a line break shown as
`<br>`. Hypothesis tries every character Markdown or HTML could read as syntax.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from notifications.artifacts import markdown_cell

PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
SCRIPT_NAME = "<script>alert(1)</script>深圳示例机械有限公司"

# The places a value stands in our Markdown; 「 」 mark where the value starts and ends.
PLACES = {
    "paragraph": "前「{}」后\n",
    "list item": "- **12** 「{}」<br>认定依据：…\n",
    "table cell": "| 编号 | 主体 |\n|---:|---|\n| 12 | 「{}」 |\n",
    "heading": "### 批次 「{}」 待确认名单\n",
}


def shown(markdown: str) -> str:
    """What a reader sees of the last inline run: its text, `<br>` as a line break; any
    other markup (emphasis, a link, raw HTML) is shown as a marker, so it cannot pass."""
    inline = [t for t in PARSER.parse(markdown) if t.type == "inline"][-1]
    return "".join(_shown(t) for t in inline.children or [])


def _shown(token: Token) -> str:
    if token.type == "text":
        return token.content
    if token.type == "html_inline" and token.content == "<br>":
        return "\n"
    if token.type in ("strong_open", "strong_close"):
        return ""  # our own bold listing number
    return f"⟦{token.type}:{token.content}⟧"


def value_shown(place: str, value: object) -> str:
    text = shown(PLACES[place].format(markdown_cell(value)))
    found = re.search(r"「(.*)」", text, re.DOTALL)
    assert found, text
    return found.group(1)


def as_stored(value: str) -> str:
    return re.sub(r"\r\n?", "\n", value)


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(
    "name",
    [
        SCRIPT_NAME,
        "某某*建材*_有限_公司",
        "甲|乙|丙",
        "[x](y) 与 ![图](http://a.b/c.png)",
        "第一行\n第二行\r\n第三行\r第四行",
        "`代码` ~~删除~~ &amp; &#60; # 标题 > 引用 {属性}",
        "反斜杠\\*与\\|结尾\\",
        "  前后与中间  的空格 ",
        "110105********123X",
    ],
)
def test_a_stored_name_is_shown_as_stored(place: str, name: str) -> None:
    assert value_shown(place, name) == as_stored(name)


def test_the_script_name_is_escaped_not_dropped() -> None:
    assert markdown_cell(SCRIPT_NAME) == ("\\<script\\>alert(1)\\</script\\>深圳示例机械有限公司")


def test_line_breaks_become_br_and_everything_else_is_kept() -> None:
    assert (
        markdown_cell("第一行\n第二行\r\n第三行\r第四行") == "第一行<br>第二行<br>第三行<br>第四行"
    )
    assert markdown_cell("四川某化工有限公司") == "四川某化工有限公司"
    assert markdown_cell(42) == "42"
    assert markdown_cell("  两个  空格 ") == "  两个  空格 "
    assert markdown_cell("甲|乙") == "甲\\|乙"


def test_a_value_never_adds_a_table_column_or_a_line() -> None:
    cell = markdown_cell("甲|乙\n| 伪造 | 行 |")
    table = f"| 编号 | 主体 |\n|---:|---|\n| 12 | {cell} |\n"
    rows = [t for t in PARSER.parse(table) if t.type == "tr_open"]
    cells = [t for t in PARSER.parse(table) if t.type == "td_open"]
    assert (len(rows), len(cells)) == (2, 2)
    assert "\n" not in cell


# Every character Markdown or HTML reads as syntax, and line breaks, often; any other text too
# (no control characters: a stored value has none, `registry.free_text` removes them).
SYNTAX = "\\`*_{}[]<>|~&#!()-+.:=\"'/ \t\r\n1aA中"
stored_text = st.text(
    st.one_of(
        st.sampled_from(SYNTAX),
        st.characters(exclude_categories=("Cc", "Cs")),
    ),
    max_size=40,
)


@settings(max_examples=400, deadline=None)
@given(value=stored_text, place=st.sampled_from(sorted(PLACES)))
def test_any_stored_text_is_shown_as_stored(value: str, place: str) -> None:
    assert value_shown(place, value) == as_stored(value)
