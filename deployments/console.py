"""What every `jointcredit` command shares: consoles, `--json`, error reporting, the operator."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console

from registry.errors import JointcreditError

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

JsonFlag = Annotated[bool, typer.Option("--json", help="输出 JSON（print JSON）")]


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")


@contextmanager
def reported(as_json: bool) -> Iterator[None]:
    """Turn a core error into one clear message and exit code 2."""
    try:
        yield
    except JointcreditError as exc:
        if as_json:
            emit_json(exc.as_dict())
        else:
            err.print(f"[bold red]错误：[/]{exc.message}")
        raise typer.Exit(2) from exc


def operator() -> str:
    """Who runs a command, for the audit trail: the login name of the operator's account."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"
