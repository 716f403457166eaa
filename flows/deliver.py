"""`deliver-notices`: outbox → SMTP; retry what failed for now, park what failed for good."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact

from flows.run_names import deliver_name
from notifications.artifacts import drain_report_markdown
from tasks.delivery import drain_outbox_task
from tasks.inbox import refresh_operator_inbox


@flow(name="deliver-notices", flow_run_name=deliver_name)
async def deliver_notices(limit: int | None = None) -> dict[str, Any]:
    """投递通知：发出发件箱中所有到期的通知（limit 为本次最多处理的封数）。"""
    report = await drain_outbox_task(limit)
    if report.acted:  # every minute: an idle tick leaves no artifact
        await acreate_markdown_artifact(
            key="deliver-notices",
            markdown=drain_report_markdown(report),
            description="通知投递结果（delivery report）",
        )
    await refresh_operator_inbox()  # written only when its content changed
    return report.as_dict()
