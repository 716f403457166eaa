"""What an operator reads at a real terminal: whole reasons, Chinese help, Chinese labels.

A new-user trial found reasons cut with "…" in an 80-column terminal (piped output was already
whole), an English developer docstring in `confirm --help`, a raw state code in an objection
refusal, and pydantic's English in settings errors.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
from stdnum.cn import uscc

from registry import db
from tests.integration.cli_runner import JOINTCREDIT, run, run_json, run_json_error

NOW = "2026-11-27T10:00:00+08:00"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BOX = re.compile(r"[\s│┃┆┊║|]")
UNIT = "91320500MA1X2Y3W4" + uscc.calc_check_digit("91320500MA1X2Y3W4")
RED_UNIT = "91320500MA1X2Y3R7" + uscc.calc_check_digit("91320500MA1X2Y3R7")


@pytest.fixture
def workdir(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db.upgrade(url)
    env = {
        "JOINTCREDIT_DATABASE_URL": url,
        "JOINTCREDIT_DATA_DIR": str(tmp_path / "var"),
        "JOINTCREDIT_NOW": NOW,
    }
    return tmp_path, env


@pytest.mark.skipif(shutil.which("script") is None, reason="util-linux `script` is not installed")
def test_import_reasons_are_whole_in_an_80_column_terminal(
    workdir: tuple[Path, dict[str, str]],
) -> None:
    cwd, env = workdir
    (cwd / "b1.csv").write_text(
        "名单类型,主体类型,名称,统一社会信用代码,认定依据,处罚决定日期,联系邮箱\n"
        "黑名单,单位,苏州样本有限公司,91320500MA1X2Y3Z4A,A4,2026-05-20,anquan@example.org；\n",
        encoding="utf-8",
    )
    terminal = subprocess.run(
        ["script", "-qc", f"stty cols 80; {JOINTCREDIT} import b1.csv", "/dev/null"],
        cwd=cwd,
        env={**_clean_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert terminal.returncode == 0, terminal.stdout + terminal.stderr
    shown = BOX.sub("", ANSI.sub("", terminal.stdout))
    reasons = [
        line["reason_zh"] for line in run_json(cwd, "import", "b1.csv", env=env)["quarantine"]
    ]
    assert any("末尾多了全角" in reason for reason in reasons), reasons
    assert "…" not in shown
    for reason in reasons:
        assert BOX.sub("", reason) in shown, (reason, terminal.stdout)


def _clean_env() -> dict[str, str]:
    import os

    return {
        k: v for k, v in os.environ.items() if not k.startswith("JOINTCREDIT_") and k != "COLUMNS"
    } | {"DO_NOT_TRACK": "1", "TERM": "xterm"}


def _help_paragraphs() -> list[tuple[str, str]]:
    """Every paragraph of help the CLI prints: commands, groups and their options."""
    from deployments.cli import app

    found: list[tuple[str, str]] = []

    def walk(command: Any, path: str) -> None:
        texts = [command.help or ""]
        texts += [getattr(p, "help", None) or "" for p in getattr(command, "params", [])]
        for text in texts:
            found.extend((path, p.strip()) for p in text.split("\f")[0].split("\n\n") if p.strip())
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "jointcredit")
    return found


def test_every_command_help_is_chinese_first() -> None:
    """A developer docstring leaked into `confirm --help`: every paragraph of help must be
    Chinese first (an English gloss is fine; an English paragraph is not)."""
    paragraphs = _help_paragraphs()
    assert any(path == "jointcredit confirm" for path, _ in paragraphs)
    english = [  # no paragraph opens with English words (a name such as Prefect is fine)
        (path, text)
        for path, text in paragraphs
        if len(re.findall(r"[A-Za-z]+", re.split(r"[\u4e00-\u9fff]", text, maxsplit=1)[0])) >= 3
    ]
    assert english == []
    confirm = run(Path.cwd(), "confirm", "--help", env={"COLUMNS": "100"})
    assert "The decision is the core's" not in confirm.stdout
    assert "已由他人决定" in confirm.stdout


def test_an_objection_decided_twice_names_its_outcome_in_chinese(
    workdir: tuple[Path, dict[str, str]],
) -> None:
    cwd, env = workdir
    (cwd / "名单.csv").write_text(
        "名单类型,主体类型,名称,统一社会信用代码,认定依据,处罚决定日期\n"
        f"黑名单,单位,苏州标识样本有限公司,{UNIT},A4,2026-05-20\n",
        encoding="utf-8",
    )
    batch = run_json(cwd, "import", "名单.csv", env=env)["batch_id"]
    listing = run_json(cwd, "batch", "show", str(batch), env=env)["listings"][0]["id"]
    filed = run_json(
        cwd, "objection", "file", str(listing), "--by", "当事单位", "--reason", "有误", env=env
    )
    decide = ["objection", "decide", str(filed["objection_id"]), "--reviewer", "李娜"]
    run_json(cwd, *decide, "--dismissed", "--reason", "经核查无误", env=env)
    again = run(cwd, *decide, "--upheld", "--reason", "再议", env=env)
    assert again.returncode == 2
    assert f"异议 {filed['objection_id']} 已处理（不成立）" in again.stderr
    assert "（dismissed）" not in again.stderr


@pytest.mark.parametrize(
    ("variable", "value", "chinese"),
    [
        (
            "JOINTCREDIT_IMPORT_MAX_ROWS",
            "十万",
            "JOINTCREDIT_IMPORT_MAX_ROWS：应为整数，现为 '十万'",
        ),
        ("JOINTCREDIT_SMTP_TLS", "tls", "JOINTCREDIT_SMTP_TLS：应为以下之一：'none'"),
        ("JOINTCREDIT_SMTP_PORT", "0", "JOINTCREDIT_SMTP_PORT：应不小于 1"),
        ("JOINTCREDIT_OUTBOX_LEASE_SECONDS", "slow", "应为数字"),
        ("JOINTCREDIT_NOW", "yesterday", "JOINTCREDIT_NOW：应为日期时间"),
    ],
)
def test_a_mistyped_setting_is_explained_in_chinese(
    workdir: tuple[Path, dict[str, str]], variable: str, value: str, chinese: str
) -> None:
    cwd, env = workdir
    refused = run_json_error(cwd, "batch", "show", "1", env={**env, variable: value})
    assert refused["error"] == "ConfigurationError"
    assert chinese in refused["message"]
    assert refused["message"].index(chinese) < refused["message"].index("Input should")


def test_confirm_says_what_the_batch_waits_on_as_batch_show_does(
    workdir: tuple[Path, dict[str, str]],
) -> None:
    """`confirm` ended with 当前：已无待办 while `batch show` and the batch artifact said
    等待部门响应: all three read the batch view's sentence now."""
    cwd, env = workdir
    (cwd / "红名单.csv").write_text(
        "名单类型,主体类型,名称,统一社会信用代码,认定依据,处罚决定日期,联系邮箱,同意电子送达\n"
        f"红名单,单位,苏州守信样本有限公司,{UNIT},R,2026-05-20,anquan@example.org,是\n",
        encoding="utf-8",
    )
    batch = run_json(cwd, "import", "红名单.csv", env={**env, "JOINTCREDIT_OPERATOR": "张伟"})
    routed = run(cwd, "route", str(batch["batch_id"]), env=env)  # red: straight to confirmation
    assert routed.returncode == 0, routed.stderr
    waiting = run_json(cwd, "batch", "show", str(batch["batch_id"]), env=env)["waiting_on"]
    assert f"当前：{waiting}" in routed.stdout, routed.stdout
    confirmed = run(cwd, "confirm", str(batch["batch_id"]), "--reviewer", "李娜", env=env)
    assert confirmed.returncode == 0, confirmed.stderr
    shown = run_json(cwd, "batch", "show", str(batch["batch_id"]), env=env)
    assert "部门" in shown["waiting_on"], shown["waiting_on"]
    assert f"当前：{shown['waiting_on']}" in confirmed.stdout, confirmed.stdout


def test_batch_show_names_a_mixed_batch_in_chinese(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    (cwd / "混合.csv").write_text(
        "名单类型,主体类型,名称,统一社会信用代码,认定依据,处罚决定日期\n"
        f"黑名单,单位,苏州标识样本有限公司,{UNIT},A4,2026-05-20\n"
        f"红名单,单位,苏州守信样本有限公司,{RED_UNIT},R,2026-05-20\n",
        encoding="utf-8",
    )
    batch = run_json(cwd, "import", "混合.csv", env=env)["batch_id"]
    shown = run(cwd, "batch", "show", str(batch), env={**env, "COLUMNS": "200"})
    assert "红黑名单混合" in shown.stdout, shown.stdout
    assert "mixed" not in shown.stdout
    assert "open" not in shown.stdout
