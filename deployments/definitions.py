"""Every deployment, defined once: name, flow entrypoint, parameters, schedule, description, tags.

Two consumers read this list and must never disagree (a test holds them to it):
`deployments/serve.py` serves them all on one machine (`jointcredit serve`, `jointcredit up`),
and `deployments/prefect_yaml.py` renders `deployments/prefect.yaml` for `prefect deploy --all`
on a process work pool beyond one machine.

Schedules are cron in business time (Asia/Shanghai). Long waits are not schedules: a defence
window or a term is a `due` column that the sweeps below scan (DESIGN.md §1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

TIMEZONE = "Asia/Shanghai"
WORK_POOL = "jointcredit-process"


@dataclass(frozen=True)
class CronSchedule:
    cron: str
    timezone: str = TIMEZONE


@dataclass(frozen=True)
class DeploymentDefinition:
    """One deployment. The deployment is named like its flow, so a run is `name/name`."""

    name: str
    entrypoint: str
    description: str
    schedule: CronSchedule | None = None
    parameters: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    tags: tuple[str, ...] = ()
    concurrency_limit: int | None = None
    """At most this many runs at once; a run due while the limit is reached is cancelled
    (the next tick does the work), never queued behind a slow one."""

    @property
    def full_name(self) -> str:
        return f"{self.name}/{self.name}"

    @property
    def module(self) -> str:
        path, _, _ = self.entrypoint.partition(":")
        return path.removesuffix(".py").replace("/", ".")

    @property
    def function(self) -> str:
        return self.entrypoint.partition(":")[2]


DEFINITIONS: tuple[DeploymentDefinition, ...] = (
    DeploymentDefinition(
        name="intake-batch",
        entrypoint="flows/intake.py:intake_batch",
        description="导入报送的名单文件（CSV/XLSX/JSON），校验并隔离问题行，生成待审核批次并发出告知书。"
        "参数：文件路径 path、提出人 proposed_by。",
        tags=("jointcredit", "intake"),
    ),
    DeploymentDefinition(
        name="route-batch",
        entrypoint="flows/route.py:route_batch",
        description="推进一个批次：告知 → 申辩期满 → 操作员确认（界面表单）→ 公开 → 推送各部门。"
        "参数：批次编号 batch_id。",
        tags=("jointcredit", "routing"),
    ),
    DeploymentDefinition(
        name="route-due-batches",
        entrypoint="flows/route_sweep.py:route_due_batches",
        description="每 15 分钟推进到期批次（申辩期满、待公开、待推送），"
        "并为待确认批次生成确认表单。",
        schedule=CronSchedule("*/15 * * * *"),
        parameters=MappingProxyType({"limit": 20}),
        tags=("jointcredit", "routing", "schedule"),
        concurrency_limit=1,
    ),
    DeploymentDefinition(
        name="deliver-notices",
        entrypoint="flows/deliver.py:deliver_notices",
        description="每分钟投递发件箱中到期的通知：临时失败重试，永久失败搁置待处理。",
        schedule=CronSchedule("* * * * *"),
        tags=("jointcredit", "delivery", "schedule"),
        concurrency_limit=1,
    ),
    DeploymentDefinition(
        name="record-responses",
        entrypoint="flows/responses.py:record_responses",
        description="录入部门答复（响应 / 反馈 / 解除确认）；不带参数运行时在界面填写表单。",
        tags=("jointcredit", "responses"),
    ),
    DeploymentDefinition(
        name="sweep-sla",
        entrypoint="flows/sla.py:sweep_sla",
        description="工作日 9–18 时每小时巡查部门事项时限：逾期催办、提请督办，"
        "统计各部门办理时限。",
        schedule=CronSchedule("0 9-18 * * 1-5"),
        tags=("jointcredit", "sla", "schedule"),
    ),
    DeploymentDefinition(
        name="review-removals",
        entrypoint="flows/removal.py:review_removals",
        description="每天 8 时审查期满与申请移出的名单；需要决定的在界面表单中由操作员处理。",
        schedule=CronSchedule("0 8 * * *"),
        tags=("jointcredit", "removal", "schedule"),
    ),
    DeploymentDefinition(
        name="monthly-report",
        entrypoint="flows/report.py:monthly_report",
        description="每月 1 日 9 时生成上月报告：典型案例占比、部门办理时限、趋势，并邮件发送。"
        "参数：月份 month（YYYY-MM，留空为上月）。",
        schedule=CronSchedule("0 9 1 * *"),
        tags=("jointcredit", "report", "schedule"),
    ),
)


def definition(name: str) -> DeploymentDefinition:
    for item in DEFINITIONS:
        if item.name == name:
            return item
    raise KeyError(name)
