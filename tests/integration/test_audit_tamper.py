"""Issue 13 item 13: `audit verify` sees a truncated tail and a state changed beside the
application (`registry.audit_anchor`, `registry.audit_check`).

A batch goes the real way — import, notice, decision, publication, dispatch — through the
service layer, whose engines anchor every committed head in a file. Then someone with database
access edits the tables directly, and `jointcredit audit verify` must exit 1 naming what it found.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from memoranda.loader import Catalogue
from notifications.report_mail import highlights
from registry import db
from registry.audit import EventDraft, append_events, verify
from registry.audit_anchor import AnchorError, AuditAnchor, anchor_from_settings, install
from registry.audit_check import check_anchor, replay_states
from registry.reporting import ReportMonth, monthly_report
from registry.routing import Decision
from registry.settings import Settings
from registry.vocabulary import Step
from service import import_file, opened_runtime, record_decision, run_step
from tests.factories.listings import serve_prior_notices
from tests.integration.cli_runner import run as cli

CSV = (
    "名单类型,主体类型,名称,统一社会信用代码,认定依据,处罚决定日期,联系邮箱,同意电子送达\n"
    "黑名单,单位,四川审计化工有限公司,91510100MA62K0R6XW,A2,2026-10-13,a@example.org,是\n"
    "黑名单,单位,苏州审计样本有限公司,91320500MA1MXQ4E7B,A4,2026-10-20,b@example.org,是\n"
)


@dataclass
class Trail:
    directory: Path
    engine: sa.Engine
    env: dict[str, str]
    anchor: Path

    def verify(self, *args: str) -> tuple[int, str]:
        result = self.run("audit", "verify", *args)
        return result.returncode, result.stdout + result.stderr

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cli(self.directory, *args, env=self.env)

    def truncate(self) -> None:
        """The issue's attack: delete the newest event and move audit_head back one row."""
        self.sql("DELETE FROM audit_event WHERE seq = (SELECT max(seq) FROM audit_event)")
        self.sql(
            "UPDATE audit_head SET last_seq = (SELECT max(seq) FROM audit_event),"
            " last_hash = (SELECT hash FROM audit_event ORDER BY seq DESC LIMIT 1)"
        )

    def sql(self, statement: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.text(statement))


def _settings(directory: Path, url: str, now: str) -> Settings:
    return Settings(database_url=url, data_dir=directory / "var", now=datetime.fromisoformat(now))


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[Trail]:
    url = f"sqlite:///{tmp_path / 'trail.db'}"
    db.upgrade(url)
    (tmp_path / "batch.csv").write_text(CSV, encoding="utf-8")
    with opened_runtime(_settings(tmp_path, url, "2026-11-02T09:00:00+08:00")) as runtime:
        imported = import_file(
            runtime, tmp_path / "batch.csv", proposed_by="提出人 张伟", reporter=None
        )
        notified = run_step(runtime, imported.batch_id, Step.NOTIFY, actor="flow", source="test")
        # E-mailed (the parties agreed) and accepted today: the windows run from today, and
        # the trail records them (`listing.defence_window_opened`), so replay checks them too.
        serve_prior_notices(runtime.engine, notified.moved, runtime.clock.today())
    with opened_runtime(_settings(tmp_path, url, "2026-11-27T09:00:00+08:00")) as runtime:
        batch = imported.batch_id
        run_step(runtime, batch, Step.CLOSE_DEFENCE, actor="flow", source="test")
        record_decision(runtime, batch, Decision("审核人 李娜"), source="t")
        run_step(runtime, batch, Step.PUBLISH, actor="flow", source="test")
        run_step(runtime, batch, Step.DISPATCH, actor="flow", source="test")
    engine = db.make_engine(url)
    env = {"JOINTCREDIT_DATABASE_URL": url, "JOINTCREDIT_DATA_DIR": str(tmp_path / "var")}
    yield Trail(tmp_path, engine, env, tmp_path / "var" / "audit-anchor.log")
    engine.dispose()


def test_an_untouched_trail_verifies_with_its_anchor_and_replay(trail: Trail) -> None:
    assert trail.anchor.exists()
    result = trail.run("audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "链外锚点一致" in result.stdout
    assert "状态重放一致" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("审计校验通过：审计链完整")
    assert result.stderr == ""


def test_a_deleted_tail_with_the_head_moved_back_is_found(trail: Trail) -> None:
    """The issue's attack: delete the newest event and move audit_head back one row."""
    trail.sql("DELETE FROM audit_event WHERE seq = (SELECT max(seq) FROM audit_event)")
    trail.sql(
        "UPDATE audit_head SET last_seq = (SELECT max(seq) FROM audit_event),"
        " last_hash = (SELECT hash FROM audit_event ORDER BY seq DESC LIMIT 1)"
    )
    with Session(trail.engine) as session:
        assert verify(session).ok  # the chain alone cannot tell
    code, text = trail.verify()
    assert code == 1, text
    assert "链尾被截断" in text


def test_a_state_changed_beside_the_application_is_found(trail: Trail) -> None:
    trail.sql("UPDATE listing SET state = 'removed' WHERE id = (SELECT min(id) FROM listing)")
    code, text = trail.verify()
    assert code == 1, text
    assert "状态与审计记录不符" in text
    assert "当前状态 已移出（removed），审计记录为 生效中（in_force）" in text


def test_an_action_changed_beside_the_application_is_found(trail: Trail) -> None:
    trail.sql(
        "UPDATE department_action SET state = 'lift_confirmed'"
        " WHERE id = (SELECT max(id) FROM department_action)"
    )
    code, text = trail.verify("--json")
    assert code == 1, text
    assert '"mismatches": 1' in text
    assert '"entity_type": "department_action"' in text


def test_a_listing_deleted_beside_the_application_is_found(trail: Trail) -> None:
    """The attack run deleted an in-force black listing and its actions: verify passed, and
    `screen` cleared the unit."""
    with sqlite3.connect(trail.directory / "trail.db") as raw:  # as the sqlite3 shell: no FKs
        raw.execute(
            "DELETE FROM department_action WHERE listing_id = (SELECT min(id) FROM listing)"
        )
        raw.execute("DELETE FROM listing WHERE id = (SELECT min(id) FROM listing)")
    code, text = trail.verify()
    assert code == 1, text
    assert "已被删除" in text


def test_a_head_printed_in_the_monthly_report_is_checked(
    trail: Trail, catalogue: Catalogue
) -> None:
    with Session(trail.engine) as session:
        report = monthly_report(
            session,
            month=ReportMonth(2026, 11),
            catalogue=catalogue,
            today=datetime(2026, 11, 30, tzinfo=UTC).date(),
        )
    assert report.audit_head is not None
    seq, digest = report.audit_head
    printed = [line for line in highlights(report) if "审计链头" in line]
    assert printed == [
        f"审计链头：第 {seq} 号操作记录 {seq}:{digest}（请留存，用于核对审计记录是否被删改）。"
    ]
    assert trail.verify("--head", f"{seq}:{digest}")[0] == 0
    trail.anchor.unlink()  # the file is gone too: the report's copy still shows the truncation
    trail.sql(f"DELETE FROM audit_event WHERE seq >= {seq - 1}")
    trail.sql(
        "UPDATE audit_head SET last_seq = (SELECT max(seq) FROM audit_event),"
        " last_hash = (SELECT hash FROM audit_event ORDER BY seq DESC LIMIT 1)"
    )
    code, text = trail.verify("--head", f"{seq}:{digest}")
    assert code == 1, text
    assert "链尾被截断" in text


def test_a_forged_anchor_line_is_refused(trail: Trail) -> None:
    with trail.anchor.open("a", encoding="ascii") as f:
        f.write(f"{'0' * 64} 999 {'a' * 64} {'b' * 64}\n")
    code, text = trail.verify()
    assert code == 2, text
    assert "签名不符" in text


def test_concurrent_appenders_anchor_the_final_head(engine: sa.Engine, tmp_path: Path) -> None:
    """Four threads, 25 commits each: lines may reach the file out of order, the newest wins."""
    anchor = AuditAnchor(tmp_path / "anchor.log", b"k" * 32)
    install(engine, anchor)
    at = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    with engine.connect() as connection:  # the database is shared: earlier tests left events
        start = connection.execute(
            sa.text("SELECT coalesce(max(seq), 0) FROM audit_event")
        ).scalar_one()

    def appender(worker: int) -> None:
        for i in range(25):
            with db.session_scope(engine) as session:
                draft = EventDraft("t", "test.append", "test", f"{worker}-{i}", None, None, "t")
                append_events(session, [draft], at=at)

    threads = [threading.Thread(target=appender, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Session(engine) as session:
        assert verify(session).ok
        report = check_anchor(session, anchor)
        head = session.execute(sa.text("SELECT last_seq, last_hash FROM audit_head")).one()
        # The session's database is shared with other tests, which set states directly, so the
        # replay is checked in its own tests, not here.
    assert report.ok
    assert report.anchored is not None
    assert (
        (report.anchored.seq, report.anchored.hash) == (head[0], head[1]) == (start + 100, head[1])
    )
    assert len(anchor.path.read_text(encoding="ascii").splitlines()) == 100
    with pytest.raises(AnchorError):
        AuditAnchor(anchor.path, b"another key" * 3).latest("x")


def test_lift_requests_from_before_their_events_replay_from_the_listing(trail: Trail) -> None:
    """A database from before lift requests had one event per action: the listing's removal in
    the trail implies them, and anything further still needs its own event."""
    with db.session_scope(trail.engine) as session:
        listing = session.execute(sa.text("SELECT min(id) FROM listing")).scalar_one()
        append_events(
            session,
            [
                EventDraft(
                    "旧版本", "listing.remove", "listing", listing, None, {"state": "removed"}, "t"
                )
            ],
            at=datetime(2026, 11, 30, tzinfo=UTC),
        )
    trail.sql(f"UPDATE listing SET state = 'removed' WHERE id = {listing}")
    trail.sql(f"UPDATE department_action SET state = 'lift_requested' WHERE listing_id = {listing}")
    with Session(trail.engine) as session:
        assert replay_states(session).ok
    trail.sql(
        f"UPDATE department_action SET state = 'lift_confirmed' WHERE id ="
        f" (SELECT min(id) FROM department_action WHERE listing_id = {listing})"
    )
    with Session(trail.engine) as session:
        report = replay_states(session)
    assert report.total_mismatches == 1
    assert (report.mismatches[0].stored, report.mismatches[0].trail) == (
        "lift_confirmed",
        "lift_requested",
    )


# --- found by a new user's trial: a missing anchor, a date edited, no verdict ---------------


def test_a_deleted_tail_with_the_anchor_file_moved_away_is_not_passed(trail: Trail) -> None:
    """Without the anchor file nothing rules out a truncation: verify used to skip the check
    and report the chain intact (exit 0, `"anchor": {"ok": true, "seq": null}`)."""
    trail.truncate()
    trail.anchor.rename(trail.directory / "anchor-moved-away.log")
    code, text = trail.verify()
    assert code == 1, text
    assert "链外锚点缺失" in text
    assert "无法排除链尾被截断" in text
    assert "audit verify --head 序号:哈希" in text  # how to proceed
    assert "JOINTCREDIT_AUDIT_ANCHOR_PATH" in text
    report = json.loads(trail.run("audit", "verify", "--json").stdout)
    assert report["ok"] is False
    assert report["anchor"]["ok"] is False
    assert report["anchor"]["missing"] is True


def test_a_chain_with_no_line_in_the_anchor_file_is_not_passed(trail: Trail) -> None:
    """A file that anchors other databases only (a demo, a test) says nothing of this one."""
    url = trail.env["JOINTCREDIT_DATABASE_URL"]
    anchor = anchor_from_settings(_settings(trail.directory, url, "2026-11-27T09:00:00+08:00"))
    trail.anchor.unlink()
    anchor.record("f" * 64, 999, "a" * 64)  # another chain's head, signed with our key
    code, text = trail.verify()
    assert code == 1, text
    assert f"锚点文件 {trail.anchor} 中没有本库审计链的锚点" in text


def test_accepting_the_current_head_starts_anchoring_a_database_from_before_anchoring(
    trail: Trail,
) -> None:
    """A database whose events were written before anchoring: verify fails until an operator
    accepts the head, on the record; then the next truncation is seen again."""
    trail.anchor.unlink()
    assert trail.verify()[0] == 1
    unconfirmed = trail.run("audit", "anchor", "--by", "信用办 李娜")
    assert unconfirmed.returncode == 2, unconfirmed.stdout + unconfirmed.stderr
    assert "--accept-current-head" in unconfirmed.stderr
    assert not trail.anchor.exists()
    with trail.engine.connect() as connection:
        seq, digest = connection.execute(
            sa.text("SELECT last_seq, last_hash FROM audit_head")
        ).one()
    accepted = trail.run("audit", "anchor", "--accept-current-head", "--by", "信用办 李娜")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert f"已接受第 {seq} 号操作记录为审计链头" in accepted.stdout
    with trail.engine.connect() as connection:
        event = connection.execute(
            sa.text("SELECT seq, actor, action, after FROM audit_event ORDER BY seq DESC LIMIT 1")
        ).one()
    assert (event[0], event[1], event[2]) == (seq + 1, "信用办 李娜", "audit.anchor_accept")
    assert json.loads(event[3])["accepted_seq"] == seq
    assert json.loads(event[3])["accepted_hash"] == digest
    code, text = trail.verify()
    assert code == 0, text
    assert f"链外锚点一致：第 {seq + 1} 号记录" in text
    again = trail.run("audit", "anchor", "--accept-current-head", "--by", "信用办 李娜")
    assert again.returncode == 2, again.stdout + again.stderr
    assert "已有锚点" in again.stderr
    trail.truncate()  # the acceptance itself cannot be taken back unseen
    code, text = trail.verify()
    assert code == 1, text
    assert "链尾被截断" in text


def test_accepting_the_head_of_a_broken_chain_is_refused(trail: Trail) -> None:
    trail.anchor.unlink()
    trail.sql("UPDATE audit_event SET actor = '别人' WHERE seq = 2")
    refused = trail.run("audit", "anchor", "--accept-current-head", "--by", "信用办 李娜")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "审计链校验未通过（第 2 号" in refused.stderr
    assert not trail.anchor.exists()


@pytest.mark.parametrize(
    ("column", "value", "shown"),
    [
        (
            "expires_on",
            "'2026-12-12'",
            "有效期至（expires_on）当前为 2026-12-12，审计记录为 2029-11-27",
        ),
        (
            "list_type",
            "'red'",
            "名单类型（list_type）当前为 红名单（red），审计记录为 黑名单（black）",
        ),
        (
            "decision_number",
            "'伪造〔2026〕1号'",
            "决定书文号（decision_number）当前为 伪造〔2026〕1号",
        ),
        (
            "removal_reason",
            "'expiry'",
            "移出原因（removal_reason）当前为 期满（expiry），审计记录为 空",
        ),
        ("published_at", "NULL", "公开时间（published_at）当前为 空，审计记录为 2026-11-27"),
        (
            "removed_at",
            "(SELECT published_at FROM listing ORDER BY id LIMIT 1)",
            "移出时间（removed_at）当前为 2026-11-27",  # never removed: the trail says blank
        ),
    ],
)
def test_a_recorded_field_changed_beside_the_application_is_found(
    trail: Trail, column: str, value: str, shown: str
) -> None:
    """`UPDATE listing SET expires_on = …` used to pass, and `screen` then cleared the unit
    after that date: the fields the trail records are replayed like the state."""
    trail.sql(f"UPDATE listing SET {column} = {value} WHERE id = (SELECT min(id) FROM listing)")
    result = trail.run("audit", "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    assert shown in result.stderr
    report = json.loads(trail.run("audit", "verify", "--json").stdout)
    assert [m["field"] for m in report["replay"]["first"]] == [column]


def test_a_failed_verify_ends_with_one_verdict_and_claims_nothing_intact(trail: Trail) -> None:
    """The first line used to read `审计链完整：…` above a mismatch printed on stderr."""
    trail.sql("UPDATE listing SET state = 'removed' WHERE id = (SELECT min(id) FROM listing)")
    trail.truncate()
    result = trail.run("audit", "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "完整" not in result.stdout
    verdict = result.stderr.splitlines()[-1]
    assert verdict.startswith("审计校验未通过（audit verification failed）：")
    assert "链外锚点不符" in verdict
    assert "1 处状态或字段与审计记录不符" in verdict
    assert json.loads(trail.run("audit", "verify", "--json").stdout)["ok"] is False
