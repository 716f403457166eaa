"""The operator inbox view (`registry.views.inbox`) on a database of its own: parked notices,
contacts to correct (a refused mailbox names who holds it), overdue objections and removal
applications, and the waiting forms passed in from Prefect with their batch; every section
capped the same way, every value masked, and `jointcredit inbox` showing what the artifact
shows."""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from memoranda.loader import Catalogue
from notifications.artifacts import markdown_cell
from notifications.inbox import NO_PREFECT, inbox_markdown
from registry import db
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.models import ContactFlag, Notice, Objection, RemovalApplication, Subject
from registry.views.inbox import SHOWN, WaitingForm, operator_inbox
from tasks.inbox import read_inbox
from tests.factories.identities import leaks, new_resident_id
from tests.factories.listings import proposed_batch
from tests.factories.outbox import queue_notices
from tests.integration.cli_runner import run, run_json

ALL_COMMAND = "jointcredit inbox --all"  # what a capped section names to list the rest


def test_the_inbox_lists_what_waits_for_a_person(
    local: tuple[sa.Engine, dict[str, str]], catalogue: Catalogue, clock: FrozenClock
) -> None:
    engine, _ = local
    batch, listings = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    today = clock.today()
    refused, bad, fine = queue_notices(engine, clock, 3)
    with session_scope(engine) as session:
        subject_id = session.execute(sa.select(Subject.id)).scalar_one()
        session.execute(
            sa.update(Subject).values(contact_email="Refused@Example.org")  # type: ignore[arg-type]
        )
        session.execute(
            sa.update(Notice)
            .where(Notice.id == refused)  # type: ignore[arg-type]
            .values(state="failed", smtp_reply="550 no such user", recipient="refused@example.org")
        )
        session.execute(
            sa.update(Notice)
            .where(Notice.id == bad)  # type: ignore[arg-type]
            .values(state="bad_address", recipient="x@example.org。", last_error="末尾多了“。”")
        )
        session.add(
            ContactFlag(
                address="refused@example.org",
                reason="550 no such user",
                flagged_at=clock.now(),
                failures=2,
            )
        )
        session.add(
            Objection(
                listing_id=listings[0],
                filed_at=clock.now() - timedelta(days=30),
                filed_by="当事人",
                reason="主体有误",
                answer_due=today - timedelta(days=3),
            )
        )
        session.add(
            Objection(
                listing_id=listings[0],
                filed_at=clock.now(),
                filed_by="当事人",
                reason="未到期",
                answer_due=today + timedelta(days=3),
            )
        )
        session.add(
            RemovalApplication(
                listing_id=listings[0],
                applied_at=clock.now() - timedelta(days=20),
                evidence="已整改",
                decide_due=today - timedelta(days=1),
                reminded_at=clock.now(),
            )
        )
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    forms = [
        WaitingForm(
            "r1",
            f"batch-{batch}-确认",
            "route-batch",
            "http://ui/runs/flow-run/r1",
            now - timedelta(hours=5, minutes=59),
            batch_id=batch,
        )
    ]

    with session_scope(engine) as session:
        inbox = operator_inbox(session, today=today, now=now, forms=forms)

    (form,) = inbox.forms or []
    assert (form.run_name, form.url, form.hours) == (f"batch-{batch}-确认", forms[0].url, 5)
    assert form.waits_for.startswith("批次 TEST-")
    assert "列入确认" in form.waits_for
    assert [(p.notice_id, p.state) for p in inbox.parked] == [
        (refused, "永久失败"),
        (bad, "地址无效待更正"),
    ]
    assert fine not in [p.notice_id for p in inbox.parked]
    assert inbox.parked_total == 2
    contacts = {c.address: c for c in inbox.contacts}
    assert set(contacts) == {"refused@example.org", "x@example.org。"}
    assert contacts["refused@example.org"].problem == "被拒收 2 次：550 no such user"
    assert contacts["refused@example.org"].holders[0].startswith(f"主体 {subject_id} ")
    assert f"--subject {subject_id} " in contacts["refused@example.org"].fix
    assert [(o.kind, o.level) for o in inbox.overdue] == [
        ("异议", "未催办"),
        ("移出申请", "已催办"),
    ]
    assert inbox.overdue_total == 2


def test_without_prefect_the_forms_are_unknown_not_empty(
    local: tuple[sa.Engine, dict[str, str]], clock: FrozenClock
) -> None:
    engine, _ = local
    with session_scope(engine) as session:
        inbox = operator_inbox(session, today=date(2026, 11, 27), now=clock.now(), forms=None)
    assert inbox.forms is None
    assert (inbox.parked, inbox.contacts, inbox.overdue) == ([], [], [])


def test_jointcredit_inbox_prints_the_view_and_says_when_forms_cannot_be_listed(
    tmp_path: Path, clock: FrozenClock
) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    engine = db.make_engine(f"sqlite:///{tmp_path / 'var' / 'jointcredit.db'}")
    (parked,) = queue_notices(engine, clock, 1)
    with session_scope(engine) as session:
        session.execute(
            sa.update(Notice).where(Notice.id == parked).values(state="dead")  # type: ignore[arg-type]
        )
    engine.dispose()

    result = run(tmp_path, "inbox", env={"PREFECT_API_URL": ""})
    data = run_json(tmp_path, "inbox", env={"PREFECT_API_URL": ""})

    assert result.returncode == 0, result.stderr
    assert "无法列出待填写的表单" in result.stderr
    assert "搁置的通知（1）" in result.stdout
    assert f"通知 {parked} 推送函" in result.stdout
    assert data["forms"] is None
    assert [p["notice_id"] for p in data["parked"]] == [parked]


def _backlog(engine: sa.Engine, now: datetime, count: int, number: str) -> None:
    """`count` notices parked on an invalid address — every other one a person's mailbox made of
    their ID number, as QQ mail allows — and `count` refused mailboxes, the reply quoting it."""
    notices = [
        {
            "kind": "prior_notice",
            "idempotency_key": f"backlog-{uuid.uuid4().hex}",
            "message_id": f"<{uuid.uuid4().hex}@test>",
            "recipient": f"{number}@qq.com" if i % 2 else f"bad{i}@nowhere.invalid",
            "recipient_name": "当事人",
            "subject": "告知书",
            "body_text": "正文",
            "state": "bad_address",
            "attempts": 1,
            "attempts_at_requeue": 0,
            "created_at": now,
            "channel": "email",
            "service_state": "pending",
            "last_error": f"地址无效：用户 {number} <b>x</b>",
        }
        for i in range(count)
    ]
    flags = [
        {
            "address": f"{number}{i}@qq.com" if i % 2 else f"flag{i}@example.org",
            "reason": f"550 user unknown {number}",
            "flagged_at": now,
            "failures": 3,
        }
        for i in range(count)
    ]
    with session_scope(engine) as session:
        session.execute(sa.insert(Notice), notices)
        session.execute(sa.insert(ContactFlag), flags)


def _items(section: str) -> list[str]:
    return [line for line in section.splitlines() if line.startswith("- ")]


def test_a_backlog_of_thousands_is_capped_in_every_section_and_no_id_number_shows(
    local: tuple[sa.Engine, dict[str, str]], clock: FrozenClock
) -> None:
    engine, _ = local
    number = new_resident_id(random.Random(15))
    _backlog(engine, clock.now(), 3000, number)

    with session_scope(engine) as session:
        inbox = operator_inbox(session, today=clock.today(), now=clock.now(), forms=[])
    text = inbox_markdown(inbox)

    assert leaks(text, [number]) == []
    assert len(text.encode()) < 40_000  # a page, not the 777 KB of every line
    assert (inbox.parked_total, len(inbox.parked)) == (3000, SHOWN)
    # 3000 refused mailboxes, and the 1501 distinct invalid addresses of the parked notices
    assert (inbox.contacts_total, len(inbox.contacts)) == (4501, SHOWN)
    sections = text.split("\n### ")[1:]
    assert [len(_items(section)) for section in sections] == [0, SHOWN + 1, SHOWN + 1, 0]
    assert f"- ……另有 2950 条，用 `{ALL_COMMAND}` 查看全部" in sections[1]
    assert f"- ……另有 4451 条，用 `{ALL_COMMAND}` 查看全部" in sections[2]
    assert "### 需更正的联系方式（4501）" in text
    masked = markdown_cell(f"{number[:6]}********{number[-4:]}@qq.com")
    assert f"→ {masked}：地址无效待更正" in text  # masked, still recognisable
    with session_scope(engine) as session:
        everything = operator_inbox(
            session, today=clock.today(), now=clock.now(), forms=[], shown=None
        )
    assert (len(everything.parked), len(everything.contacts)) == (3000, 4501)
    assert leaks(repr(everything.as_dict()), [number]) == []


def test_jointcredit_inbox_caps_like_the_artifact_lists_all_with_all_and_masks(
    local: tuple[sa.Engine, dict[str, str]], clock: FrozenClock, tmp_path: Path
) -> None:
    engine, env = local
    number = new_resident_id(random.Random(16))
    _backlog(engine, clock.now(), 200, number)
    env = {**env, "PREFECT_API_URL": ""}

    shown = run(tmp_path, "inbox", env=env)
    listed = run(tmp_path, "inbox", "--all", env=env)
    data = run_json(tmp_path, "inbox", "--all", env=env)

    assert shown.returncode == 0, shown.stderr
    assert listed.returncode == 0, listed.stderr
    assert f"……另有 150 条，用 {ALL_COMMAND} 查看全部" in shown.stdout
    assert "……另有" not in listed.stdout
    assert sum(line.startswith("  通知 ") for line in listed.stdout.splitlines()) == 200
    assert (len(data["parked"]), len(data["contacts"])) == (200, 301)
    for output in (shown.stdout, shown.stderr, listed.stdout, listed.stderr):
        assert leaks(output, [number]) == []
    assert leaks(repr(data), [number]) == []


def _sections(lines: list[str], heading: re.Pattern[str]) -> list[tuple[str, int, list[str]]]:
    """(heading, items, the lines saying what was left out) of each section."""
    found: list[tuple[str, int, list[str]]] = []
    for line in lines:
        if (match := heading.match(line)) is not None:
            found.append((match[1], 0, []))
        elif found and (item := re.match(r"^(?:- |  (?! ))(.*)", line)) is not None:
            title, items, more = found[-1]
            if item[1].startswith("……"):
                more = [*more, item[1].replace("`", "")]
            else:
                items += 1
            found[-1] = (title, items, more)
    return found


def test_jointcredit_inbox_prints_the_sections_of_the_artifact(
    local: tuple[sa.Engine, dict[str, str]],
    catalogue: Catalogue,
    clock: FrozenClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Same database, same moment: the command and the artifact list the same sections, with
    the same counts, lines and the same word on what they left out; without a Prefect server
    both say, in Chinese, that the waiting forms cannot be listed."""
    engine, env = local
    _, listings = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    _backlog(engine, clock.now(), 60, new_resident_id(random.Random(17)))
    with session_scope(engine) as session:
        session.add_all(
            Objection(
                listing_id=listings[0],
                filed_at=clock.now() - timedelta(days=40),
                filed_by="当事人",
                reason=f"异议 {i}",
                answer_due=clock.today() - timedelta(days=1 + i % 5),
            )
            for i in range(SHOWN + 3)
        )
    env = {**env, "PREFECT_API_URL": "", "JOINTCREDIT_NOW": clock.now().isoformat()}
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    artifact = inbox_markdown(read_inbox(None))
    printed = run(tmp_path, "inbox", env=env)

    assert printed.returncode == 0, printed.stderr
    assert markdown_cell(NO_PREFECT) in artifact
    assert NO_PREFECT in printed.stderr
    assert "无法列出（未配置 Prefect 服务器）" in printed.stdout
    expected = _sections(artifact.splitlines(), re.compile(r"^### (.*)$"))
    got = _sections(printed.stdout.splitlines(), re.compile(r"^(\S.*)$"))
    assert got[0][0].startswith("操作员待办")  # the title line
    assert [title for title, _, _ in got[1:]] == [title for title, _, _ in expected]
    assert [(items, more) for _, items, more in got[2:]] == [
        (items, more) for _, items, more in expected[1:]
    ]
    assert [more for _, _, more in expected[1:]] == [
        [f"……另有 10 条，用 {ALL_COMMAND} 查看全部"],
        [f"……另有 {60 + 31 - SHOWN} 条，用 {ALL_COMMAND} 查看全部"],
        [f"……另有 3 条，用 {ALL_COMMAND} 查看全部"],
    ]
