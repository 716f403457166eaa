"""Flows run on the real Prefect engine: one `prefect_test_harness` (a temporary server on
SQLite, ~11 s to start) for the whole session; settings reach the flows' tasks through the
environment, exactly as in a deployment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from prefect.testing.utilities import prefect_test_harness

from registry import db
from registry.clock import FrozenClock


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FrozenClock
) -> Iterator[sa.Engine]:
    """A fresh SQLite database the flows' tasks find through the environment, at the test's
    clock (tests move both with `JOINTCREDIT_NOW`)."""
    url = f"sqlite:///{tmp_path / 'flows.db'}"
    db.upgrade(url)
    monkeypatch.setenv("JOINTCREDIT_DATABASE_URL", url)
    monkeypatch.setenv("JOINTCREDIT_NOW", clock.now().isoformat())
    engine = db.make_engine(url)
    yield engine
    engine.dispose()
