"""The hash chain detects a changed, a deleted and a forged row; appenders never fork it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session

from registry.audit import EventDraft, append_events, verify
from registry.db import session_scope
from registry.models import AuditEvent, AuditHead

AT = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def _append(engine: sa.Engine, n: int, actor: str = "审核人 李娜") -> list[int]:
    drafts = [
        EventDraft(actor, "listing.confirm", "listing", i, {"state": "a"}, {"state": "b"}, "test")
        for i in range(n)
    ]
    with session_scope(engine) as session:
        return append_events(session, drafts, at=AT)


def test_a_fresh_chain_verifies(engine: sa.Engine) -> None:
    seqs = _append(engine, 5)
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    with Session(engine) as session:
        report = verify(session)
    assert report.ok
    assert report.checked >= 5


def test_a_changed_row_is_found(engine: sa.Engine) -> None:
    [seq, *_] = _append(engine, 3)
    table = AuditEvent.__table__
    with session_scope(engine) as session:
        original = session.execute(sa.select(table.c.after).where(table.c.seq == seq)).scalar()
        session.execute(sa.update(table).where(table.c.seq == seq).values(after={"state": "x"}))
    try:
        with Session(engine) as session:
            report = verify(session)
        assert not report.ok
        assert report.first_bad_seq == seq
        assert report.reason is not None
        assert "篡改" in report.reason
    finally:
        with session_scope(engine) as session:
            session.execute(sa.update(table).where(table.c.seq == seq).values(after=original))
    with Session(engine) as session:
        assert verify(session).ok


def test_a_changed_actor_is_found(engine: sa.Engine) -> None:
    [seq] = _append(engine, 1)
    table = AuditEvent.__table__
    with session_scope(engine) as session:
        session.execute(sa.update(table).where(table.c.seq == seq).values(actor="别人"))
    try:
        with Session(engine) as session:
            report = verify(session)
        assert (report.ok, report.first_bad_seq) == (False, seq)
    finally:
        with session_scope(engine) as session:
            session.execute(sa.update(table).where(table.c.seq == seq).values(actor="审核人 李娜"))


def test_a_deleted_row_is_found(engine: sa.Engine) -> None:
    seqs = _append(engine, 3)
    table = AuditEvent.__table__
    with session_scope(engine) as session:
        row = session.execute(sa.select(table).where(table.c.seq == seqs[1])).mappings().one()
        saved = dict(row)
        session.execute(sa.delete(table).where(table.c.seq == seqs[1]))
    try:
        with Session(engine) as session:
            report = verify(session)
        assert (report.ok, report.first_bad_seq) == (False, seqs[2])
    finally:
        with session_scope(engine) as session:
            session.execute(sa.insert(table).values(**saved))


def test_deleting_the_newest_rows_is_found(engine: sa.Engine) -> None:
    seqs = _append(engine, 2)
    table = AuditEvent.__table__
    with session_scope(engine) as session:
        row = session.execute(sa.select(table).where(table.c.seq == seqs[-1])).mappings().one()
        saved = dict(row)
        session.execute(sa.delete(table).where(table.c.seq == seqs[-1]))
    try:
        with Session(engine) as session:
            report = verify(session)
        assert not report.ok
        assert report.reason is not None
        assert "链尾" in report.reason
    finally:
        with session_scope(engine) as session:
            session.execute(sa.insert(table).values(**saved))


def test_concurrent_appenders_do_not_fork_the_chain(engine: sa.Engine) -> None:
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            for _ in range(10):
                _append(engine, 3, actor=name)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"worker-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(engine) as session:
        report = verify(session)
        head = session.get(AuditHead, 1)
        total = session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar()
    assert report.ok
    assert head is not None
    assert head.last_seq == total
