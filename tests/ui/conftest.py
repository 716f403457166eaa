"""Fixtures for browser tests: the whole system as `jointcredit up` runs it, and Chromium.

- `local_system` (module): a temporary, empty data directory, then
  `python -m deployments.ops_commands up` (the `jointcredit up` command, which creates the
  schema) on free ports in a subprocess — Prefect server and UI, mail sink, every deployment
  served — with the clock frozen at `NOW`. The test process's Prefect client points at that
  server while the module runs.
- `page` (function): a Chromium page from the apt package (never a downloaded browser), started
  with the flags DESIGN.md §7 lists; a failing test leaves a screenshot next to the logs.

The `ui` marker is registered here, so `pytest -m ui` selects these tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from notifications.sink import free_port
from registry import db
from registry.clock import BUSINESS_TZ, FrozenClock

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=BUSINESS_TZ)
START_SECONDS = 240.0
STOP_SECONDS = 150.0
FAILURES: pytest.StashKey[dict[str, pytest.TestReport]] = pytest.StashKey()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ui: drives the Prefect UI in Chromium (needs /usr/bin/chromium and playwright)"
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report: pytest.TestReport = yield
    item.stash.setdefault(FAILURES, {})[report.when] = report
    return report


@dataclass
class LocalSystem:
    """`jointcredit up` running in a subprocess, and where to find what it writes."""

    process: subprocess.Popen[bytes]
    ui_url: str
    api_url: str
    engine: sa.Engine
    workdir: Path
    output: Path

    @property
    def port(self) -> int:
        return int(self.ui_url.rsplit(":", 1)[1])

    @property
    def log_dir(self) -> Path:
        return self.workdir / "var" / "logs"

    def printed(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def logs(self, lines: int = 40) -> str:
        parts = [f"--- up ---\n{self.printed()}"]
        for log in sorted(self.log_dir.glob("*.log")):
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name} ---\n" + "\n".join(tail))
        return "\n".join(parts)

    def interrupt(self) -> int | None:
        """Ctrl-C, as an operator stops it; the exit code, or None if it did not stop."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            return None


@pytest.fixture(scope="module")
def local_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    workdir = tmp_path_factory.mktemp("local-system")
    url = f"sqlite:///{workdir / 'var' / 'jointcredit.db'}"
    # No `db upgrade` here: `up` on a new data directory creates the schema itself.
    (workdir / "var").mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOINTCREDIT_", "PREFECT_"))}
    env.update(
        {
            "DO_NOT_TRACK": "1",
            "COLUMNS": "200",
            "JOINTCREDIT_ENV": "test",
            "JOINTCREDIT_DATABASE_URL": url,
            "JOINTCREDIT_DATA_DIR": str(workdir / "var"),
            "JOINTCREDIT_NOW": NOW.isoformat(),
            "JOINTCREDIT_SMTP_PORT": str(free_port()),
            # The runner looks for work every 2 s instead of 10 s: a resumed run starts sooner.
            "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        }
    )
    output = workdir / "up.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "deployments.ops_commands", "up", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    engine = db.make_engine(url)
    system = LocalSystem(
        process=process,
        ui_url=f"http://127.0.0.1:{port}",
        api_url=f"http://127.0.0.1:{port}/api",
        engine=engine,
        workdir=workdir,
        output=output,
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while "已就绪" not in system.printed():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"jointcredit up 未能就绪（did not get ready）\n{system.logs()}")
            time.sleep(0.5)
        with temporary_settings(updates={PREFECT_API_URL: system.api_url}):
            yield system
    finally:
        if system.interrupt() is None:
            process.kill()
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest, local_system: LocalSystem) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    reports = request.node.stash.get(FAILURES, {})
    if "call" in reports and reports["call"].failed:
        shot = local_system.workdir / f"{request.node.name}.png"
        page.screenshot(path=str(shot), full_page=True)
        sys.stderr.write(f"\n截图（screenshot）：{shot}\n日志（logs）：{local_system.log_dir}\n")
    context.close()


@pytest.fixture
def frozen_clock() -> FrozenClock:
    return FrozenClock(NOW)
