"""`deliver-notices` on the Prefect engine: the outbox drained into a real sink, and a summary
artifact an operator can read in the UI."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows.deliver import deliver_notices
from notifications.sink import message_id_counts, running_sink
from registry import db
from registry.clock import FrozenClock
from tests.factories.outbox import department_address, notices, queue_notices
from tests.smtp_scripts import ScriptedSink


async def test_the_flow_delivers_the_outbox_and_leaves_a_summary(
    prefect_server: None,
    tmp_path: Path,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"sqlite:///{tmp_path / 'flow.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    queue_notices(engine, clock, 30)
    refused = department_address(4)
    mail = tmp_path / "mail"
    with running_sink(mail, handler=ScriptedSink(mail, refuse={refused})) as sink:
        monkeypatch.setenv("JOINTCREDIT_DATABASE_URL", url)
        monkeypatch.setenv("JOINTCREDIT_SMTP_HOST", sink.host)
        monkeypatch.setenv("JOINTCREDIT_SMTP_PORT", str(sink.port))
        monkeypatch.setenv("JOINTCREDIT_NOW", clock.now().isoformat())

        report = await deliver_notices()
        again = await deliver_notices()

    assert (report["sent"], report["failed"]) == (29, 1)
    assert again["claimed"] == 0
    assert len(message_id_counts(mail)) == 29
    assert sum(row.state == "failed" for row in notices(engine)) == 1
    engine.dispose()

    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["deliver-notices"]))
        )
    texts = [str(artifact.data) for artifact in artifacts]
    first = next(text for text in texts if refused in text)
    assert "| 已发出 | 29 |" in first
    assert "retry-failed" in first
