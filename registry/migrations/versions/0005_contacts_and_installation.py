"""Department mailbox corrections; the installation identity of Message-IDs

`department_mailbox` holds an operator's correction of a department's mailbox (`jointcredit
contact set`), which delivery uses instead of `departments.yml`. `installation` is one row
with a random token generated here, once: every Message-ID carries it, so two installations
never reuse each other's Message-IDs (issue 13).

Revision ID: 0005_contacts
Revises: 0004
Create Date: 2026-12-03 12:00:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_contacts"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "department_mailbox",
        sa.Column("department_code", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("department_code"),
    )
    installation = op.create_table(
        "installation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(installation, [{"id": 1, "token": secrets.token_hex(6)}])


def downgrade() -> None:
    op.drop_table("installation")
    op.drop_table("department_mailbox")
