"""Service (送达) of letters as an operator records it, and the letters to print for it.

`jointcredit notice served` calls `record_notice_service`: the service record, its audit event
and — for a 告知书 — the listing's 陈述申辩 window counted from the service date commit in one
transaction (`registry.service_of_notices`). `letters_to_print` reads the letters stored on the
`post` channel for `jointcredit notice print`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session

from notifications.print_letters import PrintableLetter
from registry import db
from registry.errors import JointcreditError, NotFound
from registry.models import Batch, Listing, Notice, Subject
from registry.references import as_id, listing_reference, resolve_batch
from registry.service_of_notices import (
    UNWRITTEN_STATES,
    Channel,
    ServiceMethod,
    ServiceRecord,
    ServiceState,
    open_defence_windows,
    record_failure,
    record_service,
    service_label,
)
from registry.vocabulary import (
    NOTICE_KIND_LABELS,
    NoticeKind,
    label,
)
from service.runtime import Runtime

NOTICE = cast(sa.Table, sa.inspect(Notice).local_table)
LISTING = cast(sa.Table, sa.inspect(Listing).local_table)
SUBJECT = cast(sa.Table, sa.inspect(Subject).local_table)
BATCH = cast(sa.Table, sa.inspect(Batch).local_table)


@dataclass(frozen=True)
class ServiceOutcome:
    notice_id: int
    kind: str
    listing_id: int | None
    state: str
    served_on: date | None
    method: str | None
    defence_opened: list[int]
    defence_due: date | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "notice_id": self.notice_id,
            "kind": self.kind,
            "listing_id": self.listing_id,
            "service_state": self.state,
            "served_on": self.served_on,
            "service_method": self.method,
            "defence_opened": self.defence_opened,
            "defence_due": self.defence_due,
        }


def resolve_notice(session: Session, text: str) -> int:
    """A notice by its id, or by the 发文字号 printed on it."""
    typed = text.strip()
    number = as_id(typed)
    if number is not None:
        found = session.execute(sa.select(NOTICE.c.id).where(NOTICE.c.id == number)).first()
    else:
        found = session.execute(
            sa.select(NOTICE.c.id).where(NOTICE.c.letter_number == typed)
        ).first()
    if found is None:
        raise NotFound(f"通知不存在（no such notice）：{typed}", notice=typed)
    return int(found[0])


def record_notice_service(
    runtime: Runtime,
    reference: str,
    *,
    served_on: date | None,
    method: ServiceMethod | None,
    note: str | None,
    failed_reason: str | None,
    recorded_by: str,
    source: str,
) -> ServiceOutcome:
    """Record service (or its failure) of one letter; a served 告知书 opens its window now."""
    clock = runtime.clock
    with db.session_scope(runtime.engine) as session:
        notice_id = resolve_notice(session, reference)
        if failed_reason is not None:
            done = record_failure(
                session,
                notice_id,
                reason=failed_reason,
                recorded_by=recorded_by,
                clock=clock,
                source=source,
            )
            state = ServiceState.FAILED.value
        else:
            if served_on is None or method is None:
                raise JointcreditError(
                    "须给出 --on 送达日期 和 --method post|in_person（or --failed --reason）",
                    field="on",
                )
            record = ServiceRecord(notice_id, method, served_on, recorded_by, note)
            done = record_service(session, record, clock=clock, source=source)
            state = ServiceState.SERVED.value
        opened: list[int] = []
        due = None
        if (
            state == ServiceState.SERVED
            and done.kind == NoticeKind.PRIOR_NOTICE
            and done.listing_id
        ):
            opened = open_defence_windows(
                session,
                catalogue=runtime.catalogue,
                calendar=runtime.calendar,
                clock=clock,
                actor=recorded_by,
                source=source,
                listing_ids=[done.listing_id],
            )
            due = session.execute(
                sa.select(LISTING.c.defence_due).where(LISTING.c.id == done.listing_id)
            ).scalar()
    return ServiceOutcome(
        notice_id, done.kind, done.listing_id, state, done.served_on, done.method, opened, due
    )


def letters_to_print(
    runtime: Runtime, *, batch: str | None = None, notice: str | None = None
) -> list[PrintableLetter]:
    """Letters on the `post` channel (of one batch, by its id or reference; or one notice) that
    have a text: a letter withheld by the renderer has none and is never printed."""
    with db.session_scope(runtime.engine) as session:
        query = (
            sa.select(
                NOTICE.c.id,
                NOTICE.c.kind,
                NOTICE.c.letter_number,
                NOTICE.c.recipient_name,
                NOTICE.c.subject,
                NOTICE.c.body_html,
                NOTICE.c.service_state,
                NOTICE.c.served_on,
                NOTICE.c.service_method,
                NOTICE.c.listing_id,
                BATCH.c.reference,
            )
            .select_from(NOTICE)
            .outerjoin(LISTING, LISTING.c.id == NOTICE.c.listing_id)
            .outerjoin(BATCH, BATCH.c.id == LISTING.c.batch_id)
            .where(
                NOTICE.c.channel == Channel.POST.value,
                NOTICE.c.state.not_in(sorted(UNWRITTEN_STATES)),  # nothing to print
            )
            .order_by(NOTICE.c.id)
        )
        if notice is not None:
            query = query.where(NOTICE.c.id == resolve_notice(session, notice))
        if batch is not None:
            query = query.where(LISTING.c.batch_id == resolve_batch(session, batch)[0])
        rows = session.execute(query).all()
    return [
        PrintableLetter(
            notice_id=row.id,
            kind_label=label(NOTICE_KIND_LABELS, row.kind),
            letter_number=row.letter_number,
            recipient_name=row.recipient_name or "—",
            listing_reference=(
                listing_reference(row.reference, row.listing_id) if row.listing_id else "—"
            ),
            subject=row.subject,
            body_html=row.body_html or "",
            service=service_label(row.service_state, row.served_on, row.service_method),
        )
        for row in rows
    ]
