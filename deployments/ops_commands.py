"""`jointcredit serve` and `jointcredit up`: run the system on one machine.

`serve` serves every deployment of `deployments/definitions.py` against the Prefect API in
`PREFECT_API_URL` (Prefect `serve`: schedules, UI-started runs, forms resumed in the UI).

`up` is the whole system for one machine or a demonstration, as three child processes:
a Prefect server (SQLite under `<data dir>/prefect`, UI and API on 127.0.0.1:PORT), the local
mail sink (unless `--no-sink`, or mail goes to a real relay) and `serve`. It waits until the API
answers and the deployments are registered, prints where the UI is, and on Ctrl-C or SIGTERM
stops them in reverse order — serve first, the server last — and exits 0. Each child runs in its
own process group, so one Ctrl-C reaches each exactly once, from here; their output goes to
`<data dir>/logs/`.

Basic authentication: when `PREFECT_SERVER_API_AUTH_STRING` (`user:password`) is set — in the
environment or in `./.env`, which Prefect reads too — the server requires it, the children get
it as `PREFECT_API_AUTH_STRING` (unless that is set), and the UI asks for it once per browser.
`/api/health` stays open, so the readiness probe needs none. The string is never printed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Annotated, Any

import typer
from dotenv import dotenv_values

from deployments.console import err, out, reported
from deployments.definitions import DEFINITIONS
from registry.errors import JointcreditError
from registry.settings import get_settings

HOST = "127.0.0.1"
AUTH_VARIABLES = ("PREFECT_SERVER_API_AUTH_STRING", "PREFECT_API_AUTH_STRING")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SERVER_START_SECONDS = 180.0
SERVE_READY_SECONDS = 120.0
STOP_GRACE_SECONDS = 30.0


class StackError(JointcreditError):
    """`jointcredit up` could not start, or one of its processes died."""


# --- serve -------------------------------------------------------------------------------


def serve_command(
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="同时运行的流程数上限（max concurrent flow runs）"),
    ] = None,
) -> None:
    """在本机运行全部部署：定时任务、界面发起的运行与确认表单（serve every deployment）。"""
    from prefect.settings import PREFECT_API_URL

    from deployments.serve import serve_all

    api = PREFECT_API_URL.value()
    if not api:
        err.print(
            "[yellow]警告：[/]未设置 PREFECT_API_URL，将使用临时服务器，界面不可用；"
            "请先执行 jointcredit up 或 prefect server start"
            "（no PREFECT_API_URL: an ephemeral server is used and there is no UI）"
        )
    names = "、".join(item.name for item in DEFINITIONS)
    out.print(f"正在运行 {len(DEFINITIONS)} 个部署（serving）：{names}")
    out.print(f"Prefect API：{api or '临时服务器（ephemeral）'}；按 Ctrl-C 停止")
    with reported(False):
        serve_all(limit=limit)
    out.print("部署已停止运行（stopped serving）")


# --- up ----------------------------------------------------------------------------------


def up_command(
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Prefect 服务与界面端口（UI/API port）")
    ] = 4200,
    no_sink: Annotated[
        bool, typer.Option("--no-sink", help="不启动本地收信服务（do not start the mail sink）")
    ] = False,
) -> None:
    """一键启动本机全套：Prefect 服务与界面、本地收信服务、全部部署；Ctrl-C 停止（run it all）。"""
    stop = threading.Event()
    previous = _on_stop_signals(lambda: stop.set())
    with reported(False):
        settings = get_settings()
        # The deployments read and write the database from their first tick: on a new data
        # directory they would fail every minute ("no such table") while `up` said ready.
        revision = _schema_ready(settings.database_url)
        data_dir = settings.data_dir.resolve()
        stack = LocalStack(
            port=port,
            prefect_home=data_dir / "prefect",
            log_dir=data_dir / "logs",
            environment=child_environment(
                os.environ, port=port, prefect_home=data_dir / "prefect", dotenv=Path(".env")
            ),
        )
        sink = None
        if not no_sink and settings.smtp_host in LOOPBACK:
            sink = (settings.smtp_host, settings.smtp_port, settings.mail_dir.resolve())
        try:
            stack.start(sink=sink, stop=stop)
        except KeyboardInterrupt:
            out.print("启动中止，正在停止（interrupted while starting）…")
            stack.stop()
            _restore(previous)
            return
        except BaseException:
            stack.stop()
            _restore(previous)
            raise
    out.print(f"[bold green]已就绪（ready）[/] Prefect 界面（UI）：{stack.ui_url}")
    out.print(f"  API：{stack.api_url}")
    out.print(f"  数据库结构版本（schema）：{revision}")
    out.print(
        f"  在另一终端使用命令行前执行（other terminals）：export PREFECT_API_URL={stack.api_url}"
    )
    if sink:
        out.print(f"  本地收信服务（mail sink）：smtp://{sink[0]}:{sink[1]} → {sink[2]}")
    elif not no_sink:
        out.print(f"  邮件经 {settings.smtp_host}:{settings.smtp_port} 发出（SMTP relay）")
    out.print(f"  {len(DEFINITIONS)} 个部署正在运行（deployments served）")
    if stack.environment.get("PREFECT_SERVER_API_AUTH_STRING"):
        out.print(
            "  已启用基本认证：界面首次打开时输入 PREFECT_SERVER_API_AUTH_STRING 的值"
            "（basic auth on: the UI asks for user:password once）"
        )
    out.print(f"  日志（logs）：{stack.log_dir}")
    out.print("按 Ctrl-C 停止（press Ctrl-C to stop）")
    died = stack.watch(stop)
    out.print("正在停止（stopping）…")
    stack.stop()
    _restore(previous)
    if died is not None:
        err.print(
            f"[bold red]错误：[/]{died.label} 意外退出（exited with {died.returncode()}），"
            f"其余进程已停止；请查看日志 {died.log_path}"
        )
        raise typer.Exit(2)
    out.print("已全部停止（all stopped）")


def _schema_ready(database_url: str) -> str | None:
    """Migrate the schema to the latest revision (as `jointcredit db upgrade`; a no-op when it
    is current) and return that revision."""
    from registry import db

    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    try:
        return db.current_revision(engine)
    finally:
        engine.dispose()


def child_environment(
    base: Mapping[str, str], *, port: int, prefect_home: Path, dotenv: Path | None = None
) -> dict[str, str]:
    """What every child sees: our API, UI and home; no telemetry; auth passed to clients.

    Prefect reads `.env` in the working directory as well, so an auth string set there (as
    `.env.example` suggests) would protect the server while `serve` and the readiness checks
    here went without it: the auth variables of `dotenv` are made explicit (the environment
    wins, as in Prefect).
    """
    api = f"http://{HOST}:{port}/api"
    env = dict(base)
    env.update(
        {
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_API_URL": api,
            # The UI calls this from the browser; without it a port other than 4200 shows
            # "Can't connect to Server API" (DESIGN.md §7).
            "PREFECT_UI_API_URL": api,
            "PREFECT_UI_URL": f"http://{HOST}:{port}",
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
    )
    if dotenv is not None and dotenv.is_file():
        values = dotenv_values(dotenv)
        for name in AUTH_VARIABLES:
            value = values.get(name)
            if value and not env.get(name):
                env[name] = value
    auth = env.get("PREFECT_SERVER_API_AUTH_STRING")
    if auth and not env.get("PREFECT_API_AUTH_STRING"):
        env["PREFECT_API_AUTH_STRING"] = auth
    return env


@dataclass
class Child:
    """One child process in its own process group, its output in a log file."""

    label: str
    argv: list[str]
    log_path: Path
    stop_signal: signal.Signals
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, env: Mapping[str, str], cwd: Path) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """The child's own stop signal, then SIGTERM, then SIGKILL to its whole group."""
        if self.process is None:
            return
        group = self.process.pid
        for sig, wait in ((self.stop_signal, grace), (signal.SIGTERM, 10.0)):
            if self.process.poll() is not None:
                break
            _signal_process(self.process.pid, sig)
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        if self.process.poll() is None:
            _signal_group(group, signal.SIGKILL)
            self.process.wait(timeout=10)
        _signal_group(group, signal.SIGKILL)  # grandchildren left behind (flow-run processes)
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class LocalStack:
    """The Prefect server, the mail sink and `serve`, started in that order, stopped in reverse."""

    def __init__(
        self, *, port: int, prefect_home: Path, log_dir: Path, environment: Mapping[str, str]
    ) -> None:
        self.port = port
        self.prefect_home = prefect_home
        self.log_dir = log_dir
        self.environment = dict(environment)
        self.ui_url = f"http://{HOST}:{port}"
        self.api_url = f"{self.ui_url}/api"
        self.children: list[Child] = []

    def start(self, *, sink: tuple[str, int, Path] | None, stop: threading.Event) -> None:
        if not _port_free(HOST, self.port):
            raise StackError(
                f"端口 {self.port} 已被占用，请用 --port 指定其他端口（port in use）",
                port=self.port,
            )
        if sink and not _port_free(sink[0], sink[1]):
            raise StackError(
                f"收信端口 {sink[1]} 已被占用：请停止占用者、改用 JOINTCREDIT_SMTP_PORT，"
                "或加 --no-sink（mail sink port in use）",
                port=sink[1],
            )
        self.prefect_home.mkdir(parents=True, exist_ok=True)
        cwd = Path.cwd()
        server = self._child(
            "Prefect 服务（server）",
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                HOST,
                "--port",
                str(self.port),
            ],
            "prefect-server.log",
            signal.SIGINT,
        )
        server.start(self.environment, cwd)
        self._wait(server, stop, SERVER_START_SECONDS, self._healthy, "API 未能就绪")
        if sink:
            host, port, directory = sink
            mail = self._child(
                "本地收信服务（mail sink）",
                [
                    sys.executable,
                    "-c",
                    "from deployments.cli import main; main()",
                    "mail-sink",
                    "--host",
                    host,
                    "--port",
                    str(port),
                    "--dir",
                    str(directory),
                ],
                "mail-sink.log",
                signal.SIGINT,
            )
            mail.start(self.environment, cwd)
            self._wait(mail, stop, 60.0, lambda: not _port_free(host, port), "收信服务未能就绪")
        started = datetime.now(UTC)
        serve = self._child(
            "部署运行（serve）",
            [sys.executable, "-m", "deployments.serve"],
            "serve.log",
            signal.SIGTERM,  # Prefect's runner shuts down gracefully on SIGTERM
        )
        serve.start(self.environment, cwd)
        self._wait(
            serve, stop, SERVE_READY_SECONDS, lambda: self._served_since(started), "部署未能注册"
        )

    def watch(self, stop: threading.Event) -> Child | None:
        """Block until a stop signal (None) or until a child dies (that child)."""
        while not stop.wait(1.0):
            for child in self.children:
                if not child.alive():
                    return child
        return None

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()

    def _child(self, label: str, argv: list[str], log: str, stop_signal: signal.Signals) -> Child:
        child = Child(label, argv, self.log_dir / log, stop_signal)
        self.children.append(child)
        return child

    def _wait(
        self,
        child: Child,
        stop: threading.Event,
        seconds: float,
        ready: Callable[[], bool],
        what: str,
    ) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            if stop.is_set():
                raise KeyboardInterrupt
            if not child.alive():
                raise StackError(
                    f"{child.label} 启动失败（exited with {child.returncode()}）："
                    f"日志 {child.log_path}\n{child.tail()}",
                    log=str(child.log_path),
                )
            if time.monotonic() > deadline:
                raise StackError(
                    f"{what}：{child.label} 在 {seconds:.0f} 秒内未就绪（not ready in time）："
                    f"日志 {child.log_path}\n{child.tail()}",
                    log=str(child.log_path),
                )
            stop.wait(0.5)

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.api_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        auth = self.environment.get("PREFECT_API_AUTH_STRING")
        if auth:
            request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read() or b"null")

    def _healthy(self) -> bool:
        try:
            return self._request("GET", "/health") is True
        except (OSError, ValueError):
            return False

    def _served_since(self, started: datetime) -> bool:
        """Every deployment was (re-)registered by this `serve`."""
        names = [item.name for item in DEFINITIONS]
        try:
            rows = self._request(
                "POST", "/deployments/filter", {"deployments": {"name": {"any_": names}}}
            )
        except (OSError, ValueError):
            return False
        fresh = {
            row["name"]
            for row in rows
            if datetime.fromisoformat(row["updated"]) >= started.replace(microsecond=0)
        }
        return fresh >= set(names)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def _signal_process(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited already
        os.kill(pid, sig)


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # nobody left in the group
        os.killpg(group, sig)


Handler = Callable[[int, FrameType | None], Any] | int | None


def _on_stop_signals(action: Callable[[], None]) -> dict[signal.Signals, Handler]:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        action()

    previous: dict[signal.Signals, Handler] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous


def _restore(previous: dict[signal.Signals, Handler]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def _module_app() -> typer.Typer:
    """`python -m deployments.ops_commands up|serve`: the same commands before `cli.py`
    registers them, and what the browser test starts."""
    ops = typer.Typer(add_completion=False, no_args_is_help=True)
    ops.command("up")(up_command)
    ops.command("serve")(serve_command)
    return ops


if __name__ == "__main__":
    _module_app()()
