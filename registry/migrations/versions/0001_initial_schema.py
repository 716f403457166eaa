"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27 10:59:43.518951
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "audit_event",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=40), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("hash"),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("list_type", sa.String(length=10), nullable=False),
        sa.Column("rule_set", sa.String(length=40), nullable=True),
        sa.Column("source_kind", sa.String(length=20), nullable=False),
        sa.Column("source_name", sa.String(length=500), nullable=True),
        sa.Column("reporter", sa.String(length=100), nullable=True),
        sa.Column("proposed_by", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("accepted_count", sa.Integer(), nullable=False),
        sa.Column("rejected_count", sa.Integer(), nullable=False),
        sa.Column("catalogue_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_table(
        "subject",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=True),
        sa.Column("uscc_status", sa.String(length=20), nullable=True),
        sa.Column("id_hash", sa.String(length=64), nullable=True),
        sa.Column("id_masked", sa.String(length=24), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("region_code", sa.String(length=12), nullable=True),
        sa.Column("industry", sa.String(length=100), nullable=True),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["subject.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("id_hash", name="uq_subject_id_hash"),
        sa.UniqueConstraint("uscc", name="uq_subject_uscc"),
    )
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "commitment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("text", sa.String(length=4000), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("commitment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commitment_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "listing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("list_type", sa.String(length=10), nullable=False),
        sa.Column("rule_set", sa.String(length=40), nullable=False),
        sa.Column("grounds", sa.JSON(), nullable=False),
        sa.Column("decision_number", sa.String(length=100), nullable=True),
        sa.Column("decision_date", sa.Date(), nullable=True),
        sa.Column("typical_case", sa.Boolean(), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proposed_by", sa.String(length=100), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("defence_from", sa.Date(), nullable=True),
        sa.Column("defence_wd", sa.Integer(), nullable=True),
        sa.Column("defence_due", sa.Date(), nullable=True),
        sa.Column("defence_provisional", sa.Boolean(), nullable=False),
        sa.Column("defence_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("removal_reason", sa.String(length=30), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("catalogue_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batch.id"],
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("listing", schema=None) as batch_op:
        batch_op.create_index("ix_listing_batch_state", ["batch_id", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_listing_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_listing_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "department_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=40), nullable=False),
        sa.Column("memorandum", sa.String(length=40), nullable=False),
        sa.Column("measures", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ack_from", sa.Date(), nullable=True),
        sa.Column("ack_wd", sa.Integer(), nullable=True),
        sa.Column("ack_due", sa.Date(), nullable=True),
        sa.Column("ack_provisional", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("feedback_from", sa.Date(), nullable=True),
        sa.Column("feedback_wd", sa.Integer(), nullable=True),
        sa.Column("feedback_due", sa.Date(), nullable=True),
        sa.Column("feedback_provisional", sa.Boolean(), nullable=False),
        sa.Column("feedback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("feedback_text", sa.String(length=4000), nullable=True),
        sa.Column("lift_from", sa.Date(), nullable=True),
        sa.Column("lift_wd", sa.Integer(), nullable=True),
        sa.Column("lift_due", sa.Date(), nullable=True),
        sa.Column("lift_provisional", sa.Boolean(), nullable=False),
        sa.Column("lift_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listing.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "listing_id", "department", "memorandum", name="uq_action_listing_department"
        ),
    )
    with op.batch_alter_table("department_action", schema=None) as batch_op:
        batch_op.create_index("ix_action_department_state", ["department", "state"], unique=False)

    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.String(length=250), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=True),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("listing_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("smtp_reply", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batch.id"],
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listing.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.create_index("ix_notice_state_next", ["state", "next_attempt_at"], unique=False)

    op.create_table(
        "objection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=4000), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("answer_from", sa.Date(), nullable=True),
        sa.Column("answer_wd", sa.Integer(), nullable=True),
        sa.Column("answer_due", sa.Date(), nullable=True),
        sa.Column("answer_provisional", sa.Boolean(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decision_reason", sa.String(length=4000), nullable=True),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listing.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("objection", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_objection_listing_id"), ["listing_id"], unique=False)

    op.create_table(
        "removal_application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evidence", sa.String(length=4000), nullable=False),
        sa.Column("commitment_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("decide_from", sa.Date(), nullable=True),
        sa.Column("decide_wd", sa.Integer(), nullable=True),
        sa.Column("decide_due", sa.Date(), nullable=True),
        sa.Column("decide_provisional", sa.Boolean(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decision_reason", sa.String(length=4000), nullable=True),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitment.id"],
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listing.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("removal_application", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_removal_application_listing_id"), ["listing_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("removal_application", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_removal_application_listing_id"))

    op.drop_table("removal_application")
    with op.batch_alter_table("objection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_objection_listing_id"))

    op.drop_table("objection")
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_state_next")

    op.drop_table("notice")
    with op.batch_alter_table("department_action", schema=None) as batch_op:
        batch_op.drop_index("ix_action_department_state")

    op.drop_table("department_action")
    with op.batch_alter_table("listing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_listing_subject_id"))
        batch_op.drop_index(batch_op.f("ix_listing_state"))
        batch_op.drop_index("ix_listing_batch_state")

    op.drop_table("listing")
    with op.batch_alter_table("commitment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commitment_subject_id"))

    op.drop_table("commitment")
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_unit_id"))

    op.drop_table("subject")
    op.drop_table("batch")
    op.drop_table("audit_head")
    op.drop_table("audit_event")
