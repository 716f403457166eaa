"""Prefect tasks of `sweep-sla`: the sweep (one transaction) and the per-department figures.

The sweep's Prefect event is one per level reached (`jointcredit.action.reminded`,
`jointcredit.action.escalated`) with the count per department — not one per action.
"""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.events import emit_event

from registry.faults import boundary_hook
from registry.sla_sweep import SweepResult
from service.runtime import opened_runtime
from service.sla import SlaFigures, sweep_once
from service.sla import sla_figures as read_sla_figures

SOURCE = "flow:sweep-sla"
FLOW = "sweep-sla"


def _emit(result: SweepResult) -> None:
    summary = result.as_dict()
    for event, counts in (
        ("jointcredit.action.reminded", summary["reminders_by_department"]),
        ("jointcredit.action.escalated", summary["escalations_by_department"]),
    ):
        if counts:
            emit_event(
                event=event,
                resource={"prefect.resource.id": "jointcredit.sla"},
                payload={"today": summary["today"], "by_department": counts},
            )


@task(name="sweep-overdue-actions")
def sweep_overdue_actions(actor: str) -> SweepResult:
    """催办、督办：逾期事项升级一级，并在同一事务中写入通知与审计记录。"""
    with opened_runtime() as runtime:
        hook = boundary_hook(runtime.settings.kill_at, FLOW)
        result = sweep_once(runtime, actor=actor, source=SOURCE, on_boundary=hook)
    _emit(result)
    logger = get_run_logger()
    if not result.working_day:
        logger.info("%s 不是工作日，不发催办函、督办函", result.today.isoformat())
    if result.unknown_departments:
        logger.warning(
            "以下部门已不在 departments.yml 中，其逾期事项无法催办：%s",
            "、".join(
                f"{code}（{n} 项）" for code, n in sorted(result.unknown_departments.items())
            ),
        )
    return result


@task(name="sla-figures")
def sla_figures() -> SlaFigures:
    """各部门办理时限统计：事项数、未办结、逾期、催办、督办、响应用时中位数。"""
    with opened_runtime() as runtime:
        return read_sla_figures(runtime)
