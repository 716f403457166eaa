"""From requests to items: each answer checked on its own (date, department, batch, reference)
and merged per (department, listing, kind); what cannot become an item is refused here, with a
reason that names the listing, and never stops the others."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from registry.db import in_list_chunks
from registry.models import Batch, DepartmentAction, Listing
from registry.responses.requests import (
    FEEDBACK_MAX,
    Outcome,
    Refusal,
    Response,
    ResponseResult,
    resolve_department,
)
from registry.responses.rules import LIFT_STATES, RULES
from registry.spreadsheet import CellReader, shown_value
from registry.vocabulary import RESPONSE_KIND_LABELS, ResponseKind

ACTION = sa.inspect(DepartmentAction).local_table


@dataclass(frozen=True)
class Item:
    department: str
    listing_id: int
    kind: ResponseKind
    text: str | None
    outcome: Outcome | None
    row: int | None
    answered_on: date | None


def refuse(
    result: ResponseResult,
    response: Response | Item,
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
        refuse(result, response, listing_id, field_name, zh, en, value)


def checked_items(
    session: Session,
    responses: Sequence[Response],
    catalogue: Catalogue,
    result: ResponseResult,
    today: date,
) -> list[Item]:
    """Responses as (department, listing, kind) items: request-level checks done, duplicates
    merged; whatever cannot become an item is refused here."""
    batch_listings = _batch_listings(session, responses, catalogue)
    references = _batch_references(session, [r for r in responses if r.references])
    items: dict[tuple[str, int, ResponseKind], Item] = {}
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
            item = Item(
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
    refuse(
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
    items: dict[tuple[str, int, ResponseKind], Item], item: Item, result: ResponseResult
) -> None:
    """The first answer per (department, listing, kind) stands; a different repeat is refused."""
    key = (item.department, item.listing_id, item.kind)
    first = items.get(key)
    if first is None:
        items[key] = item
    elif (first.text, first.outcome) != (item.text, item.outcome):
        where = f"第 {first.row} 行" if first.row is not None else "前一条答复"
        refuse(
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
            query = query.where(ACTION.c.state.in_(sorted(LIFT_STATES)))
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
