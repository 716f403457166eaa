"""Who a notice goes to, and how an operator corrects it: subjects' and departments' mailboxes.

A subject's mailbox is `subject.contact_email` (from the import, or corrected here). A
department's is its `departments.yml` entry unless an operator stored a correction in
`department_mailbox`: the catalogue is versioned data changed by release, a bouncing mailbox
must be put right the same day, and every composer of a department letter asks
`department_mailbox` so the correction is honoured everywhere. Every correction is checked by
the one address rule (`memoranda.addresses`) and written to the audit trail. Nothing here commits;
re-queuing the notices the old address held up is the outbox's (`notifications.outbox`).

A correction also closes the refusal flag (`contact_flag`, opened by a 5xx) of the address it
replaces, in the same transaction and named in its audit event: the flag asks someone to correct
the contact, which has just been done. A flag stays open while another subject or department
still has that address as its mailbox: for them it has not been corrected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from memoranda.addresses import AddressProblem, check_address
from memoranda.loader import Catalogue
from memoranda.schema import Department
from registry.audit import EventDraft, append_events
from registry.errors import JointcreditError, NotFound
from registry.identifiers import UsccStatus, check_uscc
from registry.models import ContactFlag, DepartmentMailbox, Listing, Subject

MAILBOX = cast(sa.Table, sa.inspect(DepartmentMailbox).local_table)
SUBJECT = cast(sa.Table, sa.inspect(Subject).local_table)
LISTING = cast(sa.Table, sa.inspect(Listing).local_table)
FLAG = cast(sa.Table, sa.inspect(ContactFlag).local_table)


class ContactError(JointcreditError):
    """A contact cannot be corrected as asked (bad address, unknown subject or department)."""


@dataclass(frozen=True)
class ContactChange:
    """One corrected mailbox: whose, from what, to what, and what its notices are about."""

    entity_type: str  # "subject" | "department"
    entity_id: str
    name: str
    before: str | None
    after: str
    previous: list[str] = field(default_factory=list)  # every address its notices may carry
    listing_ids: list[int] = field(default_factory=list)
    department_code: str | None = None
    cleared_flags: list[str] = field(default_factory=list)  # refusal flags this closed

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "name": self.name,
            "before": self.before,
            "after": self.after,
            "cleared_flags": self.cleared_flags,
        }


def checked_address(address: str) -> str:
    """The address as stored, or a ContactError naming the value and the reason."""
    found = check_address(address)
    if isinstance(found, AddressProblem):
        raise ContactError(
            f"邮箱地址 {address!r} 无法使用：{found.zh}（{found.en}）",
            field="address",
            value=address,
        )
    return found.text


def department_mailbox(session: Session, department: Department) -> str:
    """The mailbox a department's letters go to: the stored correction, else the catalogue's."""
    stored = session.execute(
        sa.select(MAILBOX.c.address).where(MAILBOX.c.department_code == department.code)
    ).scalar()
    return str(stored) if stored is not None else department.mailbox


def find_subject(session: Session, key: str) -> dict[str, Any]:
    """A subject by its numeric id or a unit's unified social credit code."""
    text = key.strip()
    columns = (SUBJECT.c.id, SUBJECT.c.kind, SUBJECT.c.name, SUBJECT.c.contact_email)
    if text.isdigit() and len(text) < 18:
        row = session.execute(sa.select(*columns).where(SUBJECT.c.id == int(text))).first()
    else:
        check = check_uscc(text)
        if check.status is UsccStatus.INVALID_FORMAT:
            raise ContactError(
                f"主体应为主体编号或统一社会信用代码（subject id or USCC）：{text!r}",
                field="subject",
                value=text,
            )
        row = session.execute(sa.select(*columns).where(SUBJECT.c.uscc == check.code)).first()
    if row is None:
        raise NotFound(f"主体不存在（no such subject）：{text}", subject=text)
    return dict(row._mapping)


def set_subject_contact(
    session: Session, key: str, address: str, *, now: datetime, actor: str, source: str
) -> ContactChange:
    """Correct a subject's mailbox (audited). Its persons without a mailbox of their own are
    written to at their unit's, so their listings count as the unit's notices too."""
    corrected = checked_address(address)
    subject = find_subject(session, key)
    session.execute(
        sa.update(SUBJECT).where(SUBJECT.c.id == subject["id"]).values(contact_email=corrected)
    )
    persons = sa.select(SUBJECT.c.id).where(
        SUBJECT.c.unit_id == subject["id"], SUBJECT.c.contact_email.is_(None)
    )
    listing_ids = session.execute(
        sa.select(LISTING.c.id).where(
            sa.or_(LISTING.c.subject_id == subject["id"], LISTING.c.subject_id.in_(persons))
        )
    ).scalars()
    before = subject["contact_email"]
    cleared = clear_replaced_flags(session, [before] if before else [], corrected, now=now)
    append_events(
        session,
        [
            EventDraft(
                actor=actor,
                action="subject.contact_set",
                entity_type="subject",
                entity_id=subject["id"],
                before={"contact_email": before},
                after={"contact_email": corrected, **_cleared(cleared)},
                source=source,
            )
        ],
        at=now,
    )
    return ContactChange(
        entity_type="subject",
        entity_id=str(subject["id"]),
        name=subject["name"],
        before=before,
        after=corrected,
        previous=[before] if before else [],
        listing_ids=sorted(listing_ids),
        cleared_flags=cleared,
    )


def set_department_contact(
    session: Session,
    catalogue: Catalogue,
    code: str,
    address: str,
    *,
    now: datetime,
    actor: str,
    source: str,
) -> ContactChange:
    """Store a correction of a department's mailbox (audited); delivery uses it from now on."""
    corrected = checked_address(address)
    wanted = code.strip().casefold()
    department = next((d for d in catalogue.departments.values() if d.code == wanted), None)
    if department is None:
        known = "、".join(sorted(catalogue.departments))
        raise ContactError(
            f"未知的部门代码（unknown department）：{code!r}；可用：{known}",
            field="department",
            value=code,
        )
    before = department_mailbox(session, department)
    values = {"address": corrected, "set_at": now, "set_by": actor[:200]}
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(MAILBOX).values(department_code=department.code, **values)
    session.execute(upsert.on_conflict_do_update(index_elements=["department_code"], set_=values))
    previous = sorted({before, department.mailbox})
    others = [d.mailbox for d in catalogue.departments.values() if d.code != department.code]
    cleared = clear_replaced_flags(
        session, previous, corrected, now=now, catalogue_mailboxes=others
    )
    append_events(
        session,
        [
            EventDraft(
                actor=actor,
                action="department.mailbox_set",
                entity_type="department",
                entity_id=department.code,
                before={"mailbox": before},
                after={"mailbox": corrected, **_cleared(cleared)},
                source=source,
            )
        ],
        at=now,
    )
    return ContactChange(
        entity_type="department",
        entity_id=department.code,
        name=department.name,
        before=before,
        after=corrected,
        previous=previous,
        department_code=department.code,
        cleared_flags=cleared,
    )


def clear_replaced_flags(
    session: Session,
    replaced: list[str],
    corrected: str,
    *,
    now: datetime,
    catalogue_mailboxes: list[str] | None = None,
) -> list[str]:
    """Close the open refusal flags of `replaced` addresses no contact holds any more (call it
    after storing the correction); the addresses cleared, lower case as flags are keyed."""
    gone = sorted({a.strip().lower() for a in replaced if a.strip()} - {corrected.lower()})
    if not gone:
        return []
    held = {a.strip().lower() for a in catalogue_mailboxes or []}
    held.update(
        session.execute(
            sa.select(sa.func.lower(SUBJECT.c.contact_email)).where(
                sa.func.lower(SUBJECT.c.contact_email).in_(gone)
            )
        ).scalars()
    )
    held.update(
        session.execute(
            sa.select(sa.func.lower(MAILBOX.c.address)).where(
                sa.func.lower(MAILBOX.c.address).in_(gone)
            )
        ).scalars()
    )
    unheld = [address for address in gone if address not in held]
    if not unheld:
        return []
    cleared = session.execute(
        sa.update(FLAG)
        .where(FLAG.c.address.in_(unheld), FLAG.c.cleared_at.is_(None))
        .values(cleared_at=now)
        .returning(FLAG.c.address)
    ).scalars()
    return sorted(cleared)


def _cleared(addresses: list[str]) -> dict[str, Any]:
    """The audit event's note of the refusal flags a correction closed (none: no note)."""
    return {"cleared_flags": addresses} if addresses else {}
