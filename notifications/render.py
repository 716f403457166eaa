"""Pure rendering of official notices: a kind and its context in, subject + text + HTML out.

No Prefect, no SMTP, no database (a layering test enforces it), so every notice can be checked
against golden files in milliseconds. Three guarantees hold whatever the context holds:
- the subject is one line without control characters, so no text can inject a mail header;
- the HTML body is autoescaped, so no text can inject markup;
- no output contains an unmasked resident ID number: personal ID numbers are shown masked only
  (DOMAIN.md §5), and a leak through a free-text field fails the render instead of the mail.
"""

from __future__ import annotations

import functools
import typing
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import jinja2
from pydantic import BaseModel

from notifications.contexts import (
    DepartmentDispatchContext,
    DepartmentRestoreContext,
    DueDate,
    EscalationContext,
    LiftRequestContext,
    ListingDecisionContext,
    MonthlyReportContext,
    NoticeContext,
    ObjectionReplyContext,
    PartyDeadlineEscalationContext,
    PartyDeadlineReminderContext,
    PriorNoticeContext,
    RedAwardContext,
    RejectionContext,
    ReminderContext,
    RemovalNoticeContext,
    RemovalRefusalContext,
    RemovalWindowContext,
    RestoreNoticeContext,
)
from registry.errors import JointcreditError
from registry.free_text import unmasked_resident_id
from registry.vocabulary import NoticeKind

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
SUBJECT_MAX_CHARS = 200

_CONTEXT_MODELS: dict[NoticeKind, type[NoticeContext]] = {
    NoticeKind.PRIOR_NOTICE: PriorNoticeContext,
    NoticeKind.LISTING_DECISION: ListingDecisionContext,
    NoticeKind.REJECTION: RejectionContext,
    NoticeKind.DEPARTMENT_DISPATCH: DepartmentDispatchContext,
    NoticeKind.REMINDER: ReminderContext,
    NoticeKind.ESCALATION: EscalationContext,
    NoticeKind.REMOVAL_NOTICE: RemovalNoticeContext,
    NoticeKind.REMOVAL_WINDOW: RemovalWindowContext,
    NoticeKind.LIFT_REQUEST: LiftRequestContext,
    NoticeKind.RED_AWARD: RedAwardContext,
    NoticeKind.MONTHLY_REPORT: MonthlyReportContext,
    NoticeKind.OBJECTION_REPLY: ObjectionReplyContext,
    NoticeKind.REMOVAL_REFUSAL: RemovalRefusalContext,
    NoticeKind.RESTORE_NOTICE: RestoreNoticeContext,
    NoticeKind.DEPARTMENT_RESTORE: DepartmentRestoreContext,
    NoticeKind.PARTY_DEADLINE_REMINDER: PartyDeadlineReminderContext,
    NoticeKind.PARTY_DEADLINE_ESCALATION: PartyDeadlineEscalationContext,
}


class NoticeContentError(JointcreditError):
    """A notice cannot be rendered from this context: wrong model, or personal data would leak."""


@dataclass(frozen=True)
class RenderedNotice:
    subject: str  # one header-safe line, at most SUBJECT_MAX_CHARS
    text: str  # plain-text body
    html: str  # self-contained HTML body, inline styles, autoescaped


def context_model(kind: NoticeKind) -> type[NoticeContext]:
    """The context model a notice kind is rendered from."""
    return _CONTEXT_MODELS[NoticeKind(kind)]


def render_notice(kind: NoticeKind, context: NoticeContext) -> RenderedNotice:
    """Render the subject, plain-text and HTML bodies of one notice."""
    kind = NoticeKind(kind)
    expected = context_model(kind)
    if not isinstance(context, expected):
        raise NoticeContentError(
            f"通知类型 {kind.value} 需要 {expected.__name__}，实际为 {type(context).__name__}"
            f"（wrong context model for notice kind {kind.value}）",
            kind=kind.value,
            expected=expected.__name__,
            actual=type(context).__name__,
        )
    env = notice_environment()
    variables: dict[str, Any] = {
        name: getattr(context, name) for name in type(context).model_fields
    }
    variables["has_provisional_dates"] = _has_provisional_dates(context)
    subject = one_line_subject(env.get_template(f"{kind.value}.subject").render(variables))
    variables["notice_subject"] = subject
    rendered = RenderedNotice(
        subject=subject,
        text=env.get_template(f"{kind.value}.txt").render(variables),
        html=env.get_template(f"{kind.value}.html").render(variables),
    )
    for part in ("subject", "text", "html"):
        _refuse_unmasked_ids(kind, part, getattr(rendered, part))
    return rendered


@functools.cache
def notice_environment() -> jinja2.Environment:
    """The Jinja environment, built on first use (never at import time) and then shared."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html"], default=False, default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cn_date"] = chinese_date
    env.filters["due_date"] = due_date_label
    env.filters["cn_ordinal"] = chinese_ordinal
    env.filters["term"] = term_label
    env.filters["sentence"] = closed_sentence
    env.filters["percent"] = percent_label
    return env


# --- filters -----------------------------------------------------------------------------


class _DueLike(Protocol):
    due: date
    provisional: bool


def chinese_date(day: date) -> str:
    """`2026年12月4日`: Arabic numerals, no padding, as GB/T 9704 writes 成文日期."""
    return f"{day.year}年{day.month}月{day.day}日"


def due_date_label(due: _DueLike) -> str:
    """A due date (DueDate or registry Deadline), marked 暂定 when its year is not known."""
    label = chinese_date(due.due)
    return f"{label}（暂定）" if due.provisional else label


_DIGITS = "零一二三四五六七八九"


def chinese_ordinal(number: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 23 → 二十三: item numbers of （一）（二）lists."""
    if not 1 <= number <= 99:
        return str(number)
    tens, ones = divmod(number, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else f"{_DIGITS[tens]}十")
    return head + (_DIGITS[ones] if ones else "")


_CLOSING = ("。", "！", "？", "；", "…", ".", "!", "?", "”", "）")


def closed_sentence(text: str) -> str:
    """Free text typed by a person (a reason, an objection) as a closed paragraph of a letter:
    `罚款尚未缴清` → `罚款尚未缴清。`; text that already ends a sentence, or is blank, is left as
    it is. The mark is only ever appended: what was typed is shown exactly as stored."""
    stripped = text.rstrip()
    return text if not stripped or stripped.endswith(_CLOSING) else text + "。"


def term_label(months: int) -> str:
    """36 → `3年`, 18 → `18个月`."""
    return f"{months // 12}年" if months % 12 == 0 else f"{months}个月"


def percent_label(ratio: float | None) -> str:
    """0.4286 → `42.9%`, 0.5 → `50%`; no entries at all → `—`."""
    if ratio is None:
        return "—"
    return f"{ratio * 100:.1f}".removesuffix(".0") + "%"


# --- guarantees --------------------------------------------------------------------------


def one_line_subject(raw: str) -> str:
    """One header-safe line: controls and line breaks become spaces, runs of space collapse."""
    cleaned = "".join(" " if _breaks_a_header(char) else char for char in raw)
    subject = " ".join(cleaned.split())
    if len(subject) > SUBJECT_MAX_CHARS:
        subject = subject[: SUBJECT_MAX_CHARS - 1].rstrip() + "…"
    return subject


def _breaks_a_header(char: str) -> bool:
    """Control, format, unassigned and private-use characters, and line/paragraph separators."""
    category = unicodedata.category(char)
    return category.startswith("C") or category in ("Zl", "Zp")


_PART_LABELS = {"subject": "标题", "text": "纯文本正文", "html": "HTML 正文"}


def _refuse_unmasked_ids(kind: NoticeKind, part: str, rendered: str) -> None:
    """Fail on anything that validates as a resident ID number, however typed (full-width
    digits, separators, glued to other digits or letters).

    The detection is the cleaner's (`registry.free_text.unmasked_resident_id`), so this last
    check never refuses a number the cleaner would have left in stored text.
    """
    masked = unmasked_resident_id(rendered)
    if masked is not None:
        raise NoticeContentError(
            f"通知 {kind.value} 的{_PART_LABELS[part]}含有未脱敏的身份证号 {masked}，"
            f"身份证号只能以脱敏形式出现（unmasked resident ID number in the {part}）",
            kind=kind.value,
            part=part,
            masked=masked,
        )


def _has_provisional_dates(value: object) -> bool:
    """Whether any due date in the context is provisional: the notice then explains 暂定."""
    if isinstance(value, DueDate):
        return value.provisional
    if isinstance(value, BaseModel):
        return any(
            _has_provisional_dates(getattr(value, name)) for name in _fields_with_dues(type(value))
        )
    if isinstance(value, list | tuple):
        return any(_has_provisional_dates(item) for item in value)
    return False


@functools.cache
def _fields_with_dues(model: type[BaseModel]) -> tuple[str, ...]:
    """Fields that can hold a DueDate, so a 10,000-entry digest is not walked entry by entry."""
    return tuple(
        name
        for name, info in model.model_fields.items()
        if any(_holds_dues(kind) for kind in _types_in(info.annotation))
    )


def _types_in(annotation: object) -> list[object]:
    args = typing.get_args(annotation)
    return [annotation] if not args else [t for arg in args for t in _types_in(arg)]


def _holds_dues(kind: object) -> bool:
    if kind is DueDate:
        return True
    return isinstance(kind, type) and issubclass(kind, BaseModel) and bool(_fields_with_dues(kind))
