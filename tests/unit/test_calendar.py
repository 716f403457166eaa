"""Working days around the official holidays, and provisional dates in unknown years."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memoranda.loader import load_calendar_years
from registry.calendar import PACKAGE_YEARS, WorkingCalendar
from registry.errors import CalendarError
from tests.conftest import year_file_text


def test_national_day_2026_and_the_make_up_saturday(calendar: WorkingCalendar) -> None:
    # 1-7 October 2026 off; Saturday 10 October worked instead (调休).
    assert [calendar.is_working_day(date(2026, 10, d)) for d in range(1, 8)] == [False] * 7
    assert calendar.is_working_day(date(2026, 10, 10))
    assert not calendar.is_working_day(date(2026, 10, 11))
    result = calendar.add_working_days(date(2026, 9, 30), 5)
    assert result.due == date(2026, 10, 13)
    assert not result.provisional
    assert result.warning is None


def test_spring_festival_2026_is_skipped(calendar: WorkingCalendar) -> None:
    # 15-23 February 2026 off; Saturdays 14 and 28 February worked.
    assert calendar.is_working_day(date(2026, 2, 14))
    assert not calendar.is_working_day(date(2026, 2, 16))
    assert calendar.add_working_days(date(2026, 2, 13), 1).due == date(2026, 2, 14)
    assert calendar.add_working_days(date(2026, 2, 14), 1).due == date(2026, 2, 24)


def test_a_date_in_an_unknown_year_is_provisional_and_names_the_file(
    calendar: WorkingCalendar,
) -> None:
    assert 2027 not in PACKAGE_YEARS, "chinese-calendar now knows 2027: update this test"
    result = calendar.add_working_days(date(2026, 12, 28), 5)
    assert result.due == date(2027, 1, 4)  # weekends only: 29, 30, 31 Dec, 1 Jan, 4 Jan
    assert result.provisional
    assert result.unknown_years == (2027,)
    assert result.warning is not None
    assert "2027" in result.warning
    assert "calendar/2027.yml" in result.warning
    assert result.label == "2027-01-04（暂定）"


def test_a_year_file_settles_the_provisional_date(tmp_path: Path) -> None:
    (tmp_path / "2027.yml").write_text(year_file_text(2027), encoding="utf-8")
    calendar = WorkingCalendar(load_calendar_years(tmp_path), tmp_path)
    result = calendar.add_working_days(date(2026, 12, 28), 5)
    assert result.due == date(2027, 1, 5)
    assert not result.provisional


def test_working_days_between_counts_the_end_not_the_start(calendar: WorkingCalendar) -> None:
    assert calendar.working_days_between(date(2026, 9, 30), date(2026, 10, 13)).days == 5
    assert calendar.working_days_between(date(2026, 10, 13), date(2026, 9, 30)).days == -5
    assert calendar.working_days_between(date(2026, 10, 1), date(2026, 10, 1)).days == 0
    spanning = calendar.working_days_between(date(2026, 12, 30), date(2027, 1, 5))
    assert spanning.provisional
    assert spanning.unknown_years == (2027,)


def test_negative_working_days_are_refused(calendar: WorkingCalendar) -> None:
    with pytest.raises(CalendarError, match="不能为负数"):
        calendar.add_working_days(date(2026, 1, 5), -1)


@given(
    start=st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 10, 31)),
    n=st.integers(min_value=0, max_value=40),
)
def test_add_and_between_are_inverse(start: date, n: int) -> None:
    calendar = WorkingCalendar()
    due = calendar.add_working_days(start, n).due
    assert calendar.working_days_between(start, due).days == n
    if n > 0:
        assert calendar.is_working_day(due)
        assert calendar.working_days_between(start, due - timedelta(days=1)).days == n - 1
