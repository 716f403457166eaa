"""Kill points: rehearsed crashes at the step boundaries of the four unattended flows.

DESIGN.md §1 promises that a flow killed halfway and run again ends where an uninterrupted run
ends. A Python exception cannot prove that — `finally` blocks run, sessions roll back, SMTP
connections say QUIT — so a kill point ends the process the way the OOM killer or a lost node
does: SIGKILL, nothing runs after it. `JOINTCREDIT_KILL_AT` (refused in production) names one
point as `<flow>:<boundary>`; the crash/restart tests set it for a child process, watch it die,
then run the flow again and check nothing was lost, stuck or done twice (docs/reliability.md).

The core never reads settings: a core function with an internal boundary takes an optional
`on_boundary` callable, and the task layer passes `boundary_hook(settings.kill_at, flow)` —
None when no kill is asked for, so production pays one `is not None` check per boundary.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from registry.errors import ConfigurationError
from registry.vocabulary import Step

BoundaryHook = Callable[[str], None]
"""Called with a boundary name (`after-send`) as the code crosses it."""

ROUTE_STEPS = tuple(step.replace("_", "-") for step in Step)
"""The boundary names of `route-batch`'s steps (`close-defence`)."""

KILL_POINTS: tuple[str, ...] = (
    *(
        f"route-batch:{boundary}"
        for step in ROUTE_STEPS
        for boundary in (f"before-{step}-commit", f"after-{step}")
    ),
    "sweep-sla:before-commit",
    "sweep-sla:after-commit",
    "review-removals:before-review-commit",
    "review-removals:after-review",
    "review-removals:before-decide-commit",
    "review-removals:after-decide",
    "deliver-notices:after-claim",
    "deliver-notices:after-send",
    "deliver-notices:after-record",
)
"""Every point the flows call, in the order a run crosses them (docs/reliability.md says what
each one proves)."""


def kill_point(kill_at: str | None, name: str) -> None:
    """Die now, without cleanup, if `name` is the point asked for."""
    if kill_at == name:
        os.kill(os.getpid(), signal.SIGKILL)


def boundary_hook(kill_at: str | None, flow: str) -> BoundaryHook | None:
    """The `on_boundary` hook of one flow's run: None unless a kill point is set.

    An unknown name is refused rather than ignored: a misspelt point would never fire and a
    rehearsal would "pass" without crashing anything.
    """
    if kill_at is None:
        return None
    if kill_at not in KILL_POINTS:
        raise ConfigurationError(
            f"未知的中断点 JOINTCREDIT_KILL_AT={kill_at!r}（unknown kill point）",
            kill_at=kill_at,
            known=list(KILL_POINTS),
        )

    def on_boundary(boundary: str) -> None:
        kill_point(kill_at, f"{flow}:{boundary}")

    return on_boundary
