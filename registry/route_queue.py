"""Which batches the 15-minute sweep (`route-due-batches`) must move, and which wait on a person.

A batch is *due* when some of its listings are ready for a step of `route-batch` that needs no
operator: proposed (告知 not yet given), notified with the defence received or its window
lapsed (the due day itself still belongs to the party, as in `close_defence_windows`) or with
its 告知书 served and its window not yet opened,
confirmed but not published, or in force but never dispatched to the departments of a
memorandum. A batch *awaits the operator* when any listing is awaiting confirmation.

Pure SQL on a session, no Prefect: the flow decides what to do with the ids. Oldest batch
first, and at most `limit` of them, so one sweep does bounded work and the next one continues.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from registry.db import in_list_chunks
from registry.models import DepartmentAction, Listing, Notice
from registry.models import ListingState as S
from registry.service_of_notices import ServiceState
from registry.vocabulary import NoticeKind

_ACTION = sa.inspect(DepartmentAction).local_table
_NOTICE = sa.inspect(Notice).local_table


@dataclass(frozen=True)
class RoutedBatch:
    """One batch the sweep moved: how many listings, and where it waits now."""

    batch_id: int
    reference: str
    waiting_label: str
    moved: int

    def as_dict(self) -> dict[str, object]:
        return {
            "batch_id": self.batch_id,
            "reference": self.reference,
            "waiting_label": self.waiting_label,
            "moved": self.moved,
        }


@dataclass
class FormRequests:
    """Confirmation forms the sweep put up: new ones, batches that had one, or no deployment."""

    requested: list[int] = field(default_factory=list)
    already_open: list[int] = field(default_factory=list)
    deployment_missing: bool = False
    cancelled: list[int] = field(default_factory=list)
    """Batches decided elsewhere (`jointcredit confirm`) whose suspended form was withdrawn."""

    def as_dict(self) -> dict[str, object]:
        return {
            "requested": list(self.requested),
            "already_open": list(self.already_open),
            "deployment_missing": self.deployment_missing,
            "cancelled": list(self.cancelled),
        }


def dispatchable_rule_sets(catalogue: Catalogue) -> list[str]:
    """The rule-sets with at least one memorandum: only their listings have departments to
    be dispatched to."""
    return [rule_set for rule_set in catalogue.rule_sets if catalogue.memoranda_for(rule_set)]


def due_batches(
    session: Session, *, today: date, dispatchable_rule_sets: Collection[str], limit: int
) -> list[int]:
    """Ids of batches with listings a step of `route-batch` can move now, oldest first.

    `dispatchable_rule_sets` are the rule-sets that have at least one memorandum: a listing in
    force under any other has no department to dispatch to and never makes its batch due.
    """
    if limit < 1:
        return []
    undispatched = sa.and_(
        col(Listing.state) == S.IN_FORCE.value,
        col(Listing.rule_set).in_(sorted(dispatchable_rule_sets)),
        ~sa.exists().where(_ACTION.c.listing_id == col(Listing.id)),
    )
    defence_over = sa.and_(
        col(Listing.state) == S.NOTIFIED.value,
        sa.or_(
            col(Listing.defence_received_at).is_not(None),
            col(Listing.defence_due) < today,
        ),
    )
    # A served 告知书 whose listing has no window yet: the route opens it from the service date.
    served_without_window = sa.and_(
        col(Listing.state) == S.NOTIFIED.value,
        col(Listing.defence_due).is_(None),
        sa.exists().where(
            _NOTICE.c.listing_id == col(Listing.id),
            _NOTICE.c.kind == NoticeKind.PRIOR_NOTICE.value,
            _NOTICE.c.service_state == ServiceState.SERVED.value,
        ),
    )
    ready = sa.or_(
        col(Listing.state).in_([S.PROPOSED.value, S.CONFIRMED.value]),
        defence_over,
        served_without_window,
        undispatched,
    )
    rows = session.execute(
        sa.select(col(Listing.batch_id))
        .where(ready)
        .group_by(col(Listing.batch_id))
        .order_by(col(Listing.batch_id))
        .limit(limit)
    )
    return [int(batch_id) for batch_id in rows.scalars()]


def still_awaiting_operator(session: Session, batch_ids: Collection[int]) -> set[int]:
    """Those of `batch_ids` with a listing awaiting the operator's decision."""
    waiting: set[int] = set()
    for chunk in in_list_chunks(sorted(batch_ids)):
        waiting.update(
            int(batch_id)
            for batch_id in session.execute(
                sa.select(col(Listing.batch_id))
                .where(
                    col(Listing.state) == S.AWAITING_CONFIRMATION.value,
                    col(Listing.batch_id).in_(chunk),
                )
                .distinct()
            ).scalars()
        )
    return waiting


def batches_awaiting_operator(session: Session, *, limit: int) -> list[int]:
    """Ids of batches with listings awaiting the operator's decision, oldest first."""
    if limit < 1:
        return []
    rows = session.execute(
        sa.select(col(Listing.batch_id))
        .where(col(Listing.state) == S.AWAITING_CONFIRMATION.value)
        .group_by(col(Listing.batch_id))
        .order_by(col(Listing.batch_id))
        .limit(limit)
    )
    return [int(batch_id) for batch_id in rows.scalars()]
