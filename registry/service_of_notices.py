"""Service (送达) of letters to parties, and the windows that run from it.

Every window that runs against a party — 陈述申辩 after the 告知书, 异议 and 复议/诉讼 after the
决定书 — is counted from the day the party was served, never from the day the letter was composed
(行政处罚法第四十四条、第四十五条; DOMAIN.md §4). A letter is served:

- by e-mail on the business day (Asia/Shanghai) its mail server accepted it — but only where
  the party agreed to electronic service (行政处罚法第六十一条第二款: "当事人同意并签订确认书的，
  行政机关可以采用传真、电子邮件等方式，将行政处罚决定书等送达当事人"; `notifications.compose` sends
  party letters by e-mail only then; the outbox records service in the UPDATE marking it sent);
- by post or in person, on the date an operator records (`record_service`, with the method and a
  note such as the registered-mail number or who signed for it);
- or not at all: an operator records a failed service (`record_failure`), and the letter stays
  unserved (it may be served again another way later).

`open_defence_windows` turns a served 告知书 into its listing's defence window: `defence_from` is
the service date and `defence_due` the same computation the rule-set always used. A listing whose
party has not been served stays `notified` with no window, and blocks only itself.

Pure and set-based: no Prefect, no SMTP, no wall clock (the caller passes `Clock`). Nothing here
commits; each function writes its audit events in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session

from memoranda.loader import Catalogue
from registry.audit import EventDraft, append_events
from registry.calendar import WorkingCalendar
from registry.clock import Clock, business_date
from registry.db import in_list_chunks
from registry.errors import JointcreditError, NotFound
from registry.free_text import clean_free_text, clean_single_line
from registry.models import Listing, Notice, NoticeState
from registry.models import ListingState as S
from registry.sla import defence_deadline
from registry.vocabulary import (
    NOTICE_STATE_LABELS,
    SERVICE_METHOD_LABELS,
    SERVICE_STATE_LABELS,
    NoticeKind,
    label,
)

NOTICE = cast(sa.Table, sa.inspect(Notice).local_table)
LISTING = cast(sa.Table, sa.inspect(Listing).local_table)
NOTE_MAX = 500


class ServiceState(StrEnum):
    PENDING = "pending"
    SERVED = "served"
    FAILED = "failed"


class ServiceMethod(StrEnum):
    EMAIL = "email"
    POST = "post"
    IN_PERSON = "in_person"


class Channel(StrEnum):
    """How a letter leaves: e-mail (a deliverer sends it), or printed for post / in person."""

    EMAIL = "email"
    POST = "post"


DEPARTMENT_KINDS = frozenset(
    {
        NoticeKind.DEPARTMENT_DISPATCH,
        NoticeKind.REMINDER,
        NoticeKind.ESCALATION,
        NoticeKind.LIFT_REQUEST,
        NoticeKind.DEPARTMENT_RESTORE,
        NoticeKind.PARTY_DEADLINE_REMINDER,
        NoticeKind.PARTY_DEADLINE_ESCALATION,
        NoticeKind.MONTHLY_REPORT,
    }
)
"""Letters to departments and to our own leadership: always e-mail (no consent needed). Every
other kind is a letter to a party, and goes by e-mail only with the party's consent."""


def is_party_kind(kind: str) -> bool:
    """A letter to a party (当事人): any kind not addressed to a department or to ourselves."""
    return kind not in {k.value for k in DEPARTMENT_KINDS}


def party_channel(*, consent: bool, mailbox: str | None) -> Channel:
    """行政处罚法第六十一条第二款: e-mail service needs the party's consent — and a mailbox."""
    return Channel.EMAIL if consent and mailbox else Channel.POST


def service_label(state: str, served_on: date | None, method: str | None) -> str:
    """送达方式、送达日期 (`邮寄送达 2026-11-04`), or 未送达 / 送达失败."""
    if state == ServiceState.SERVED and served_on is not None:
        return f"{label(SERVICE_METHOD_LABELS, method)} {served_on.isoformat()}"
    return label(SERVICE_STATE_LABELS, state)


def email_served_on(accepted_at: datetime) -> date:
    """A letter the mail server accepted is served that business day (Asia/Shanghai)."""
    return business_date(accepted_at)


class ServiceError(JointcreditError):
    """A service record the rules refuse (a date in the future, a letter served twice, …)."""


@dataclass(frozen=True)
class ServiceRecord:
    """What an operator records: the letter, and how and when it reached the party."""

    notice_id: int
    method: ServiceMethod
    served_on: date
    recorded_by: str
    note: str | None = None


@dataclass(frozen=True)
class ServedNotice:
    notice_id: int
    kind: str
    listing_id: int | None
    served_on: date | None
    method: str | None
    state: str


UNWRITTEN_STATES = frozenset({NoticeState.WITHHELD.value, NoticeState.BAD_ADDRESS.value})
"""Letters stored without a text that can be served: withheld by the renderer (nothing of the
letter is kept) or parked for a bad mailbox. Neither can be printed nor recorded as served."""


def _load_notice(session: Session, notice_id: int) -> Any:
    row = session.execute(
        sa.select(
            NOTICE.c.id,
            NOTICE.c.kind,
            NOTICE.c.listing_id,
            NOTICE.c.created_at,
            NOTICE.c.service_state,
            NOTICE.c.served_on,
            NOTICE.c.state,
        ).where(NOTICE.c.id == notice_id)
    ).first()
    if row is None:
        raise NotFound(f"通知不存在（no such notice）：{notice_id}", notice_id=notice_id)
    if not is_party_kind(row.kind):
        raise ServiceError(
            f"通知 {notice_id} 是发给部门的函件，无需记录送达（not a letter to a party）",
            notice_id=notice_id,
        )
    if row.service_state == ServiceState.SERVED:
        raise ServiceError(
            f"通知 {notice_id} 已于 {row.served_on} 送达，不得重复记录（already served）",
            notice_id=notice_id,
        )
    if row.state in UNWRITTEN_STATES:
        raise ServiceError(
            f"通知 {notice_id} 未生成正文（{label(NOTICE_STATE_LABELS, row.state)}），"
            "不能记录送达：先更正后重新生成（a letter never written cannot be served）",
            notice_id=notice_id,
        )
    return row


def record_service(
    session: Session, record: ServiceRecord, *, clock: Clock, source: str
) -> ServedNotice:
    """Record service by post or in person; refuses a date in the future, a date before the
    letter was composed, e-mail (recorded by the outbox itself) and a second service."""
    if record.method is ServiceMethod.EMAIL:
        raise ServiceError(
            "电子邮件送达由发送系统自动记录，不得手工记录（e-mail service is recorded on send）",
            field="method",
        )
    actor = clean_single_line(record.recorded_by)
    if not actor:
        raise ServiceError("须填写记录人（--by is required）", field="by")
    row = _load_notice(session, record.notice_id)
    composed_on = business_date(row.created_at)
    today = clock.today()
    if record.served_on > today:
        raise ServiceError(
            f"送达日期 {record.served_on} 晚于今天 {today}（a service date in the future）",
            field="on",
        )
    if record.served_on < composed_on:
        raise ServiceError(
            f"送达日期 {record.served_on} 早于文书制作日期 {composed_on}"
            "（served before the letter was composed）",
            field="on",
        )
    note = clean_free_text(record.note or "").strip()[:NOTE_MAX] or None
    values = {
        "service_state": ServiceState.SERVED.value,
        "served_on": record.served_on,
        "service_method": record.method.value,
        "service_note": note,
        "service_recorded_by": actor,
        "service_recorded_at": clock.now(),
    }
    _guarded_update(session, record.notice_id, values)
    append_events(
        session,
        [
            EventDraft(
                actor=actor,
                action="notice.served",
                entity_type="notice",
                entity_id=record.notice_id,
                before={"service_state": row.service_state},
                after={k: v for k, v in values.items() if k != "service_recorded_at"},
                source=source,
            )
        ],
        at=clock.now(),
    )
    return ServedNotice(
        record.notice_id, row.kind, row.listing_id, record.served_on, record.method, row.state
    )


def record_failure(
    session: Session, notice_id: int, *, reason: str, recorded_by: str, clock: Clock, source: str
) -> ServedNotice:
    """Record that service failed (退回、拒收、查无此人); the letter stays unserved and its
    windows do not start. It may be served later another way (`record_service`)."""
    actor = clean_single_line(recorded_by)
    if not actor:
        raise ServiceError("须填写记录人（--by is required）", field="by")
    cleaned = clean_free_text(reason or "").strip()[:NOTE_MAX]
    if not cleaned:
        raise ServiceError("须说明送达失败的原因（--reason is required）", field="reason")
    row = _load_notice(session, notice_id)
    values = {
        "service_state": ServiceState.FAILED.value,
        "service_note": cleaned,
        "service_recorded_by": actor,
        "service_recorded_at": clock.now(),
    }
    _guarded_update(session, notice_id, values)
    append_events(
        session,
        [
            EventDraft(
                actor=actor,
                action="notice.service_failed",
                entity_type="notice",
                entity_id=notice_id,
                before={"service_state": row.service_state},
                after={k: v for k, v in values.items() if k != "service_recorded_at"},
                source=source,
            )
        ],
        at=clock.now(),
    )
    return ServedNotice(notice_id, row.kind, row.listing_id, None, None, row.state)


def _guarded_update(session: Session, notice_id: int, values: dict[str, Any]) -> None:
    """Only an unserved letter changes: two operators recording at once cannot both win."""
    updated = session.execute(
        sa.update(NOTICE)
        .where(NOTICE.c.id == notice_id, NOTICE.c.service_state != ServiceState.SERVED.value)
        .values(**values)
    )
    if cast(sa.CursorResult[Any], updated).rowcount != 1:
        raise ServiceError(f"通知 {notice_id} 已送达（already served）", notice_id=notice_id)


def open_defence_windows(
    session: Session,
    *,
    catalogue: Catalogue,
    calendar: WorkingCalendar,
    clock: Clock,
    actor: str,
    source: str,
    batch_id: int | None = None,
    listing_ids: Sequence[int] | None = None,
) -> list[int]:
    """Give every notified listing whose 告知书 has been served its 陈述申辩 window, counted from
    the service date (行政处罚法第四十四条、第四十五条); returns the listings given one.

    One UPDATE per distinct service date: a batch served on three days costs three statements.
    A listing already given a window keeps it (re-runs change nothing).
    """
    served = (
        sa.select(NOTICE.c.listing_id, sa.func.min(NOTICE.c.served_on).label("served_on"))
        .where(
            NOTICE.c.kind == NoticeKind.PRIOR_NOTICE.value,
            NOTICE.c.service_state == ServiceState.SERVED.value,
            NOTICE.c.served_on.is_not(None),
        )
        .group_by(NOTICE.c.listing_id)
        .subquery()
    )
    query = (
        sa.select(LISTING.c.id, served.c.served_on)
        .join(served, served.c.listing_id == LISTING.c.id)
        .where(LISTING.c.state == S.NOTIFIED.value, LISTING.c.defence_due.is_(None))
    )
    if batch_id is not None:
        query = query.where(LISTING.c.batch_id == batch_id)
    rows: list[tuple[int, date]] = []
    if listing_ids is not None:
        for chunk in in_list_chunks(list(listing_ids)):
            rows += [(r[0], r[1]) for r in session.execute(query.where(LISTING.c.id.in_(chunk)))]
    else:
        rows = [(r[0], r[1]) for r in session.execute(query)]
    by_day: dict[date, list[int]] = {}
    for listing_id, served_on in rows:
        by_day.setdefault(served_on, []).append(listing_id)
    limits = catalogue.time_limits
    opened: list[int] = []
    drafts: list[EventDraft] = []
    for served_on, ids in sorted(by_day.items()):
        deadline = defence_deadline(calendar, limits, served_on)
        for chunk in in_list_chunks(ids):
            session.execute(
                sa.update(LISTING)
                .where(
                    LISTING.c.id.in_(chunk),
                    LISTING.c.state == S.NOTIFIED.value,
                    LISTING.c.defence_due.is_(None),
                )
                .values(
                    defence_from=served_on,
                    defence_wd=limits.defence_wd,
                    defence_due=deadline.due,
                    defence_provisional=deadline.provisional,
                )
            )
        opened += ids
        after = {  # every column set above: `audit verify` replays the listing from these
            "defence_from": served_on,
            "defence_wd": limits.defence_wd,
            "defence_due": deadline.due,
            "defence_provisional": deadline.provisional,
        }
        drafts += [
            EventDraft(actor, "listing.defence_window_opened", "listing", i, None, after, source)
            for i in ids
        ]
    append_events(session, drafts, at=clock.now())
    return sorted(opened)


def listings_awaiting_service(session: Session, batch_id: int) -> list[int]:
    """The batch's notified listings still waiting for their 告知书 to be served (未送达)."""
    rows = session.execute(
        sa.select(LISTING.c.id)
        .where(
            LISTING.c.batch_id == batch_id,
            LISTING.c.state == S.NOTIFIED.value,
            LISTING.c.defence_due.is_(None),
        )
        .order_by(LISTING.c.id)
    )
    return [int(i) for i in rows.scalars()]


PARTY_LETTER_UNSERVED = sa.and_(
    NOTICE.c.service_state != ServiceState.SERVED.value,
    NOTICE.c.kind.not_in(sorted(k.value for k in DEPARTMENT_KINDS)),
    NOTICE.c.state != NoticeState.WITHHELD.value,
)
"""A party letter not (yet) served: what the views list as 待送达."""
