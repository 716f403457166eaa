"""Every CLI failure is one clear message with exit code 2, and output survives a pipe
(issue 13 item 16).

- With the database down, `outbox status --json` printed a 459-line traceback and exited 1.
- Every command that started Prefect logged "Failed to send telemetry", even with
  `DO_NOT_TRACK=1`: the server's analytics are a setting of their own.
- Piped output was rendered 80 columns wide: reasons and notes wrapped in the middle.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path

from stdnum.cn import uscc

from registry import db
from tests.integration.cli_runner import run, run_json

DOWN = "postgresql+psycopg://jointcredit:secret@127.0.0.1:1/nowhere"
"""Port 1: nothing listens there, so the connection is refused at once."""


def test_a_database_that_is_down_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    env = {"JOINTCREDIT_DATABASE_URL": DOWN}
    as_json = run(tmp_path, "outbox", "status", "--json", env=env)
    assert as_json.returncode == 2, as_json.stdout + as_json.stderr
    error = json.loads(as_json.stdout)
    assert error["error"] == "DatabaseUnavailable"
    assert error["message"].startswith("无法连接数据库 postgresql+psycopg://jointcredit:***@")
    assert "secret" not in as_json.stdout + as_json.stderr
    assert as_json.stderr == ""

    every_flow_command = (
        ["route", "1"],
        ["sla", "sweep"],
        ["removal", "review"],
        ["report", "monthly", "--month", "2026-11"],
        ["outbox", "drain"],
    )
    for command in (["outbox", "status"], ["batch", "show", "1"], *every_flow_command):
        plain = run(tmp_path, *command, env=env)
        assert plain.returncode == 2, plain.stderr
        assert plain.stdout == ""
        lines = plain.stderr.strip().splitlines()
        assert len(lines) == 1, plain.stderr  # no traceback, no Prefect start-up
        assert lines[0].startswith("错误：无法连接数据库"), lines


def test_prefect_analytics_are_off_unless_the_operator_turns_them_on(tmp_path: Path) -> None:
    probe = (
        "import deployments; from prefect.settings import get_current_settings; "
        "print(get_current_settings().server.analytics_enabled)"
    )
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK")
    }

    def analytics(**extra: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=tmp_path,
            env={**base, "PREFECT_HOME": str(tmp_path / "prefect"), **extra},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return result.stdout.strip()

    assert analytics() == "False"
    assert analytics(PREFECT_SERVER_ANALYTICS_ENABLED="true") == "True"


def test_piped_output_keeps_long_lines_whole(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db.upgrade(url)
    body = "91320500MA" + f"{random.Random(uuid.uuid4().int).randrange(10**7):07d}"
    code = body + uscc.calc_check_digit(body)
    note = "备注" + "，".join(f"第{i}项整改措施未按期落实" for i in range(1, 9)) + "。"
    (tmp_path / "名单.csv").write_text(
        "名单类型,主体类型,名称,统一社会信用代码,认定依据,处罚决定日期,备注\n"
        f"黑名单,单位,苏州长备注样本有限公司,{code},A4,2026-05-20,{note}\n",
        encoding="utf-8",
    )
    # No COLUMNS: a pipe, as a script or `| less` gives the command.
    env = {
        "JOINTCREDIT_DATABASE_URL": url,
        "JOINTCREDIT_DATA_DIR": str(tmp_path / "var"),
        "COLUMNS": "",
    }
    imported = run_json(tmp_path, "import", "名单.csv", env=env)
    listing = run_json(tmp_path, "batch", "show", str(imported["batch_id"]), env=env)["listings"][0]

    shown = run(tmp_path, "listing", "show", str(listing["id"]), env=env)
    assert shown.returncode == 0, shown.stderr
    assert len(note) > 80
    assert any(note in line for line in shown.stdout.splitlines()), shown.stdout
