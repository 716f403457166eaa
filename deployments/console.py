"""What every `jointcredit` command shares: consoles, `--json`, error reporting, the operator.

Errors: a command's core errors are reported where they happen (`reported`, which knows the
command's `--json`); `JointcreditApp` is the last line for anything that escapes — the database
gone mid-command, a bug — so that every failure is one message on stderr and exit code 2,
never a traceback (set `JOINTCREDIT_TRACEBACK=1` to see one while debugging).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape

from registry.clock import BUSINESS_TZ
from registry.db import database_unavailable
from registry.errors import JointcreditError

PIPED_WIDTH = 1_000
"""Columns when output goes to a pipe or a file: rich would otherwise assume 80 and wrap a
reason or a reference in the middle, or fold a table; a script reads whole lines."""

ERROR_EXIT = 2


def _console(*, stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr, highlight=False)
    return Console(stderr=stderr, highlight=False, width=PIPED_WIDTH, soft_wrap=True)


out = _console(stderr=False)
err = _console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="输出 JSON（print JSON）")]


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")


def report_error(error: JointcreditError, as_json: bool) -> None:
    """One clear message: the error's JSON on stdout with `--json`, else one line on stderr."""
    if as_json:
        emit_json(error.as_dict())
    else:
        err.print(f"[bold red]错误：[/]{escape(error.message)}")


@contextmanager
def reported(as_json: bool) -> Iterator[None]:
    """Turn a core error (or the database failing) into one clear message and exit code 2."""
    try:
        yield
    except JointcreditError as exc:
        report_error(exc, as_json)
        raise typer.Exit(ERROR_EXIT) from exc
    except sa.exc.DBAPIError as exc:
        report_error(database_unavailable(exc, None), as_json)
        raise typer.Exit(ERROR_EXIT) from exc


class UnexpectedError(JointcreditError):
    """An error no command expected: shown as one line, with its type, for a bug report."""


class JointcreditApp(typer.Typer):
    """The `jointcredit` application: whatever escapes a command is one message, exit 2."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if os.environ.get("JOINTCREDIT_TRACEBACK"):
                raise
            report_error(as_error(exc), "--json" in sys.argv[1:])
            sys.exit(ERROR_EXIT)


def as_error(exc: BaseException) -> JointcreditError:
    if isinstance(exc, JointcreditError):
        return exc
    if isinstance(exc, sa.exc.DBAPIError):
        return database_unavailable(exc, None)
    first = (str(exc).strip().splitlines() or [""])[0]
    return UnexpectedError(
        f"内部错误（internal error）：{type(exc).__name__}: {first}"
        "；设置 JOINTCREDIT_TRACEBACK=1 可查看详细信息",
        error_type=type(exc).__name__,
    )


def operator() -> str:
    """Who runs a command, for the audit trail: the login name of the operator's account."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def beijing_time(value: datetime) -> str:
    """An instant as operators read it everywhere: Beijing time to the minute."""
    return value.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")
