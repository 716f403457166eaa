"""The ids the CLI prints are the ids it accepts (issue 13 item 7).

Import's plain output showed only the batch reference; `batch show IMP-…` and `listing show
IMP-…-5` (the number every letter prints) failed with an English-only pydantic error. Every
command that takes a batch or a listing now takes the numeric id or the printed reference, and
its output shows both.
"""

from __future__ import annotations

import random
import re
import uuid
from pathlib import Path

import pytest
from stdnum.cn import uscc

from registry import db
from tests.integration.cli_runner import run, run_json, run_json_error

NOW = "2026-11-27T10:00:00+08:00"


def _uscc(rng: random.Random) -> str:
    body = "91320500" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    return body + uscc.calc_check_digit(body)


@pytest.fixture
def workdir(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db.upgrade(url)
    env = {
        "JOINTCREDIT_DATABASE_URL": url,
        "JOINTCREDIT_DATA_DIR": str(tmp_path / "var"),
        "JOINTCREDIT_NOW": NOW,
    }
    rng = random.Random(uuid.uuid4().int)
    rows = "\n".join(
        f"黑名单,单位,苏州标识样本{i}有限公司,{_uscc(rng)},A4,2026-05-20" for i in range(2)
    )
    (tmp_path / "名单.csv").write_text(
        "名单类型,主体类型,名称,统一社会信用代码,认定依据,处罚决定日期\n" + rows + "\n",
        encoding="utf-8",
    )
    return tmp_path, env


def test_every_command_takes_the_id_or_the_printed_reference_and_shows_both(
    workdir: tuple[Path, dict[str, str]],
) -> None:
    cwd, env = workdir
    imported = run(cwd, "import", "名单.csv", env=env)
    assert imported.returncode == 0, imported.stderr
    match = re.search(r"(IMP-\d{8}-[0-9A-F]{6})（编号 (\d+)）", imported.stdout)
    assert match, imported.stdout  # the plain output names the batch both ways
    reference, batch_id = match[1], match[2]

    by_reference = run_json(cwd, "batch", "show", reference.lower(), env=env)
    assert by_reference == run_json(cwd, "batch", "show", batch_id, env=env)
    listing_id = by_reference["listings"][0]["id"]
    printed = f"{reference}-{listing_id}"
    assert by_reference["listings"][0]["reference"] == printed

    shown = run(cwd, "listing", "show", printed, env=env)
    assert shown.returncode == 0, shown.stderr
    assert f"名单 {listing_id}（{printed}" in shown.stdout
    assert run_json(cwd, "listing", "show", str(listing_id), env=env)["reference"] == printed

    filed = run(
        cwd, "objection", "file", printed, "--by", "当事单位", "--reason", "认定有误", env=env
    )
    assert filed.returncode == 0, filed.stderr
    assert f"名单 {listing_id}，{printed}" in filed.stdout

    other_batch = run_json_error(
        cwd, "listing", "show", f"IMP-20000101-ABCDEF-{listing_id}", env=env
    )
    assert other_batch["error"] == "NotFound"
    assert f"不属于批次 IMP-20000101-ABCDEF，其编号为 {printed}" in other_batch["message"]

    unknown = run(cwd, "batch", "show", "IMP-20000101-ABCDEF", env=env)
    assert unknown.returncode == 2
    assert "错误：批次不存在：IMP-20000101-ABCDEF" in unknown.stderr
    assert "Traceback" not in unknown.stderr
