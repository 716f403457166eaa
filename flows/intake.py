"""`intake-batch`: a reported file becomes a batch of proposed listings, and routing starts.

Bad rows never stop the good ones: each is quarantined with its row, column and reason, shown
in the run's artifact and kept in `<data dir>/quarantine/`. The prior notices of the accepted
black listings are queued at once (the first step of `route-batch`).
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact

from flows.run_names import intake_name
from notifications.artifacts import intake_report
from registry.routing import StepResult
from tasks.intake import import_file
from tasks.routing import notify_parties


@flow(name="intake-batch", flow_run_name=intake_name)
async def intake_batch(path: str, proposed_by: str, reporter: str | None = None) -> dict[str, Any]:
    """导入名单文件：校验、隔离问题行、生成待审核批次，并向当事人发出告知书。"""
    imported = import_file(path, proposed_by, reporter)
    notified: StepResult | None = None
    if imported.accepted:
        notified = notify_parties(imported.batch_id, f"flow:intake-batch:{proposed_by}")
    await acreate_markdown_artifact(
        key=f"intake-{imported.batch_id}",
        markdown=intake_report(imported, notified),
        description=f"导入 {imported.batch_reference}",
    )
    return {**imported.as_dict(), "notify": notified.as_dict() if notified else None}
