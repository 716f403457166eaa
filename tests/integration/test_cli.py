"""The `jointcredit` console script as an operator runs it (a real subprocess)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from registry import db
from tests.conftest import CATALOGUE_DIR, REPO
from tests.integration.cli_runner import run, run_json


def test_deadline_respects_national_day(tmp_path: Path) -> None:
    result = run(tmp_path, "deadline", "--from", "2026-09-30", "--working-days", "5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2026-10-13"


def test_deadline_in_an_unknown_year_is_provisional_with_a_warning(tmp_path: Path) -> None:
    result = run(tmp_path, "deadline", "--from", "2026-12-28", "--working-days", "5")
    assert result.returncode == 0
    assert result.stdout.strip() == "2027-01-04（暂定 provisional）"
    assert "2027" in result.stderr
    assert "calendar/2027.yml" in result.stderr.replace("\n", "")
    payload = run_json(tmp_path, "deadline", "--from", "2026-12-28", "--working-days", "5")
    assert payload["provisional"] is True
    assert payload["unknown_years"] == [2027]


def test_a_bad_date_is_one_clear_error(tmp_path: Path) -> None:
    result = run(tmp_path, "deadline", "--from", "2026-13-01", "--working-days", "5")
    assert result.returncode == 2
    assert "--from 的日期无效" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("code", "status", "exit_code"),
    [
        ("91350100M0001TGQXM", "check_mismatch", 0),
        ("91512081MA62K0260E", "valid", 0),
        ("91350100M000100Y4Z", "check_mismatch", 0),
        ("12345", "invalid_format", 1),
    ],
)
def test_uscc_check(tmp_path: Path, code: str, status: str, exit_code: int) -> None:
    result = run(tmp_path, "uscc", "check", code, "--json")
    assert result.returncode == exit_code
    assert json.loads(result.stdout)["status"] == status
    text = run(tmp_path, "uscc", "check", code)
    assert {"valid": "有效", "check_mismatch": "警告", "invalid_format": "无效"}[
        status
    ] in text.stdout


def test_catalogue_validate_lists_the_2016_memorandum_with_18_departments(tmp_path: Path) -> None:
    payload = run_json(tmp_path, "catalogue", "validate")
    memo = next(m for m in payload["memoranda"] if m["document_number"] == "发改财金〔2016〕1001号")
    assert memo["department_count"] == 18
    assert len(memo["departments"]) == 18
    assert memo["current_department_count"] == 16


def test_catalogue_validate_names_the_broken_file(tmp_path: Path) -> None:
    directory = tmp_path / "memoranda"
    shutil.copytree(CATALOGUE_DIR, directory, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    bad = directory / "catalogue" / "fgcj-2016-1001.yml"
    bad.write_text(
        bad.read_text(encoding="utf-8").replace("department: sta}", "department: tax}"),
        encoding="utf-8",
    )
    result = run(
        tmp_path, "catalogue", "validate", env={"JOINTCREDIT_CATALOGUE_DIR": str(directory)}
    )
    assert result.returncode == 2
    assert (
        "catalogue/fgcj-2016-1001.yml: signatories[12].department: 未知部门：tax" in result.stderr
    )


def test_db_upgrade_and_calendar_reload(tmp_path: Path) -> None:
    env = {"JOINTCREDIT_DATABASE_URL": f"sqlite:///{tmp_path}/ops.db"}
    first = run_json(tmp_path, "db", "upgrade", env=env)
    again = run_json(tmp_path, "db", "upgrade", env=env)
    assert first["revision"] == again["revision"] == db.head_revision()
    assert (first["previous"], again["previous"]) == (None, db.head_revision())
    said = run(tmp_path, "db", "upgrade", env=env).stdout
    assert "已是最新版本" in said  # a new database is not said to be up to date: "已创建" instead
    fresh = {"JOINTCREDIT_DATABASE_URL": f"sqlite:///{tmp_path}/new.db"}
    assert "已创建数据库结构" in run(tmp_path, "db", "upgrade", env=fresh).stdout
    report = run_json(tmp_path, "calendar", "reload", env=env)
    assert {r["label"] for r in report["deadlines"]} >= {"陈述申辩期限", "响应期限", "反馈期限"}
    assert 2027 not in report["known_years"]


def test_production_refuses_a_frozen_clock(tmp_path: Path) -> None:
    env = {
        "JOINTCREDIT_ENV": "production",
        "JOINTCREDIT_ID_HASH_KEY": "a-real-key",
        "JOINTCREDIT_NOW": "2026-12-01T09:00:00+08:00",
    }
    result = run(tmp_path, "deadline", "--from", "2026-09-30", "--working-days", "5", env=env)
    assert result.returncode == 2
    assert "JOINTCREDIT_NOW" in result.stderr


def test_the_demo_runs_the_whole_mission_and_its_summary_matches_mail_and_report(
    tmp_path: Path,
) -> None:
    """`make demo` as a new user runs it: the summary is checked against the mail folder, the
    report file and the database, and no resident ID number appears anywhere in clear."""
    raw_ids = [
        row["身份证号"]
        for row in csv.DictReader(
            (REPO / "deployments" / "demo_data" / "batch-2026.csv").open(encoding="utf-8-sig")
        )
        if row["身份证号"]
    ]
    assert raw_ids
    result = run(tmp_path, "demo", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.loads(result.stdout)

    mail = tmp_path / "var" / "mail"
    files = list(mail.glob("*.eml"))
    assert payload["mail_files"] == payload["distinct_message_ids"] == len(files)
    assert sum(payload["notices_sent"].values()) == len(files)
    assert payload["notices_not_sent"] == 0
    # 王建国 did not agree to electronic service: his 告知书 and 决定书 went by post.
    assert payload["served_by_post"] == {"parties": 1, "letters": 2}
    assert len(list((tmp_path / "var" / "print").glob("notice-*.html"))) == 2
    assert payload["batch_2023"]["states"] == {"removed": 3}
    assert payload["batch_2026"]["states"] == {"in_force": 6, "rejected": 1}
    assert payload["batch_2026"]["quarantined"] == 3
    assert payload["removed"] == 3
    assert payload["reminders"] > 0
    assert payload["audit_chain_ok"] is True
    # The command the demo prints verifies its database against its own anchor file; the
    # default anchor path holds no head of it, which verify says instead of passing.
    demo_db = {"JOINTCREDIT_DATABASE_URL": f"sqlite:///{payload['database']}"}
    anchored = {**demo_db, "JOINTCREDIT_AUDIT_ANCHOR_PATH": payload["audit_anchor"]}
    verified = run(tmp_path, "audit", "verify", env=anchored)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.splitlines()[-1].startswith("审计校验通过")
    unanchored = run(tmp_path, "audit", "verify", env=demo_db)
    assert unanchored.returncode == 1, unanchored.stdout + unanchored.stderr
    assert "demo-audit-anchor.log" in unanchored.stderr
    report = Path(payload["report"])
    assert report.is_file()
    assert "典型案例" in report.read_text(encoding="utf-8")
    rows = list(csv.reader((report.parent / "report.csv").open(encoding="utf-8-sig")))
    total = next(row for row in rows if row[1] == "合计")
    figures = payload["report_total"]
    assert [int(total[2]), int(total[3]), int(total[5])] == [
        figures["red"],
        figures["black"],
        figures["typical"],
    ]
    # The month's entries are the 2026 batch's listings that were not rejected.
    assert figures["red"] + figures["black"] == payload["batch_2026"]["states"]["in_force"]
    below = {row[1] for row in rows[1:] if row[-1] == "未达标"}
    assert below == set(figures["below_target"])
    everything = (
        b"".join(
            [
                *(f.read_bytes() for f in files),
                *(p.read_bytes() for p in (tmp_path / "var").glob("demo.db*")),
            ]
        )
        + result.stdout.encode()
        + result.stderr.encode()
    )
    for raw in raw_ids:
        assert raw.encode() not in everything
        assert raw[6:14].encode() not in everything  # not even the birth date


def test_the_demo_in_production_is_refused_before_it_touches_anything(tmp_path: Path) -> None:
    """Issue 13 item 11: the demo used to delete var/mail before production refused it."""
    mail = tmp_path / "var" / "mail"
    mail.mkdir(parents=True)
    kept = mail / "2026-11-27-received.eml"
    kept.write_text("Subject: a letter someone still needs\n", encoding="utf-8")
    database = tmp_path / "var" / "demo.db"
    database.write_bytes(b"not ours to delete")
    env = {"JOINTCREDIT_ENV": "production", "JOINTCREDIT_ID_HASH_KEY": "k" * 40}
    result = run(tmp_path, "demo", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "生产环境不能运行演示" in result.stderr
    assert kept.read_text(encoding="utf-8") == "Subject: a letter someone still needs\n"
    assert database.read_bytes() == b"not ours to delete"
    assert sorted(p.name for p in (tmp_path / "var").rglob("*")) == [
        "2026-11-27-received.eml",
        "demo.db",
        "mail",
    ]
