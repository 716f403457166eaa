"""Flows run on the real Prefect engine: one `prefect_test_harness` (a temporary server on
SQLite, ~11 s to start) for the whole session; settings reach the flows' tasks through the
environment, exactly as in a deployment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield
