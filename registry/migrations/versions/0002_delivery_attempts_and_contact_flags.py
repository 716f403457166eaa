"""delivery attempts and contact flags

Every SMTP attempt gets a row (DOMAIN §7: every notice has a destination and a delivery record);
a mailbox refused permanently is flagged so someone corrects the contact.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 11:17:13.104459
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_flag",
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"]),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_table(
        "notice_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("deliverer", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("smtp_code", sa.Integer(), nullable=True),
        sa.Column("reply", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notice_id", "attempt", name="uq_notice_attempt"),
    )
    with op.batch_alter_table("notice_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_notice_attempt_notice_id", ["notice_id"], unique=False)

    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("attempts_at_requeue", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_column("attempts_at_requeue")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("department_code")

    with op.batch_alter_table("notice_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_attempt_notice_id")

    op.drop_table("notice_attempt")
    op.drop_table("contact_flag")
