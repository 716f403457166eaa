"""Render `deployments/prefect.yaml` (for `prefect deploy --all`) from the deployment definitions.

The YAML is generated, never edited by hand: `python -m deployments.prefect_yaml >
deployments/prefect.yaml` regenerates it, and a test fails when the checked-in file differs from
a fresh rendering or disagrees with what `serve` registers. Every deployment targets the process
work pool `jointcredit-process`; each worker finds the code through `JOINTCREDIT_HOME`, which
the pull step reads from the worker's environment when a run starts.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import yaml

from deployments.definitions import DEFINITIONS, WORK_POOL, DeploymentDefinition

HEADER = """\
# GENERATED from deployments/definitions.py — do not edit by hand. Regenerate with:
#     python -m deployments.prefect_yaml > deployments/prefect.yaml
# (tests/unit/test_deployment_definitions.py fails while this file is stale.)
#
# Deploy from the project root, against the server in PREFECT_API_URL:
#     prefect work-pool create jointcredit-process --type process   # once
#     prefect deploy --all --prefect-file deployments/prefect.yaml
# Each worker: JOINTCREDIT_HOME=/path/to/checkout prefect worker start --pool jointcredit-process
# See docs/deployment.md.
"""

PULL_STEPS = [
    {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $JOINTCREDIT_HOME }}"}}
]


def deployment_entry(item: DeploymentDefinition) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": item.name,
        "entrypoint": item.entrypoint,
        "description": item.description,
        "tags": list(item.tags),
        "parameters": dict(item.parameters),
        "schedules": (
            [{"cron": item.schedule.cron, "timezone": item.schedule.timezone, "active": True}]
            if item.schedule
            else []
        ),
        "concurrency_limit": (
            {"limit": item.concurrency_limit, "collision_strategy": "CANCEL_NEW"}
            if item.concurrency_limit
            else None
        ),
        "work_pool": {"name": WORK_POOL, "work_queue_name": "default", "job_variables": {}},
    }
    return entry


def render_prefect_yaml(definitions: Sequence[DeploymentDefinition] = DEFINITIONS) -> str:
    document = {
        "name": "jointcredit",
        "build": None,
        "push": None,
        "pull": PULL_STEPS,
        "deployments": [deployment_entry(item) for item in definitions],
    }
    body = yaml.safe_dump(
        document, allow_unicode=True, sort_keys=False, width=1000, default_flow_style=False
    )
    return HEADER + body


def main() -> None:
    sys.stdout.buffer.write(render_prefect_yaml(DEFINITIONS).encode("utf-8"))


if __name__ == "__main__":
    main()
