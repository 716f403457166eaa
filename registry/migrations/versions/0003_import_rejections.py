"""import rejections

The quarantine of `jointcredit import`: one row per reason a file row was refused, kept with
its batch so an operator can correct and re-send exactly those rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 14:02:51.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_rejection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("column_name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=True),
        sa.Column("reason_zh", sa.String(length=1000), nullable=False),
        sa.Column("reason_en", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("import_rejection", schema=None) as batch_op:
        batch_op.create_index("ix_import_rejection_batch_id", ["batch_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("import_rejection", schema=None) as batch_op:
        batch_op.drop_index("ix_import_rejection_batch_id")

    op.drop_table("import_rejection")
