"""Recording department responses (发起—响应—反馈, DOMAIN.md §1): acknowledgement, feedback, lift.

Three ways in — the `record-responses` form or flow parameters, `jointcredit respond` with flags,
and the spreadsheet a department sends back — all end in `record_responses`, so one rule-set
decides what a department may answer:

- **Ack (响应)**: dispatched → acknowledged. **Feedback (反馈)**: dispatched | acknowledged →
  feedback_reported, with the outcome (measures applied, or not applicable *with* a reason) and
  the ack implied if none was recorded. **Lift (解除确认)**: lift_requested → lift_confirmed;
  nothing else can be confirmed, because no 解除函 was sent.
- **Late is accepted, and marked.** A response after its due date (business date of now >
  due) is recorded with its `*_late` flag: refusing it would lose the answer the SLA sweep
  is chasing.
- **Repeats are no-ops**, reported as "already": departments resend sheets, operators retry.
- **Refusals name what is wrong** (unknown department, a listing never sent to it, a lift
  never requested) per listing and never stop the others: what can land, lands.
- **Set-based.** Each kind is applied per department with one SELECT and one guarded UPDATE
  (per chunk); per-listing feedback texts go in through a CASE on the action id.
- **Audit.** One event per changed action (`action.acknowledge`, `action.feedback`,
  `action.lift_confirm`). The actor is the department (`department:<code>`): the response is
  its act. Who entered it — the operator at the CLI, the form's 录入人, the flow — is kept as
  `recorded_by` in the event, and the channel as its source (`cli:respond`, `file:<name>`,
  `flow:record-responses`).

Never commits: the caller owns the transaction, as everywhere in `registry/`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from registry.audit import EventDraft, append_events
from registry.clock import Clock, business_date
from registry.db import in_list_chunks
from registry.free_text import clean_free_text
from registry.models import DepartmentAction, Listing
from registry.responses.items import Item, checked_items, refuse
from registry.responses.requests import (
    ActionResponse,
    Refusal,
    Response,
    ResponseRefused,
    ResponseResult,
)
from registry.responses.rules import ORDER, RULES, verdict
from registry.vocabulary import ResponseKind

ACTION = sa.inspect(DepartmentAction).local_table


@dataclass(frozen=True)
class _ActionView:
    id: int
    listing_id: int
    state: str
    ack_due: date | None
    feedback_due: date | None
    lift_due: date | None
    acknowledged_at: datetime | None
    feedback_at: datetime | None
    dispatched_at: datetime


_VIEW_COLUMNS = [ACTION.c[name] for name in _ActionView.__dataclass_fields__]


def record_responses(
    session: Session,
    *,
    responses: Sequence[Response],
    catalogue: Catalogue,
    clock: Clock,
    recorded_by: str,
    source: str,
) -> ResponseResult:
    """Apply responses (ack, then feedback, then lift) in the caller's transaction."""
    now = clock.now()
    today = business_date(now)
    result = ResponseResult()
    items = [
        replace(item, text=clean_free_text(item.text))
        for item in checked_items(session, responses, catalogue, result, today)
    ]
    drafts: list[EventDraft] = []
    for kind in ORDER:
        groups: dict[tuple[str, date | None], list[Item]] = {}
        for item in items:
            if item.kind is kind:
                groups.setdefault((item.department, item.answered_on), []).append(item)
        for (department, answered_on), group in groups.items():
            drafts += _apply(
                session,
                kind,
                department,
                group,
                now,
                _Answered(answered_on or today, answered_on is not None),
                result,
                recorded_by,
                source,
            )
    append_events(session, drafts, at=now)
    return result


def _apply(
    session: Session,
    kind: ResponseKind,
    department: str,
    items: list[Item],
    now: datetime,
    answered: _Answered,
    result: ResponseResult,
    recorded_by: str,
    source: str,
) -> list[EventDraft]:
    """One kind for one department and answer date: read the actions, one guarded UPDATE."""
    moving = _moving(session, kind, department, items, answered, result)
    if not moving:
        return []
    _update_actions(session, kind, department, moving, now, answered.on)
    return _events(kind, department, moving, now, answered, result, recorded_by, source)


def _moving(
    session: Session,
    kind: ResponseKind,
    department: str,
    items: list[Item],
    answered: _Answered,
    result: ResponseResult,
) -> list[tuple[Item, _ActionView]]:
    """The (item, action) pairs the answer moves; the others are refused or already done."""
    rule = RULES[kind]
    views = _actions(session, department, [i.listing_id for i in items])
    unknown = _missing_listings(session, [i.listing_id for i in items if i.listing_id not in views])
    moving: list[tuple[Item, _ActionView]] = []
    for item in items:
        actions = views.get(item.listing_id)
        if not actions:
            if item.listing_id in unknown:
                zh, en = f"名单 {item.listing_id} 不存在", f"no listing {item.listing_id}"
            else:
                zh = f"名单 {item.listing_id} 未向 {department} 推送，无从答复"
                en = f"listing {item.listing_id} was never sent to {department}"
            refuse(result, item, item.listing_id, "listing_id", zh, en, item.listing_id)
            continue
        for action in actions:
            if answered.given and answered.on < business_date(action.dispatched_at):
                refuse(
                    result,
                    item,
                    item.listing_id,
                    "answered_on",
                    f"答复日期 {answered.on.isoformat()} 早于推送日期"
                    f"（{business_date(action.dispatched_at).isoformat()}）",
                    "answered before the listing was sent to the department",
                    answered.on.isoformat(),
                )
                continue
            outcome = verdict(kind, action.state, action.feedback_at)
            if isinstance(outcome, tuple):
                refuse(result, item, item.listing_id, rule.field, *outcome)
            elif outcome == "move":
                moving.append((item, action))
            else:
                result.already.append(ActionResponse(action.id, item.listing_id, department, kind))
    return moving


def _update_actions(
    session: Session,
    kind: ResponseKind,
    department: str,
    moving: list[tuple[Item, _ActionView]],
    now: datetime,
    today: date,
) -> None:
    """The guarded UPDATE per chunk; lateness is judged on `today`, the day of the answer."""
    rule = RULES[kind]
    ack_due = ACTION.c.ack_due
    values: dict[str, Any] = {
        "state": rule.target.value,
        rule.at: sa.literal(now, ACTION.c[rule.at].type),
        rule.late: _late(ACTION.c[rule.due], today),
    }
    if kind is ResponseKind.FEEDBACK:
        not_acked = ACTION.c.acknowledged_at.is_(None)
        values["acknowledged_at"] = sa.case(
            (not_acked, sa.literal(now, ACTION.c.acknowledged_at.type)),
            else_=ACTION.c.acknowledged_at,
        )
        values["ack_late"] = sa.case((not_acked, _late(ack_due, today)), else_=ACTION.c.ack_late)
    by_id = {action.id: item for item, action in moving}
    for chunk in in_list_chunks(sorted(by_id)):
        chunk_values = dict(values)
        if kind is ResponseKind.FEEDBACK:
            chunk_values["feedback_text"] = _per_action({i: by_id[i].text for i in chunk})
            chunk_values["feedback_outcome"] = _per_action(
                {i: str(by_id[i].outcome) for i in chunk}
            )
        updated = session.execute(
            sa.update(DepartmentAction)
            .where(ACTION.c.id.in_(chunk), ACTION.c.state.in_(sorted(rule.sources)))
            .values(**chunk_values)
            .execution_options(synchronize_session=False)
        )
        if updated.rowcount != len(chunk):  # type: ignore[attr-defined]
            raise ResponseRefused(
                [
                    Refusal(
                        department,
                        by_id[i].listing_id,
                        kind,
                        rule.field,
                        "事项状态已被并发修改，请重试",
                        "changed concurrently: try again",
                        by_id[i].row,
                    )
                    for i in chunk
                ]
            )


def _events(
    kind: ResponseKind,
    department: str,
    moving: list[tuple[Item, _ActionView]],
    now: datetime,
    answered: _Answered,
    result: ResponseResult,
    recorded_by: str,
    source: str,
) -> list[EventDraft]:
    """One audit event per moved action, the department as actor; recorded in `result`."""
    rule = RULES[kind]
    today = answered.on
    drafts = []
    for item, action in moving:
        late = _is_late(getattr(action, rule.due), today)
        after: dict[str, Any] = {
            "state": rule.target.value,
            "listing_id": item.listing_id,
            "department": department,
            rule.at: now,
            rule.late: late,
            "recorded_by": recorded_by,
        }
        if answered.given:
            after["answered_on"] = answered.on
        if kind is ResponseKind.FEEDBACK:
            after |= {"feedback_outcome": str(item.outcome), "feedback_text": item.text}
            if action.acknowledged_at is None:
                after |= {"acknowledged_at": now, "ack_late": _is_late(action.ack_due, today)}
        if item.row is not None:
            after["row"] = item.row
        drafts.append(
            EventDraft(
                actor=f"department:{department}",
                action=rule.audit,
                entity_type="department_action",
                entity_id=action.id,
                before={"state": action.state},
                after=after,
                source=source,
            )
        )
        result.recorded.append(ActionResponse(action.id, item.listing_id, department, kind, late))
    return drafts


@dataclass(frozen=True)
class _Answered:
    """The day lateness is judged on, and whether the department's own date was given."""

    on: date
    given: bool


def _late(due: sa.ColumnElement[Any], today: date) -> sa.ColumnElement[bool]:
    """The same rule as `_is_late`, in SQL: due the day before the business date of now."""
    return sa.and_(due.is_not(None), due < today)


def _is_late(due: date | None, today: date) -> bool:
    return due is not None and today > due


def _per_action(values: Mapping[int, str | None]) -> Any:
    """One value for all, or a CASE on the action id: still one UPDATE for the group."""
    distinct = set(values.values())
    if len(distinct) == 1:
        return next(iter(distinct))
    return sa.case(dict(values), value=ACTION.c.id)


def _actions(
    session: Session, department: str, listing_ids: Sequence[int]
) -> dict[int, list[_ActionView]]:
    found: dict[int, list[_ActionView]] = {}
    for chunk in in_list_chunks(sorted(set(listing_ids))):
        rows = session.execute(
            sa.select(*_VIEW_COLUMNS)
            .where(ACTION.c.department == department, ACTION.c.listing_id.in_(chunk))
            .order_by(ACTION.c.id)
        )
        for row in rows:
            view = _ActionView(**row._mapping)
            found.setdefault(view.listing_id, []).append(view)
    return found


def _missing_listings(session: Session, listing_ids: Sequence[int]) -> set[int]:
    wanted = set(listing_ids)
    for chunk in in_list_chunks(sorted(wanted)):
        wanted -= set(
            session.execute(sa.select(col(Listing.id)).where(col(Listing.id).in_(chunk))).scalars()
        )
    return wanted
