"""Serve every deployment of `deployments/definitions.py` from one process (one machine).

`runner_deployments()` turns each definition into `flow.to_deployment(...)` — the flow loaded
from its entrypoint — and `serve_all()` hands them to Prefect's `serve`, which registers them
with the API named in `PREFECT_API_URL`, keeps their schedules and runs each flow run in a
subprocess until interrupted (Ctrl-C, SIGTERM). Beyond one machine the same definitions become
`deployments/prefect.yaml` for workers on a process work pool.

A served deployment stores its entrypoint as an absolute path (`<project>/flows/x.py:fn`): the
runner starts each flow run as `python -m prefect.engine` in its own working directory, which
loads the flow from that path. So `serve` runs from any directory, and relative settings
(`var/…`, `.env`) mean for flow runs what they mean for the CLI started there.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployments.definitions import DEFINITIONS, DeploymentDefinition
from registry.errors import ConfigurationError

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class EntrypointError(ConfigurationError):
    """A definition's entrypoint does not name a flow at that path."""


def load_flow(item: DeploymentDefinition) -> Flow[..., Any]:
    """The flow object at `item.entrypoint`, checked to live in that file under that name."""
    from prefect import Flow

    path, _, name = item.entrypoint.partition(":")
    module = importlib.import_module(item.module)
    candidate = getattr(module, name, None)
    if not isinstance(candidate, Flow):
        raise EntrypointError(
            f"部署 {item.name} 的入口不是流程（entrypoint is not a flow）：{item.entrypoint}",
            deployment=item.name,
            entrypoint=item.entrypoint,
        )
    defined_in = Path(inspect.getfile(candidate.fn)).resolve()
    if defined_in != (PROJECT_ROOT / path).resolve():
        raise EntrypointError(
            f"部署 {item.name} 的流程定义在 {defined_in}，而非入口 {path}"
            "（the flow is defined in another file）",
            deployment=item.name,
            entrypoint=item.entrypoint,
        )
    if candidate.name != item.name:
        raise EntrypointError(
            f"部署 {item.name} 的流程名为 {candidate.name}，两者应相同"
            "（deployment and flow must share a name）",
            deployment=item.name,
            flow=candidate.name,
        )
    return candidate


def to_runner_deployment(item: DeploymentDefinition) -> RunnerDeployment:
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Cron

    flow = load_flow(item)
    deployment = flow.to_deployment(
        name=item.name,
        description=item.description,
        parameters=dict(item.parameters),
        schedules=(
            [Cron(item.schedule.cron, timezone=item.schedule.timezone)] if item.schedule else []
        ),
        # Restarting `serve` re-activates the schedules it paused on its last shutdown.
        paused=False,
        tags=list(item.tags),
        concurrency_limit=(
            ConcurrencyLimitConfig(
                limit=item.concurrency_limit,
                collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW,
            )
            if item.concurrency_limit
            else None
        ),
    )
    if not isinstance(deployment, RunnerDeployment):  # a coroutine: called inside an event loop
        deployment.close()
        raise TypeError("runner_deployments() builds deployments from synchronous code only")
    path, _, function = item.entrypoint.partition(":")
    deployment.entrypoint = f"{PROJECT_ROOT / path}:{function}"
    return deployment


def runner_deployments(
    definitions: Sequence[DeploymentDefinition] = DEFINITIONS,
) -> list[RunnerDeployment]:
    return [to_runner_deployment(item) for item in definitions]


def serve_all(limit: int | None = None) -> None:
    """Serve every deployment until interrupted; `limit` caps concurrent flow runs."""
    from prefect import serve

    serve(*runner_deployments(), limit=limit, print_starting_message=False)


if __name__ == "__main__":  # `python -m deployments.serve`, as `jointcredit up` starts it
    serve_all()
