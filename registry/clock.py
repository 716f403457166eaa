"""Injected time (DESIGN.md §1.6): the core never reads the wall clock itself.

`SystemClock` is the real one; `FrozenClock` is for tests, rehearsals and demos and can be
advanced to skip months in a second. `clock_from_settings` honours `JOINTCREDIT_NOW`, which the
settings already refuse in production.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from registry.settings import Settings

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
"""Business dates (deadlines, decision dates) are dates in Beijing time."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...

    def today(self) -> date:
        """The current business date in Asia/Shanghai."""
        ...


def business_date(instant: datetime) -> date:
    """The Asia/Shanghai calendar date of an aware instant."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(BUSINESS_TZ).date()


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return business_date(self.now())


class FrozenClock:
    """A clock that stands still until told to move."""

    def __init__(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=BUSINESS_TZ)
        self._instant = instant.astimezone(UTC)

    def now(self) -> datetime:
        return self._instant

    def today(self) -> date:
        return business_date(self._instant)

    def advance(self, delta: timedelta) -> None:
        self._instant += delta

    def set(self, instant: datetime) -> None:
        self._instant = FrozenClock(instant).now()


def clock_from_settings(settings: Settings) -> Clock:
    """The frozen clock when `JOINTCREDIT_NOW` is set, else the system clock."""
    if settings.now is not None:
        return FrozenClock(settings.now)
    return SystemClock()
