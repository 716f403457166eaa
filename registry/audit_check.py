"""What `jointcredit audit verify` checks beyond the hash chain (`registry.audit.verify`).

- **The anchored head** (`registry.audit_anchor`): the newest head written outside the database
  must still be in the chain, with the same hash. Deleting the newest events and moving
  `audit_head` back keeps the chain consistent, but not with the anchor. A chain with events
  and no anchored head at all fails too: nothing then rules out a truncated tail (a database
  from before anchoring starts with `jointcredit audit anchor --accept-current-head`).
- **Replay.** Every listing's and department action's state is what its events say: the
  `state` in the `after` of its newest event. A listing has at least its `listing.propose`
  event; an action with no event of its own is still as dispatch created it (`dispatched`;
  `batch.dispatch` records dispatch per batch) — or, when the trail says its listing was
  removed or revoked, `lift_requested` (databases from before lift requests had one event per
  action). So `UPDATE listing SET state = …` made beside
  the application shows as a listing whose row and trail disagree.
- **Replayed fields.** Besides the state, every column in `REPLAYED_FIELDS` that an event of
  the entity records in its `after` must still hold the newest recorded value — the dates,
  list type, decision number and removal reason that decide which measures apply, so
  `UPDATE listing SET expires_on = …` shows too. `listing.propose` implies the later dates
  blank (`BLANK_WHEN_PROPOSED`). A column no event of the entity records is not compared
  (nothing says what it should be).

Read-only; streams the events and rows in chunks, holding the recorded fields of each listing
and action.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session

from registry.audit import EventDraft, append_events, chain_id, jsonable, verify
from registry.audit_anchor import AnchoredHead, AnchorError, AuditAnchor
from registry.models import ActionState, AuditEvent, DepartmentAction, Listing
from registry.vocabulary import (
    ACTION_STATE_LABELS,
    LIST_TYPE_LABELS,
    LISTING_STATE_LABELS,
    REMOVAL_REASON_LABELS,
    REMOVAL_REASON_STATEMENTS,
    RemovalReason,
    label,
)

AUDIT = cast(sa.Table, sa.inspect(AuditEvent).local_table)
LISTING = cast(sa.Table, sa.inspect(Listing).local_table)
ACTION = cast(sa.Table, sa.inspect(DepartmentAction).local_table)
REPLAYED = ("listing", "department_action")
ANCHOR_ACCEPT = "audit.anchor_accept"
LIFTED_LISTING_STATES = {"removed", "revoked"}
REPLAYED_FIELDS: dict[str, dict[str, str]] = {
    # column: its Chinese name. Only columns that the events of the entity record in `after`
    # (`intake/writer.py` listing.propose, `lifecycle._effects`, the action events): a column
    # changed without an event (an action's response times, reset by a restore's re-dispatch)
    # cannot be replayed and is not listed.
    "listing": {
        "subject_id": "主体编号",
        "list_type": "名单类型",
        "rule_set": "规则",
        "grounds": "认定依据",
        "needs_review": "需复核",
        "notified_at": "告知时间",
        "defence_from": "申辩起算日",
        "defence_wd": "申辩期工作日数",
        "defence_due": "陈述申辩期限",
        "defence_provisional": "申辩期限为暂定",
        "decided_at": "认定时间",
        "decided_by": "认定人",
        "decision_number": "决定书文号",
        "published_at": "公开时间",
        "expires_on": "有效期至",
        "removal_reason": "移出原因",
        "removed_at": "移出时间",
    },
    "department_action": {"listing_id": "名单编号", "department": "部门"},
}
"""What the replay compares besides the state (docs/reliability.md lists them)."""
BLANK_WHEN_PROPOSED: dict[str, Any] = {
    **dict.fromkeys(
        (
            "notified_at",
            "defence_from",
            "defence_wd",
            "defence_due",
            "decided_at",
            "decided_by",
            "published_at",
            "expires_on",
            "removal_reason",
            "removed_at",
        )
    ),
    "defence_provisional": False,
}
"""What `listing.propose` implies of the columns only later events set (`lifecycle._effects`):
an import writes none of them, so a date filled in beside the application is seen even
before the event that would set it. (A decision number may come with the file, so it is
compared once a decision records one.)"""
_CODE_LABELS = {
    "list_type": LIST_TYPE_LABELS,
    "removal_reason": REMOVAL_REASON_LABELS,
}


@dataclass(frozen=True)
class AnchorReport:
    ok: bool
    anchored: AnchoredHead | None
    reason: str | None = None
    missing: bool = False
    """The chain has events but no head is anchored for it: a truncation cannot be ruled out."""


def check_anchor(
    session: Session, anchor: AuditAnchor, reported: tuple[int, str] | None = None
) -> AnchorReport:
    """Is the newest anchored head of this database's chain — or `reported`, a head printed in
    a monthly report — still in the table, unchanged?"""
    chain = chain_id(session)
    if reported is not None:
        head: AnchoredHead | None = AnchoredHead(chain or "", *reported)
    elif chain is None:
        return AnchorReport(True, None)  # no events: nothing to anchor, nothing to lose
    else:
        head = anchor.latest(chain)
    if head is None:
        where = (
            f"锚点文件 {anchor.path} 不存在"
            if not anchor.path.exists()
            else f"锚点文件 {anchor.path} 中没有本库审计链的锚点"
        )
        return AnchorReport(
            False,
            None,
            f"{where}，无法排除链尾被截断"
            "（no anchored head for this chain: a truncated tail cannot be ruled out）",
            missing=True,
        )
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
    """A listing's or action's column that differs from what its newest event recorded."""

    entity_type: str
    entity_id: int
    stored: Any
    trail: Any
    field: str = "state"

    def describe(self) -> str:
        kind = "名单" if self.entity_type == "listing" else "部门事项"
        gloss = (
            f"（{self.entity_type} {self.entity_id}: {self.field} stored {self.stored},"
            f" trail {self.trail}）"
        )
        if self.field == "state":
            labels = LISTING_STATE_LABELS if self.entity_type == "listing" else ACTION_STATE_LABELS
            if self.stored is None and self.trail is not None:
                return (
                    f"{kind} {self.entity_id}：已被删除，审计记录为 {_shown(labels, self.trail)}"
                    f"（{self.entity_type} {self.entity_id} deleted beside the application）"
                )
            trail = "（无任何操作记录）" if self.trail is None else _shown(labels, self.trail)
            return (
                f"{kind} {self.entity_id}：当前状态 {_shown(labels, self.stored)}，"
                f"审计记录为 {trail}{gloss}"
            )
        name = REPLAYED_FIELDS[self.entity_type].get(self.field, self.field)
        labels = _CODE_LABELS.get(self.field, {})
        return (
            f"{kind} {self.entity_id}：{name}（{self.field}）当前为 {_shown(labels, self.stored)}，"
            f"审计记录为 {_shown(labels, self.trail)}{gloss}"
        )


def _shown(labels: dict[str, str], value: Any) -> str:
    """`已移出（removed）`: a code with its Chinese label, as the CLI shows codes elsewhere."""
    if value is None:
        return "空"
    if isinstance(value, str) and value in labels:
        return f"{label(labels, value)}（{value}）"
    return str(value)


@dataclass(frozen=True)
class ReplayReport:
    checked: int
    mismatches: list[StateMismatch]
    total_mismatches: int

    @property
    def ok(self) -> bool:
        return self.total_mismatches == 0


def replay_states(session: Session, *, shown: int = 20, chunk: int = 5000) -> ReplayReport:
    """Compare every listing's and action's state and replayed fields with the trail; keep the
    first `shown` differences."""
    trail: dict[str, dict[int, dict[str, Any]]] = {kind: {} for kind in REPLAYED}
    events = session.execute(
        sa.select(AUDIT.c.entity_type, AUDIT.c.entity_id, AUDIT.c.action, AUDIT.c.after)
        .where(AUDIT.c.entity_type.in_(REPLAYED))
        .order_by(AUDIT.c.seq)
        .execution_options(yield_per=chunk)
    )
    for entity_type, entity_id, action, after in events:
        if isinstance(after, dict) and str(entity_id).isdigit():
            recorded = trail[entity_type].setdefault(int(entity_id), {})
            _record(recorded, entity_type, action, after)
    mismatches: list[StateMismatch] = []
    checked = total = 0
    present: dict[str, set[int]] = {kind: set() for kind in REPLAYED}
    for entity_type, entity_id, listing_id, row in _rows(session, chunk):
        checked += 1
        present[entity_type].add(entity_id)
        recorded = trail[entity_type].get(entity_id, {})
        expected = recorded.get("state")
        if expected is None and entity_type == "department_action":
            lifted = trail["listing"].get(listing_id, {}).get("state") in LIFTED_LISTING_STATES
            expected = ActionState.LIFT_REQUESTED.value if lifted else ActionState.DISPATCHED.value
        found = [StateMismatch(entity_type, entity_id, row["state"], expected)]
        found = [m for m in found if m.stored != m.trail]
        found += [
            StateMismatch(entity_type, entity_id, row[field], recorded[field], field)
            for field in REPLAYED_FIELDS[entity_type]
            if field in recorded and row[field] != recorded[field]
        ]
        total += len(found)
        mismatches.extend(found[: max(0, shown - len(mismatches))])
    # Nothing in the application deletes a listing or an action: a row the trail knows of and
    # the table does not was deleted beside it (an in-force listing gone clears its subject).
    for entity_type, recorded_ids in trail.items():
        gone = sorted(set(recorded_ids) - present[entity_type])
        total += len(gone)
        mismatches.extend(
            StateMismatch(entity_type, entity_id, None, trail[entity_type][entity_id].get("state"))
            for entity_id in gone[: max(0, shown - len(mismatches))]
        )
    return ReplayReport(checked, mismatches, total)


def _record(recorded: dict[str, Any], entity_type: str, action: str, after: dict[str, Any]) -> None:
    """Fold one event's `after` into what the trail says of its entity."""
    if action == "listing.propose":
        recorded.update(BLANK_WHEN_PROPOSED)
    for field in ("state", *REPLAYED_FIELDS[entity_type]):
        if field in after:
            recorded[field] = after[field]
    if (
        action == "listing.revoke"
        and after.get("removal_reason") == RemovalReason.REVOKED.value
        and after.get("reason") == REMOVAL_REASON_STATEMENTS[RemovalReason.RED_FORFEITED]
    ):
        # Before the revoke event recorded it, a red listing forfeited by a black one was
        # revoked and then given this reason beside the event (`removal.revoke_red_listings_of`).
        recorded["removal_reason"] = RemovalReason.RED_FORFEITED.value


def _rows(session: Session, chunk: int) -> Iterator[tuple[str, int, int, dict[str, Any]]]:
    """(entity type, id, listing id, {column: value as the trail stores it}) of every listing
    and action, with the state and the replayed columns."""
    for entity_type, table, listing in (
        ("listing", LISTING, LISTING.c.id),
        ("department_action", ACTION, ACTION.c.listing_id),
    ):
        columns = [table.c[name] for name in ("state", *REPLAYED_FIELDS[entity_type])]
        rows = session.execute(
            sa.select(table.c.id, listing.label("of_listing"), *columns)
            .order_by(table.c.id)
            .execution_options(yield_per=chunk)
        )
        for row in rows.mappings():
            values = jsonable({c.name: row[c.name] for c in columns}) or {}
            yield entity_type, int(row["id"]), int(row["of_listing"]), values


def accept_current_head(
    session: Session, anchor: AuditAnchor, *, actor: str, source: str, at: datetime
) -> AnchoredHead:
    """Start anchoring a chain that has events and no anchored head (a database from before
    anchoring, or one whose anchor file was lost): append `audit.anchor_accept` naming the head
    accepted, in the caller's transaction; its commit anchors the new head (the anchor must be
    installed on the session's engine). Refused when the chain does not verify, is empty, or
    already has an anchored head — accepting then would hide a truncation."""
    chain = chain_id(session)
    if chain is None:
        raise AnchorError("审计记录为空，无需锚定：第一次提交即写入锚点（no events to anchor）")
    existing = anchor.latest(chain)
    if existing is not None:
        raise AnchorError(
            f"本库审计链已有锚点（第 {existing.seq} 号记录，{anchor.path}），不能重新接受；"
            "请运行 jointcredit audit verify（the chain is already anchored）",
            anchored_seq=existing.seq,
        )
    report = verify(session)
    if not report.ok:
        raise AnchorError(
            f"审计链校验未通过（第 {report.first_bad_seq} 号：{report.reason}），"
            "不能接受为锚点；请先从备份核对（the chain does not verify）",
            first_bad_seq=report.first_bad_seq,
        )
    seq, digest = session.execute(
        sa.select(AUDIT.c.seq, AUDIT.c.hash).order_by(AUDIT.c.seq.desc()).limit(1)
    ).one()
    append_events(
        session,
        [
            EventDraft(
                actor,
                ANCHOR_ACCEPT,
                "audit_chain",
                seq,
                None,
                {"accepted_seq": seq, "accepted_hash": digest, "anchor_file": str(anchor.path)},
                source,
            )
        ],
        at=at,
    )
    return AnchoredHead(chain, int(seq), str(digest))
