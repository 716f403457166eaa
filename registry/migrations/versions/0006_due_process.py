"""Due process: service records, e-service consent, two numbers, sequences, letter links

- `listing.penalty_number` (处罚决定书文号, from intake) is split from `listing.decision_number`
  (the listing's own 列入决定文号): rows not yet decided carried the penalty number in
  `decision_number`, so it moves; decided rows keep theirs and also copy it as the penalty
  number (the only one they were given).
- `listing.e_service_consent` (同意电子送达).
- `notice`: the 发文字号, the channel (email / post) and the service record (送达).
- `objection` / `removal_application`: when the sweep reminded and escalated the operator.
- `notice_listing`: which listings a letter names. `number_sequence`: per authority, kind, year.

Revision ID: 0006_due_process
Revises: 0005_contacts
Create Date: 2026-12-03 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_due_process"
down_revision: str | None = "0005_contacts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNDECIDED = ("proposed", "notified", "awaiting_confirmation", "rejected")


def upgrade() -> None:
    with op.batch_alter_table("listing") as listing:
        listing.add_column(sa.Column("penalty_number", sa.String(length=100), nullable=True))
        listing.add_column(
            sa.Column("e_service_consent", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute("UPDATE listing SET penalty_number = decision_number")
    op.execute(
        "UPDATE listing SET decision_number = NULL WHERE state IN "
        + "("
        + ", ".join(f"'{s}'" for s in UNDECIDED)
        + ")"
    )
    with op.batch_alter_table("notice") as notice:
        notice.add_column(sa.Column("letter_number", sa.String(length=100), nullable=True))
        notice.add_column(
            sa.Column("channel", sa.String(length=10), nullable=False, server_default="email")
        )
        notice.add_column(
            sa.Column(
                "service_state", sa.String(length=20), nullable=False, server_default="pending"
            )
        )
        notice.add_column(sa.Column("served_on", sa.Date(), nullable=True))
        notice.add_column(sa.Column("service_method", sa.String(length=20), nullable=True))
        notice.add_column(sa.Column("service_note", sa.String(length=500), nullable=True))
        notice.add_column(sa.Column("service_recorded_by", sa.String(length=100), nullable=True))
        notice.add_column(
            sa.Column("service_recorded_at", sa.DateTime(timezone=True), nullable=True)
        )
        # One letter, one number: NULLs (letters composed before numbering) may repeat.
        notice.create_index("ix_notice_letter_number", ["letter_number"], unique=True)
    # Letters already accepted by a mail server were served that day (by e-mail).
    # served_on is the business day in Beijing (sent_at is stored in UTC).
    beijing_day = (
        "DATE(sent_at, '+8 hours')"
        if op.get_bind().dialect.name == "sqlite"
        else "DATE(sent_at AT TIME ZONE 'Asia/Shanghai')"
    )
    op.execute(
        "UPDATE notice SET service_state = 'served', service_method = 'email', "
        f"served_on = {beijing_day} WHERE state = 'sent' AND sent_at IS NOT NULL"
    )
    for table in ("objection", "removal_application"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
            batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "notice_listing",
        sa.Column("notice_id", sa.Integer(), sa.ForeignKey("notice.id"), nullable=False),
        sa.Column("listing_id", sa.Integer(), sa.ForeignKey("listing.id"), nullable=False),
        sa.PrimaryKeyConstraint("notice_id", "listing_id"),
    )
    op.create_index("ix_notice_listing_listing_id", "notice_listing", ["listing_id"])
    # Every letter that names one listing names it here too.
    op.execute(
        "INSERT INTO notice_listing (notice_id, listing_id) "
        "SELECT id, listing_id FROM notice WHERE listing_id IS NOT NULL"
    )
    op.create_table(
        "number_sequence",
        sa.Column("authority", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("authority", "kind", "year"),
    )


def downgrade() -> None:
    op.drop_table("number_sequence")
    op.drop_index("ix_notice_listing_listing_id", table_name="notice_listing")
    op.drop_table("notice_listing")
    for table in ("removal_application", "objection"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("escalated_at")
            batch.drop_column("reminded_at")
    with op.batch_alter_table("notice") as notice:
        notice.drop_index("ix_notice_letter_number")
        for column in (
            "service_recorded_at",
            "service_recorded_by",
            "service_note",
            "service_method",
            "served_on",
            "service_state",
            "channel",
            "letter_number",
        ):
            notice.drop_column(column)
    op.execute("UPDATE listing SET decision_number = penalty_number WHERE decision_number IS NULL")
    with op.batch_alter_table("listing") as listing:
        listing.drop_column("e_service_consent")
        listing.drop_column("penalty_number")
