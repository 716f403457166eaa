"""The deployments, defined once, agree wherever they are used.

`serve` (one machine) builds `flow.to_deployment(...)` objects from `deployments/definitions.py`;
`prefect deploy --all` (work pools) reads the checked-in `deployments/prefect.yaml`. Both must
name the same flows at the same entrypoints with the same parameters, schedules (cron and time
zone), descriptions, tags and concurrency — and the YAML must be exactly what the renderer makes
of the definitions today. Builds deployment objects only: no server, no database.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.cli.deploy._models import PrefectYamlModel
from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
from prefect.deployments.runner import RunnerDeployment

from deployments.definitions import DEFINITIONS, TIMEZONE, WORK_POOL, CronSchedule, definition
from deployments.prefect_yaml import render_prefect_yaml
from deployments.serve import PROJECT_ROOT, load_flow, runner_deployments

PREFECT_YAML = PROJECT_ROOT / "deployments" / "prefect.yaml"
REGENERATE = "python -m deployments.prefect_yaml > deployments/prefect.yaml"


@pytest.fixture(scope="module")
def served() -> dict[str, RunnerDeployment]:
    return {d.name: d for d in runner_deployments()}


@pytest.fixture(scope="module")
def declared() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    PrefectYamlModel.model_validate(document)  # the shape `prefect deploy` accepts
    return {d["name"]: d for d in document["deployments"]}


def test_the_checked_in_prefect_yaml_is_rendered_from_the_definitions() -> None:
    assert PREFECT_YAML.read_text(encoding="utf-8") == render_prefect_yaml(DEFINITIONS), (
        f"deployments/prefect.yaml 已过期，请重新生成（stale; regenerate）：{REGENERATE}"
    )


def test_every_definition_names_a_flow_of_the_same_name_in_that_file() -> None:
    names = [item.name for item in DEFINITIONS]
    assert len(names) == len(set(names))
    for item in DEFINITIONS:
        flow = load_flow(item)
        assert flow.name == item.name
        assert (PROJECT_ROOT / item.entrypoint.partition(":")[0]).is_file()


def test_serve_and_prefect_yaml_define_the_same_deployments(
    served: dict[str, RunnerDeployment], declared: dict[str, dict[str, Any]]
) -> None:
    assert list(served) == list(declared) == [item.name for item in DEFINITIONS]
    for name, deployment in served.items():
        entry = declared[name]
        path, _, function = entry["entrypoint"].partition(":")
        assert deployment.entrypoint == f"{PROJECT_ROOT / path}:{function}", name
        assert deployment.flow_name == name
        assert deployment.parameters == entry["parameters"], name
        assert deployment.description == entry["description"], name
        assert sorted(deployment.tags) == sorted(entry["tags"]), name
        assert entry["work_pool"]["name"] == WORK_POOL
        assert _schedules(deployment) == [
            _schedule(_schedule_config_to_deployment_schedule(config))
            for config in entry["schedules"]
        ], name
        assert _concurrency(deployment) == entry["concurrency_limit"], name


def test_schedules_run_in_business_time(served: dict[str, RunnerDeployment]) -> None:
    expected = {
        "deliver-notices": "* * * * *",
        "route-due-batches": "*/15 * * * *",
        "sweep-sla": "0 9-18 * * 1-5",
        "review-removals": "0 8 * * *",
        "monthly-report": "0 9 1 * *",
    }
    scheduled = {
        name: _schedules(deployment) for name, deployment in served.items() if deployment.schedules
    }
    assert scheduled == {name: [(cron, TIMEZONE, True)] for name, cron in expected.items()}
    for manual in ("intake-batch", "route-batch", "record-responses"):
        assert served[manual].schedules in (None, []), manual


def test_the_sweeps_that_tick_often_never_overlap(served: dict[str, RunnerDeployment]) -> None:
    for name in ("deliver-notices", "route-due-batches"):
        assert _concurrency(served[name]) == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    assert definition("route-due-batches").parameters["limit"] >= 1


def test_workers_find_the_code_through_jointcredit_home() -> None:
    document = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    (step,) = document["pull"]
    assert step == {
        "prefect.deployments.steps.set_working_directory": {"directory": "{{ $JOINTCREDIT_HOME }}"}
    }
    assert PREFECT_YAML.read_text(encoding="utf-8").startswith("# GENERATED")


def _schedule(created: dict[str, Any] | Any) -> tuple[str, str | None, bool]:
    schedule = created["schedule"] if isinstance(created, dict) else created.schedule
    active = created.get("active", True) if isinstance(created, dict) else created.active
    return (schedule.cron, schedule.timezone, True if active is None else bool(active))


def _schedules(deployment: RunnerDeployment) -> list[tuple[str, str | None, bool]]:
    return [_schedule(s) for s in deployment.schedules or []]


def _concurrency(deployment: RunnerDeployment) -> dict[str, Any] | None:
    if deployment.concurrency_limit is None:
        return None
    options = deployment.concurrency_options
    return {
        "limit": deployment.concurrency_limit,
        "collision_strategy": options.collision_strategy.value if options else "ENQUEUE",
    }


def test_the_project_root_holds_the_prefect_project() -> None:
    assert (PROJECT_ROOT / "pyproject.toml").is_file()
    assert Path(__file__).resolve().is_relative_to(PROJECT_ROOT)


@pytest.mark.parametrize(
    ("cron", "sentence"),
    [
        ("* * * * *", "计划：每分钟一次（北京时间，Asia/Shanghai）"),
        ("*/15 * * * *", "计划：每 15 分钟一次（北京时间，Asia/Shanghai）"),
        (
            "0 9-18 * * 1-5",
            "计划：每周一至周五 9:00 至 18:00 每小时一次（北京时间，Asia/Shanghai）",
        ),
        ("0 8 * * *", "计划：每天 8:00（北京时间，Asia/Shanghai）"),
        ("0 9 1 * *", "计划：每月 1 日 9:00（北京时间，Asia/Shanghai）"),
    ],
)
def test_each_schedule_is_said_in_chinese_with_its_time_zone(cron: str, sentence: str) -> None:
    assert CronSchedule(cron).sentence() == sentence


def test_every_scheduled_description_ends_with_its_schedule_and_names_no_parameter() -> None:
    for item in DEFINITIONS:
        if item.schedule is not None:
            assert item.description.endswith(item.schedule.sentence()), item.name
            assert item.description.count("计划：") == 1, item.name
        assert re.search(r"[a-z]+_[a-z]+", item.description) is None, item.name


def test_a_cron_that_cannot_be_phrased_is_refused() -> None:
    with pytest.raises(ValueError, match="not phrased"):
        CronSchedule("0 9 * 1 *").sentence()
