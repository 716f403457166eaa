"""Running the real `jointcredit` console script in a clean environment, as an operator would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

JOINTCREDIT = Path(sys.executable).with_name("jointcredit")


def run(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JOINTCREDIT_")}
    clean.update({"DO_NOT_TRACK": "1", "COLUMNS": "200", **(env or {})})
    return subprocess.run(
        [str(JOINTCREDIT), *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_json(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    result = run(cwd, *args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def run_json_error(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """A command that must fail with exit code 2 and a structured error on stdout."""
    result = run(cwd, *args, "--json", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    return json.loads(result.stdout)
