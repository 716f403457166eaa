"""Resources a task or a CLI command opens at its start: settings, engine, catalogue, clock.

Built from the environment at the entrypoint, never at import time (DESIGN.md §6), and closed
when the unit of work ends. No Prefect here: the CLI uses the same runtime without a server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from memoranda.loader import Catalogue, load_catalogue
from notifications.compose import Issuer, notice_enqueuer
from registry import db
from registry.audit_anchor import anchor_from_settings, install
from registry.calendar import WorkingCalendar
from registry.clock import Clock, clock_from_settings
from registry.routing import Routing
from registry.settings import Settings, get_settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: sa.Engine
    catalogue: Catalogue
    calendar: WorkingCalendar
    clock: Clock

    def routing(self, *, actor: str, source: str) -> Routing:
        return Routing(
            catalogue=self.catalogue,
            calendar=self.calendar,
            clock=self.clock,
            actor=actor,
            source=source,
            enqueue=notice_enqueuer(
                catalogue=self.catalogue,
                issuer=Issuer.from_settings(self.settings),
                clock=self.clock,
            ),
            numbering=self.settings.numbering,
        )


_catalogues: dict[tuple[object, ...], Catalogue] = {}


def current_catalogue(directory: Path) -> Catalogue:
    """The catalogue, parsed again only when one of its files changed (parsing costs ~0.1 s,
    and every task opens a runtime); an operator's edit is seen by the next task."""
    files = sorted(directory.rglob("*.yml"))
    key = (directory, *((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files))
    if key not in _catalogues:
        _catalogues.clear()
        _catalogues[key] = load_catalogue(directory)
    return _catalogues[key]


def require_ready_database(settings: Settings | None = None) -> None:
    """Refuse an unreachable or outdated database with one clear error, before a command pays
    for Prefect and before a flow run would fail with Prefect's tracebacks around that error."""
    with opened_runtime(settings):
        pass


@contextmanager
def opened_runtime(settings: Settings | None = None) -> Iterator[Runtime]:
    """Settings → engine (schema checked), catalogue, calendar and clock; engine disposed after."""
    settings = settings or get_settings()
    catalogue = current_catalogue(settings.catalogue_dir)
    engine = db.make_engine(settings.database_url)
    install(engine, anchor_from_settings(settings))
    try:
        db.require_current_schema(engine)
        yield Runtime(
            settings=settings,
            engine=engine,
            catalogue=catalogue,
            calendar=WorkingCalendar(catalogue.calendar_years, settings.calendar_dir),
            clock=clock_from_settings(settings),
        )
    finally:
        engine.dispose()
