"""Working days on the official PRC calendar (DOMAIN.md §4).

Two sources: the `chinese-calendar` package, which knows the State Council holiday schedule up
to the year it was released, and operator-maintained year files `calendar/<year>.yml` in the
catalogue directory, which win for their year. A date in a year neither source knows is never a
silent guess: it is counted on weekends only and every result touching it is *provisional*
(暂定), carries a warning naming the year and the file to add, is stored as provisional, and is
recomputed by `jointcredit calendar reload` once the file exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
from chinese_calendar import constants as _cc_constants

from memoranda.schema import CalendarYear
from registry.errors import CalendarError

PACKAGE_YEARS: frozenset[int] = frozenset(d.year for d in _cc_constants.holidays)
"""Years the installed chinese-calendar package knows."""


@dataclass(frozen=True)
class Deadline:
    """A due date and whether it rests on an unknown calendar year."""

    due: date
    provisional: bool = False
    unknown_years: tuple[int, ...] = ()
    warning: str | None = None

    @property
    def label(self) -> str:
        """What a person reads: the date, marked 暂定 when provisional."""
        return f"{self.due.isoformat()}（暂定）" if self.provisional else self.due.isoformat()


@dataclass(frozen=True)
class WorkingDayCount:
    days: int
    provisional: bool = False
    unknown_years: tuple[int, ...] = ()
    warning: str | None = None


@dataclass
class WorkingCalendar:
    """Answers "is this a working day" and counts working days, flagging unknown years."""

    year_files: Mapping[int, CalendarYear] = field(default_factory=dict)
    calendar_dir: Path = Path("memoranda/calendar")
    _cache: dict[date, bool] = field(default_factory=dict, repr=False)

    def knows(self, year: int) -> bool:
        return year in self.year_files or year in PACKAGE_YEARS

    @property
    def known_years(self) -> list[int]:
        return sorted(PACKAGE_YEARS | set(self.year_files))

    def is_working_day(self, day: date) -> bool:
        """Working day by the official schedule; weekdays only in an unknown year."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        year_file = self.year_files.get(day.year)
        if year_file is not None:
            working = year_file.is_working_day(day)
        elif day.year in PACKAGE_YEARS:
            working = bool(chinese_calendar.is_workday(day))
        else:
            working = day.weekday() < 5
        self._cache[day] = working
        return working

    def add_working_days(self, start: date, working_days: int) -> Deadline:
        """The `working_days`-th working day after `start` (start itself not counted)."""
        if working_days < 0:
            raise CalendarError(
                f"工作日数不能为负数：{working_days}（working days must be >= 0）",
                working_days=working_days,
            )
        day = start
        remaining = working_days
        touched: set[int] = set()
        while remaining > 0:
            day += timedelta(days=1)
            touched.add(day.year)
            if self.is_working_day(day):
                remaining -= 1
        return self._deadline(day, touched)

    def working_days_between(self, start: date, end: date) -> WorkingDayCount:
        """Working days d with start < d <= end; negative when end is before start."""
        if end < start:
            reverse = self.working_days_between(end, start)
            return WorkingDayCount(
                -reverse.days, reverse.provisional, reverse.unknown_years, reverse.warning
            )
        count = 0
        touched: set[int] = set()
        day = start
        while day < end:
            day += timedelta(days=1)
            touched.add(day.year)
            if self.is_working_day(day):
                count += 1
        unknown = self._unknown(touched)
        return WorkingDayCount(count, bool(unknown), unknown, self.warning_for(unknown))

    def _deadline(self, due: date, touched: Iterable[int]) -> Deadline:
        unknown = self._unknown(touched)
        return Deadline(due, bool(unknown), unknown, self.warning_for(unknown))

    def _unknown(self, years: Iterable[int]) -> tuple[int, ...]:
        return tuple(sorted(y for y in set(years) if not self.knows(y)))

    def warning_for(self, unknown_years: Iterable[int]) -> str | None:
        years = sorted(set(unknown_years))
        if not years:
            return None
        names = "、".join(f"{y} 年" for y in years)
        files = "、".join(str(self.calendar_dir / f"{y}.yml") for y in years)
        return (
            f"暂定日期：{names}的法定节假日安排未知，暂按周末计算；"
            f"请在 {files} 中补充国务院办公厅公布的安排后运行 `jointcredit calendar reload`"
            f"（provisional: holidays of {', '.join(map(str, years))} unknown, counted on "
            f"weekends only; add {files} and run `jointcredit calendar reload`）"
        )
