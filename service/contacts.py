"""Correcting a contact: the new mailbox and the re-queued notices commit together.

`jointcredit contact set` calls this. The correction (`registry.contacts`, audited) and the
re-addressing of the notices the old address held up (`notifications.outbox.readdress_parked`,
audited per notice) are one transaction: a notice is never re-queued to an address that was not
stored, nor an address stored while its notices stay parked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from notifications.outbox import ParkedFor, readdress_parked
from registry import db
from registry.contacts import ContactChange, set_department_contact, set_subject_contact
from service.runtime import Runtime


@dataclass(frozen=True)
class ContactCorrection:
    change: ContactChange
    requeued: list[int]

    def as_dict(self) -> dict[str, Any]:
        return {**self.change.as_dict(), "requeued": self.requeued}


def correct_contact(
    runtime: Runtime,
    address: str,
    *,
    subject: str | None = None,
    department: str | None = None,
    actor: str,
    source: str,
) -> ContactCorrection:
    """Set a subject's (id or USCC) or a department's (code) mailbox; re-queue its parked
    notices to the new address."""
    now = runtime.clock.now()
    with db.session_scope(runtime.engine) as session:
        if department is not None:
            change = set_department_contact(
                session, runtime.catalogue, department, address, now=now, actor=actor, source=source
            )
        else:
            change = set_subject_contact(
                session, subject or "", address, now=now, actor=actor, source=source
            )
        parked = ParkedFor(
            addresses=change.previous,
            listing_ids=change.listing_ids,
            department_code=change.department_code,
        )
        requeued = readdress_parked(
            session, parked, change.after, now=now, actor=actor, source=source
        )
    return ContactCorrection(change=change, requeued=requeued)
