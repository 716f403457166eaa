"""Pure parts of the monthly report: months, jurisdictions, ratios, and the SVG charts."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from notifications.report_html import jurisdiction_chart, nice_ceiling, trend_chart
from registry.reporting import ReportMonth, ReportMonthError, percent_text, previous_month
from registry.reporting.monthly import jurisdiction_figures, jurisdiction_of, trend_points
from registry.reporting.monthly_rows import DayRow, RegionRow
from registry.reporting.months import trend_months


def test_months_are_yyyy_mm_in_shanghai_time() -> None:
    october = ReportMonth.parse("2026-10")
    assert (october.key, october.label) == ("2026-10", "2026年10月")
    assert ReportMonth.parse(" 2026-1 ").key == "2026-01"
    # Shanghai midnight is 16:00 UTC the day before
    assert october.start() == datetime(2026, 9, 30, 16, 0, tzinfo=UTC)
    assert october.end() == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert ReportMonth(2026, 12).end() == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-13", "2026/10", "202610", "26-10", "", "2026-00"])
def test_a_bad_month_is_refused_in_chinese(text: str) -> None:
    with pytest.raises(ReportMonthError, match="报告月份"):
        ReportMonth.parse(text)


def test_the_default_month_is_the_previous_one() -> None:
    assert previous_month(date(2026, 11, 1)) == ReportMonth(2026, 10)
    assert previous_month(date(2027, 1, 15)) == ReportMonth(2026, 12)
    window = trend_months(ReportMonth(2026, 3))
    assert [m.key for m in (window[0], window[-1])] == ["2025-04", "2026-03"]
    assert len(window) == 12


def test_jurisdictions_are_provinces_by_the_first_two_digits() -> None:
    assert jurisdiction_of("510104") == ("510000", "四川省")
    assert jurisdiction_of("650102") == ("650000", "新疆维吾尔自治区")
    assert jurisdiction_of("110000") == ("110000", "北京市")
    for unknown in (None, "", "  ", "9", "990000", "710000", "810000"):
        assert jurisdiction_of(unknown) == ("", "未标注地区")


def test_ratios_never_divide_by_zero() -> None:
    assert [percent_text(r) for r in (None, 0.0, 0.5, 1 / 3, 1.0)] == [
        "—",
        "0%",
        "50%",
        "33.3%",
        "100%",
    ]
    rows = [
        RegionRow("510100", None, "black", True, 1),
        RegionRow(None, "510100", "red", False, 1),  # a person: the unit's region
        RegionRow("440100", None, "black", False, 2),
        RegionRow("440100", None, "red", True, 1),
    ]
    figures = jurisdiction_figures(rows)
    assert [(f.name, f.entries, f.typical, f.ratio, f.below_target) for f in figures] == [
        ("广东省", 3, 1, pytest.approx(1 / 3), True),
        ("四川省", 2, 1, 0.5, False),  # exactly the target is not below it
    ]


def test_the_trend_keeps_empty_months() -> None:
    months = trend_months(ReportMonth(2026, 10))
    points = trend_points(
        [
            DayRow(date(2026, 10, 31), "black", True, 2),
            DayRow(date(2026, 10, 1), "red", False, 2),
            DayRow(date(2025, 10, 31), "black", True, 9),  # before the window
        ],
        months,
    )
    assert [p.entries for p in points] == [0] * 11 + [4]
    assert points[-1].ratio == 0.5
    assert points[0].ratio is None


def test_charts_are_inline_svg_with_escaped_text() -> None:
    months = trend_months(ReportMonth(2026, 10))
    points = trend_points(
        [DayRow(date(2026, 1, 5), "black", False, 3), DayRow(date(2026, 10, 5), "red", True, 1)],
        months,
    )
    chart = str(trend_chart(points, target=0.5))
    assert chart.startswith("<svg")
    assert chart.endswith("</svg>")
    assert "http" not in chart
    assert "2026年" in chart
    assert "1月" in chart
    assert chart.count("<circle") == 2  # months without entries have no point
    assert "<polyline" not in chart  # the two points are not adjacent: no line joins them

    bars = str(
        jurisdiction_chart(
            jurisdiction_figures([RegionRow("510100", None, "black", False, 1)]), target=0.5
        )
    )
    assert "四川省" in bars
    assert "未达标" in bars
    assert re.search(r'<rect x="130" y="\d+" width="0"', bars)


def test_count_axes_end_on_round_numbers() -> None:
    assert [nice_ceiling(n) for n in (0, 3, 5, 9, 41, 180, 1001)] == [4, 4, 8, 20, 80, 200, 2000]
