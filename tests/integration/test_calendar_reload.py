"""Provisional deadlines are stored as such and settled once the year's file exists."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

from memoranda.loader import Catalogue, load_catalogue
from registry.calendar import WorkingCalendar
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.models import Listing
from registry.repository import recompute_provisional_deadlines
from tests.conftest import CATALOGUE_DIR, year_file_text
from tests.factories.listings import column, notify_new_listings


def test_reload_settles_what_the_new_year_file_covers(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, tmp_path: Path
) -> None:
    clock = FrozenClock(datetime.fromisoformat("2026-12-28T10:00+08:00"))
    with Session(engine) as session:
        ids = notify_new_listings(session, catalogue, calendar, clock, count=2)
        assert column(session, Listing.__table__, "defence_due", ids) == [date(2027, 1, 4)] * 2
        assert column(session, Listing.__table__, "defence_provisional", ids) == [True, True]

    # Nothing known yet: reload leaves them provisional.
    with session_scope(engine) as session:
        report = recompute_provisional_deadlines(
            session, calendar=calendar, limits=catalogue.time_limits, actor="test", now=clock.now()
        )
    defence = next(r for r in report if r.label == "陈述申辩期限")
    assert defence.still_provisional >= 2

    directory = tmp_path / "memoranda"
    shutil.copytree(CATALOGUE_DIR, directory, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (directory / "calendar" / "2027.yml").write_text(year_file_text(2027), encoding="utf-8")
    updated = load_catalogue(directory)
    new_calendar = WorkingCalendar(updated.calendar_years, directory / "calendar")
    with session_scope(engine) as session:
        report = recompute_provisional_deadlines(
            session,
            calendar=new_calendar,
            limits=updated.time_limits,
            actor="test",
            now=clock.now(),
        )
    defence = next(r for r in report if r.label == "陈述申辩期限")
    assert defence.settled >= 2
    with Session(engine) as session:
        assert column(session, Listing.__table__, "defence_due", ids) == [date(2027, 1, 5)] * 2
        assert column(session, Listing.__table__, "defence_provisional", ids) == [False, False]
