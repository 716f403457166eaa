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
TIMEZONE_LABELS = {"Asia/Shanghai": "北京时间"}
WEEKDAYS = "日一二三四五六日"  # cron: 0 and 7 are Sunday


@dataclass(frozen=True)
class CronSchedule:
    cron: str
    timezone: str = TIMEZONE

    def sentence(self) -> str:
        """The schedule in Chinese with its time zone, for the deployment's description: the
        V1 deployments list shows "+1" for a cron phrase too long for its column, and neither
        UI shows the time zone. Only the cron shapes used here are phrased; any other raises."""
        minute, hour, day, month, weekday = self.cron.split()
        if month != "*":
            raise ValueError(f"cron not phrased: {self.cron}")
        if hour == "*" and day == "*" and weekday == "*":
            if minute == "*":
                when = "每分钟一次"
            elif minute.startswith("*/") and minute[2:].isdigit():
                when = f"每 {int(minute[2:])} 分钟一次"
            else:
                raise ValueError(f"cron not phrased: {self.cron}")
        elif minute.isdigit():
            when = _days(day, weekday, self.cron) + _hours(hour, int(minute), self.cron)
        else:
            raise ValueError(f"cron not phrased: {self.cron}")
        zone = TIMEZONE_LABELS.get(self.timezone, self.timezone)
        return f"计划：{when}（{zone}，{self.timezone}）"


def _days(day: str, weekday: str, cron: str) -> str:
    if day == "*" and weekday == "*":
        return "每天"
    if day.isdigit() and weekday == "*":
        return f"每月 {int(day)} 日"
    first, _, last = weekday.partition("-")
    if day == "*" and first.isdigit() and last.isdigit():
        return f"每周{WEEKDAYS[int(first)]}至周{WEEKDAYS[int(last)]}"
    raise ValueError(f"cron not phrased: {cron}")


def _hours(hour: str, minute: int, cron: str) -> str:
    if hour.isdigit():
        return f" {int(hour)}:{minute:02d}"
    first, _, last = hour.partition("-")
    if first.isdigit() and last.isdigit():
        return f" {int(first)}:{minute:02d} 至 {int(last)}:{minute:02d} 每小时一次"
    raise ValueError(f"cron not phrased: {cron}")


@dataclass(frozen=True)
class DeploymentDefinition:
    """One deployment. The deployment is named like its flow, so a run is `name/name`."""

    name: str
    entrypoint: str
    summary: str
    """What it does, in Chinese; `description` adds the schedule sentence."""
    schedule: CronSchedule | None = None
    parameters: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    tags: tuple[str, ...] = ()
    concurrency_limit: int | None = None
    """At most this many runs at once; a run due while the limit is reached is cancelled
    (the next tick does the work), never queued behind a slow one."""

    @property
    def description(self) -> str:
        """What the UI shows under the deployment's name: what it does, then when it runs."""
        return f"{self.summary}{self.schedule.sentence()}" if self.schedule else self.summary

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
        summary="导入报送的名单文件（CSV/XLSX/JSON），校验并隔离问题行，生成待审核批次并发出告知书。",
        tags=("jointcredit", "intake"),
    ),
    DeploymentDefinition(
        name="route-batch",
        entrypoint="flows/route.py:route_batch",
        summary="推进一个批次：告知 → 申辩期满 → 操作员确认（界面表单）→ 公开 → 推送各部门。",
        tags=("jointcredit", "routing"),
    ),
    DeploymentDefinition(
        name="route-due-batches",
        entrypoint="flows/route_sweep.py:route_due_batches",
        summary="推进到期批次（申辩期满、待公开、待推送），并为待确认批次生成确认表单。",
        schedule=CronSchedule("*/15 * * * *"),
        parameters=MappingProxyType({"limit": 20}),
        tags=("jointcredit", "routing", "schedule"),
        concurrency_limit=1,
    ),
    DeploymentDefinition(
        name="deliver-notices",
        entrypoint="flows/deliver.py:deliver_notices",
        summary="投递发件箱中到期的通知：临时失败重试，永久失败搁置待处理。",
        schedule=CronSchedule("* * * * *"),
        tags=("jointcredit", "delivery", "schedule"),
        concurrency_limit=1,
    ),
    DeploymentDefinition(
        name="record-responses",
        entrypoint="flows/responses.py:record_responses",
        summary="录入部门答复（响应 / 反馈 / 解除确认）；不带参数运行时在界面填写表单。",
        tags=("jointcredit", "responses"),
    ),
    DeploymentDefinition(
        name="sweep-sla",
        entrypoint="flows/sla.py:sweep_sla",
        summary="巡查部门事项时限：逾期催办、提请督办，统计各部门办理时限。",
        schedule=CronSchedule("0 9-18 * * 1-5"),
        tags=("jointcredit", "sla", "schedule"),
    ),
    DeploymentDefinition(
        name="review-removals",
        entrypoint="flows/removal.py:review_removals",
        summary="审查期满与申请移出的名单；需要决定的在界面表单中由操作员处理。",
        schedule=CronSchedule("0 8 * * *"),
        tags=("jointcredit", "removal", "schedule"),
    ),
    DeploymentDefinition(
        name="monthly-report",
        entrypoint="flows/report.py:monthly_report",
        summary="生成上月报告：典型案例占比、部门办理时限、趋势，并邮件发送（月份留空为上月）。",
        schedule=CronSchedule("0 9 1 * *"),
        tags=("jointcredit", "report", "schedule"),
    ),
)


def definition(name: str) -> DeploymentDefinition:
    for item in DEFINITIONS:
        if item.name == name:
            return item
    raise KeyError(name)
