"""The operator inbox: everything waiting for a person, in one view — what an operator opens
first each morning.

Four sections: the forms waiting in the Prefect UI, the parked notices (the outbox's
`failed`, `dead`, `bad_address` and `withheld`: each waits for someone), the contacts to correct
(a mailbox a server refused for good — an open `contact_flag` — or an address that cannot be
delivered to at all), and the objections and removal applications past the date we owed an
answer by (`registry.party_deadlines`).

No Prefect here: the waiting forms are read from the Prefect API by the caller
(`tasks.inbox`) and passed in as plain `WaitingForm`s; `None` means they could not be read
(no Prefect server configured), which the view keeps apart from "none waiting". Pure reads on
the caller's session.

Every section shows at most `SHOWN` lines (its heading carries the full count), so a backlog of
thousands of refused mailboxes does not turn the artifact into a megabyte rewritten every
minute; `jointcredit inbox --all` lists everything (`shown=None`). Every value shown is masked
(`scrub`): a person's mailbox may embed a resident ID number (`510104…0351@qq.com`), and so may
a server's reply quoting it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session

from registry.clock import business_date
from registry.models import ContactFlag, DepartmentMailbox, NoticeState
from registry.views.common import BATCH, LISTING, NOTICE, OBJECTION, REMOVAL, SUBJECT, scrub
from registry.vocabulary import NOTICE_KIND_LABELS, NOTICE_STATE_LABELS, label

FLAG = cast(sa.Table, sa.inspect(ContactFlag).local_table)
MAILBOX = cast(sa.Table, sa.inspect(DepartmentMailbox).local_table)

PARKED_STATES = (
    NoticeState.FAILED.value,
    NoticeState.DEAD.value,
    NoticeState.BAD_ADDRESS.value,
    NoticeState.WITHHELD.value,
)
"""The outbox's parked states (`notifications.outbox.PARKED_STATES`, which the layering keeps
out of reach here): notices that wait for a person."""

SHOWN = 50
"""Lines shown per section; the count in the heading is always the full one."""

ADDRESSES_PER_QUERY = 500
"""Addresses looked up per query: bounded bind parameters whatever `--all` asks for."""


@dataclass(frozen=True)
class WaitingForm:
    """A flow run paused or suspended on an operator's form, as read from Prefect."""

    run_id: str
    run_name: str
    flow_name: str
    url: str
    waiting_since: datetime
    batch_id: int | None = None


@dataclass(frozen=True)
class FormLine:
    run_name: str
    url: str
    waits_for: str
    hours: int


@dataclass(frozen=True)
class ParkedLine:
    notice_id: int
    kind: str
    recipient: str
    state: str
    reason: str


@dataclass(frozen=True)
class ContactLine:
    address: str
    problem: str
    holders: list[str]
    fix: str


@dataclass(frozen=True)
class OverdueLine:
    kind: str  # 异议 | 移出申请
    case_id: int
    listing_id: int
    filed_on: date
    due: date
    level: str  # 未催办 | 已催办 | 已督办


@dataclass(frozen=True)
class OperatorInbox:
    today: date
    forms: list[FormLine] | None  # None: no Prefect server to ask
    parked: list[ParkedLine] = field(default_factory=list)
    parked_total: int = 0
    contacts: list[ContactLine] = field(default_factory=list)
    overdue: list[OverdueLine] = field(default_factory=list)
    overdue_total: int = 0
    forms_total: int = 0
    contacts_total: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FLOW_WAITS_FOR = {
    "route-batch": "列入确认",
    "review-removals": "移出决定",
    "record-responses": "录入部门答复",
}


def operator_inbox(
    session: Session,
    *,
    today: date,
    now: datetime,
    forms: Sequence[WaitingForm] | None,
    department_mailboxes: Mapping[str, tuple[str, str]] | None = None,
    shown: int | None = SHOWN,
) -> OperatorInbox:
    """The inbox as of `now`. `department_mailboxes`: code → (name, catalogue mailbox), so a
    refused department mailbox names its department. `shown`: lines per section (None: all)."""
    parked, parked_total = _parked(session, shown)
    contacts, contacts_total = _contacts(session, department_mailboxes or {}, shown)
    overdue, overdue_total = _overdue(session, today, shown)
    return OperatorInbox(
        today=today,
        forms=None if forms is None else _forms(session, forms, now, shown),
        parked=parked,
        parked_total=parked_total,
        contacts=contacts,
        overdue=overdue,
        overdue_total=overdue_total,
        forms_total=0 if forms is None else len(forms),
        contacts_total=contacts_total,
    )


def _shown(text: object) -> str:
    """A stored value as shown: resident ID numbers masked."""
    return scrub(str(text)) or ""


def _forms(
    session: Session, forms: Sequence[WaitingForm], now: datetime, shown: int | None
) -> list[FormLine]:
    forms = sorted(forms, key=lambda f: (f.waiting_since, f.run_name))[:shown]
    batch_ids = sorted({f.batch_id for f in forms if f.batch_id is not None})
    references: dict[int, str] = {}
    awaiting: dict[int, int] = {}
    if batch_ids:
        references = {
            int(row.id): str(row.reference)
            for row in session.execute(
                sa.select(BATCH.c.id, BATCH.c.reference).where(BATCH.c.id.in_(batch_ids))
            )
        }
        awaiting = {
            int(row.batch_id): int(row.n)
            for row in session.execute(
                sa.select(LISTING.c.batch_id, sa.func.count().label("n"))
                .where(
                    LISTING.c.batch_id.in_(batch_ids),
                    LISTING.c.state == "awaiting_confirmation",
                )
                .group_by(LISTING.c.batch_id)
            )
        }
    lines = []
    for form in forms:
        what = FLOW_WAITS_FOR.get(form.flow_name, form.flow_name)
        if form.batch_id is not None:
            reference = references.get(form.batch_id, str(form.batch_id))
            what = f"批次 {reference} {what}（待确认 {awaiting.get(form.batch_id, 0)} 条）"
        hours = max(int((now - form.waiting_since).total_seconds() // 3600), 0)
        lines.append(FormLine(_shown(form.run_name), form.url, _shown(what), hours))
    return lines


def _parked(session: Session, shown: int | None) -> tuple[list[ParkedLine], int]:
    where = NOTICE.c.state.in_(PARKED_STATES)
    total = int(session.execute(sa.select(sa.func.count()).where(where)).scalar_one())
    rows = session.execute(
        sa.select(
            NOTICE.c.id,
            NOTICE.c.kind,
            NOTICE.c.recipient,
            NOTICE.c.state,
            NOTICE.c.smtp_reply,
            NOTICE.c.last_error,
        )
        .where(where)
        .order_by(NOTICE.c.id)
        .limit(shown)
    ).all()
    return [
        ParkedLine(
            notice_id=int(row.id),
            kind=label(NOTICE_KIND_LABELS, row.kind),
            recipient=_shown(row.recipient),
            state=label(NOTICE_STATE_LABELS, row.state),
            reason=scrub(row.smtp_reply or row.last_error) or "—",
        )
        for row in rows
    ], total


def _contacts(
    session: Session, departments: Mapping[str, tuple[str, str]], shown: int | None
) -> tuple[list[ContactLine], int]:
    problems: dict[str, str] = {}
    for row in session.execute(
        sa.select(FLAG.c.address, FLAG.c.reason, FLAG.c.failures)
        .where(FLAG.c.cleared_at.is_(None))
        .order_by(FLAG.c.address)
    ):
        problems[str(row.address).lower()] = f"被拒收 {row.failures} 次：{scrub(row.reason)}"
    for row in session.execute(
        sa.select(NOTICE.c.recipient, sa.func.min(NOTICE.c.last_error).label("reason"))
        .where(NOTICE.c.state == NoticeState.BAD_ADDRESS.value)
        .group_by(NOTICE.c.recipient)
    ):
        problems.setdefault(str(row.recipient).lower(), f"地址无效：{scrub(row.reason) or '—'}")
    if not problems:
        return [], 0
    addresses = sorted(problems)[:shown]
    subjects = [
        row
        for first in range(0, len(addresses), ADDRESSES_PER_QUERY)
        for row in session.execute(
            sa.select(
                SUBJECT.c.id, SUBJECT.c.name, sa.func.lower(SUBJECT.c.contact_email).label("a")
            )
            .where(
                sa.func.lower(SUBJECT.c.contact_email).in_(
                    addresses[first : first + ADDRESSES_PER_QUERY]
                )
            )
            .order_by(SUBJECT.c.id)
        )
    ]
    holding: dict[str, list[sa.Row[Any]]] = {}
    for row in subjects:
        holding.setdefault(str(row.a), []).append(row)
    stored = {
        str(row.department_code): str(row.address).lower()
        for row in session.execute(sa.select(MAILBOX.c.department_code, MAILBOX.c.address))
    }
    lines = []
    for address in addresses:
        holders = [f"主体 {row.id} {row.name}" for row in holding.get(address, [])]
        fixes = [
            f"jointcredit contact set --subject {row.id} --address 新邮箱"
            for row in holding.get(address, [])
        ]
        for code, (name, mailbox) in sorted(departments.items()):
            if stored.get(code, mailbox.lower()) == address:
                holders.append(f"部门 {code} {name}")
                fixes.append(f"jointcredit contact set --department {code} --address 新邮箱")
        lines.append(
            ContactLine(
                address=_shown(address),
                problem=problems[address],
                holders=[_shown(h) for h in holders] or ["（无主体或部门使用此邮箱，可能已更正）"],
                fix="；".join(fixes) or "—",
            )
        )
    return lines, len(problems)


def _overdue(session: Session, today: date, shown: int | None) -> tuple[list[OverdueLine], int]:
    lines: list[OverdueLine] = []
    for kind, table, filed, due in (
        ("异议", OBJECTION, "filed_at", "answer_due"),
        ("移出申请", REMOVAL, "applied_at", "decide_due"),
    ):
        rows = session.execute(
            sa.select(
                table.c.id,
                table.c.listing_id,
                table.c[filed].label("filed"),
                table.c[due].label("due"),
                table.c.reminded_at,
                table.c.escalated_at,
            )
            .where(table.c.state == "open", table.c[due] < today)
            .order_by(table.c[due], table.c.id)
        ).all()
        lines += [
            OverdueLine(
                kind=kind,
                case_id=int(row.id),
                listing_id=int(row.listing_id),
                filed_on=business_date(row.filed),
                due=row.due,
                level="已督办" if row.escalated_at else "已催办" if row.reminded_at else "未催办",
            )
            for row in rows
        ]
    lines.sort(key=lambda line: (line.due, line.kind, line.case_id))
    return lines[:shown], len(lines)
