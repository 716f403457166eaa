"""Deadlines from working-day SLAs and overdue levels (DOMAIN.md §4)."""

from __future__ import annotations

from datetime import date

from memoranda.loader import Catalogue
from registry.calendar import WorkingCalendar
from registry.sla import (
    OverdueLevel,
    action_deadlines,
    add_months,
    defence_deadline,
    lift_deadline,
    overdue_level,
)


def test_dispatch_before_national_day_skips_the_holidays(
    catalogue: Catalogue, calendar: WorkingCalendar
) -> None:
    due = action_deadlines(calendar, catalogue.sla_for("ndrc"), date(2026, 9, 28))
    # 29, 30 Sep; (1-7 Oct off); 8, 9, 10 (make-up Saturday) Oct
    assert due.ack.due == date(2026, 10, 10)
    assert not due.ack.provisional
    assert lift_deadline(calendar, catalogue.sla_for("ndrc"), date(2026, 9, 28)).due == date(
        2026, 10, 10
    )


def test_feedback_due_in_january_is_provisional(
    catalogue: Catalogue, calendar: WorkingCalendar
) -> None:
    due = action_deadlines(calendar, catalogue.sla_for("ndrc"), date(2026, 12, 10))
    assert not due.ack.provisional
    assert due.feedback.provisional
    assert due.feedback.unknown_years == (2027,)


def test_defence_window_is_never_below_three_calendar_days(
    catalogue: Catalogue, calendar: WorkingCalendar
) -> None:
    limits = catalogue.time_limits
    assert defence_deadline(calendar, limits, date(2026, 11, 27)).due == date(2026, 12, 4)
    # One working day from Friday is Monday (3 days): allowed; from Thursday 1 WD is Friday (1
    # day), so the floor of three calendar days moves it to the next working day after Sunday.
    assert defence_deadline(calendar, limits, date(2026, 11, 26), 1).due == date(2026, 11, 30)


def test_overdue_levels(calendar: WorkingCalendar) -> None:
    due = date(2026, 10, 13)
    level = overdue_level
    assert level(calendar, due, date(2026, 10, 13), escalate_after_wd=5) is OverdueLevel.ON_TIME
    assert level(calendar, due, date(2026, 10, 14), escalate_after_wd=5) is OverdueLevel.REMINDER
    assert level(calendar, due, date(2026, 10, 19), escalate_after_wd=5) is OverdueLevel.REMINDER
    assert level(calendar, due, date(2026, 10, 20), escalate_after_wd=5) is OverdueLevel.ESCALATION


def test_terms_in_months() -> None:
    assert add_months(date(2026, 11, 27), 36) == date(2029, 11, 27)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)
