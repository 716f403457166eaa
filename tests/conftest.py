"""Fixture strategy.

- `unit/` tests use no database and no Prefect: the catalogue is loaded once per session from
  the bundled `memoranda/`, the calendar is built from it, and time is a `FrozenClock`.
- `integration/` tests talk to real databases through the `engine` fixture, which is
  parametrised over SQLite (a file in a temporary folder, WAL mode as in production) and
  PostgreSQL (`JOINTCREDIT_TEST_DATABASE_URL`; `.ci/run` sets it, and without it those tests
  skip with that reason). Each engine is migrated once per session with Alembic — the schema
  under test is the one operators get — and tests create their own rows rather than truncating,
  so they stay independent without resetting the database between them.
- CLI tests run the real `jointcredit` console script in a subprocess, in a temporary working
  directory so that no developer `.env` leaks in.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from memoranda.loader import Catalogue, load_catalogue
from registry import db
from registry.calendar import WorkingCalendar
from registry.clock import BUSINESS_TZ, FrozenClock
from registry.routing import Routing
from tests.factories.routing import make_routing

REPO = Path(__file__).resolve().parent.parent
CATALOGUE_DIR = REPO / "memoranda"
PG_ENV = "JOINTCREDIT_TEST_DATABASE_URL"


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue(CATALOGUE_DIR)


@pytest.fixture(scope="session")
def calendar(catalogue: Catalogue) -> WorkingCalendar:
    return WorkingCalendar(catalogue.calendar_years, CATALOGUE_DIR / "calendar")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 27, 10, 0, tzinfo=BUSINESS_TZ))


@pytest.fixture
def routing(catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock) -> Routing:
    """What every routing, removal and response step needs, with the real outbox behind it."""
    return make_routing(catalogue, calendar, clock)


def _reset_postgres(url: str) -> None:
    engine = db.make_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} 未设置，跳过 PostgreSQL 测试（set {PG_ENV} to run them）")
    _reset_postgres(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[sa.Engine]:
    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[sa.Engine, dict[str, str]]]:
    """A fresh SQLite database of this test alone, and the environment that points the
    `jointcredit` console script at it (for tests that run the CLI in a subprocess)."""
    url = f"sqlite:///{tmp_path / 'local.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    yield engine, {"JOINTCREDIT_DATABASE_URL": url}
    engine.dispose()


def year_file_text(year: int = 2027, *, new_year_end: int = 3, workdays: str = "") -> str:
    """A `calendar/<year>.yml` with New Year 1..`new_year_end` January off (test data only)."""
    text = (
        f"year: {year}\nsource: 测试用安排（test data, not the State Council's）\n"
        f"status: unverified\nholidays:\n"
        f"  - {{name: 元旦, start: {year}-01-01, end: {year}-01-{new_year_end:02d}}}\n"
    )
    return text + (f"workdays:\n  - {workdays}\n" if workdays else "")
