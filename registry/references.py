"""Batch and listing identifiers as people type them: the numeric id or the printed reference.

Every letter names a listing as `<batch reference>-<listing id>` (`IMP-20261127-A1B2C3-12`) and
a batch by its reference (`IMP-20261127-A1B2C3`); the database numbers both. An operator copies
whichever is in front of them, so every command that takes a batch or a listing accepts both,
and an unknown one is a Chinese `NotFound` naming what was typed — never a parser's error.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlmodel import Session, col

from registry.errors import NotFound
from registry.models import Batch, Listing

_MAX_ID = 2**63 - 1
_LISTING_REFERENCE = re.compile(r"^(?:(?P<batch>.+?)-)?(?P<id>[0-9]{1,19})$")


def listing_reference(batch_reference: str, listing_id: int) -> str:
    """The listing as the letters print it (`<batch reference>-<listing id>`)."""
    return f"{batch_reference}-{listing_id}"


def _typed(text: str | int) -> str:
    return str(text).strip()


def as_id(text: str) -> int | None:
    """A typed number as a row id: ASCII digits in the id range, else None (never an error)."""
    if text.isascii() and text.isdigit() and 1 <= int(text) <= _MAX_ID:
        return int(text)
    return None


def resolve_batch(session: Session, text: str | int) -> tuple[int, str]:
    """`12` or `IMP-20261127-A1B2C3` (any letter case) → (batch id, reference)."""
    typed = _typed(text)
    number = as_id(typed)
    if number is not None:
        row = session.execute(
            sa.select(col(Batch.id), col(Batch.reference)).where(col(Batch.id) == number)
        ).first()
        if row is not None:
            return int(row[0]), str(row[1])
    if typed:
        row = session.execute(
            sa.select(col(Batch.id), col(Batch.reference)).where(
                sa.func.upper(col(Batch.reference)) == typed.upper()
            )
        ).first()
        if row is not None:
            return int(row[0]), str(row[1])
    raise NotFound(
        f"批次不存在：{typed}（batch not found）；请填写批次编号或批次号，如 IMP-20261127-A1B2C3",
        batch=typed,
    )


def resolve_listing(session: Session, text: str | int) -> tuple[int, str]:
    """`5` or `IMP-20261127-A1B2C3-5` → (listing id, its reference `<batch reference>-<id>`).

    The batch part of a reference must be the listing's own batch: a number copied from one
    letter with the batch of another is refused rather than guessed at.
    """
    typed = _typed(text)
    match = _LISTING_REFERENCE.match(typed)
    number = int(match["id"]) if match else 0
    if match is None or not 1 <= number <= _MAX_ID:
        raise NotFound(
            f"名单编号应为数字或“批次号-名单编号”（如 IMP-20261127-A1B2C3-5）：{typed!r}"
            "（listing id or reference）",
            listing=typed,
        )
    row = session.execute(
        sa.select(col(Listing.id), col(Batch.reference))
        .join(Batch, col(Batch.id) == col(Listing.batch_id))
        .where(col(Listing.id) == number)
    ).first()
    if row is None:
        raise NotFound(f"名单不存在：{typed}（listing not found）", listing=typed)
    reference = listing_reference(str(row[1]), int(row[0]))
    quoted = match["batch"]
    if quoted is not None and quoted.upper() != str(row[1]).upper():
        raise NotFound(
            f"名单 {number} 不属于批次 {quoted}，其编号为 {reference}"
            f"（listing {number} is not in batch {quoted}）",
            listing=typed,
            reference=reference,
        )
    return int(row[0]), reference
