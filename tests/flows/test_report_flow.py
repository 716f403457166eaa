"""`monthly-report` on the Prefect engine: files, the artifact and one mail; a second run for
the same month rewrites the files and mails no one twice; the CLI runs the same flow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from sqlmodel import col
from typer.testing import CliRunner

from deployments.report_commands import report_app
from flows.report import monthly_report
from memoranda.loader import Catalogue
from registry import db
from registry.clock import BUSINESS_TZ
from registry.db import session_scope
from registry.models import Notice
from tests.factories.reports import build_fixture_month


@pytest.fixture
def database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalogue: Catalogue
) -> Iterator[sa.Engine]:
    url = f"sqlite:///{tmp_path / 'report.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    build_fixture_month(engine, catalogue)
    monkeypatch.setenv("JOINTCREDIT_DATABASE_URL", url)
    monkeypatch.setenv("JOINTCREDIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JOINTCREDIT_AUTHORITY_NAME", "四川省应急管理厅")
    monkeypatch.delenv("JOINTCREDIT_REPORT_RECIPIENTS", raising=False)
    # the default month is the one before the clock's: November 2026 → October
    now = datetime(2026, 11, 27, 10, 0, tzinfo=BUSINESS_TZ)
    monkeypatch.setenv("JOINTCREDIT_NOW", now.isoformat())
    yield engine
    engine.dispose()


def _report_mails(engine: sa.Engine) -> list[Notice]:
    with session_scope(engine) as session:
        query = sa.select(Notice).where(col(Notice.kind) == "monthly_report")
        return list(session.execute(query).scalars())


async def test_the_flow_writes_the_files_shows_the_artifact_and_mails_once(
    prefect_server: None, database: sa.Engine, tmp_path: Path
) -> None:
    first = await monthly_report()
    again = await monthly_report("2026-10")

    assert first["month"] == again["month"] == "2026-10"
    folder = tmp_path / "data" / "reports" / "2026-10"
    assert sorted(p.name for p in folder.iterdir()) == [
        "departments.csv",
        "grounds.csv",
        "industries.csv",
        "party_cases.csv",
        "report.csv",
        "report.html",
        "trend.csv",
    ]
    assert first["files"]["report.html"] == str((folder / "report.html").resolve())
    raw = (folder / "report.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert "440000,广东省,1,2,3,1,33.3%,未达标" in raw.decode("utf-8-sig")
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html
    assert "http" not in html

    assert (first["mail"]["queued"], again["mail"]["queued"]) == (1, 0)
    assert again["mail"]["already_queued"] == 1
    mails = _report_mails(database)
    assert [m.recipient for m in mails] == ["supervision@example.org"]
    link = (folder / "report.html").resolve().as_uri()
    assert link in mails[0].body_text

    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["monthly-report-2026-10"]))
        )
    assert len(artifacts) == 2  # one version per run, the latest shown under the key
    shown = str(artifacts[0].data)
    assert "| 广东省 | 1 | 2 | 1 | 33.3% | **未达标** |" in shown
    assert "| 合计 | 3 | 7 | 4 | 40% | **未达标** |" in shown
    # the party's cases of October (`tests.factories.reports`): O1 on time, R1 late, O2 overdue
    assert "| 异议 | 2 | 1 | 0 | 0 | 1 |" in shown
    assert "| 移出申请 | 1 | 0 | 1 | 0 | 0 |" in shown
    # The report's content is in the artifact; where its files are is named last, not linked.
    assert "#### 各部门办理时效" in shown
    assert "#### 近期趋势" in shown
    assert "完整报告" not in shown
    assert shown.rstrip().splitlines()[-1].startswith("以上即本月报告的内容。")
    assert (folder / "party_cases.csv").read_text(encoding="utf-8-sig").splitlines()[1:] == [
        "异议,2,1,0,0,1",
        "移出申请,1,0,1,0,0",
    ]
    assert "逾期未答复1件" in mails[0].body_text


def test_the_cli_runs_the_flow_for_a_month(prefect_server: None, database: sa.Engine) -> None:
    app = typer.Typer()
    app.add_typer(report_app, name="report")
    app.command("noop")(lambda: None)  # keep `report` a sub-command, as under `jointcredit`
    runner = CliRunner()

    shown = runner.invoke(app, ["report", "monthly", "--month", "2026-09"])
    assert shown.exit_code == 0, shown.output
    assert "2026年9月典型案例月报" in shown.output
    assert "当事人异议与移出申请" in shown.output
    assert "月报邮件已入队 1 封" in shown.output

    as_json = runner.invoke(app, ["report", "monthly", "--month", "2026-09", "--json"])
    assert as_json.exit_code == 0, as_json.output
    result = json.loads(as_json.output)
    assert result["mail"] == {
        "recipients": ["supervision@example.org"],
        "notice_ids": [],
        "queued": 0,
        "already_queued": 1,
    }
    assert result["figures"]["total"]["typical"] == 1  # L13 of September; L14 is not typical
    # R2, filed in September, decided the day before it was due
    assert [
        (c["label"], c["received"], c["answered_on_time"]) for c in result["figures"]["party_cases"]
    ] == [("异议", 0, 0), ("移出申请", 1, 1)]

    refused = runner.invoke(app, ["report", "monthly", "--month", "2026-13", "--json"])
    assert refused.exit_code == 2
    assert json.loads(refused.output)["error"] == "ReportMonthError"
