"""Issue 13 item 13: `audit verify` sees a truncated tail and a state changed beside the
application (`registry.audit_anchor`, `registry.audit_check`).

A batch goes the real way — import, notice, decision, publication, dispatch — through the
service layer, whose engines anchor every committed head in a file. Then someone with database
access edits the tables directly, and `jointcredit audit verify` must exit 1 naming what it found.
"""

from __future__ import annotations

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
from registry.audit_anchor import AnchorError, AuditAnchor, install
from registry.audit_check import check_anchor, replay_states
from registry.reporting import ReportMonth, monthly_report
from registry.routing import Decision
from registry.settings import Settings
from registry.vocabulary import Step
from service import import_file, opened_runtime, record_decision, run_step
from tests.integration.cli_runner import run as cli

CSV = (
    "名单类型,主体类型,名称,统一社会信用代码,认定依据,处罚决定日期,联系邮箱\n"
    "黑名单,单位,四川审计化工有限公司,91510100MA62K0R6XW,A2,2026-10-13,a@example.org\n"
    "黑名单,单位,苏州审计样本有限公司,91320500MA1MXQ4E7B,A4,2026-10-20,b@example.org\n"
)


@dataclass
class Trail:
    directory: Path
    engine: sa.Engine
    env: dict[str, str]
    anchor: Path

    def verify(self, *args: str) -> tuple[int, str]:
        result = cli(self.directory, "audit", "verify", *args, env=self.env)
        return result.returncode, result.stdout + result.stderr

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
        run_step(runtime, imported.batch_id, Step.NOTIFY, actor="flow", source="test")
    with opened_runtime(_settings(tmp_path, url, "2026-11-27T09:00:00+08:00")) as runtime:
        batch = imported.batch_id
        run_step(runtime, batch, Step.CLOSE_DEFENCE, actor="flow", source="test")
        record_decision(
            runtime, batch, Decision("审核人 李娜", "川应急信决〔2026〕3号"), source="t"
        )
        run_step(runtime, batch, Step.PUBLISH, actor="flow", source="test")
        run_step(runtime, batch, Step.DISPATCH, actor="flow", source="test")
    engine = db.make_engine(url)
    env = {"JOINTCREDIT_DATABASE_URL": url, "JOINTCREDIT_DATA_DIR": str(tmp_path / "var")}
    yield Trail(tmp_path, engine, env, tmp_path / "var" / "audit-anchor.log")
    engine.dispose()


def test_an_untouched_trail_verifies_with_its_anchor_and_replay(trail: Trail) -> None:
    assert trail.anchor.exists()
    code, text = trail.verify()
    assert code == 0, text
    assert "链外锚点一致" in text
    assert "状态重放一致" in text


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
    assert "当前状态 removed，审计记录为 in_force" in text


def test_an_action_changed_beside_the_application_is_found(trail: Trail) -> None:
    trail.sql(
        "UPDATE department_action SET state = 'lift_confirmed'"
        " WHERE id = (SELECT max(id) FROM department_action)"
    )
    code, text = trail.verify("--json")
    assert code == 1, text
    assert '"mismatches": 1' in text
    assert '"entity_type": "department_action"' in text


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
