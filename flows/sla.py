"""`sweep-sla`: overdue department actions → reminders (催办) and escalations (督办), then the
per-department SLA table as the run's artifact.

Scheduled (daily is enough: levels move by working days); re-entrant — a second run the same
day, or after a crash, finds nothing newly due and sends nothing twice (`registry.sla_sweep`).
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact

from flows.run_names import sla_sweep_name
from notifications.artifacts import sla_markdown, sweep_markdown
from tasks.inbox import refresh_operator_inbox
from tasks.sla import sla_figures, sweep_overdue_actions

ACTOR = "flow:sweep-sla"


@flow(name="sweep-sla", flow_run_name=sla_sweep_name)
async def sweep_sla() -> dict[str, Any]:
    """时限巡查：对逾期未办的部门事项发催办函、提请督办，并统计各部门办理时限。"""
    swept = sweep_overdue_actions(ACTOR)
    figures = sla_figures()
    await acreate_markdown_artifact(
        key="sweep-sla",
        markdown=sweep_markdown(swept)
        + "\n"
        + sla_markdown(figures.departments, today=figures.today),
        description=f"时限巡查：催办 {len(swept.reminded)} 项，督办 {len(swept.escalated)} 项"
        "（SLA sweep）",
    )
    await refresh_operator_inbox()
    return {**swept.as_dict(), "departments": figures.as_dict()["departments"]}
