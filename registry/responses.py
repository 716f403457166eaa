"""Department responses (发起—响应—反馈, DOMAIN.md §1): acknowledgement, feedback, lift.

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

import csv
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import openpyxl
import sqlalchemy as sa
from openpyxl.utils.exceptions import InvalidFileException
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from registry.audit import EventDraft, append_events
from registry.clock import Clock, business_date
from registry.errors import JointcreditError

# Intake's cell cleaning (formula injection, control characters, ID numbers in free text) and
# its CSV/XLSX guards, shared rather than copied; they are private there only by name.
from registry.importing import (
    _BOOLEANS,
    _XLSX_ERRORS,
    Column,
    ImportFileError,
    QuarantineLine,
    _blank,
    _first_nonblank,
    _guard_csv,
    _guard_xlsx,
    _Row,
    calendar_date,
    detect_encoding,
    header_key,
    header_width,
    match_columns,
    shown_value,
)
from registry.models import ActionState, Batch, DepartmentAction, Listing

ACTION = sa.inspect(DepartmentAction).local_table
FEEDBACK_MAX = 4000
"""The `feedback_text` column."""
_CHUNK = 900
_MAX_ID = 2_147_483_647


class ResponseKind(StrEnum):
    ACK = "ack"  # 响应: the department received the dispatch
    FEEDBACK = "feedback"  # 反馈: which measures it applied, or why none applied
    LIFT = "lift"  # 解除确认: measures lifted after the lift request (解除函)


KIND_LABELS: dict[ResponseKind, str] = {
    ResponseKind.ACK: "响应",
    ResponseKind.FEEDBACK: "反馈",
    ResponseKind.LIFT: "解除确认",
}


class Outcome(StrEnum):
    APPLIED = "applied"  # 已实施
    NOT_APPLICABLE = "not_applicable"  # 不适用, the reason in the feedback text


OUTCOME_LABELS: dict[Outcome, str] = {Outcome.APPLIED: "已实施", Outcome.NOT_APPLICABLE: "不适用"}


class ResponseRequestError(JointcreditError):
    """A request that cannot even be read: no listings, a malformed id, contradictory options."""


@dataclass(frozen=True)
class Refusal:
    """One answer the rules refuse: whose, about which listing, on which field, and why.

    `field` is the canonical column of a returned sheet (`department`, `listing_id`, `ack`,
    `feedback`, `outcome`, `lifted`, `batch_id`), so a file's refusal names its column.
    """

    department: str
    listing_id: int | None
    kind: ResponseKind
    field: str
    reason_zh: str
    reason_en: str
    row: int | None = None
    value: str | None = None

    @property
    def message(self) -> str:
        where = f"第 {self.row} 行，" if self.row is not None else ""
        listing = f"名单 {self.listing_id}" if self.listing_id is not None else "（无名单）"
        return (
            f"{where}部门 {self.department} {listing} 的{KIND_LABELS[self.kind]}："
            f"{self.reason_zh}（{self.reason_en}）"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "listing_id": self.listing_id,
            "kind": self.kind.value,
            "field": self.field,
            "reason_zh": self.reason_zh,
            "reason_en": self.reason_en,
            "row": self.row,
            "value": self.value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Refusal:
        return cls(**{**data, "kind": ResponseKind(data["kind"])})


class ResponseRefused(JointcreditError):
    """Responses the rules refused; `refusals` says which, and why, one by one."""

    SHOWN = 20

    def __init__(self, refusals: Sequence[Refusal], **fields: Any) -> None:
        self.refusals = list(refusals)
        detail = "；".join(r.message for r in self.refusals[: self.SHOWN])
        more = len(self.refusals) - self.SHOWN
        if more > 0:
            detail += f"；另有 {more} 条（{more} more）"
        super().__init__(
            f"{len(self.refusals)} 条答复被拒绝（responses refused）：{detail}",
            refusals=[r.as_dict() for r in self.refusals],
            **fields,
        )


@dataclass(frozen=True)
class Response:
    """One department's answer of one kind about some listings (or all it got in a batch).

    `references` keeps the batch reference a listing was quoted with (`<batch>-<id>` from the
    推送函), so a quote that names the wrong batch is refused rather than applied elsewhere.
    """

    department: str
    kind: ResponseKind
    listing_ids: tuple[int, ...] = ()
    batch_id: int | None = None
    feedback_text: str | None = None
    outcome: Outcome | None = None
    references: Mapping[int, str] = field(default_factory=dict)
    row: int | None = None
    answered_on: date | None = None
    """The day the department answered, when the answer is entered later (a letter opened on
    Monday, typed in on Thursday): lateness is judged on it, not on the day of entry."""


@dataclass(frozen=True)
class ActionResponse:
    """What happened to one department action."""

    action_id: int
    listing_id: int
    department: str
    kind: ResponseKind
    late: bool = False


@dataclass
class ResponseResult:
    """Per action: recorded (and whether late) or already recorded; per listing: refused."""

    recorded: list[ActionResponse] = field(default_factory=list)
    already: list[ActionResponse] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

    @property
    def late(self) -> list[ActionResponse]:
        return [r for r in self.recorded if r.late]

    def raise_if_refused(self) -> None:
        if self.refused:
            raise ResponseRefused(
                self.refused, recorded=len(self.recorded), already=len(self.already)
            )

    def as_dict(self) -> dict[str, Any]:
        by_kind: dict[str, dict[str, int]] = {}
        for name, items in (("recorded", self.recorded), ("already", self.already)):
            for item in items:
                counts = by_kind.setdefault(
                    item.kind.value, {"recorded": 0, "already": 0, "late": 0}
                )
                counts[name] += 1
                counts["late"] += int(name == "recorded" and item.late)
        return {
            "recorded": len(self.recorded),
            "already": len(self.already),
            "late": len(self.late),
            "refused": len(self.refused),
            "by_kind": by_kind,
            "recorded_listing_ids": sorted({r.listing_id for r in self.recorded}),
            "late_listing_ids": sorted({r.listing_id for r in self.late}),
            "already_listing_ids": sorted({r.listing_id for r in self.already}),
            "refusals": [r.as_dict() for r in self.refused],
        }


# --- reading a request (pure) --------------------------------------------------------------

_REFERENCE = re.compile(r"^(?:(?P<batch>.+)-)?(?P<id>[0-9]{1,10})$")
_SEPARATORS = re.compile(r"[\s,，、;；]+")


def parse_listing_reference(text: str) -> tuple[int, str | None] | None:
    """`12` → (12, None); `IMP-20261127-A1B2C3-12` (as in the 推送函) → (12, 'IMP-…'); else None."""
    match = _REFERENCE.match(text.strip())
    if match is None:
        return None
    listing_id = int(match["id"])
    if not 1 <= listing_id <= _MAX_ID:
        return None
    return listing_id, match["batch"]


def parse_kind(value: str | ResponseKind) -> ResponseKind:
    """`ack` / `响应`, `feedback` / `反馈`, `lift` / `解除确认`."""
    text = str(value).strip()
    for kind, label in KIND_LABELS.items():
        if text.casefold() == kind.value or text == label:
            return kind
    raise ResponseRequestError(
        f"答复类型应为 响应、反馈 或 解除确认（kind must be ack, feedback or lift）：{text!r}",
        kind=text,
    )


def response_request(
    *,
    department: str,
    kind: ResponseKind | str,
    listings: Iterable[str | int] = (),
    batch_id: int | None = None,
    feedback: str | None = None,
    not_applicable: bool = False,
    answered_on: str | date | None = None,
) -> Response:
    """The one response of a form, of flow parameters or of `jointcredit respond` flags.

    `listings` are ids or listing references, as items or as one separated string each.
    """
    kind = parse_kind(kind)
    ids: list[int] = []
    references: dict[int, str] = {}
    for item in listings:
        for text in _SEPARATORS.split(str(item)):
            if not text:
                continue
            parsed = parse_listing_reference(text)
            if parsed is None:
                raise ResponseRequestError(
                    f"名单编号应为数字或“批次编号-名单编号”（listing id or reference）：{text!r}",
                    listing=text,
                )
            ids.append(parsed[0])
            if parsed[1] is not None:
                references[parsed[0]] = parsed[1]
    batch = batch_id or None
    if not ids and batch is None:
        raise ResponseRequestError(
            "请填写名单编号，或填写批次编号以答复该部门在本批次的全部事项"
            "（give listing ids or a batch id）"
        )
    if ids and batch is not None:
        raise ResponseRequestError(
            "名单编号与批次编号只能填写一项（give listing ids or a batch id, not both）",
            batch_id=batch,
        )
    text = (feedback or "").strip() or None
    if kind is not ResponseKind.FEEDBACK and (text or not_applicable):
        raise ResponseRequestError(
            f"只有反馈可填写反馈内容或“措施不适用”，本次为{KIND_LABELS[kind]}"
            "（feedback text and not-applicable belong to feedback only）",
            kind=kind.value,
        )
    return Response(
        department=department.strip(),
        kind=kind,
        listing_ids=tuple(dict.fromkeys(ids)),
        batch_id=batch,
        feedback_text=text,
        outcome=(
            (Outcome.NOT_APPLICABLE if not_applicable else Outcome.APPLIED)
            if kind is ResponseKind.FEEDBACK
            else None
        ),
        references=references,
        answered_on=parse_answer_date(answered_on),
    )


def parse_answer_date(value: str | date | None) -> date | None:
    """`2026-11-20` or `2026/11/20`, as intake reads dates → the date; empty → None (today)."""
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    text = value.strip()
    if not text:
        return None
    try:
        found = calendar_date(text)
        if found is None:
            raise ValueError(text)
        return found
    except ValueError as exc:
        raise ResponseRequestError(
            f"答复日期应为存在的日期，格式 YYYY-MM-DD：{text!r}"
            "（answer date must be a real date, YYYY-MM-DD）",
            answered_on=text,
        ) from exc


def resolve_department(catalogue: Catalogue, text: str) -> str | None:
    """A department by code (any case), full name or short name; None when unknown."""
    text = text.strip()
    if text in catalogue.departments:
        return text
    for code, department in catalogue.departments.items():
        if text.casefold() == code.casefold() or text in (department.name, department.short_name):
            return code
    return None


# --- recording (the rules) -----------------------------------------------------------------


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
        if response.answered_on is not None and response.answered_on > today:
            _refuse_all(
                result,
                response,
                "answered_on",
                f"答复日期 {response.answered_on.isoformat()} 晚于今天（{today.isoformat()}）",
                f"answered on {response.answered_on.isoformat()}, after today",
                response.answered_on.isoformat(),
            )
            continue
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
            continue
        response = replace(response, department=department)
        text, outcome = response.feedback_text, response.outcome
        if response.kind is ResponseKind.FEEDBACK:
            checked = _checked_feedback(response, result)
            if checked is None:
                continue
            text, outcome = checked
        ids = list(response.listing_ids)
        if response.batch_id is not None:
            found = batch_listings.get((response.batch_id, department, response.kind))
            if found is None:
                zh, en = f"批次 {response.batch_id} 不存在", f"no batch {response.batch_id}"
                _refuse_all(result, response, "batch_id", zh, en, response.batch_id)
                continue
            if not found:
                if response.kind is ResponseKind.LIFT:
                    zh, en = "本批次没有待确认的解除函", "no lift request in this batch"
                else:
                    zh, en = "本批次没有推送给该部门的名单", "nothing in this batch was sent to it"
                _refuse_all(result, response, "batch_id", zh, en, response.batch_id)
                continue
            ids = found
        for listing_id in ids:
            quoted = response.references.get(listing_id)
            actual = references.get(listing_id)
            if quoted is not None and actual is not None and quoted != actual:
                _refuse(
                    result,
                    response,
                    listing_id,
                    "listing_id",
                    f"名单编号 {quoted}-{listing_id} 与批次不符："
                    f"名单 {listing_id} 属于批次 {actual}",
                    f"listing {listing_id} belongs to batch {actual}, not {quoted}",
                    f"{quoted}-{listing_id}",
                )
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
            key = (department, listing_id, response.kind)
            first = items.get(key)
            if first is None:
                items[key] = item
            elif (first.text, first.outcome) != (text, outcome):
                where = f"第 {first.row} 行" if first.row is not None else "前一条答复"
                _refuse(
                    result,
                    item,
                    listing_id,
                    RULES[response.kind].field,
                    f"同一名单的{KIND_LABELS[response.kind]}重复且内容不同，以{where}为准",
                    "a second, different answer for the same listing: the first one stands",
                    text,
                )
    return list(items.values())


def _checked_feedback(
    response: Response, result: ResponseResult
) -> tuple[str | None, Outcome] | None:
    """The feedback text cleaned as intake cleans cells; not applicable needs a reason."""
    outcome = response.outcome or Outcome.APPLIED
    cell = _Row({"feedback": response.feedback_text})
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
    for chunk in _chunks(ids):
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
    rule = RULES[kind]
    today = answered.on  # lateness is judged on the day the department answered
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
    if not moving:
        return []
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
    for chunk in _chunks(sorted(by_id)):
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
    return (f"事项状态为 {action.state}，不能{KIND_LABELS[kind]}", f"not allowed in {action.state}")


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
    for chunk in _chunks(sorted(set(listing_ids))):
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
    for chunk in _chunks(sorted(wanted)):
        wanted -= set(
            session.execute(sa.select(col(Listing.id)).where(col(Listing.id).in_(chunk))).scalars()
        )
    return wanted


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


# --- the returned spreadsheet -------------------------------------------------------------

COLUMNS: tuple[Column, ...] = (
    Column("department", "部门代码", aliases=("部门", "department_code")),
    Column("listing_id", "名单编号", required=True, aliases=("listing", "listing_reference")),
    Column("ack", "响应", aliases=("acknowledged", "已响应")),
    Column("feedback", "反馈", aliases=("反馈内容", "feedback_text")),
    Column("outcome", "措施实施情况", aliases=("实施情况", "feedback_outcome")),
    Column("lifted", "解除确认", aliases=("lift_confirmed", "已解除")),
    Column("answered_on", "答复日期", aliases=("回复日期", "answer_date")),
)
_ZH = {c.name: c.zh for c in COLUMNS}
_HEADER_INDEX = {header_key(label): c.name for c in COLUMNS for label in (c.name, c.zh, *c.aliases)}
_ANSWERS = ("ack", "feedback", "outcome", "lifted")
_OUTCOMES = {
    "已实施": Outcome.APPLIED,
    "已落实": Outcome.APPLIED,
    "applied": Outcome.APPLIED,
    "不适用": Outcome.NOT_APPLICABLE,
    "not_applicable": Outcome.NOT_APPLICABLE,
    "not applicable": Outcome.NOT_APPLICABLE,
    "n/a": Outcome.NOT_APPLICABLE,
}


@dataclass(frozen=True)
class ResponseSheet:
    """A returned sheet read row by row: the responses it holds and the rows that are bad."""

    file: str
    format: str
    encoding: str | None
    rows: int
    responses: list[Response]
    problems: list[QuarantineLine]
    skipped: list[int]
    warnings: list[str]
    labels: dict[str, str]

    def label(self, name: str) -> str:
        return self.labels.get(name, _ZH.get(name, name))


@dataclass(frozen=True)
class SheetResult:
    """What a returned sheet did: the responses' result, and every bad row with its column."""

    sheet: ResponseSheet
    result: ResponseResult
    problems: list[QuarantineLine]

    @property
    def bad_rows(self) -> list[int]:
        return sorted({p.row_number for p in self.problems})

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.sheet.file,
            "format": self.sheet.format,
            "encoding": self.sheet.encoding,
            "rows": self.sheet.rows,
            "bad_rows": len(self.bad_rows),
            "skipped_rows": self.sheet.skipped,
            **self.result.as_dict(),
            "problems": [p.as_dict() for p in self.problems],
            "warnings": self.sheet.warnings,
        }


def record_response_sheet(
    session: Session,
    path: Path,
    *,
    catalogue: Catalogue,
    clock: Clock,
    recorded_by: str,
    department: str | None = None,
) -> SheetResult:
    """Record a department's returned sheet; bad rows are reported, good rows land.

    Raises `ImportFileError` (nothing recorded) only when the file is unreadable or lacks the
    listing column, the department column (without `department`), or every answer column.
    """
    sheet = read_response_sheet(path, catalogue=catalogue, department=department)
    result = record_responses(
        session,
        responses=sheet.responses,
        catalogue=catalogue,
        clock=clock,
        recorded_by=recorded_by,
        source=f"file:{path.name}"[:100],
    )
    refused = [
        QuarantineLine(r.row or 0, sheet.label(r.field), r.value, r.reason_zh, r.reason_en)
        for r in result.refused
    ]
    problems = sorted([*sheet.problems, *refused], key=lambda p: p.row_number)
    return SheetResult(sheet, result, problems)


def read_response_sheet(
    path: Path, *, catalogue: Catalogue, department: str | None = None
) -> ResponseSheet:
    """Read a returned CSV (UTF-8, BOM or GBK) or XLSX; check each row without the database."""
    default = None
    if department is not None:
        default = resolve_department(catalogue, department)
        if default is None:
            raise ResponseRequestError(
                f"未知部门 {department}：不在部门目录中（unknown department）",
                department=department,
            )
    with ExitStack() as stack:
        file_format, encoding, records = _open_records(path, stack)
        first = _first_nonblank(records)
        if first is None:
            raise _file_error(path, "文件为空（empty file）")
        positions, labels, unknown = _map_header(first[1], path, has_default=default is not None)
        width = header_width(first[1])
        responses: list[Response] = []
        problems: list[QuarantineLine] = []
        skipped: list[int] = []
        rows = 0
        for number, cells in records:
            if _blank(cells):
                continue
            rows += 1
            values = {name: cells[i] for i, name in positions.items() if i < len(cells)}
            if file_format == "csv" and len(cells) > width and not _blank(cells[width:]):
                extra = len(cells) - width
                problems.append(
                    QuarantineLine(
                        number,
                        "（整行）",
                        shown_value("", ",".join(map(str, cells[width:]))),
                        f"本行比表头多出 {extra} 列，可能是反馈中有未加引号的逗号",
                        f"{extra} more cells than the header (an unquoted comma?)",
                    )
                )
                continue
            found, bad = _row_responses(number, values, catalogue, default, labels)
            responses += found
            problems += bad
            if not found and not bad:
                skipped.append(number)
    if rows == 0:
        raise _file_error(path, "没有数据行（no data rows）")
    warnings = []
    if unknown:
        warnings.append(f"已忽略无法识别的列：{'、'.join(unknown)}（unknown columns ignored）")
    if encoding == "gb18030":
        warnings.append("文件按 GBK/GB18030 编码读取（decoded as GBK/GB18030）")
    if skipped:
        shown = "、".join(map(str, skipped[:20])) + ("…" if len(skipped) > 20 else "")
        warnings.append(
            f"第 {shown} 行没有任何答复，已跳过（{len(skipped)} rows without an answer skipped）"
        )
    return ResponseSheet(
        path.name, file_format, encoding, rows, responses, problems, skipped, warnings, labels
    )


def _file_error(path: Path, reason: str) -> ImportFileError:
    return ImportFileError(
        f"无法读取回执文件 {path.name}：{reason}；未记录任何答复（nothing was recorded）",
        file=path.name,
        reason=reason,
    )


def _open_records(
    path: Path, stack: ExitStack
) -> tuple[str, str | None, Iterator[tuple[int, Sequence[object]]]]:
    if not path.is_file():
        raise _file_error(path, "文件不存在（file not found）")
    if path.stat().st_size == 0:
        raise _file_error(path, "文件为空（empty file）")
    suffix = path.suffix.lower()
    if suffix in {".csv", ".tsv", ".txt"}:
        encoding = detect_encoding(path)
        with path.open(encoding=encoding, newline="") as probe:
            first_line = probe.readline()
        delimiter = "\t" if "," not in first_line and "\t" in first_line else ","
        handle = stack.enter_context(path.open(encoding=encoding, newline=""))
        reader = enumerate(csv.reader(handle, delimiter=delimiter), start=1)
        return "csv", encoding, _guard_csv(path, reader)
    if suffix in {".xlsx", ".xlsm"}:
        with path.open("rb") as raw:
            if raw.read(4) != b"PK\x03\x04":
                raise _file_error(path, "不是有效的 XLSX 文件（not an XLSX workbook）")
        try:
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=False)
        except (InvalidFileException, *_XLSX_ERRORS) as exc:
            raise _file_error(path, f"XLSX 文件已损坏或无法读取（corrupt XLSX）：{exc}") from exc
        stack.callback(workbook.close)
        if not workbook.worksheets:
            raise _file_error(path, "工作簿中没有工作表（no worksheet）")
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()
        records = enumerate(sheet.iter_rows(values_only=True), start=1)
        return "xlsx", None, _guard_xlsx(path, records)
    raise _file_error(
        path,
        f"不支持的文件类型 {suffix or '(无扩展名)'}：只接受 CSV、XLSX（use .csv or .xlsx）",
    )


def _map_header(
    cells: Sequence[object], path: Path, *, has_default: bool
) -> tuple[dict[int, str], dict[str, str], list[str]]:
    def duplicate(name: str, first: str, second: str) -> Exception:
        return _file_error(
            path, f"表头中「{first}」与「{second}」是同一列（duplicate column: {name}）"
        )

    positions, labels, unknown = match_columns(cells, _HEADER_INDEX, duplicate)
    missing = [name for name in ("listing_id",) if name not in labels]
    if "department" not in labels and not has_default:
        missing.insert(0, "department")
    if missing:
        wanted = "、".join(f"{_ZH[name]}（{name}）" for name in missing)
        hint = "；或用 --department 指定部门" if "department" in missing else ""
        raise _file_error(path, f"缺少必需的列：{wanted}{hint}（missing required columns）")
    if not any(name in labels for name in _ANSWERS):
        wanted = "、".join(f"{_ZH[name]}（{name}）" for name in _ANSWERS)
        raise _file_error(path, f"没有任何答复列，应至少有 {wanted} 之一（no answer column）")
    return positions, labels, unknown


def _row_responses(
    number: int,
    values: Mapping[str, object],
    catalogue: Catalogue,
    default: str | None,
    labels: Mapping[str, str],
) -> tuple[list[Response], list[QuarantineLine]]:
    """One row → up to three responses (ack, feedback, lift), or every problem of the row.

    A row with any problem records nothing: the department corrects and resends it, and the
    rows that were fine are no-ops the second time.
    """
    row = _Row(values)
    department = default
    written = row.text("department")
    if written is not None:
        resolved = resolve_department(catalogue, written)
        if default is not None and resolved != default:
            row.fail(
                "department",
                f"与指定的部门 {default} 不一致",
                f"differs from the department given ({default})",
            )
        department = resolved or written  # an unknown code is refused by the rules, by name
    elif default is None:
        row.fail("department", "部门代码为必填项", "department is required")
    listing = None
    listing_text = row.text("listing_id")
    if listing_text is None:
        if not any(p.field == "listing_id" for p in row.problems):
            row.fail("listing_id", "名单编号为必填项", "listing id is required")
    else:
        listing = parse_listing_reference(listing_text)
        if listing is None:
            row.fail(
                "listing_id",
                "名单编号应为数字，或推送函中的“批次编号-名单编号”",
                "listing id must be a number or <batch reference>-<id>",
            )
    ack = _yes_no(row, "ack", "响应")
    lifted = _yes_no(row, "lifted", "解除确认")
    feedback = row.text("feedback", multi_line=True)
    outcome_text = row.text("outcome")
    outcome = None
    if outcome_text is not None:
        outcome = _OUTCOMES.get(outcome_text.casefold())
        if outcome is None:
            row.fail(
                "outcome",
                "措施实施情况应为 已实施 或 不适用",
                "outcome must be applied or not_applicable",
            )
    elif feedback is not None:
        row.fail(
            "outcome",
            "填写了反馈内容，请同时填写措施实施情况（已实施 / 不适用）",
            "feedback given without an outcome (applied / not_applicable)",
            value="",
        )
    answered_on = _answer_date_cell(row)
    if row.problems:
        return [], [
            QuarantineLine(
                number,
                labels.get(p.field, _ZH.get(p.field, p.field)),
                p.value,
                p.reason_zh,
                p.reason_en,
            )
            for p in row.problems
        ]
    assert listing is not None  # no problems: both were read
    assert department is not None
    listing_id, reference = listing
    common: dict[str, Any] = {
        "department": department,
        "listing_ids": (listing_id,),
        "references": {listing_id: reference} if reference else {},
        "row": number,
        "answered_on": answered_on,
    }
    found = []
    if ack:
        found.append(Response(kind=ResponseKind.ACK, **common))
    if outcome is not None:
        found.append(
            Response(kind=ResponseKind.FEEDBACK, feedback_text=feedback, outcome=outcome, **common)
        )
    if lifted:
        found.append(Response(kind=ResponseKind.LIFT, **common))
    return found, []


def _answer_date_cell(row: _Row) -> date | None:
    """The optional 答复日期 of a returned row: a date cell, or text as `parse_answer_date`."""
    raw = row.values.get("answered_on")
    if isinstance(raw, date):
        return raw.date() if isinstance(raw, datetime) else raw
    text = row.text("answered_on")
    try:
        return parse_answer_date(text)
    except ResponseRequestError:
        row.fail("answered_on", "答复日期应为存在的日期，格式 YYYY-MM-DD", "invalid answer date")
        return None


def _yes_no(row: _Row, name: str, zh: str) -> bool:
    text = row.text(name)
    if text is None:
        return False
    answer = _BOOLEANS.get(text.casefold())
    if answer is None:
        row.fail(name, f"{zh}应为 是 或 否", f"{name} must be yes or no")
        return False
    return answer
