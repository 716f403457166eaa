"""Notices for outbox and delivery tests, enqueued the way production code enqueues them."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import sqlalchemy as sa
from sqlmodel import col

from notifications.outbox import NoticeDraft, NoticeKey, Recipient, enqueue_notices
from registry.clock import Clock
from registry.db import session_scope
from registry.models import ContactFlag, Notice, NoticeAttempt, NoticeListing
from registry.repository import add_batch
from registry.vocabulary import NoticeKind
from tests.factories.notices import unnumbered


def empty_outbox(engine: sa.Engine) -> None:
    """Delivery tests drain the whole queue, so each starts from an empty one."""
    with engine.begin() as connection:
        for table in (NoticeAttempt, ContactFlag, NoticeListing, Notice):
            connection.execute(sa.delete(table))


def a_batch(engine: sa.Engine, clock: Clock) -> int:
    """A batch for notices to belong to (the notice's batch is a foreign key)."""
    with session_scope(engine) as session:
        return add_batch(
            session,
            reference=f"OUTBOX-{uuid.uuid4().hex[:12]}",
            list_type="black",
            rule_set="mem-2023-serious",
            source_kind="test",
            proposed_by="测试",
            catalogue_hash="0" * 64,
            created_at=clock.now(),
        )


def department_address(index: int) -> str:
    return f"dept{index:05d}@example.org"


def queue_notices(
    engine: sa.Engine,
    clock: Clock,
    count: int,
    *,
    kind: NoticeKind = NoticeKind.DEPARTMENT_DISPATCH,
    address: Callable[[int], str] = department_address,
    name: str | None = "联合奖惩工作联系人",
) -> list[int]:
    """`count` notices of `kind` (its sample context), each to its own recipient."""
    run = uuid.uuid4().hex[:8]
    drafts = [
        NoticeDraft(
            kind=kind,
            recipient=Recipient(address(i), name),
            context=unnumbered(kind),
            key=NoticeKey(kind, f"test:{run}-{i}", address(i), "dispatch"),
        )
        for i in range(count)
    ]
    with session_scope(engine) as session:
        return enqueue_notices(session, drafts, now=clock.now()).new_ids


def notices(engine: sa.Engine, ids: list[int] | None = None) -> list[Notice]:
    with session_scope(engine) as session:
        query = sa.select(Notice).order_by(col(Notice.id))
        if ids is not None:
            query = query.where(col(Notice.id).in_(ids))
        return list(session.execute(query).scalars())


def attempts(engine: sa.Engine) -> list[NoticeAttempt]:
    with session_scope(engine) as session:
        query = sa.select(NoticeAttempt).order_by(col(NoticeAttempt.id))
        return list(session.execute(query).scalars())
