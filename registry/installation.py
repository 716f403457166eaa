"""This installation's identity: a random token generated once and stored in the database.

A Message-ID must be unique in the world, not only in one database: two installations (a
province and the ministry, a test system and production) that import the same file would
otherwise give different letters the same Message-ID, and a receiver de-duplicating by
Message-ID would drop real mail. Migration 0005 generates the token; a database without the
row (restored from an older dump, say) gets one on first use, inserted with ON CONFLICT DO
NOTHING and read back, so two first users agree on one. Nothing here commits.
"""

from __future__ import annotations

import secrets
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from registry.models import Installation

TOKEN_BYTES = 6
"""48 random bits, 12 hex digits in every Message-ID: short enough to keep the header on one
line, and a collision between two of even ten thousand installations is below one in a million."""

INSTALLATION = cast(sa.Table, sa.inspect(Installation).local_table)


def new_token() -> str:
    return secrets.token_hex(TOKEN_BYTES)


def installation_token(session: Session) -> str:
    """The stored token, creating it in the caller's transaction if this database has none."""
    query = sa.select(INSTALLATION.c.token).where(INSTALLATION.c.id == 1)
    token = session.execute(query).scalar()
    if token is not None:
        return str(token)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(INSTALLATION)
        .values(id=1, token=new_token())
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return str(session.execute(query).scalar_one())
