"""What `jointcredit audit verify` checks beyond the hash chain (`registry.audit.verify`).

- **The anchored head** (`registry.audit_anchor`): the newest head written outside the database
  must still be in the chain, with the same hash. Deleting the newest events and moving
  `audit_head` back keeps the chain consistent, but not with the anchor.
- **Replay.** Every listing's and department action's state is what its events say: the
  `state` in the `after` of its newest event. A listing has at least its `listing.propose`
  event; an action with no event of its own is still as dispatch created it (`dispatched`;
  `batch.dispatch` records dispatch per batch) — or, when the trail says its listing was
  removed or revoked, `lift_requested` (databases from before lift requests had one event per
  action). So `UPDATE listing SET state = …` made beside
  the application shows as a listing whose row and trail disagree.

Read-only; streams the events and rows in chunks, holding one state per listing and action.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session

from registry.audit import chain_id
from registry.audit_anchor import AnchoredHead, AuditAnchor
from registry.models import ActionState, AuditEvent, DepartmentAction, Listing

AUDIT = cast(sa.Table, sa.inspect(AuditEvent).local_table)
LISTING = cast(sa.Table, sa.inspect(Listing).local_table)
ACTION = cast(sa.Table, sa.inspect(DepartmentAction).local_table)
REPLAYED = ("listing", "department_action")
LIFTED_LISTING_STATES = {"removed", "revoked"}


@dataclass(frozen=True)
class AnchorReport:
    ok: bool
    anchored: AnchoredHead | None
    reason: str | None = None


def check_anchor(
    session: Session, anchor: AuditAnchor, reported: tuple[int, str] | None = None
) -> AnchorReport:
    """Is the newest anchored head of this database's chain — or `reported`, a head printed in
    a monthly report — still in the table, unchanged?"""
    chain = chain_id(session)
    if reported is not None:
        head: AnchoredHead | None = AnchoredHead(chain or "", *reported)
    elif chain is None:
        return AnchorReport(True, None)
    else:
        head = anchor.latest(chain)
    if head is None:
        return AnchorReport(True, None)
    stored = session.execute(
        sa.select(AUDIT.c.hash).where(AUDIT.c.seq == head.seq)
    ).scalar_one_or_none()
    if stored is None:
        last = session.execute(sa.select(sa.func.max(AUDIT.c.seq))).scalar_one()
        return AnchorReport(
            False,
            head,
            f"链尾被截断：锚点记录到第 {head.seq} 号，表中只到第 {last} 号"
            f"（anchored head {head.seq} is missing: events were deleted）",
        )
    if stored != head.hash:
        return AnchorReport(
            False,
            head,
            f"第 {head.seq} 号记录与锚点不符（anchored hash differs: the chain was rewritten）",
        )
    return AnchorReport(True, head)


@dataclass(frozen=True)
class StateMismatch:
    entity_type: str
    entity_id: int
    stored: str
    trail: str | None

    def describe(self) -> str:
        kind = "名单" if self.entity_type == "listing" else "部门事项"
        trail = self.trail or "（无任何操作记录）"
        return (
            f"{kind} {self.entity_id}：当前状态 {self.stored}，审计记录为 {trail}"
            f"（{self.entity_type} {self.entity_id}: stored {self.stored}, trail {self.trail})"
        )


@dataclass(frozen=True)
class ReplayReport:
    checked: int
    mismatches: list[StateMismatch]
    total_mismatches: int

    @property
    def ok(self) -> bool:
        return self.total_mismatches == 0


def replay_states(session: Session, *, shown: int = 20, chunk: int = 5000) -> ReplayReport:
    """Compare every listing's and action's state with the trail; keep the first `shown`."""
    trail: dict[str, dict[int, str]] = {kind: {} for kind in REPLAYED}
    events = session.execute(
        sa.select(AUDIT.c.entity_type, AUDIT.c.entity_id, AUDIT.c.after)
        .where(AUDIT.c.entity_type.in_(REPLAYED))
        .order_by(AUDIT.c.seq)
        .execution_options(yield_per=chunk)
    )
    for entity_type, entity_id, after in events:
        state = _state(after)
        if state is not None and str(entity_id).isdigit():
            trail[entity_type][int(entity_id)] = state
    mismatches: list[StateMismatch] = []
    checked = total = 0
    for entity_type, entity_id, stored, listing_id in _rows(session, chunk):
        checked += 1
        expected = trail[entity_type].get(entity_id)
        if expected is None and entity_type == "department_action":
            lifted = trail["listing"].get(listing_id) in LIFTED_LISTING_STATES
            expected = ActionState.LIFT_REQUESTED.value if lifted else ActionState.DISPATCHED.value
        if stored != expected:
            total += 1
            if len(mismatches) < shown:
                mismatches.append(StateMismatch(entity_type, entity_id, stored, expected))
    return ReplayReport(checked, mismatches, total)


def _state(after: Any) -> str | None:
    if isinstance(after, dict) and isinstance(after.get("state"), str):
        return str(after["state"])
    return None


def _rows(session: Session, chunk: int) -> Iterator[tuple[str, int, str, int]]:
    """(entity type, id, state, listing id) of every listing and action."""
    for entity_type, table, listing in (
        ("listing", LISTING, LISTING.c.id),
        ("department_action", ACTION, ACTION.c.listing_id),
    ):
        rows = session.execute(
            sa.select(table.c.id, table.c.state, listing)
            .order_by(table.c.id)
            .execution_options(yield_per=chunk)
        )
        for entity_id, state, listing_id in rows:
            yield entity_type, int(entity_id), str(state), int(listing_id)
