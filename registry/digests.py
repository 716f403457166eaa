"""Which letters name which listings.

Since migration 0006 every letter is linked at enqueue to each listing it names
(`notice_listing`, written by `notifications.outbox.enqueue_notices`): a party's letter, a
推送函, a 解除函, a 催办函, a restore letter. `letters_naming` reads those links. Digests queued
before the links existed are found as they always were, below — only those with no link rows:

A 推送函 goes to one department for one batch and names the listings of one dispatch under one
memorandum; a batch with black and red listings gets a black digest and a red one for a
department that signed both memoranda. The notice row keeps the batch and the department, and
its idempotency key's step names exactly the listings covered (`digest_step`, a hash of their
ids). The actions dispatched together (same batch, department, memorandum and dispatch time)
are those listings, so hashing each group of actions finds the digest that covers it; a
re-dispatch after a fraud restore names its one listing in the step (`restore-<id>-<day>`,
then `-<n>` for its n-th restore).
A listing's views show only these — never another list's or another department's letter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import cast

import sqlalchemy as sa
from sqlmodel import Session

from registry.db import in_list_chunks
from registry.models import DepartmentAction, Listing, Notice, NoticeListing

_ACTION = cast(sa.Table, sa.inspect(DepartmentAction).local_table)
_LISTING = cast(sa.Table, sa.inspect(Listing).local_table)
_NOTICE = cast(sa.Table, sa.inspect(Notice).local_table)
_NOTICE_LISTING = cast(sa.Table, sa.inspect(NoticeListing).local_table)

Group = tuple[int, str, str, datetime]
"""Actions dispatched together: batch, department, memorandum, dispatch time."""

_DISPATCHES = sa.select(
    _ACTION.c.listing_id,
    _LISTING.c.batch_id,
    _ACTION.c.department,
    _ACTION.c.memorandum,
    _ACTION.c.dispatched_at,
).join(_LISTING, _LISTING.c.id == _ACTION.c.listing_id)
"""Each action's listing and its group."""


def digest_step(listing_ids: Sequence[int]) -> str:
    """A notice step naming exactly which listings a digest covers, so a later partial
    dispatch of the same batch gets its own notice while a repeat of this one does not."""
    joined = ",".join(map(str, sorted(listing_ids)))
    return "dispatch-" + hashlib.sha256(joined.encode()).hexdigest()[:16]


def restore_step_prefix(listing_id: int) -> str:
    """The start of the step of a digest re-dispatching one restored listing."""
    return f"restore-{listing_id}-"


def letters_naming(session: Session, listing_ids: Iterable[int]) -> list[int]:
    """Ids of every letter that names any of `listing_ids`: linked ones, and the batch-wide
    digests queued before letters were linked (`digests_covering`)."""
    wanted = sorted(set(listing_ids))
    found: set[int] = set()
    for chunk in in_list_chunks(wanted):
        found.update(
            session.execute(
                sa.select(_NOTICE_LISTING.c.notice_id).where(
                    _NOTICE_LISTING.c.listing_id.in_(chunk)
                )
            ).scalars()
        )
    return sorted(found | set(digests_covering(session, wanted)))


def digests_covering(session: Session, listing_ids: Iterable[int]) -> list[int]:
    """Ids of the batch-wide notices (推送函) queued before `notice_listing` existed that name
    any of `listing_ids` (a linked notice is found by its links, never by this guess)."""
    wanted = sorted(set(listing_ids))
    own: list[tuple[int, Group]] = []
    for chunk in in_list_chunks(wanted):
        own += [
            (row[0], (row[1], row[2], row[3], row[4]))
            for row in session.execute(_DISPATCHES.where(_ACTION.c.listing_id.in_(chunk)))
        ]
    if not own:
        return []
    steps = _group_steps(session, {group for _, group in own})
    covered = {(group[0], group[1], steps[group]) for _, group in own}
    restored = {(group[0], group[1], restore_step_prefix(listing)) for listing, group in own}
    found: list[int] = []
    batches = sorted({group[0] for _, group in own})
    departments = sorted({group[1] for _, group in own})
    rows = session.execute(
        sa.select(
            _NOTICE.c.id, _NOTICE.c.batch_id, _NOTICE.c.department_code, _NOTICE.c.idempotency_key
        ).where(
            _NOTICE.c.listing_id.is_(None),
            _NOTICE.c.batch_id.in_(batches),
            _NOTICE.c.department_code.in_(departments),
            ~sa.exists().where(_NOTICE_LISTING.c.notice_id == _NOTICE.c.id),
        )
    )
    for notice_id, batch, department, key in rows:
        step = _key_step(key, batch)
        if step is None:
            continue
        if (batch, department, step) in covered or any(
            (batch, department) == (b, d) and step.startswith(prefix) for b, d, prefix in restored
        ):
            found.append(notice_id)
    return found


def _group_steps(session: Session, groups: set[Group]) -> dict[Group, str]:
    """Each group's digest step, from every listing dispatched in that group."""
    members: dict[Group, list[int]] = {group: [] for group in groups}
    batches = sorted({g[0] for g in groups})
    departments = sorted({g[1] for g in groups})
    times = sorted({g[3] for g in groups})
    rows = session.execute(
        _DISPATCHES.where(
            _LISTING.c.batch_id.in_(batches),
            _ACTION.c.department.in_(departments),
            _ACTION.c.dispatched_at.in_(times),
        )
    )
    for listing, batch, department, memorandum, dispatched_at in rows:
        group = (batch, department, memorandum, dispatched_at)
        if group in members:
            members[group].append(listing)
    return {group: digest_step(ids) for group, ids in members.items()}


def _key_step(key: str, batch_id: int) -> str | None:
    """The step of a digest's idempotency key `kind|batch:<id>|<step>|<recipient>`."""
    parts = key.split("|", 3)
    if len(parts) < 4 or parts[1] != f"batch:{batch_id}":
        return None
    return parts[2]
