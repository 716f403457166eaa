"""`jointcredit batch quarantine`: every quarantined row of a batch, the command the intake
artifact names when it cannot list them all."""

from __future__ import annotations

from pathlib import Path

from registry import db
from tests.factories.import_files import good_rows, write_csv
from tests.integration.cli_runner import run, run_json


def test_batch_quarantine_lists_every_refused_row(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db.upgrade(url)
    env = {"JOINTCREDIT_DATABASE_URL": url, "JOINTCREDIT_DATA_DIR": str(tmp_path / "var")}
    rows = good_rows()[:1]
    rows += [{**rows[0], "name": f"<b>坏行{i}</b>", "grounds": "ZZ9"} for i in range(30)]
    write_csv(tmp_path / "名单.csv", rows)
    imported = run_json(tmp_path, "import", "名单.csv", env=env)
    assert imported["rejected"] == 30
    batch = str(imported["batch_id"])

    view = run_json(tmp_path, "batch", "quarantine", batch, env=env)
    assert view["total"] == len(view["entries"]) >= 30  # more than `import` prints (20)
    assert sorted({e["row_number"] for e in view["entries"]}) == list(range(3, 33))
    assert all(e["reason_zh"] for e in view["entries"])

    shown = run(tmp_path, "batch", "quarantine", imported["batch_reference"], env=env)
    assert shown.returncode == 0, shown.stderr
    assert f"被隔离的问题行：{view['total']} 条" in shown.stdout
    assert "32" in shown.stdout
    missing = run(tmp_path, "batch", "quarantine", "987654", env=env)
    assert missing.returncode == 2
    assert "批次不存在" in missing.stderr + missing.stdout
