"""Report months: the calendar month a monthly submission covers, and its trend window."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from registry.clock import BUSINESS_TZ
from registry.errors import JointcreditError

TREND_MONTHS = 12


_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


class ReportMonthError(JointcreditError):
    """A report month is not `YYYY-MM`."""


@dataclass(frozen=True, order=True)
class ReportMonth:
    """A calendar month in Asia/Shanghai: the unit of the report."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12 and 2000 <= self.year <= 2999):
            raise ReportMonthError(
                f"报告月份无效（invalid report month）：{self.year}-{self.month}",
                year=self.year,
                month=self.month,
            )

    @classmethod
    def parse(cls, text: str) -> ReportMonth:
        """`2026-10` (or `2026-1`) → the month; anything else is refused with a clear message."""
        found = _MONTH.match(text)
        if not found:
            raise ReportMonthError(
                f"报告月份应写作 YYYY-MM，例如 2026-10（expected YYYY-MM）：{text!r}", value=text
            )
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, day: date) -> ReportMonth:
        return cls(day.year, day.month)

    def shifted(self, months: int) -> ReportMonth:
        index = self.year * 12 + self.month - 1 + months
        return ReportMonth(index // 12, index % 12 + 1)

    @property
    def key(self) -> str:
        """`2026-10`: file folders, artifact keys, idempotency keys."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        """`2026年10月`: what a reader sees."""
        return f"{self.year}年{self.month}月"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def start(self) -> datetime:
        """The month's first instant (Shanghai midnight of day 1), as UTC."""
        return datetime(self.year, self.month, 1, tzinfo=BUSINESS_TZ).astimezone(UTC)

    def end(self) -> datetime:
        """The first instant of the next month, as UTC (exclusive bound)."""
        return self.shifted(1).start()

    def __str__(self) -> str:
        return self.key


def previous_month(today: date) -> ReportMonth:
    """The default report month: the one before `today`'s (a business date in Asia/Shanghai)."""
    return ReportMonth.of(today).shifted(-1)


def trend_months(month: ReportMonth, count: int = TREND_MONTHS) -> list[ReportMonth]:
    """`count` months ending at `month`, oldest first."""
    return [month.shifted(offset) for offset in range(1 - count, 1)]
