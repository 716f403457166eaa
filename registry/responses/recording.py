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

Over 500 lines because the rule table and the set-based apply are one idea: the table says what
an answer may do, the apply does exactly that for a whole department in one UPDATE.
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
from registry.models import ActionState, Batch, DepartmentAction, Listing
from registry.responses.requests import (
    FEEDBACK_MAX,
    ActionResponse,
    Outcome,
    Refusal,
    Response,
    ResponseRefused,
    ResponseResult,
    resolve_department,
)
from registry.spreadsheet import (
    CellReader,
    shown_value,
)
from registry.vocabulary import RESPONSE_KIND_LABELS, ResponseKind

ACTION = sa.inspect(DepartmentAction).local_table


@dataclass(frozen=True)
class _Rule:
    sources: frozenset[str]
    target: ActionState
    done: frozenset[str]
    due: str
    late: str
    at: str
    audit: str
    field: str


_S = ActionState


_LIFT_STATES = frozenset({_S.LIFT_REQUESTED.value, _S.LIFT_CONFIRMED.value})


RULES: dict[ResponseKind, _Rule] = {
    ResponseKind.ACK: _Rule(
        sources=frozenset({_S.DISPATCHED.value}),
        target=_S.ACKNOWLEDGED,
        done=frozenset(s.value for s in _S if s is not _S.DISPATCHED),
        due="ack_due",
        late="ack_late",
        at="acknowledged_at",
        audit="action.acknowledge",
        field="ack",
    ),
    ResponseKind.FEEDBACK: _Rule(
        sources=frozenset({_S.DISPATCHED.value, _S.ACKNOWLEDGED.value}),
        target=_S.FEEDBACK_REPORTED,
        done=frozenset({_S.FEEDBACK_REPORTED.value}),  # and lift states once feedback came
        due="feedback_due",
        late="feedback_late",
        at="feedback_at",
        audit="action.feedback",
        field="feedback",
    ),
    ResponseKind.LIFT: _Rule(
        sources=frozenset({_S.LIFT_REQUESTED.value}),
        target=_S.LIFT_CONFIRMED,
        done=frozenset({_S.LIFT_CONFIRMED.value}),
        due="lift_due",
        late="lift_late",
        at="lift_confirmed_at",
        audit="action.lift_confirm",
        field="lifted",
    ),
}


"""kind → which action states it moves, to where, and which states mean "already answered"."""


ORDER = (ResponseKind.ACK, ResponseKind.FEEDBACK, ResponseKind.LIFT)


"""Kinds apply in this order, so one sheet row may acknowledge, report and confirm at once."""


@dataclass(frozen=True)
class _Item:
    department: str
    listing_id: int
    kind: ResponseKind
    text: str | None
    outcome: Outcome | None
    row: int | None
    answered_on: date | None


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
    items = _items(session, responses, catalogue, result, today)
    drafts: list[EventDraft] = []
    for kind in ORDER:
        groups: dict[tuple[str, date | None], list[_Item]] = {}
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


def _refuse(
    result: ResponseResult,
    response: Response | _Item,
    listing_id: int | None,
    field_name: str,
    zh: str,
    en: str,
    value: object = None,
) -> None:
    result.refused.append(
        Refusal(
            department=response.department,
            listing_id=listing_id,
            kind=response.kind,
            field=field_name,
            reason_zh=zh,
            reason_en=en,
            row=response.row,
            value=shown_value(field_name, value) if value is not None else None,
        )
    )


def _refuse_all(
    result: ResponseResult, response: Response, field_name: str, zh: str, en: str, value: object
) -> None:
    """A refusal of the whole response, listed per listing (once when it names a batch)."""
    for listing_id in response.listing_ids or (None,):
        _refuse(result, response, listing_id, field_name, zh, en, value)


def _items(
    session: Session,
    responses: Sequence[Response],
    catalogue: Catalogue,
    result: ResponseResult,
    today: date,
) -> list[_Item]:
    """Responses as (department, listing, kind) items: request-level checks done, duplicates
    merged; whatever cannot become an item is refused here."""
    batch_listings = _batch_listings(session, responses, catalogue)
    references = _batch_references(session, [r for r in responses if r.references])
    items: dict[tuple[str, int, ResponseKind], _Item] = {}
    for response in responses:
        department = _accepted_department(response, catalogue, result, today)
        if department is None:
            continue
        response = replace(response, department=department)
        text, outcome = response.feedback_text, response.outcome
        if response.kind is ResponseKind.FEEDBACK:
            checked = _checked_feedback(response, result)
            if checked is None:
                continue
            text, outcome = checked
        ids = _listing_ids(response, department, batch_listings, result)
        for listing_id in ids or ():
            if _misquoted(response, listing_id, references, result):
                continue
            item = _Item(
                department,
                listing_id,
                response.kind,
                text,
                outcome,
                response.row,
                response.answered_on,
            )
            _merge(items, item, result)
    return list(items.values())


def _accepted_department(
    response: Response, catalogue: Catalogue, result: ResponseResult, today: date
) -> str | None:
    """The department's code, or None when the whole response is refused (date, department)."""
    if response.answered_on is not None and response.answered_on > today:
        _refuse_all(
            result,
            response,
            "answered_on",
            f"答复日期 {response.answered_on.isoformat()} 晚于今天（{today.isoformat()}）",
            f"answered on {response.answered_on.isoformat()}, after today",
            response.answered_on.isoformat(),
        )
        return None
    department = resolve_department(catalogue, response.department)
    if department is None:
        _refuse_all(
            result,
            response,
            "department",
            f"未知部门 {response.department}：不在部门目录中",
            f"unknown department {response.department!r}: not in departments.yml",
            response.department,
        )
    return department


def _listing_ids(
    response: Response,
    department: str,
    batch_listings: Mapping[tuple[int, str, ResponseKind], list[int]],
    result: ResponseResult,
) -> list[int] | None:
    """The listings answered: those named, or those of the named batch sent to the department."""
    if response.batch_id is None:
        return list(response.listing_ids)
    found = batch_listings.get((response.batch_id, department, response.kind))
    if found is None:
        zh, en = f"批次 {response.batch_id} 不存在", f"no batch {response.batch_id}"
        _refuse_all(result, response, "batch_id", zh, en, response.batch_id)
        return None
    if not found:
        if response.kind is ResponseKind.LIFT:
            zh, en = "本批次没有待确认的解除函", "no lift request in this batch"
        else:
            zh, en = "本批次没有推送给该部门的名单", "nothing in this batch was sent to it"
        _refuse_all(result, response, "batch_id", zh, en, response.batch_id)
        return None
    return found


def _misquoted(
    response: Response, listing_id: int, references: Mapping[int, str], result: ResponseResult
) -> bool:
    """A reference `<batch>-<id>` whose batch is not the listing's: refused for that listing."""
    quoted = response.references.get(listing_id)
    actual = references.get(listing_id)
    if quoted is None or actual is None or quoted == actual:
        return False
    _refuse(
        result,
        response,
        listing_id,
        "listing_id",
        f"名单编号 {quoted}-{listing_id} 与批次不符：名单 {listing_id} 属于批次 {actual}",
        f"listing {listing_id} belongs to batch {actual}, not {quoted}",
        f"{quoted}-{listing_id}",
    )
    return True


def _merge(
    items: dict[tuple[str, int, ResponseKind], _Item], item: _Item, result: ResponseResult
) -> None:
    """The first answer per (department, listing, kind) stands; a different repeat is refused."""
    key = (item.department, item.listing_id, item.kind)
    first = items.get(key)
    if first is None:
        items[key] = item
    elif (first.text, first.outcome) != (item.text, item.outcome):
        where = f"第 {first.row} 行" if first.row is not None else "前一条答复"
        _refuse(
            result,
            item,
            item.listing_id,
            RULES[item.kind].field,
            f"同一名单的{RESPONSE_KIND_LABELS[item.kind]}重复且内容不同，以{where}为准",
            "a second, different answer for the same listing: the first one stands",
            item.text,
        )


def _checked_feedback(
    response: Response, result: ResponseResult
) -> tuple[str | None, Outcome] | None:
    """The feedback text cleaned as intake cleans cells; not applicable needs a reason."""
    outcome = response.outcome or Outcome.APPLIED
    cell = CellReader({"feedback": response.feedback_text})
    text = cell.text("feedback", multi_line=True)
    for problem in cell.problems:
        _refuse_all(
            result, response, "feedback", problem.reason_zh, problem.reason_en, problem.value
        )
    if cell.problems:
        return None
    if text is not None and len(text) > FEEDBACK_MAX:
        _refuse_all(
            result,
            response,
            "feedback",
            f"反馈内容过长：{len(text)} 个字符，最多 {FEEDBACK_MAX} 个",
            f"feedback too long: {len(text)} characters, at most {FEEDBACK_MAX}",
            text,
        )
        return None
    if outcome is Outcome.NOT_APPLICABLE and text is None:
        _refuse_all(
            result,
            response,
            "feedback",
            "措施不适用的，须在反馈内容中说明理由",
            "not applicable: the feedback must give the reason",
            None,
        )
        return None
    return text, outcome


def _batch_listings(
    session: Session, responses: Sequence[Response], catalogue: Catalogue
) -> dict[tuple[int, str, ResponseKind], list[int]]:
    """(batch, department, kind) → the listings of the batch sent to that department; for a
    lift only those whose lift was requested (or confirmed: a repeat stays a no-op)."""
    found: dict[tuple[int, str, ResponseKind], list[int]] = {}
    for response in responses:
        department = resolve_department(catalogue, response.department)
        if response.batch_id is None or department is None:
            continue
        key = (response.batch_id, department, response.kind)
        if key in found or session.get(Batch, response.batch_id) is None:
            continue
        query = (
            sa.select(ACTION.c.listing_id)
            .distinct()
            .join(Listing, col(Listing.id) == ACTION.c.listing_id)
            .where(col(Listing.batch_id) == response.batch_id, ACTION.c.department == department)
            .order_by(ACTION.c.listing_id)
        )
        if response.kind is ResponseKind.LIFT:
            query = query.where(ACTION.c.state.in_(sorted(_LIFT_STATES)))
        found[key] = list(session.execute(query).scalars())
    return found


def _batch_references(session: Session, responses: Sequence[Response]) -> dict[int, str]:
    """listing id → the reference of its batch, for listings quoted by reference."""
    ids = sorted({i for r in responses for i in r.references})
    found: dict[int, str] = {}
    for chunk in in_list_chunks(ids):
        rows = session.execute(
            sa.select(col(Listing.id), col(Batch.reference))
            .join(Batch, col(Batch.id) == col(Listing.batch_id))
            .where(col(Listing.id).in_(chunk))
        )
        found.update({row[0]: row[1] for row in rows})
    return found


def _apply(
    session: Session,
    kind: ResponseKind,
    department: str,
    items: list[_Item],
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
    items: list[_Item],
    answered: _Answered,
    result: ResponseResult,
) -> list[tuple[_Item, _ActionView]]:
    """The (item, action) pairs the answer moves; the others are refused or already done."""
    rule = RULES[kind]
    views = _actions(session, department, [i.listing_id for i in items])
    unknown = _missing_listings(session, [i.listing_id for i in items if i.listing_id not in views])
    moving: list[tuple[_Item, _ActionView]] = []
    for item in items:
        actions = views.get(item.listing_id)
        if not actions:
            if item.listing_id in unknown:
                zh, en = f"名单 {item.listing_id} 不存在", f"no listing {item.listing_id}"
            else:
                zh = f"名单 {item.listing_id} 未向 {department} 推送，无从答复"
                en = f"listing {item.listing_id} was never sent to {department}"
            _refuse(result, item, item.listing_id, "listing_id", zh, en, item.listing_id)
            continue
        for action in actions:
            if answered.given and answered.on < business_date(action.dispatched_at):
                _refuse(
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
            verdict = _verdict(kind, action)
            if isinstance(verdict, tuple):
                _refuse(result, item, item.listing_id, rule.field, *verdict)
            elif verdict == "move":
                moving.append((item, action))
            else:
                result.already.append(ActionResponse(action.id, item.listing_id, department, kind))
    return moving


def _update_actions(
    session: Session,
    kind: ResponseKind,
    department: str,
    moving: list[tuple[_Item, _ActionView]],
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
    moving: list[tuple[_Item, _ActionView]],
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


def _verdict(kind: ResponseKind, action: _ActionView) -> str | tuple[str, str]:
    """`"move"`, `"already"`, or why not: (zh, en)."""
    rule = RULES[kind]
    if action.state in rule.sources:
        return "move"
    if action.state in rule.done:
        return "already"
    if kind is ResponseKind.FEEDBACK and action.state in _LIFT_STATES:
        if action.feedback_at is not None:
            return "already"
        return ("已发出解除函，不再接收反馈", "measures are being lifted: feedback is closed")
    if kind is ResponseKind.LIFT:
        return ("未收到解除函，无需确认解除", "no lift request was sent for this listing")
    return (
        f"事项状态为 {action.state}，不能{RESPONSE_KIND_LABELS[kind]}",
        f"not allowed in {action.state}",
    )


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
