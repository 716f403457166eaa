"""Tables of DESIGN.md §3. Our database is the source of truth; Prefect only moves it.

Times are stored UTC-aware (`UTCDateTime` keeps SQLite honest); business dates (deadlines,
decision dates) are plain dates in Asia/Shanghai. Every deadline is four columns —
`<name>_from`, `<name>_wd`, `<name>_due`, `<name>_provisional` — so `jointcredit calendar
reload` can recompute a provisional (暂定) one from what it was computed from. Personal ID
numbers are never stored: only their keyed hash and masked form.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, on SQLite and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ListType(StrEnum):
    BLACK = "black"
    RED = "red"


class SubjectKind(StrEnum):
    UNIT = "unit"
    PERSON = "person"


class ListingState(StrEnum):
    PROPOSED = "proposed"
    NOTIFIED = "notified"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    CONFIRMED = "confirmed"
    IN_FORCE = "in_force"
    REMOVAL_REVIEW = "removal_review"
    REMOVED = "removed"
    REJECTED = "rejected"
    REVOKED = "revoked"


class ActionState(StrEnum):
    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    FEEDBACK_REPORTED = "feedback_reported"
    LIFT_REQUESTED = "lift_requested"
    LIFT_CONFIRMED = "lift_confirmed"


class NoticeState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    RETRY_WAIT = "retry_wait"
    FAILED = "failed"
    DEAD = "dead"
    # Never tried: the recipient's address cannot be delivered to (memoranda.addresses); it
    # waits for `jointcredit contact set` to correct the address and queue it again.
    BAD_ADDRESS = "bad_address"
    # Never tried: the renderer refused the letter (it would have shown an unmasked resident ID
    # number, notifications.render); nothing of the letter is stored, only the reason. It waits
    # for an operator: the step that caused it went on for every other recipient.
    WITHHELD = "withheld"
    # Never sent by e-mail: a letter to a party who has not agreed to electronic service
    # (行政处罚法第六十一条), printed (`jointcredit notice print`) and served by post or in person.
    FOR_POST = "for_post"


def _json_list() -> Any:
    return Field(default_factory=list, sa_type=sa.JSON)


def _utc(nullable: bool = True) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


class Subject(SQLModel, table=True):
    """主体: a unit (by USCC) or a person (by keyed ID hash), linked to their unit."""

    __tablename__ = "subject"
    __table_args__ = (
        sa.UniqueConstraint("uscc", name="uq_subject_uscc"),
        sa.UniqueConstraint("id_hash", name="uq_subject_id_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10)
    name: str = Field(max_length=200)
    uscc: str | None = Field(default=None, max_length=18)
    uscc_status: str | None = Field(default=None, max_length=20)
    id_hash: str | None = Field(default=None, max_length=64)
    id_masked: str | None = Field(default=None, max_length=24)
    unit_id: int | None = Field(default=None, foreign_key="subject.id", index=True)
    region_code: str | None = Field(default=None, max_length=12)
    industry: str | None = Field(default=None, max_length=100)
    contact_email: str | None = Field(default=None, max_length=254)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Batch(SQLModel, table=True):
    """批次: the routing unit; provinces report and the national authority publishes in batches."""

    __tablename__ = "batch"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=64, unique=True)
    list_type: str = Field(max_length=10)
    rule_set: str | None = Field(default=None, max_length=40)
    source_kind: str = Field(max_length=20)
    source_name: str | None = Field(default=None, max_length=500)
    reporter: str | None = Field(default=None, max_length=100)
    proposed_by: str = Field(max_length=100)
    status: str = Field(default="open", max_length=20)
    accepted_count: int = 0
    rejected_count: int = 0
    catalogue_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Listing(SQLModel, table=True):
    """One subject on one list for given grounds, under the rule-set of its decision date."""

    __tablename__ = "listing"
    __table_args__ = (sa.Index("ix_listing_batch_state", "batch_id", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="subject.id", index=True)
    batch_id: int = Field(foreign_key="batch.id")
    list_type: str = Field(max_length=10)
    rule_set: str = Field(max_length=40)
    grounds: list[str] = _json_list()
    # 处罚决定书文号: the penalty decision this listing rests on, from the intake row, kept for
    # ever and shown as the ground. Never overwritten by the listing's own decision number.
    penalty_number: str | None = Field(default=None, max_length=100)
    # 列入决定文号: this listing's own decision number, assigned when it is confirmed (issue 14).
    decision_number: str | None = Field(default=None, max_length=100)
    decision_date: date | None = None
    typical_case: bool = False
    # 同意电子送达: the party agreed to be served by e-mail (行政处罚法第六十一条); without it a
    # letter against the party is printed for post or in-person service.
    e_service_consent: bool = False
    needs_review: bool = False
    warnings: list[str] = _json_list()
    note: str | None = Field(default=None, max_length=2000)
    state: str = Field(default=ListingState.PROPOSED, max_length=30, index=True)
    proposed_at: datetime = Field(sa_type=UTCDateTime)
    proposed_by: str = Field(max_length=100)
    notified_at: datetime | None = _utc()
    defence_from: date | None = None
    defence_wd: int | None = None
    defence_due: date | None = None
    defence_provisional: bool = False
    defence_received_at: datetime | None = _utc()
    decided_at: datetime | None = _utc()
    decided_by: str | None = Field(default=None, max_length=100)
    published_at: datetime | None = _utc()
    expires_on: date | None = None
    removal_reason: str | None = Field(default=None, max_length=30)
    removed_at: datetime | None = _utc()
    catalogue_hash: str = Field(max_length=64)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class DepartmentAction(SQLModel, table=True):
    """发起—响应—反馈 for one listing at one department under one memorandum."""

    __tablename__ = "department_action"
    __table_args__ = (
        sa.UniqueConstraint(
            "listing_id", "department", "memorandum", name="uq_action_listing_department"
        ),
        sa.Index("ix_action_department_state", "department", "state"),
        # The SLA sweep scans open actions by due date, one index per clock.
        sa.Index("ix_action_ack_open", "state", "ack_due"),
        sa.Index("ix_action_feedback_open", "state", "feedback_due"),
        sa.Index("ix_action_lift_open", "state", "lift_due"),
    )

    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listing.id")
    department: str = Field(max_length=40)
    memorandum: str = Field(max_length=40)
    measures: list[str] = _json_list()
    state: str = Field(default=ActionState.DISPATCHED, max_length=30)
    escalation_level: int = 0
    dispatched_at: datetime = Field(sa_type=UTCDateTime)
    ack_from: date | None = None
    ack_wd: int | None = None
    ack_due: date | None = None
    ack_provisional: bool = False
    acknowledged_at: datetime | None = _utc()
    feedback_from: date | None = None
    feedback_wd: int | None = None
    feedback_due: date | None = None
    feedback_provisional: bool = False
    feedback_at: datetime | None = _utc()
    feedback_text: str | None = Field(default=None, max_length=4000)
    # applied | not_applicable (with the reason in feedback_text)
    feedback_outcome: str | None = Field(default=None, max_length=20)
    ack_late: bool = False
    feedback_late: bool = False
    lift_late: bool = False
    reminded_at: datetime | None = _utc()
    escalated_at: datetime | None = _utc()
    lift_requested_at: datetime | None = _utc()
    lift_from: date | None = None
    lift_wd: int | None = None
    lift_due: date | None = None
    lift_provisional: bool = False
    lift_confirmed_at: datetime | None = _utc()


class Notice(SQLModel, table=True):
    """Outbox row: rendered once, delivered by a separate idempotent step (DESIGN.md §1.4)."""

    __tablename__ = "notice"
    __table_args__ = (
        sa.Index("ix_notice_state_next", "state", "next_attempt_at"),
        sa.Index("ix_notice_listing", "listing_id"),
        sa.Index("ix_notice_batch", "batch_id"),
        # One letter, one 发文字号 (letters composed before numbering have none).
        sa.Index("ix_notice_letter_number", "letter_number", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    idempotency_key: str = Field(max_length=200, unique=True)
    message_id: str = Field(max_length=250, unique=True)
    recipient: str = Field(max_length=254)
    recipient_name: str | None = Field(default=None, max_length=200)
    subject: str = Field(max_length=500)
    body_text: str = Field(sa_type=sa.Text)
    body_html: str | None = Field(default=None, sa_type=sa.Text)
    batch_id: int | None = Field(default=None, foreign_key="batch.id")
    listing_id: int | None = Field(default=None, foreign_key="listing.id")
    department_code: str | None = Field(default=None, max_length=40)
    claimed_by: str | None = Field(default=None, max_length=100)
    state: str = Field(default=NoticeState.QUEUED, max_length=20)
    attempts: int = 0
    # An operator's retry gives a failed notice a fresh budget without renumbering its attempts.
    attempts_at_requeue: int = 0
    next_attempt_at: datetime | None = _utc()
    lease_until: datetime | None = _utc()
    last_error: str | None = Field(default=None, max_length=2000)
    smtp_reply: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = _utc()
    # 发文字号: assigned once when the letter is composed (registry numbering), never renumbered.
    letter_number: str | None = Field(default=None, max_length=100)
    # How the letter reaches its recipient: e-mail, or printed for post / in-person service.
    channel: str = Field(default="email", max_length=10)
    # 送达: pending until served (SMTP accepted, or post / in person recorded by an operator) or
    # failed; windows that run against a party start on `served_on` (行政处罚法).
    service_state: str = Field(default="pending", max_length=20)
    served_on: date | None = None
    service_method: str | None = Field(default=None, max_length=20)
    service_note: str | None = Field(default=None, max_length=500)
    service_recorded_by: str | None = Field(default=None, max_length=100)
    service_recorded_at: datetime | None = _utc()


class AttemptOutcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    DEAD = "dead"


class NoticeAttempt(SQLModel, table=True):
    """One delivery attempt: when, by whom, what the server answered (DOMAIN §7 去向可追)."""

    __tablename__ = "notice_attempt"
    __table_args__ = (sa.UniqueConstraint("notice_id", "attempt", name="uq_notice_attempt"),)

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="notice.id", index=True)
    attempt: int
    deliverer: str = Field(max_length=100)
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime = Field(sa_type=UTCDateTime)
    outcome: str = Field(max_length=20)
    smtp_code: int | None = None
    reply: str | None = Field(default=None, max_length=2000)


class ContactFlag(SQLModel, table=True):
    """A mailbox a server refused permanently (5xx): someone must correct the contact."""

    __tablename__ = "contact_flag"

    address: str = Field(primary_key=True, max_length=254)
    reason: str = Field(max_length=2000)
    notice_id: int | None = Field(default=None, foreign_key="notice.id")
    flagged_at: datetime = Field(sa_type=UTCDateTime)
    failures: int = 1
    cleared_at: datetime | None = _utc()


class Objection(SQLModel, table=True):
    """异议: answered within its own working-day limit; upheld → listing revoked."""

    __tablename__ = "objection"

    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listing.id", index=True)
    filed_at: datetime = Field(sa_type=UTCDateTime)
    filed_by: str = Field(max_length=200)
    reason: str = Field(max_length=4000)
    state: str = Field(default="open", max_length=20)
    answer_from: date | None = None
    answer_wd: int | None = None
    answer_due: date | None = None
    answer_provisional: bool = False
    decided_at: datetime | None = _utc()
    decided_by: str | None = Field(default=None, max_length=100)
    decision_reason: str | None = Field(default=None, max_length=4000)
    reminded_at: datetime | None = _utc()
    escalated_at: datetime | None = _utc()


class Commitment(SQLModel, table=True):
    """安全生产承诺 / 信用承诺: a red-list condition and a credit-repair precondition."""

    __tablename__ = "commitment"

    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="subject.id", index=True)
    kind: str = Field(max_length=30)
    text: str = Field(max_length=4000)
    made_on: date
    public: bool = True
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class RemovalApplication(SQLModel, table=True):
    """Early removal / credit repair application (DOMAIN.md §2)."""

    __tablename__ = "removal_application"

    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listing.id", index=True)
    applied_at: datetime = Field(sa_type=UTCDateTime)
    evidence: str = Field(max_length=4000)
    commitment_id: int | None = Field(default=None, foreign_key="commitment.id")
    state: str = Field(default="open", max_length=20)
    decide_from: date | None = None
    decide_wd: int | None = None
    decide_due: date | None = None
    decide_provisional: bool = False
    decided_at: datetime | None = _utc()
    decided_by: str | None = Field(default=None, max_length=100)
    decision_reason: str | None = Field(default=None, max_length=4000)
    reminded_at: datetime | None = _utc()
    escalated_at: datetime | None = _utc()


class AuditEvent(SQLModel, table=True):
    """One link of the hash chain: who did what to which row, before and after, from where."""

    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_entity", "entity_type", "entity_id"),)

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=60)
    entity_type: str = Field(max_length=40)
    entity_id: str = Field(max_length=40)
    before: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    source: str = Field(max_length=100)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class AuditHead(SQLModel, table=True):
    """The chain tip, one row: appenders lock it, so concurrent writers cannot fork the chain."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    last_seq: int = 0
    last_hash: str = Field(max_length=64)


class ImportRejection(SQLModel, table=True):
    """One reason one row of an imported file was refused (the quarantine, DOMAIN §7 来源可查).

    `value` is shown masked (resident ID numbers) and cut to 100 characters; `column_name` is the
    header as written in the file, or the canonical field name when the file lacks the column.
    """

    __tablename__ = "import_rejection"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    row_number: int
    column_name: str = Field(max_length=100)
    value: str | None = Field(default=None, max_length=100)
    reason_zh: str = Field(max_length=1000)
    reason_en: str = Field(max_length=1000)


class DepartmentMailbox(SQLModel, table=True):
    """A department's mailbox as corrected by an operator (`jointcredit contact set`).

    `departments.yml` is versioned data; a mailbox that bounces must be put right today, so the
    correction is stored here and delivery uses it instead of the catalogue's.
    """

    __tablename__ = "department_mailbox"

    department_code: str = Field(primary_key=True, max_length=40)
    address: str = Field(max_length=254)
    set_at: datetime = Field(sa_type=UTCDateTime)
    set_by: str = Field(max_length=200)


class Installation(SQLModel, table=True):
    """This installation's identity, one row generated once: part of every Message-ID, so two
    installations never give two different letters the same Message-ID."""

    __tablename__ = "installation"

    id: int = Field(default=1, primary_key=True)
    token: str = Field(max_length=32)


class NoticeListing(SQLModel, table=True):
    """Which listings a letter names: a digest (推送函, 解除函, 恢复函) names several, a party's
    letter one. Lets a listing find every letter about it, whatever the letter's key says."""

    __tablename__ = "notice_listing"

    notice_id: int = Field(foreign_key="notice.id", primary_key=True)
    listing_id: int = Field(foreign_key="listing.id", primary_key=True, index=True)


class NumberSequence(SQLModel, table=True):
    """The last number issued per authority, kind and year: 发文字号 and listing decision
    numbers. Taken by an UPDATE in the composing transaction (PostgreSQL row lock, SQLite
    write lock), so two letters never share a number and a rolled-back letter frees none."""

    __tablename__ = "number_sequence"

    authority: str = Field(primary_key=True, max_length=200)
    kind: str = Field(primary_key=True, max_length=40)
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = 0
