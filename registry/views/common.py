"""What every operator view shares: the tables, the line shapes, and masking what was typed.

The package as a whole: a batch's status, a listing's history, a subject's credit archive.

Pure reads on the caller's session (never commits, never writes). Each view is a handful of
set-based queries whatever the number of rows — no query per listing — so `jointcredit batch
show` on a 10,000-listing batch costs the same few round trips as on a batch of one.

Personal ID numbers never leave this module: subjects are read without their lookup hash and
shown by USCC or masked ID only, and free text someone typed (notes, reasons, evidence) has
anything carrying a resident ID number's checksum masked before it is returned (DOMAIN.md §5).
The credit archive is DOMAIN.md §6: everything about a subject, in order, each with its source.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session

from registry.digests import letters_naming
from registry.free_text import mask_resident_ids
from registry.models import (
    AuditEvent,
    Batch,
    Commitment,
    DepartmentAction,
    Listing,
    Notice,
    Objection,
    RemovalApplication,
    Subject,
)

BATCH = cast(sa.Table, sa.inspect(Batch).local_table)


SUBJECT = cast(sa.Table, sa.inspect(Subject).local_table)


LISTING = cast(sa.Table, sa.inspect(Listing).local_table)


ACTION = cast(sa.Table, sa.inspect(DepartmentAction).local_table)


NOTICE = cast(sa.Table, sa.inspect(Notice).local_table)


COMMITMENT = cast(sa.Table, sa.inspect(Commitment).local_table)


REMOVAL = cast(sa.Table, sa.inspect(RemovalApplication).local_table)


OBJECTION = cast(sa.Table, sa.inspect(Objection).local_table)


AUDIT = cast(sa.Table, sa.inspect(AuditEvent).local_table)


def scrub(text: str | None) -> str | None:
    """Mask every resident ID number in free text (a reason, note, evidence) as it is shown.

    The same detection as the storage cleaner (`registry.free_text`): text stored before the
    cleaner existed, or typed full-width, is masked here too."""
    if text is None:
        return None
    return mask_resident_ids(text)


def scrub_json(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [scrub_json(v) for v in value]
    if isinstance(value, dict):
        return {k: scrub_json(v) for k, v in value.items()}
    return value


def jsonable(value: Any) -> Any:
    """Dates and times as ISO strings, recursively, for `--json`."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


class ReadView:
    """`as_dict` for every view dataclass: JSON-ready, dates ISO."""

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = jsonable(dataclasses.asdict(cast(Any, self)))
        return result


@dataclass(frozen=True)
class SubjectRef(ReadView):
    """A subject as anyone may see it: `identifier` is the USCC or the masked ID, never raw."""

    id: int
    kind: str
    name: str
    identifier: str
    uscc: str | None
    id_masked: str | None
    unit_id: int | None
    region_code: str | None
    industry: str | None


SUBJECT_COLUMNS = (
    SUBJECT.c.id,
    SUBJECT.c.kind,
    SUBJECT.c.name,
    SUBJECT.c.uscc,
    SUBJECT.c.id_masked,
    SUBJECT.c.unit_id,
    SUBJECT.c.region_code,
    SUBJECT.c.industry,
)


def subject_ref(row: Mapping[Any, Any]) -> SubjectRef:
    return SubjectRef(identifier=subject_identifier(row["uscc"], row["id_masked"]), **row)


def subject_identifier(uscc: str | None, id_masked: str | None) -> str:
    return uscc or id_masked or "—"


@dataclass(frozen=True)
class ActionLine(ReadView):
    """One department's 发起—响应—反馈 record for one listing."""

    id: int
    listing_id: int
    department: str
    memorandum: str
    measures: list[str]
    state: str
    escalation_level: int
    dispatched_at: datetime
    ack_due: date | None
    ack_provisional: bool
    acknowledged_at: datetime | None
    feedback_due: date | None
    feedback_provisional: bool
    feedback_at: datetime | None
    feedback_text: str | None
    lift_due: date | None
    lift_provisional: bool
    lift_confirmed_at: datetime | None


ACTION_COLUMNS = tuple(ACTION.c[name] for name in ActionLine.__dataclass_fields__)


def action_line(row: Mapping[Any, Any]) -> ActionLine:
    return ActionLine(**{**row, "feedback_text": scrub(row["feedback_text"])})


@dataclass(frozen=True)
class NoticeLine(ReadView):
    """One outbox row: where it went and whether it arrived (去向可追), and — for a letter to a
    party — how and when it was served (送达, `registry.service_of_notices`): `channel` e-mail or
    post, `service_state` pending / served / failed, `served_on` and `service_method`.

    `listing_id` is None for a batch-wide notice (one 推送函 per department, memorandum and
    dispatch of a batch).
    """

    id: int
    listing_id: int | None
    batch_id: int | None
    kind: str
    letter_number: str | None  # 发文字号
    recipient: str
    recipient_name: str | None
    department_code: str | None
    state: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    message_id: str
    last_error: str | None
    channel: str
    service_state: str
    served_on: date | None
    service_method: str | None


NOTICE_COLUMNS = tuple(NOTICE.c[name] for name in NoticeLine.__dataclass_fields__)


@dataclass(frozen=True)
class HistoryEntry(ReadView):
    """One audit event, as chained by `registry.audit` (who, what, before/after, from where)."""

    seq: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    source: str


HISTORY_COLUMNS = tuple(AUDIT.c[name] for name in HistoryEntry.__dataclass_fields__)


def history_entries(session: Session, condition: sa.ColumnElement[bool]) -> list[HistoryEntry]:
    rows = session.execute(
        sa.select(*HISTORY_COLUMNS).where(condition).order_by(AUDIT.c.seq)
    ).mappings()
    return [
        HistoryEntry(
            **{**row, "before": scrub_json(row["before"]), "after": scrub_json(row["after"])}
        )
        for row in rows
    ]


def listing_events(listing_ids: Sequence[int]) -> sa.ColumnElement[bool]:
    return sa.and_(
        AUDIT.c.entity_type == "listing", AUDIT.c.entity_id.in_([str(i) for i in listing_ids])
    )


def state_counts(session: Session, query: sa.Select[Any]) -> dict[str, int]:
    return {str(state): int(count) for state, count in session.execute(query)}


def action_lines(session: Session, condition: sa.ColumnElement[bool]) -> list[ActionLine]:
    rows = session.execute(
        sa.select(*ACTION_COLUMNS).where(condition).order_by(ACTION.c.dispatched_at, ACTION.c.id)
    ).mappings()
    return [action_line(row) for row in rows]


def notice_lines(session: Session, listing_ids: Sequence[int]) -> list[NoticeLine]:
    """Every letter that names the listings — their own, and the digests (推送函, 解除函, 催办函,
    恢复联合惩戒函) naming them — oldest first; not every letter of their batches
    (`registry.digests`: a black listing's view shows no red-list letter, and no letter to a
    department it was not sent to)."""
    digests = letters_naming(session, listing_ids)
    rows = session.execute(
        sa.select(*NOTICE_COLUMNS)
        .where(sa.or_(NOTICE.c.listing_id.in_(list(listing_ids)), NOTICE.c.id.in_(digests)))
        .order_by(NOTICE.c.created_at, NOTICE.c.id)
    ).mappings()
    return [NoticeLine(**{**row, "last_error": scrub(row["last_error"])}) for row in rows]


def columns_of(table: sa.Table, shape: type[Any]) -> tuple[sa.ColumnElement[Any], ...]:
    return tuple(table.c[name] for name in shape.__dataclass_fields__)
