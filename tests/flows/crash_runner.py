"""Running a flow in a child process a kill point may SIGKILL, or here, answering its form.

The child must be a real process, so that a kill is a real kill: no `finally`, no rollback, no
SMTP QUIT, a SQLite transaction left half-written in the WAL. Starting a fresh interpreter per
run would cost 2–5 s of `import prefect` on a shared two-core machine, twenty times over, so a
fork server (`python -m tests.flows.crash_runner --serve`) imports the flows once — before any
thread, event loop or connection exists, which is what makes `fork` safe — and forks one child
per run. The child takes the run's environment and folder, runs the flow with `asyncio.run` as
a deployment's process would, and dies however the kill point says; the server reports its exit
status. `python -m tests.flows.crash_runner <flow> <json parameters>` runs one flow directly.

Both `ForkServer.run` and `run_here` (in this process, for the runs that must not crash) answer
the operator's form if the flow pauses for one, the way the Prefect UI does: `resume_flow_run`
with a `run_input` the server validates.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import subprocess
import sys
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar
from uuid import UUID

import prefect.settings
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import aresume_flow_run

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_SECONDS = 120

ENTRYPOINTS = {
    "route-batch": "flows.route:route_batch",
    "sweep-sla": "flows.sla:sweep_sla",
    "review-removals": "flows.removal:review_removals",
    "deliver-notices": "flows.deliver:deliver_notices",
}

T = TypeVar("T")

Answer = Callable[[], dict[str, Any]]
"""The operator's form input, computed when the run pauses (from what the database shows)."""


@dataclass(frozen=True)
class ChildRun:
    returncode: int
    output: str

    def tail(self, lines: int = 40) -> str:
        """The end of the child's output, for an assertion message."""
        return "\n".join(self.output.splitlines()[-lines:])


def flow_function(name: str) -> Callable[..., Coroutine[Any, Any, dict[str, Any]]]:
    module, _, attribute = ENTRYPOINTS[name].partition(":")
    function: Callable[..., Coroutine[Any, Any, dict[str, Any]]] = getattr(
        importlib.import_module(module), attribute
    )
    return function


class ForkServer:
    """The parent's end of the fork server: one request line in, the child's pid and then its
    exit status out."""

    def __init__(self, cwd: Path) -> None:
        env = {
            **os.environ,
            "DO_NOT_TRACK": "1",
            "PYTHONPATH": str(REPO),
            # The test harness sets the API URL as a Prefect setting of this process, not in
            # the environment: without it the children would start an ephemeral server each.
            "PREFECT_API_URL": str(prefect.settings.PREFECT_API_URL.value()),
        }
        self.env = env
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.flows.crash_runner", "--serve"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)

    async def run(
        self,
        flow: str,
        parameters: dict[str, Any],
        *,
        cwd: Path,
        kill_at: str | None,
        answer: Answer | None = None,
    ) -> ChildRun:
        """Run `flow` in a forked child with this process's JOINTCREDIT_* settings."""
        env = {k: v for k, v in self.env.items() if not k.startswith("JOINTCREDIT_")}
        env.update((k, v) for k, v in os.environ.items() if k.startswith("JOINTCREDIT_"))
        env.pop("JOINTCREDIT_KILL_AT", None)
        if kill_at is not None:
            env["JOINTCREDIT_KILL_AT"] = kill_at
        output = cwd / f"child-{flow}.log"
        request = {
            "flow": flow,
            "parameters": parameters,
            "cwd": str(cwd),
            "env": env,
            "output": str(output),
        }
        pid = int(await asyncio.to_thread(self._ask, json.dumps(request)))
        exited = asyncio.ensure_future(asyncio.to_thread(self._line))
        try:
            returncode = await _answering(flow, asyncio.shield(exited), answer)
        except BaseException:
            os.kill(pid, signal.SIGKILL)  # a hung child: do not leave it to the next test
            await exited
            raise
        return ChildRun(int(returncode), output.read_text(encoding="utf-8", errors="replace"))

    def _ask(self, line: str) -> str:
        stdin: IO[str] | None = self.process.stdin
        assert stdin is not None
        stdin.write(line + "\n")
        stdin.flush()
        return self._line()

    def _line(self) -> str:
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"fork server exited with {self.process.wait()}")
        return line.strip()


async def run_here(
    flow: str, parameters: dict[str, Any], *, answer: Answer | None = None
) -> dict[str, Any]:
    """Run `flow` in this process (settings from its environment), answering its form."""
    return await _answering(flow, flow_function(flow)(**parameters), answer)


async def _answering(flow: str, work: Awaitable[T], answer: Answer | None) -> T:
    """Await `work`; meanwhile resume any run of `flow` that pauses for the operator."""
    if answer is None:
        return await asyncio.wait_for(work, RUN_TIMEOUT_SECONDS)
    seen = set(await _paused_runs(flow))  # left over from other tests: not ours to answer
    running = asyncio.ensure_future(work)
    try:
        async with asyncio.timeout(RUN_TIMEOUT_SECONDS):
            while not running.done():
                for run_id in await _paused_runs(flow):
                    if run_id not in seen:
                        seen.add(run_id)
                        await aresume_flow_run(run_id, run_input=answer())
                await asyncio.wait({running}, timeout=0.2)
    finally:
        if not running.done():
            running.cancel()
    return running.result()


async def _paused_runs(flow: str) -> list[UUID]:
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            ),
        )
    return [run.id for run in runs]


def run_flow(flow: str, parameters: dict[str, Any]) -> int:
    result = asyncio.run(flow_function(flow)(**parameters))
    print(json.dumps(result, ensure_ascii=False, default=str))
    return 0


def serve() -> int:
    """Import every flow once, then fork a child per request line until stdin closes."""
    for name in ENTRYPOINTS:
        flow_function(name)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)
    return 0


def _child(request: dict[str, Any]) -> None:
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        log = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        code = run_flow(request["flow"], request["parameters"])
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        sys.exit(serve())
    sys.exit(run_flow(sys.argv[1], json.loads(sys.argv[2])))
