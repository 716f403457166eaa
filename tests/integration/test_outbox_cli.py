"""`jointcredit outbox …` and `jointcredit mail-sink` as an operator runs them (subprocesses)."""

from __future__ import annotations

import signal
import smtplib
import socket
import subprocess
import time
from email.message import EmailMessage
from pathlib import Path

import sqlalchemy as sa

from notifications.sink import free_port, message_id_counts, running_sink
from registry import db
from registry.clock import BUSINESS_TZ, FrozenClock
from tests.factories.outbox import department_address, notices, queue_notices
from tests.integration.cli_runner import JOINTCREDIT, run, run_json, run_json_error
from tests.smtp_scripts import ScriptedSink


def _migrated(tmp_path: Path) -> sa.Engine:
    """The database the CLI uses by default when run in `tmp_path`: var/jointcredit.db."""
    assert run(tmp_path, "db", "upgrade").returncode == 0
    return db.make_engine(f"sqlite:///{tmp_path / 'var' / 'jointcredit.db'}")


def test_an_unmigrated_database_is_one_clear_error(tmp_path: Path) -> None:
    result = run(tmp_path, "outbox", "status")
    assert result.returncode == 2
    assert "jointcredit db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_drain_status_and_retry_failed(tmp_path: Path, clock: FrozenClock) -> None:
    engine = _migrated(tmp_path)
    ids = queue_notices(engine, clock, 12)
    refused = department_address(3)
    mail = tmp_path / "mail"
    with running_sink(mail, handler=ScriptedSink(mail, refuse={refused})) as sink:
        env = {"JOINTCREDIT_SMTP_PORT": str(sink.port), "JOINTCREDIT_NOW": clock.now().isoformat()}
        first = run(tmp_path, "outbox", "drain", "--limit", "5", env=env)
        rest = run_json(tmp_path, "outbox", "drain", env=env)
    assert first.returncode == 0, first.stderr
    assert "领取 5 封：发出 4，永久失败 1" in first.stdout
    assert f"未能送达 {refused}" in first.stderr
    assert "550" in first.stderr
    assert (rest["claimed"], rest["sent"], rest["failed"]) == (7, 7, 0)

    status = run_json(tmp_path, "outbox", "status")
    assert status["by_state"]["sent"] == 11
    assert status["by_state"]["failed"] == 1
    (parked,) = status["parked"]
    assert parked["recipient"] == refused
    assert [flag["address"] for flag in status["flagged_contacts"]] == [refused]
    text = run(tmp_path, "outbox", "status")
    assert "永久失败" in text.stdout
    assert "retry-failed" in text.stdout

    sent_id = next(row.id for row in notices(engine, ids) if row.state == "sent")
    refused_again = run(tmp_path, "outbox", "retry-failed", "--id", str(sent_id))
    assert refused_again.returncode == 2
    assert "只能重试" in refused_again.stderr
    unknown = run_json_error(tmp_path, "outbox", "retry-failed", "--id", "999999")
    assert unknown["error"] == "NotFound"
    assert run_json(tmp_path, "outbox", "retry-failed", "--id", str(parked["id"])) == {
        "requeued": [parked["id"]]
    }
    assert run_json(tmp_path, "outbox", "status")["by_state"]["queued"] == 1
    assert len(message_id_counts(mail)) == 11
    engine.dispose()


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def test_mail_sink_files_each_message_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    folder = tmp_path / "收件"
    sink = subprocess.Popen(
        [str(JOINTCREDIT), "mail-sink", "--port", str(port), "--dir", str(folder)],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "DO_NOT_TRACK": "1", "HOME": str(tmp_path)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(port)
        message = EmailMessage()
        message["From"] = "jointcredit@example.org"
        message["To"] = "应急管理部 <mem@example.org>"
        message["Subject"] = "测试通知"
        message["Message-ID"] = "<sink-test@example.org>"
        message.set_content("正文：联合惩戒措施推送。")
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.send_message(message)
    finally:
        sink.send_signal(signal.SIGINT)
        output, _ = sink.communicate(timeout=30)
    assert sink.returncode == 0
    assert "已停止" in output
    (stored,) = folder.glob("*.eml")
    assert b"X-Sink-Envelope-To: <mem@example.org>" in stored.read_bytes()
    assert message_id_counts(folder) == {"<sink-test@example.org>": 1}


def test_drain_says_what_each_batch_did_and_accounts_for_every_claim(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """Issue 13: `第 2 批：已发出 250` read as a per-batch count but was the running total, and
    the summary left claims handed back unexplained. Each line says which is which; the summary
    names where every claimed notice went."""
    engine = _migrated(tmp_path)
    queue_notices(engine, clock, 250)  # two batches at the default size of 200
    mail = tmp_path / "mail"
    with running_sink(mail) as sink:
        env = {"JOINTCREDIT_SMTP_PORT": str(sink.port), "JOINTCREDIT_NOW": clock.now().isoformat()}
        result = run(tmp_path, "outbox", "drain", env=env)
    assert result.returncode == 0, result.stderr
    flat = "".join((result.stdout + result.stderr).split())
    assert "第1批：领取200，本批发出200，累计发出200" in flat, result.stderr
    assert "第2批：领取50，本批发出50，累计发出250" in flat, result.stderr
    assert "领取250封：发出250" in flat, result.stdout
    engine.dispose()


def test_status_shows_beijing_time_and_chinese_kinds(tmp_path: Path, clock: FrozenClock) -> None:
    """Issue 13: the oldest waiting notice was shown as UTC ISO and the parked table showed
    raw kind codes; plain output is Beijing time and Chinese labels, JSON keeps the codes."""
    engine = _migrated(tmp_path)
    queue_notices(engine, clock, 1)
    queue_notices(engine, clock, 1, address=lambda _: "x@example.org。")  # parked: bad address
    text = run(tmp_path, "outbox", "status")
    assert text.returncode == 0, text.stderr
    created = clock.now().astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")
    assert f"{created}（北京时间）" in text.stdout
    assert "+00:00" not in text.stdout
    assert "推送函" in text.stdout
    assert "department_dispatch" not in text.stdout
    status = run_json(tmp_path, "outbox", "status")
    assert [row["kind"] for row in status["parked"]] == ["department_dispatch"]
    engine.dispose()
