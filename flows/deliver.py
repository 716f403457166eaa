"""`deliver-notices`: outbox → SMTP; retry what failed for now, park what failed for good."""

from __future__ import annotations

from typing import Annotated, Any

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact

from flows.operator_ui import TECHNICAL, parameter
from flows.run_names import deliver_name
from notifications.artifacts import drain_report_markdown
from tasks.delivery import drain_outbox_task
from tasks.inbox import refresh_operator_inbox


@flow(name="deliver-notices", flow_run_name=deliver_name)
async def deliver_notices(
    limit: Annotated[
        int,
        parameter(
            "本次最多投递封数",
            f"{TECHNICAL}本次运行最多处理多少封到期通知，0 表示不限（其余留待下次运行）",
            ge=0,
        ),
    ] = 0,
) -> dict[str, Any]:
    """投递通知：发出发件箱中所有到期的通知。"""
    report = await drain_outbox_task(limit or None)
    if report.acted:  # every minute: an idle tick leaves no artifact
        await acreate_markdown_artifact(
            key="deliver-notices",
            markdown=drain_report_markdown(report),
            description="通知投递结果（delivery report）",
        )
    await refresh_operator_inbox()  # written only when its content changed
    return report.as_dict()
