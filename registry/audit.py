"""Hash-chained audit events (DOMAIN.md §7: 来源可查、责任可究).

Each event's hash covers its content and the previous event's hash, so changing, deleting or
reordering any row breaks every hash after it; `verify` finds the first broken link. Appenders
first lock the single `audit_head` row (a row lock on PostgreSQL, the write lock on SQLite), so
two concurrent transactions cannot both extend the same tip and fork the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from registry.audit_anchor import note_head
from registry.free_text import clean_json, clean_single_line
from registry.models import AuditEvent, AuditHead

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class EventDraft:
    """An event before it is chained: what happened, to what, by whom, from where."""

    actor: str
    action: str
    entity_type: str
    entity_id: str | int
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    source: str


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default
    )


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def jsonable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """Values as stored in the JSON columns (dates as ISO strings), so hashes round-trip."""
    if values is None:
        return None
    loaded: dict[str, Any] = json.loads(canonical_json(values))
    return loaded


def event_hash(prev_hash: str, seq: int, at: datetime, draft: EventDraft) -> str:
    return _stored_hash(prev_hash, seq, at, draft, jsonable(draft.before), jsonable(draft.after))


def _stored_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    draft: EventDraft,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> str:
    """The hash over the event as stored: `before`/`after` already through `jsonable`."""
    payload = {
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(),
        "actor": draft.actor,
        "action": draft.action,
        "entity_type": draft.entity_type,
        "entity_id": str(draft.entity_id),
        "before": before,
        "after": after,
        "source": draft.source,
    }
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode()).hexdigest()


def cleaned(draft: EventDraft) -> EventDraft:
    """The event as it may be stored: actor and source one line, every text in the detail with
    resident ID numbers masked (`registry.free_text`) — whoever drafted it."""
    return EventDraft(
        actor=clean_single_line(draft.actor),
        action=draft.action,
        entity_type=draft.entity_type,
        entity_id=draft.entity_id,
        before=clean_json(draft.before),
        after=clean_json(draft.after),
        source=clean_single_line(draft.source),
    )


def append_events(session: Session, drafts: Sequence[EventDraft], *, at: datetime) -> list[int]:
    """Chain and insert events in the caller's transaction (never commits); returns their seqs."""
    if not drafts:
        return []
    at = at.astimezone(UTC)
    if _lock_head(session) == 0:
        # The very first events: two appenders may both find no tip. Whoever inserts it second
        # waits for the first to commit and then inserts nothing, so both lock the same row.
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(
            dialect.insert(AuditHead)
            .values(id=1, last_seq=0, last_hash=GENESIS_HASH)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        _lock_head(session)
    seq, prev = session.execute(
        sa.select(col(AuditHead.last_seq), col(AuditHead.last_hash)).where(col(AuditHead.id) == 1)
    ).one()
    rows: list[dict[str, Any]] = []
    for raw in drafts:
        draft = cleaned(raw)
        seq += 1
        before, after = jsonable(draft.before), jsonable(draft.after)
        digest = _stored_hash(prev, seq, at, draft, before, after)
        rows.append(
            {
                "seq": seq,
                "at": at,
                "actor": draft.actor,
                "action": draft.action,
                "entity_type": draft.entity_type,
                "entity_id": str(draft.entity_id),
                "before": before,
                "after": after,
                "source": draft.source,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    # Core, not the ORM bulk path: an import appends one event per listing.
    session.execute(sa.insert(_AUDIT_EVENT), rows)
    session.execute(
        sa.update(AuditHead).where(col(AuditHead.id) == 1).values(last_seq=seq, last_hash=prev)
    )
    chain = rows[0]["hash"] if rows[0]["seq"] == 1 else chain_id(session)
    note_head(session, chain or "", seq, prev)  # anchored outside the database once committed
    return [row["seq"] for row in rows]


def chain_id(session: Session) -> str | None:
    """The hash of the first event: names this database's chain (e.g. in the anchor file)."""
    first = session.execute(
        sa.select(col(AuditEvent.hash)).where(col(AuditEvent.seq) == 1)
    ).scalar_one_or_none()
    return None if first is None else str(first)


def _lock_head(session: Session) -> int:
    """Lock the chain tip before reading it (a row lock on PostgreSQL, the write lock on
    SQLite); returns how many tips there are (0 before the first event)."""
    locked = session.execute(
        sa.update(AuditHead).where(col(AuditHead.id) == 1).values(last_seq=AuditHead.last_seq)
    )
    return int(locked.rowcount)  # type: ignore[attr-defined]


_AUDIT_EVENT = cast(sa.Table, sa.inspect(AuditEvent).local_table)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None


def verify(session: Session, *, chunk: int = 5000) -> ChainReport:
    """Recompute every hash in order; report the first event that does not match."""
    prev = GENESIS_HASH
    expected_seq = 0
    checked = 0
    result = session.execute(
        sa.select(AuditEvent).order_by(col(AuditEvent.seq)).execution_options(yield_per=chunk)
    )
    for event in result.scalars():
        expected_seq += 1
        if event.seq != expected_seq:
            return ChainReport(False, checked, event.seq, f"序号不连续：缺少 {expected_seq}（gap）")
        if event.prev_hash != prev:
            return ChainReport(False, checked, event.seq, "前序哈希不符（prev hash mismatch）")
        draft = EventDraft(
            event.actor,
            event.action,
            event.entity_type,
            event.entity_id,
            event.before,
            event.after,
            event.source,
        )
        if event_hash(prev, event.seq, event.at, draft) != event.hash:
            return ChainReport(False, checked, event.seq, "内容被篡改（content hash mismatch）")
        prev = event.hash
        checked += 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_seq != expected_seq or head.last_hash != prev):
        return ChainReport(
            False, checked, head.last_seq, "链尾与记录不符：事件被删除（chain tip mismatch）"
        )
    return ChainReport(True, checked)
