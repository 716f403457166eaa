"""What a department answered, as values: answers, outcomes, refusals, and parsing the request.

The request a form, the CLI or a sheet row makes of an answer kind (响应 / 反馈 / 解除确认,
DOMAIN.md §1; `registry.vocabulary.ResponseKind`); `recording` applies them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from memoranda.loader import Catalogue
from registry.errors import JointcreditError
from registry.spreadsheet import (
    calendar_date,
)
from registry.vocabulary import RESPONSE_KIND_LABELS, ResponseKind

FEEDBACK_MAX = 4000


"""The `feedback_text` column."""


_MAX_ID = 2_147_483_647


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
            f"{where}部门 {self.department} {listing} 的{RESPONSE_KIND_LABELS[self.kind]}："
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
    for kind in ResponseKind:
        if text.casefold() == kind.value or text == RESPONSE_KIND_LABELS[kind]:
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
            f"只有反馈可填写反馈内容或“措施不适用”，本次为{RESPONSE_KIND_LABELS[kind]}"
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
