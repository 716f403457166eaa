"""The pure parts of the SLA sweep and report: levels as dates, clocks, medians, tables."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from notifications.artifacts import sla_markdown, sweep_markdown
from registry.calendar import WorkingCalendar
from registry.reporting.sla import (
    CountRow,
    ResponseGroup,
    aggregate,
    histogram_median,
    report_csv,
)
from registry.sla import OverdueLevel, overdue_level
from registry.sla_sweep import (
    OverdueAction,
    SlaNoticeRequest,
    SweepResult,
    escalation_cutoff,
    overdue_clock,
    sla_digest_step,
)
from registry.vocabulary import NoticeKind, ResponseKind

TODAY = date(2026, 10, 19)


@pytest.mark.parametrize("working_days", [1, 2, 5, 10])
@pytest.mark.parametrize(
    "today",
    [date(2026, 10, 19), date(2026, 10, 10), date(2026, 10, 11), date(2026, 10, 8), TODAY],
)
def test_the_escalation_cutoff_is_overdue_level_as_a_date(
    calendar: WorkingCalendar, today: date, working_days: int
) -> None:
    """`anchor <= cutoff` ⇔ `overdue_level(anchor, today)` is ESCALATION, across National Day
    and its make-up Saturday, so SQL can ask the rule as a date comparison."""
    cutoff = escalation_cutoff(calendar, today, working_days)
    for back in range(60):
        anchor = today - timedelta(days=back)
        level = overdue_level(calendar, anchor, today, escalate_after_wd=working_days)
        assert (anchor <= cutoff) == (level is OverdueLevel.ESCALATION), anchor


def test_five_working_days_after_a_reminder_on_12_october(calendar: WorkingCalendar) -> None:
    assert escalation_cutoff(calendar, date(2026, 10, 16), 5) < date(2026, 10, 12)
    assert escalation_cutoff(calendar, date(2026, 10, 19), 5) == date(2026, 10, 12)


def test_the_first_clock_owed_and_late_is_the_one_named() -> None:
    dues = {
        ResponseKind.ACK: (date(2026, 10, 10), False),
        ResponseKind.FEEDBACK: (date(2026, 10, 30), True),
        ResponseKind.LIFT: (None, False),
    }
    found = overdue_clock("dispatched", dues, date(2026, 11, 2))
    assert found is not None
    assert (found.clock, found.due) == (ResponseKind.ACK, date(2026, 10, 10))
    found = overdue_clock("acknowledged", dues, date(2026, 11, 2))
    assert found is not None
    assert (found.clock, found.provisional) == (ResponseKind.FEEDBACK, True)
    assert overdue_clock("acknowledged", dues, date(2026, 10, 30)) is None  # due today: on time
    assert overdue_clock("feedback_reported", dues, date(2027, 1, 1)) is None
    assert overdue_clock("lift_requested", dues, date(2027, 1, 1)) is None  # no lift due set


def test_a_digest_step_names_its_level_and_exactly_its_actions() -> None:
    assert sla_digest_step(1, [3, 1, 2]) == sla_digest_step(1, [1, 2, 3])
    assert sla_digest_step(1, [1, 2]) != sla_digest_step(1, [1, 2, 3])
    assert sla_digest_step(2, [1, 2]).startswith("level-2-")
    assert sla_digest_step(1, [1, 2]) != sla_digest_step(2, [1, 2])


@pytest.mark.parametrize(
    ("values", "median"),
    [([], None), ([4], 4), ([1, 4, 7], 4), ([1, 2, 3, 10], 2.5), ([0, 0, 0, 9], 0)],
)
def test_the_median_from_a_histogram_is_the_median_of_the_values(
    values: list[int], median: float | None
) -> None:
    histogram: dict[int, int] = {}
    for value in values:
        histogram[value] = histogram.get(value, 0) + 1
    assert histogram_median(histogram) == median


def test_aggregation_counts_working_days_and_keeps_the_catalogue_order(
    calendar: WorkingCalendar,
) -> None:
    counts = [
        CountRow("pbc", actions=2, open=1, overdue=1, reminded=1, escalated=0, acknowledged=1),
        CountRow("ndrc", actions=3, open=3, overdue=1, reminded=2, escalated=1, acknowledged=2),
        CountRow("gone", actions=1, open=1, overdue=1, reminded=0, escalated=0, acknowledged=0),
    ]
    responses = [
        # 28 September → 9 October: 29, 30 September, 8, 9 October (1–7 October are holidays)
        ResponseGroup("ndrc", date(2026, 9, 28), date(2026, 10, 9), 1),
        ResponseGroup("ndrc", date(2026, 9, 28), date(2026, 9, 28), 1),  # same day: 0 WD
        ResponseGroup("pbc", date(2026, 10, 9), date(2026, 10, 12), 1),  # Saturday 10th works
    ]
    lines = aggregate(
        counts, responses, calendar=calendar, names={"ndrc": "国家发展改革委", "pbc": "人民银行"}
    )
    assert [line.department for line in lines] == ["ndrc", "pbc", "gone"]
    ndrc, pbc, gone = lines
    assert (ndrc.on_time, ndrc.median_ack_wd, ndrc.name) == (2, 2.0, "国家发展改革委")
    assert (pbc.on_time, pbc.median_ack_wd) == (0, 2.0)
    assert (gone.name, gone.median_ack_wd) == ("gone", None)


def test_the_tables_people_read(calendar: WorkingCalendar) -> None:
    lines = aggregate(
        [CountRow("ndrc", 4, 4, 1, 2, 1, 3)],
        [ResponseGroup("ndrc", date(2026, 9, 28), date(2026, 10, 9), 3)],
        calendar=calendar,
        names={"ndrc": "国家发展改革委"},
    )
    csv_text = report_csv(lines)
    assert csv_text.splitlines()[1] == "ndrc,国家发展改革委,4,4,3,1,2,1,3,4.0"
    markdown = sla_markdown(lines, today=TODAY)
    assert "| 国家发展改革委（ndrc） | 4 | 4 | 3 | 1 | 2 | 1 | 3 | 4 |" in markdown
    assert "| 合计 | 4 | 4 | 3 | 1 | 2 | 1 | 3 | — |" in markdown
    assert "暂无部门事项" in sla_markdown([], today=TODAY)


def test_the_sweep_summary_says_what_was_sent_and_what_could_not_be() -> None:
    quiet = SweepResult(today=date(2026, 10, 11), working_day=False)
    assert "不是工作日" in sweep_markdown(quiet)

    def overdue(action_id: int, department: str) -> OverdueAction:
        return OverdueAction(
            action_id, action_id, department, ResponseKind.ACK, TODAY, False, 3, None
        )

    busy = SweepResult(
        today=TODAY,
        working_day=True,
        reminded=[1, 2, 3],
        escalated=[4],
        notices=[
            SlaNoticeRequest(
                NoticeKind.REMINDER, "ndrc", tuple(overdue(i, "ndrc") for i in (1, 2, 3))
            ),
            SlaNoticeRequest(NoticeKind.ESCALATION, "pbc", (overdue(4, "pbc"),)),
        ],
        notices_queued=2,
        unknown_departments={"abolished": 2},
    )
    text = sweep_markdown(busy)
    assert "| 新催办事项 | 3 |" in text
    assert "| ndrc | 3 | 0 |" in text
    assert "| pbc | 0 | 1 |" in text
    assert "- abolished：2 项" in text
