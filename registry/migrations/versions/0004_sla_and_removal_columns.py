"""SLA and removal columns; indexes for sweeps and histories

Department actions record late answers, the reminder and escalation times and when the lift
was requested; the SLA sweep scans open actions by due date, and listing histories read audit
events and notices by entity — each gets its index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("department_action", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feedback_outcome", sa.String(length=20), nullable=True))
        for name in ("ack_late", "feedback_late", "lift_late"):
            batch_op.add_column(
                sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())
            )
        for name in ("reminded_at", "escalated_at", "lift_requested_at"):
            batch_op.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_action_ack_open", ["state", "ack_due"], unique=False)
        batch_op.create_index("ix_action_feedback_open", ["state", "feedback_due"], unique=False)
        batch_op.create_index("ix_action_lift_open", ["state", "lift_due"], unique=False)
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.create_index("ix_notice_listing", ["listing_id"], unique=False)
        batch_op.create_index("ix_notice_batch", ["batch_id"], unique=False)
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entity", ["entity_type", "entity_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entity")
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_batch")
        batch_op.drop_index("ix_notice_listing")
    with op.batch_alter_table("department_action", schema=None) as batch_op:
        batch_op.drop_index("ix_action_lift_open")
        batch_op.drop_index("ix_action_feedback_open")
        batch_op.drop_index("ix_action_ack_open")
        for name in ("lift_requested_at", "escalated_at", "reminded_at"):
            batch_op.drop_column(name)
        for name in ("lift_late", "feedback_late", "ack_late"):
            batch_op.drop_column(name)
        batch_op.drop_column("feedback_outcome")
