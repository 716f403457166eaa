"""`intake-batch`: a reported file becomes a batch of proposed listings, and routing starts.

Bad rows never stop the good ones: each is quarantined with its row, column and reason, shown
in the run's artifact and kept in `<data dir>/quarantine/`. The prior notices of the accepted
black listings are queued at once (the first step of `route-batch`).
"""

from __future__ import annotations

from typing import Annotated, Any

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact

from flows.operator_ui import parameter
from flows.run_names import intake_name
from notifications.artifacts import intake_report
from registry.routing import StepResult
from tasks.intake import import_file
from tasks.routing import notify_parties


@flow(name="intake-batch", flow_run_name=intake_name)
async def intake_batch(
    path: Annotated[
        str,
        parameter(
            "名单文件路径",
            "服务器上报送名单文件（CSV、XLSX 或 JSON）的完整路径",
            min_length=1,
        ),
    ],
    proposed_by: Annotated[
        str,
        parameter(
            "提出人",
            "提出列入的人员（审核人不得为提出人）",
            min_length=1,
            pattern=r"\S",
        ),
    ],
    reporter: Annotated[str, parameter("报送单位", "报送该文件的单位或地区；留空则不记录")] = "",
) -> dict[str, Any]:
    """导入名单文件：校验、隔离问题行、生成待审核批次，并向当事人发出告知书。"""
    imported = import_file(path, proposed_by, reporter or None)
    notified: StepResult | None = None
    if imported.accepted:
        notified = notify_parties(imported.batch_id, f"flow:intake-batch:{proposed_by}")
    await acreate_markdown_artifact(
        key=f"intake-{imported.batch_id}",
        markdown=intake_report(imported, notified),
        description=f"导入 {imported.batch_reference}",
    )
    return {**imported.as_dict(), "notify": notified.as_dict() if notified else None}
