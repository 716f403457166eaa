"""`route-batch`'s artifact and `jointcredit batch show` read the same batch view: the same
“当前等待” sentence, the reviewer, the decision numbers, the rejected listings with their
reasons, and the parties whose letters still go by post."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows.route import route_batch
from memoranda.loader import Catalogue
from notifications.artifacts import markdown_cell
from registry.clock import FrozenClock
from registry.routing import Decision
from service.runtime import opened_runtime
from service.steps import record_decision
from tests.factories.listings import REVIEWER, proposed_batch, serve_prior_notices
from tests.integration.cli_runner import run

REASON = "证据不足*待补|查"


async def _artifact(key: str) -> tuple[str, str]:
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    latest = max(found, key=lambda a: a.created or 0)
    return str(latest.data), str(latest.description)


def test_the_batch_artifact_says_what_batch_show_says(
    prefect_server: None,
    database: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # No consent to e-mail service: every letter to a party goes by post.
    batch, ids = proposed_batch(database, catalogue, clock, units=2, persons=1, consent=False)
    asyncio.run(route_batch(batch))
    serve_prior_notices(database, ids, clock.today())
    clock.advance(timedelta(days=20))
    monkeypatch.setenv("JOINTCREDIT_NOW", clock.now().isoformat())
    assert asyncio.run(route_batch(batch, wait_for_operator=False))["waiting_on"] == "operator"
    with opened_runtime() as runtime:
        record_decision(
            runtime, batch, Decision(REVIEWER, rejections={ids[2]: REASON}), source="test"
        )
    asyncio.run(route_batch(batch))

    env = {
        "JOINTCREDIT_DATABASE_URL": str(database.url),
        "JOINTCREDIT_NOW": clock.now().isoformat(),
    }
    shown = run(tmp_path, "batch", "show", str(batch), "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    printed = run(tmp_path, "batch", "show", str(batch), env=env)
    assert printed.returncode == 0, printed.stderr
    markdown, description = asyncio.run(_artifact(f"batch-{batch}"))

    waiting = view["waiting_on"]
    assert "等待部门响应" in waiting  # dispatched; the old artifact said 已无待办
    assert f"当前等待（waiting on）：{waiting}" in printed.stdout
    assert f"**当前等待：**{markdown_cell(waiting)}" in markdown
    assert description.endswith(f"：{markdown_cell(waiting)}")
    assert f"审核人：{REVIEWER}" in markdown
    assert REVIEWER in printed.stdout
    assert len(view["decision_numbers"]) == 2
    for number in view["decision_numbers"]:
        assert markdown_cell(number) in markdown
        assert number in printed.stdout
    assert view["rejected"] == [
        {
            "id": ids[2],
            "reference": view["rejected"][0]["reference"],
            "subject_name": view["rejected"][0]["subject_name"],
            "identifier": view["rejected"][0]["identifier"],
            "reason": REASON,
        }
    ]
    assert f"理由：{markdown_cell(REASON)}" in markdown
    assert REASON in printed.stdout
    # The decision letters of the two listed parties wait to be posted and served.
    unserved = {a["listing_id"] for a in view["awaiting_service"]}
    assert {ids[0], ids[1]} <= unserved
    assert f"### 待送达的当事人文书（{view['awaiting_service_total']} 份）" in markdown
    for party in view["awaiting_service"]:
        assert markdown_cell(party["subject_name"]) in markdown
        assert f"通知编号 {party['notice_id']}" in markdown
