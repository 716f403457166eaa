"""The operator inbox as Markdown (`notifications.inbox`): the contract's headings and lines,
every stored value escaped, 无 for an empty section, and a clear line when Prefect is absent."""

from __future__ import annotations

from datetime import date

from notifications.artifacts import markdown_cell
from notifications.inbox import NO_PREFECT, inbox_markdown
from registry.views.inbox import ContactLine, FormLine, OperatorInbox, OverdueLine, ParkedLine

TODAY = date(2026, 11, 27)


def test_an_empty_inbox_says_none_in_every_section() -> None:
    text = inbox_markdown(OperatorInbox(today=TODAY, forms=[]))

    assert text.startswith("## 操作员待办\n")
    for heading in (
        "### 待填写的表单（0）",
        "### 搁置的通知（0）",
        "### 需更正的联系方式（0）",
        "### 逾期未处理的异议与移出申请（0）",
    ):
        assert f"{heading}\n\n无\n" in text


def test_each_item_is_one_line_with_its_link_and_escaped_values() -> None:
    name = "<script>x</script>深圳*示例*|公司"
    inbox = OperatorInbox(
        today=TODAY,
        forms=[FormLine("batch-12-确认", "http://ui/runs/flow-run/abc", "批次 IMP-1 列入确认", 5)],
        parked=[ParkedLine(17, "告知书", "a_b@example.org", "永久失败", "550 no such user")],
        parked_total=1,
        contacts=[ContactLine("a_b@example.org", "被拒收 1 次：550", [f"主体 3 {name}"], "—")],
        overdue=[OverdueLine("异议", 4, 9, date(2026, 11, 2), date(2026, 11, 20), "已催办")],
        overdue_total=1,
    )

    text = inbox_markdown(inbox)

    assert (
        "- [batch-12-确认](http://ui/runs/flow-run/abc)：批次 IMP-1 列入确认，已等待 5 小时" in text
    )
    assert f"- 通知 17 告知书 → {markdown_cell('a_b@example.org')}：永久失败；" in text
    assert markdown_cell(f"主体 3 {name}") in text  # the one escaper, whatever it escapes
    assert "- 异议 4（名单 9）：2026-11-02 提出，应于 2026-11-20 前办结，已催办" in text


def test_without_prefect_the_forms_section_says_it_cannot_list_them() -> None:
    text = inbox_markdown(OperatorInbox(today=TODAY, forms=None))

    assert f"### 待填写的表单\n\n{markdown_cell(NO_PREFECT)}\n" in text
