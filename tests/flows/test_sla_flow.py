"""`sweep-sla` on the Prefect engine: reminders sent once however often it runs, the summary
artifact with the department table, and `jointcredit sla sweep` running the same flow."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from sqlmodel import col
from typer.testing import CliRunner

from deployments.sla_commands import sla_app
from flows.sla import sweep_sla
from memoranda.loader import Catalogue
from registry import db
from registry.calendar import WorkingCalendar
from registry.db import session_scope
from registry.models import Notice
from tests.factories.routing import MEMORANDUM, acknowledge, at, dispatched_batch


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    url = f"sqlite:///{tmp_path / 'sla.db'}"
    db.upgrade(url)
    monkeypatch.setenv("JOINTCREDIT_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # no developer .env
    engine = db.make_engine(url)
    yield engine
    engine.dispose()


def _kinds(engine: sa.Engine) -> Counter[str]:
    with session_scope(engine) as session:
        rows = session.execute(
            sa.select(col(Notice.kind)).where(col(Notice.kind).in_(["reminder", "escalation"]))
        )
        return Counter(rows.scalars())


async def test_the_sweep_reminds_once_and_leaves_its_table(
    prefect_server: None,
    database: sa.Engine,
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    on_time, _late = dispatched_batch(database, catalogue, calendar, units=2).values()
    acknowledge(database, on_time, at(date(2026, 10, 9)))
    departments = len(catalogue.departments_of(MEMORANDUM))
    monkeypatch.setenv("JOINTCREDIT_NOW", at(date(2026, 10, 12)).isoformat())

    first = await sweep_sla()
    again = await sweep_sla()

    assert (first["reminded"], first["notices_queued"]) == (departments, departments)
    assert (again["reminded"], again["escalated"], again["notices_queued"]) == (0, 0, 0)
    assert _kinds(database) == {"reminder": departments}
    ndrc = next(line for line in again["departments"] if line["department"] == "ndrc")
    assert (ndrc["open"], ndrc["overdue"], ndrc["reminded"]) == (2, 1, 1)

    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["sweep-sla"]))
        )
    texts = [str(artifact.data) for artifact in artifacts]
    assert any(f"| 新催办事项 | {departments} |" in text for text in texts)
    assert any("| 新催办事项 | 0 |" in text for text in texts)
    latest = texts[-1] if len(texts) == 1 else "\n".join(texts)
    assert "各部门办理时限统计（2026-10-12）" in latest
    assert "国家发展改革委（ndrc）" in latest


def test_the_command_runs_the_flow_and_escalates_once(
    prefect_server: None,
    database: sa.Engine,
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dispatched_batch(database, catalogue, calendar, units=1)
    departments = len(catalogue.departments_of(MEMORANDUM))
    app = typer.Typer()
    app.add_typer(sla_app, name="sla")
    runner = CliRunner()
    outcomes = []
    for day in (date(2026, 10, 12), date(2026, 10, 19), date(2026, 10, 19)):
        monkeypatch.setenv("JOINTCREDIT_NOW", at(day).isoformat())
        result = runner.invoke(app, ["sla", "sweep", "--json"])
        assert result.exit_code == 0, result.output
        outcome = json.loads(result.stdout[result.stdout.index("{") :])
        outcomes.append((outcome["reminded"], outcome["escalated"]))
    assert outcomes == [(departments, 0), (0, departments), (0, 0)]
    assert _kinds(database) == {"reminder": departments, "escalation": departments}

    monkeypatch.setenv("JOINTCREDIT_NOW", at(date(2026, 10, 11)).isoformat())  # a Sunday
    sunday = runner.invoke(app, ["sla", "sweep"])
    assert sunday.exit_code == 0, sunday.output
    assert "不是工作日" in sunday.stdout
