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

import pytest

from registry import db
from tests.integration.cli_runner import JOINTCREDIT, run_json

NOW = "2026-11-27T10:00:00+08:00"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BOX = re.compile(r"[\s│┃┆┊║|]")


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
