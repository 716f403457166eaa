"""Deadlines from working-day limits, and how overdue something is (DOMAIN.md §4).

Pure functions over a `WorkingCalendar`; the SLA of a department is copied onto its action at
creation (DESIGN.md §3), so a later change of departments.yml never moves a running clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import IntEnum

from memoranda.schema import Sla, TimeLimits
from registry.calendar import Deadline, WorkingCalendar


class OverdueLevel(IntEnum):
    ON_TIME = 0
    REMINDER = 1  # 催办: past due
    ESCALATION = 2  # 督办: still open `escalate_after_wd` working days after the due date


def defence_deadline(
    calendar: WorkingCalendar,
    limits: TimeLimits,
    notified_on: date,
    working_days: int | None = None,
) -> Deadline:
    """陈述申辩 deadline: `defence_wd` working days, never fewer than the minimum calendar days."""
    deadline = calendar.add_working_days(notified_on, working_days or limits.defence_wd)
    floor = notified_on + timedelta(days=limits.defence_min_calendar_days)
    if deadline.due < floor:
        return calendar.add_working_days(floor - timedelta(days=1), 1)
    return deadline


@dataclass(frozen=True)
class ActionDeadlines:
    ack: Deadline
    feedback: Deadline


def action_deadlines(calendar: WorkingCalendar, sla: Sla, dispatched_on: date) -> ActionDeadlines:
    """响应 and 反馈 due dates of a dispatch, in working days after the dispatch date."""
    return ActionDeadlines(
        ack=calendar.add_working_days(dispatched_on, sla.ack_wd),
        feedback=calendar.add_working_days(dispatched_on, sla.feedback_wd),
    )


def lift_deadline(calendar: WorkingCalendar, sla: Sla, requested_on: date) -> Deadline:
    """Confirmation that measures were lifted, after the lift request (解除函)."""
    return calendar.add_working_days(requested_on, sla.lift_wd)


def overdue_level(
    calendar: WorkingCalendar, due: date, today: date, *, escalate_after_wd: int
) -> OverdueLevel:
    """Level 1 the day after `due`; level 2 once `escalate_after_wd` more working days passed."""
    if today <= due:
        return OverdueLevel.ON_TIME
    if calendar.working_days_between(due, today).days >= escalate_after_wd:
        return OverdueLevel.ESCALATION
    return OverdueLevel.REMINDER


def add_months(day: date, months: int) -> date:
    """Calendar months later, clamped to the month's last day (a 3-year term from 29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate_day in range(day.day, 27, -1):
        try:
            return date(year, month, candidate_day)
        except ValueError:
            continue
    return date(year, month, min(day.day, 28))
