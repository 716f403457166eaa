"""The transactional outbox (DESIGN.md §1.4): enqueue in the caller's transaction, claim, mark.

A notice is rendered once, when the step that causes it commits, and stored with an idempotency
key derived from (kind, scope, step, recipient): running the step again finds the key and
enqueues nothing new. Its Message-ID is a hash of the key plus this installation's token
(`registry.installation`), so every attempt to deliver it — and any duplicate a crash between
"sent" and "marked" could cause (the RFC 1047 window) — carries the same Message-ID and can be
recognised downstream, while another installation's letters never share it.

States: queued → sending (leased to one deliverer) → sent | retry_wait | failed (permanent, 5xx)
| dead (attempts exhausted). A claim is one guarded UPDATE … RETURNING; on PostgreSQL its
subquery takes `FOR UPDATE SKIP LOCKED`, so concurrent deliverers split the queue instead of
waiting on each other; SQLite serialises writers, and the claim is the first statement of its
transaction, so the guard alone is enough. Nothing here commits.

A notice whose recipient cannot be addressed (`memoranda.addresses`) is stored `bad_address`
instead of `queued`: it never stops the step that caused it, no deliverer claims it, and it
waits for the contact to be corrected (`readdress_parked`, `jointcredit contact set`).

A claim is not an attempt. Right before each SMTP send the deliverer begins the attempt
(`begin_attempt`): one guarded UPDATE that counts it and renews the lease, and that matches only
while the notice is still this deliverer's claim, its lease has not lapsed and the budget is not
spent. Only a deliverer whose begin matched one row sends, so a claim taken over after its lease
lapsed is never sent by its old holder, and an attempt cut short by a crash still counts. A
notice whose budget is spent is never claimed again: `park_exhausted` marks it dead with the
reason (docs/reliability.md, "Slow relays and concurrent drains").
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from memoranda.addresses import AddressProblem, check_address
from notifications.contexts import NoticeContext
from notifications.render import NoticeContentError, RenderedNotice, render_notice
from registry.audit import EventDraft, append_events
from registry.db import in_list_chunks
from registry.errors import JointcreditError, NotFound
from registry.free_text import clean_single_line
from registry.installation import installation_token
from registry.models import (
    AttemptOutcome,
    ContactFlag,
    Notice,
    NoticeAttempt,
    NoticeListing,
    NoticeState,
)
from registry.numbering import Numbering
from registry.service_of_notices import Channel, ServiceMethod, ServiceState, email_served_on
from registry.vocabulary import NOTICE_KIND_LABELS, NoticeKind

KEY_MAX = 200
REPLY_MAX = 2000
DEFAULT_MESSAGE_ID_DOMAIN = "jointcredit.local"
ADDRESS_MAX = 254
DEFAULT_MAX_ATTEMPTS = 8
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")

NOTICE = cast(sa.Table, sa.inspect(Notice).local_table)
NOTICE_LISTING = cast(sa.Table, sa.inspect(NoticeListing).local_table)
ATTEMPT = cast(sa.Table, sa.inspect(NoticeAttempt).local_table)
FLAG = cast(sa.Table, sa.inspect(ContactFlag).local_table)


class OutboxError(JointcreditError):
    """A notice cannot be enqueued or requeued as asked."""


@dataclass(frozen=True)
class Recipient:
    """Who a notice goes to. The display name is cleaned of line breaks (no header injection)
    and of resident ID numbers (`registry.free_text`), as the letter's text is.

    An address that cannot be delivered to (`memoranda.addresses`) does not raise: `problem`
    says why, and the notice is stored `bad_address` for that recipient alone (issue 13).
    """

    address: str
    name: str | None = None
    problem: AddressProblem | None = field(default=None, init=False, compare=False)

    def __post_init__(self) -> None:
        found = check_address(self.address)
        if isinstance(found, AddressProblem):
            object.__setattr__(self, "problem", found)
            shown = " ".join(_CONTROL.sub(" ", self.address).split())
            object.__setattr__(self, "address", shown[:ADDRESS_MAX])
        else:
            object.__setattr__(self, "address", found.text)
        if self.name is not None:  # a display name goes into the To: header: IDs masked too
            cleaned = " ".join(clean_single_line(_CONTROL.sub(" ", self.name)).split())[:200]
            object.__setattr__(self, "name", cleaned or None)


@dataclass(frozen=True)
class NoticeKey:
    """Identity of a notice: the same step for the same scope and recipient is the same notice.

    `scope` names what the notice is about (`batch:12`, `listing:5`, `action:77`, `month:2026-10`);
    `step` distinguishes notices of one kind for one scope (`level-1`, `level-2`, a decision no.).
    """

    kind: NoticeKind
    scope: str
    recipient: str
    step: str = ""

    @classmethod
    def for_batch(
        cls, kind: NoticeKind, batch_id: int, recipient: str, step: str = ""
    ) -> NoticeKey:
        return cls(kind, f"batch:{batch_id}", recipient, step)

    @classmethod
    def for_listing(
        cls, kind: NoticeKind, listing_id: int, recipient: str, step: str = ""
    ) -> NoticeKey:
        return cls(kind, f"listing:{listing_id}", recipient, step)

    @property
    def value(self) -> str:
        recipient = self.recipient.strip().lower()
        key = f"{self.kind.value}|{self.scope}|{self.step}|{recipient}"
        if len(key) <= KEY_MAX:
            return key
        return f"{self.kind.value}|sha256|{hashlib.sha256(key.encode()).hexdigest()}"

    def scope_id(self, prefix: str) -> int | None:
        name, _, ident = self.scope.partition(":")
        return int(ident) if name == prefix and ident.isdigit() else None

    def message_id(self, installation: str, domain: str = DEFAULT_MESSAGE_ID_DOMAIN) -> str:
        """`<key hash.installation@domain>`: stable for the key within one installation.

        80 bits of the key's hash (unique within an installation) and the installation's token
        (unique between them); as long as the 128-bit hash it replaced, so the header still
        fits on one line.
        """
        digest = hashlib.sha256(self.value.encode()).hexdigest()[:20]
        return f"<{digest}.{installation}@{domain}>"


@dataclass(frozen=True)
class NoticeDraft:
    kind: NoticeKind
    recipient: Recipient
    context: NoticeContext
    key: NoticeKey
    department_code: str | None = None
    listing_ids: tuple[int, ...] = ()
    """Every listing the letter names (a digest several, a party's letter one): written to
    `notice_listing` with the notice, so a listing finds every letter about it."""
    # `post`: printed and served by post or in person (no consent to e-mail service); stored
    # `for_post`, never claimed by a deliverer (`registry.service_of_notices`).
    channel: Channel = Channel.EMAIL


@dataclass(frozen=True)
class EnqueueResult:
    new_ids: list[int]
    already_queued: int


def enqueue_notice(
    session: Session,
    kind: NoticeKind,
    recipient: Recipient,
    context: NoticeContext,
    key: NoticeKey,
    *,
    now: datetime,
    department_code: str | None = None,
    message_id_domain: str = DEFAULT_MESSAGE_ID_DOMAIN,
) -> int | None:
    """Enqueue one notice in the caller's transaction; `None` if its key was already queued."""
    result = enqueue_notices(
        session,
        [NoticeDraft(kind, recipient, context, key, department_code)],
        now=now,
        message_id_domain=message_id_domain,
    )
    return result.new_ids[0] if result.new_ids else None


def enqueue_notices(
    session: Session,
    drafts: Sequence[NoticeDraft],
    *,
    now: datetime,
    message_id_domain: str = DEFAULT_MESSAGE_ID_DOMAIN,
    numbering: Numbering | None = None,
) -> EnqueueResult:
    """Render and insert the drafts whose keys are new; a re-run of a step inserts nothing.

    Only new letters take a 发文字号 (`numbering`, else the letterhead issuer's default), so a
    re-run consumes no number and a letter keeps the number it was composed with."""
    for draft in drafts:
        if draft.key.kind is not draft.kind:
            raise OutboxError(
                f"通知类型与幂等键不一致（kind {draft.kind} does not match key {draft.key.value}）",
                kind=draft.kind.value,
                key=draft.key.value,
            )
    by_key = {draft.key.value: draft for draft in drafts}
    existing = _existing_keys(session, list(by_key))
    fresh = _numbered(session, [d for k, d in by_key.items() if k not in existing], numbering)
    installation = installation_token(session) if fresh else ""
    rows = [_row(draft, now, message_id_domain, installation) for draft in fresh]
    new_ids: list[int] = []
    if rows:
        insert = _insert_ignoring_duplicates(session).returning(
            NOTICE.c.id, NOTICE.c.idempotency_key
        )
        inserted = {str(key): int(i) for i, key in session.execute(insert, rows)}
        new_ids = sorted(inserted.values())
        _link_listings(session, inserted, by_key)
    return EnqueueResult(new_ids=new_ids, already_queued=len(drafts) - len(new_ids))


def _link_listings(
    session: Session, inserted: dict[str, int], by_key: dict[str, NoticeDraft]
) -> None:
    """One `notice_listing` row per listing each newly inserted letter names (one statement);
    a key that was already queued inserted nothing, so it links nothing twice."""
    links = [
        {"notice_id": notice_id, "listing_id": listing_id}
        for key, notice_id in inserted.items()
        for listing_id in sorted(set(by_key[key].listing_ids))
    ]
    if links:
        session.execute(sa.insert(NOTICE_LISTING), links)


def _numbered(
    session: Session, drafts: list[NoticeDraft], numbering: Numbering | None
) -> list[NoticeDraft]:
    """Each new letter with its 发文字号 in the letterhead: one reservation per (authority, kind,
    year) for all the letters of this call. A letter composed with a number keeps it (a 决定书
    carries its listing's decision number). A letter that loses an insert race to a concurrent
    step leaves a gap in the sequence, never a duplicate."""
    books: dict[str, Numbering] = {}
    wanting: dict[tuple[str, str, int], list[int]] = {}
    for index, draft in enumerate(drafts):
        head = draft.context.letterhead
        if head.reference is not None:
            continue
        book = numbering or books.get(head.issuer) or Numbering.for_authority(head.issuer)
        books[head.issuer] = book
        group = (head.issuer, draft.kind.value, head.issued_on.year)
        wanting.setdefault(group, []).append(index)
    numbered = list(drafts)
    for (issuer, kind, year), indexes in wanting.items():
        issued = books[issuer].issue(session, kind, year, len(indexes))
        for index, number in zip(indexes, issued, strict=True):
            context = drafts[index].context
            head = context.letterhead.model_copy(update={"reference": number})
            numbered[index] = replace(
                drafts[index], context=context.model_copy(update={"letterhead": head})
            )
    return numbered


def _existing_keys(session: Session, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in in_list_chunks(keys):
        query = sa.select(NOTICE.c.idempotency_key).where(NOTICE.c.idempotency_key.in_(chunk))
        found.update(session.execute(query).scalars())
    return found


def _insert_ignoring_duplicates(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(NOTICE).on_conflict_do_nothing(index_elements=["idempotency_key"])
    return sqlite.insert(NOTICE).on_conflict_do_nothing(index_elements=["idempotency_key"])


def _rendered(draft: NoticeDraft) -> tuple[RenderedNotice, str | None]:
    """The letter, or — when the renderer refuses it — a stand-in that holds nothing of it and
    the reason it is withheld: one refused letter parks that notice alone, never the step."""
    try:
        return render_notice(draft.kind, draft.context), None
    except NoticeContentError as refused:
        label = NOTICE_KIND_LABELS.get(draft.kind, draft.kind.value)
        reason = f"通知内容被拒绝，未生成也未发送（notice withheld）：{refused.message}"
        return RenderedNotice(subject=f"（未生成）{label}", text="", html=""), reason[:2000]


def _row(draft: NoticeDraft, now: datetime, domain: str, installation: str) -> dict[str, Any]:
    rendered, withheld = _rendered(draft)
    problem = draft.recipient.problem
    state = NoticeState.QUEUED if problem is None else NoticeState.BAD_ADDRESS
    if draft.channel is Channel.POST:
        state, problem = NoticeState.FOR_POST, None
    if withheld is not None:
        state = NoticeState.WITHHELD
    return {
        "kind": draft.kind.value,
        "idempotency_key": draft.key.value,
        "letter_number": draft.context.letterhead.reference,
        "message_id": draft.key.message_id(installation, domain),
        "recipient": draft.recipient.address,
        "recipient_name": draft.recipient.name,
        "subject": rendered.subject,
        "body_text": rendered.text,
        "body_html": rendered.html,
        "batch_id": draft.key.scope_id("batch"),
        "listing_id": draft.key.scope_id("listing"),
        "department_code": draft.department_code,
        "claimed_by": None,
        "state": state.value,
        "attempts": 0,
        "attempts_at_requeue": 0,
        "next_attempt_at": None,
        "lease_until": None,
        "last_error": withheld
        or (None if problem is None else f"收件地址无效（invalid address）：{problem}"),
        "smtp_reply": None,
        "created_at": now,
        "sent_at": None,
        "channel": draft.channel.value,
    }


# --- claiming ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedNotice:
    """What a deliverer needs to send one notice; `attempt` is the number its send will carry.

    The claim does not count the attempt: `begin_attempt` does, right before the send.
    """

    id: int
    attempt: int
    attempts_at_requeue: int
    kind: str
    message_id: str
    recipient: str
    recipient_name: str | None
    subject: str
    body_text: str
    body_html: str | None


def _within_budget(max_attempts: int) -> sa.ColumnElement[bool]:
    return NOTICE.c.attempts - NOTICE.c.attempts_at_requeue < max_attempts


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    waiting = sa.and_(
        NOTICE.c.state.in_([NoticeState.QUEUED.value, NoticeState.RETRY_WAIT.value]),
        sa.or_(NOTICE.c.next_attempt_at.is_(None), NOTICE.c.next_attempt_at <= now),
    )
    abandoned = sa.and_(NOTICE.c.state == NoticeState.SENDING.value, NOTICE.c.lease_until < now)
    return sa.or_(waiting, abandoned)


def claim_notices(
    session: Session,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    deliverer: str,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> list[ClaimedNotice]:
    """Lease up to `limit` due notices to `deliverer`; none whose attempts are spent.

    `deliverer` must name this claimant alone (`notifications.delivery.deliverer_name`): it is
    what `begin_attempt` checks before every send.
    """
    if limit <= 0:
        return []
    due = sa.and_(_claimable(now), _within_budget(max_attempts))
    pick = sa.select(NOTICE.c.id).where(due).order_by(NOTICE.c.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    claim = (
        sa.update(NOTICE)
        .where(NOTICE.c.id.in_(pick.scalar_subquery()), due)
        .values(
            state=NoticeState.SENDING.value,
            lease_until=now + lease,
            claimed_by=deliverer,
        )
        .returning(
            NOTICE.c.id,
            NOTICE.c.attempts + 1,
            NOTICE.c.attempts_at_requeue,
            NOTICE.c.kind,
            NOTICE.c.message_id,
            NOTICE.c.recipient,
            NOTICE.c.recipient_name,
            NOTICE.c.subject,
            NOTICE.c.body_text,
            NOTICE.c.body_html,
        )
    )
    rows = session.execute(claim).all()
    return sorted((ClaimedNotice(*row) for row in rows), key=lambda notice: notice.id)


def begin_attempt(
    session: Session,
    notice: ClaimedNotice,
    *,
    now: datetime,
    lease: timedelta,
    deliverer: str,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> bool:
    """Count the attempt and renew the lease, if the claim is still ours; send only on True.

    One UPDATE of one row: it matches only while the notice is `sending`, claimed by
    `deliverer`, has not been attempted since the claim, its lease has not lapsed and its
    budget is not spent. Committed before the send, so a crash in the send still counts.
    """
    statement = (
        sa.update(NOTICE)
        .where(
            NOTICE.c.id == notice.id,
            NOTICE.c.state == NoticeState.SENDING.value,
            NOTICE.c.claimed_by == deliverer,
            NOTICE.c.attempts == notice.attempt - 1,
            NOTICE.c.lease_until > now,
            _within_budget(max_attempts),
        )
        .values(attempts=notice.attempt, lease_until=now + lease)
    )
    result = cast(sa.CursorResult[Any], session.execute(statement))
    return result.rowcount == 1


def release_unsent(session: Session, unsent: Sequence[ClaimedNotice], *, deliverer: str) -> int:
    """Hand back claimed notices that were never begun, so any deliverer may take them now."""
    if not unsent:
        return 0
    statement = (
        sa.update(NOTICE)
        .where(
            NOTICE.c.id == sa.bindparam("b_id"),
            NOTICE.c.state == NoticeState.SENDING.value,
            NOTICE.c.claimed_by == deliverer,
            NOTICE.c.attempts == sa.bindparam("b_before"),
        )
        .values(
            state=sa.case(
                (NOTICE.c.attempts > 0, NoticeState.RETRY_WAIT.value),
                else_=NoticeState.QUEUED.value,
            ),
            lease_until=None,
            claimed_by=None,
        )
    )
    params = [{"b_id": notice.id, "b_before": notice.attempt - 1} for notice in unsent]
    result = cast(sa.CursorResult[Any], session.execute(statement, params))
    return result.rowcount


@dataclass(frozen=True)
class ParkedNotice:
    id: int
    recipient: str
    reason: str


def park_exhausted(session: Session, *, now: datetime, max_attempts: int) -> list[ParkedNotice]:
    """Mark dead every due notice whose attempts are spent, instead of claiming it again.

    A notice left `sending` by a deliverer that died in its last attempt may have reached the
    relay (the RFC 1047 window), so its reason says the outcome is unknown.
    """
    exhausted = sa.and_(_claimable(now), sa.not_(_within_budget(max_attempts)))
    unknown = (
        f"已达最多尝试次数 {max_attempts}，最后一次投递的结果未记录，可能已送达"
        f"（attempts exhausted; the outcome of the last attempt was not recorded, "
        f"it may have been delivered）"
    )
    spent = f"已达最多尝试次数 {max_attempts}（attempts exhausted）"
    parked: list[ParkedNotice] = []
    for state_is_sending, reason in ((True, unknown), (False, spent)):
        which = NOTICE.c.state == NoticeState.SENDING.value
        statement = (
            sa.update(NOTICE)
            .where(exhausted, which if state_is_sending else sa.not_(which))
            .values(
                state=NoticeState.DEAD.value,
                last_error=reason,
                smtp_reply=reason,
                lease_until=None,
            )
            .returning(NOTICE.c.id, NOTICE.c.recipient)
        )
        rows = session.execute(statement).all()
        parked += [ParkedNotice(row.id, row.recipient, reason) for row in rows]
    return sorted(parked, key=lambda notice: notice.id)


# --- outcomes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; `max_attempts` attempts per budget, then `dead`."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base: timedelta = timedelta(seconds=60)
    cap: timedelta = timedelta(hours=1)

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        """Half the exponential step fixed, half random: spreads a burst without starving it."""
        step = min(self.cap, self.base * (2 ** max(attempt - 1, 0)))
        half: timedelta = step / 2
        return half + half * rng.random()

    def exhausted(self, attempt: int, attempts_at_requeue: int) -> bool:
        return attempt - attempts_at_requeue >= self.max_attempts


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one attempt came to; `smtp_code` is None when no reply came (timeout, disconnect)."""

    notice: ClaimedNotice
    outcome: AttemptOutcome
    started_at: datetime
    finished_at: datetime
    smtp_code: int | None
    reply: str
    retry_at: datetime | None = None


@dataclass
class RecordedOutcomes:
    counts: dict[str, int] = field(default_factory=dict)
    lease_lost: int = 0


def record_outcomes(
    session: Session, outcomes: Sequence[DeliveryOutcome], *, deliverer: str
) -> RecordedOutcomes:
    """Apply the attempts' outcomes; a deliverer whose lease was taken over changes nothing.

    The guard is the attempt number `begin_attempt` counted: a later attempt by anyone else has
    moved it on, and then this outcome is only kept in `notice_attempt`.
    """
    recorded = RecordedOutcomes()
    if not outcomes:
        return recorded
    guard = sa.and_(
        NOTICE.c.id == sa.bindparam("b_id"),
        NOTICE.c.state == NoticeState.SENDING.value,
        NOTICE.c.attempts == sa.bindparam("b_attempt"),
    )
    for outcome_kind, group in _grouped(outcomes).items():
        values = _state_after(outcome_kind)
        statement = sa.update(NOTICE).where(guard).values(**values, claimed_by=deliverer)
        params = [_params(outcome) for outcome in group]
        result = cast(sa.CursorResult[Any], session.execute(statement, params))
        applied = result.rowcount
        recorded.counts[outcome_kind.value] = applied
        recorded.lease_lost += len(group) - applied
    session.execute(
        sa.insert(ATTEMPT),
        [
            {
                "notice_id": o.notice.id,
                "attempt": o.notice.attempt,
                "deliverer": deliverer,
                "started_at": o.started_at,
                "finished_at": o.finished_at,
                "outcome": o.outcome.value,
                "smtp_code": o.smtp_code,
                "reply": o.reply[:REPLY_MAX],
            }
            for o in outcomes
        ],
    )
    _flag_refused_contacts(session, [o for o in outcomes if o.outcome is AttemptOutcome.FAILED])
    _clear_flags(session, [o for o in outcomes if o.outcome is AttemptOutcome.SENT])
    return recorded


def _grouped(outcomes: Iterable[DeliveryOutcome]) -> dict[AttemptOutcome, list[DeliveryOutcome]]:
    groups: dict[AttemptOutcome, list[DeliveryOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.outcome, []).append(outcome)
    return groups


def _state_after(outcome: AttemptOutcome) -> dict[str, Any]:
    reply: sa.BindParameter[str] = sa.bindparam("b_reply")
    finished = sa.bindparam("b_finished", type_=NOTICE.c.sent_at.type)
    if outcome is AttemptOutcome.SENT:
        # Accepted by the mail server: served by e-mail that business day (行政处罚法第六十一条;
        # party letters go by e-mail only with consent). Department letters record it too. A
        # letter an operator already recorded as served (by post, in person) keeps that record:
        # its windows run from the first service, and the e-mail is only a copy.
        served = NOTICE.c.service_state == ServiceState.SERVED.value
        return {
            "state": NoticeState.SENT.value,
            "sent_at": finished,
            "smtp_reply": reply,
            "last_error": None,
            "lease_until": None,
            "service_state": ServiceState.SERVED.value,
            "service_method": sa.case(
                (served, NOTICE.c.service_method), else_=ServiceMethod.EMAIL.value
            ),
            "served_on": sa.case(
                (served, NOTICE.c.served_on),
                else_=sa.bindparam("b_served_on", type_=NOTICE.c.served_on.type),
            ),
        }
    if outcome is AttemptOutcome.RETRY:
        return {
            "state": NoticeState.RETRY_WAIT.value,
            "next_attempt_at": sa.bindparam("b_retry_at", type_=NOTICE.c.next_attempt_at.type),
            "last_error": reply,
            "lease_until": None,
        }
    state = NoticeState.FAILED if outcome is AttemptOutcome.FAILED else NoticeState.DEAD
    return {
        "state": state.value,
        "smtp_reply": reply,
        "last_error": reply,
        "lease_until": None,
    }


def _params(outcome: DeliveryOutcome) -> dict[str, Any]:
    params: dict[str, Any] = {
        "b_id": outcome.notice.id,
        "b_attempt": outcome.notice.attempt,
        "b_reply": outcome.reply[:REPLY_MAX],
    }
    if outcome.outcome is AttemptOutcome.SENT:
        params["b_finished"] = outcome.finished_at
        params["b_served_on"] = email_served_on(outcome.finished_at)
    if outcome.outcome is AttemptOutcome.RETRY:
        params["b_retry_at"] = outcome.retry_at
    return params


def _flag_refused_contacts(session: Session, failed: Sequence[DeliveryOutcome]) -> None:
    """A permanent refusal flags the mailbox (5xx: the address itself is wrong or closed)."""
    latest = {outcome.notice.recipient.lower(): outcome for outcome in failed}
    # Every refusal counts, however the drain happened to batch them.
    refusals = Counter(outcome.notice.recipient.lower() for outcome in failed)
    for address, outcome in latest.items():
        values = {
            "address": address,
            "reason": outcome.reply[:REPLY_MAX],
            "notice_id": outcome.notice.id,
            "flagged_at": outcome.finished_at,
            "failures": refusals[address],
            "cleared_at": None,
        }
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        upsert = dialect.insert(FLAG).values(**values)
        upsert = upsert.on_conflict_do_update(
            index_elements=["address"],
            set_={
                "reason": upsert.excluded.reason,
                "notice_id": upsert.excluded.notice_id,
                "flagged_at": upsert.excluded.flagged_at,
                "failures": FLAG.c.failures + upsert.excluded.failures,
                "cleared_at": None,
            },
        )
        session.execute(upsert)


def _clear_flags(session: Session, sent: Sequence[DeliveryOutcome]) -> None:
    addresses = sorted({outcome.notice.recipient.lower() for outcome in sent})
    if not addresses:
        return
    finished = max(outcome.finished_at for outcome in sent)
    for chunk in in_list_chunks(addresses):
        session.execute(
            sa.update(FLAG)
            .where(FLAG.c.address.in_(chunk), FLAG.c.cleared_at.is_(None))
            .values(cleared_at=finished)
        )


# --- operator actions ----------------------------------------------------------------------


def requeue_failed(
    session: Session, notice_ids: Sequence[int], *, now: datetime, actor: str, source: str
) -> list[int]:
    """Give failed or dead notices a fresh attempt budget (audited); refuse any other state."""
    ids = sorted(set(notice_ids))
    if not ids:
        raise OutboxError("请至少指定一个通知编号（give at least one notice id）")
    rows = session.execute(
        sa.select(NOTICE.c.id, NOTICE.c.state, NOTICE.c.attempts).where(NOTICE.c.id.in_(ids))
    ).all()
    found = {row.id: row for row in rows}
    missing = [notice_id for notice_id in ids if notice_id not in found]
    if missing:
        raise NotFound(
            f"通知不存在（no such notice）：{', '.join(map(str, missing))}", notice_ids=missing
        )
    retriable = {NoticeState.FAILED.value, NoticeState.DEAD.value}
    wrong = {row.id: row.state for row in rows if row.state not in retriable}
    if wrong:
        listed = "，".join(f"{notice_id}（{state}）" for notice_id, state in wrong.items())
        raise OutboxError(
            f"只能重试失败或放弃的通知（only failed or dead notices can be retried）：{listed}",
            states=wrong,
        )
    session.execute(
        sa.update(NOTICE)
        .where(NOTICE.c.id.in_(ids), NOTICE.c.state.in_(retriable))
        .values(
            state=NoticeState.QUEUED.value,
            next_attempt_at=None,
            lease_until=None,
            attempts_at_requeue=NOTICE.c.attempts,
        )
    )
    append_events(
        session,
        [
            EventDraft(
                actor=actor,
                action="notice.requeue",
                entity_type="notice",
                entity_id=notice_id,
                before={"state": found[notice_id].state, "attempts": found[notice_id].attempts},
                after={"state": NoticeState.QUEUED.value},
                source=source,
            )
            for notice_id in ids
        ],
        at=now,
    )
    return ids


READDRESSABLE_STATES = (
    NoticeState.FAILED.value,
    NoticeState.DEAD.value,
    NoticeState.BAD_ADDRESS.value,
)
"""Parked notices a corrected address sends on: refused (5xx), out of attempts, never
addressable. A withheld one has no letter to send, whatever its address."""
PARKED_STATES = (*READDRESSABLE_STATES, NoticeState.WITHHELD.value)
"""Notices that wait for a person: those above, and letters the renderer refused."""


@dataclass(frozen=True)
class ParkedFor:
    """Which parked notices a corrected contact concerns: those to one of `addresses` (any case)
    about one of `listing_ids` (a party) or from `department_code`'s digests (a department)."""

    addresses: Sequence[str]
    listing_ids: Sequence[int] = ()
    department_code: str | None = None


def readdress_parked(
    session: Session,
    parked: ParkedFor,
    address: str,
    *,
    now: datetime,
    actor: str,
    source: str,
) -> list[int]:
    """Send the parked notices of one recipient to its corrected `address` (audited).

    Each keeps its idempotency key and Message-ID — it is the same letter, re-addressed — and
    gets a fresh attempt budget, as `requeue_failed` gives. Nothing else is touched.
    """
    corrected = Recipient(address)
    if corrected.problem is not None:
        raise OutboxError(
            f"收件地址无效（invalid address）：{address!r}：{corrected.problem}", value=address
        )
    address = corrected.address
    old = sorted({a.strip().lower() for a in parked.addresses if a and a.strip()})
    if not old or (not parked.listing_ids and parked.department_code is None):
        return []
    about: list[sa.ColumnElement[bool]] = [
        NOTICE.c.listing_id.in_(chunk) for chunk in in_list_chunks(sorted(parked.listing_ids))
    ]
    if parked.department_code is not None:
        about.append(NOTICE.c.department_code == parked.department_code)
    rows = session.execute(
        sa.select(NOTICE.c.id, NOTICE.c.state, NOTICE.c.recipient, NOTICE.c.attempts)
        .where(
            NOTICE.c.state.in_(READDRESSABLE_STATES),
            sa.func.lower(NOTICE.c.recipient).in_(old),
            sa.or_(*about),
        )
        .order_by(NOTICE.c.id)
    ).all()
    ids = [row.id for row in rows]
    for chunk in in_list_chunks(ids):
        session.execute(
            sa.update(NOTICE)
            .where(NOTICE.c.id.in_(chunk), NOTICE.c.state.in_(READDRESSABLE_STATES))
            .values(
                recipient=address,
                state=NoticeState.QUEUED.value,
                next_attempt_at=None,
                lease_until=None,
                last_error=None,
                attempts_at_requeue=NOTICE.c.attempts,
            )
        )
    append_events(
        session,
        [
            EventDraft(
                actor=actor,
                action="notice.readdress",
                entity_type="notice",
                entity_id=row.id,
                before={"state": row.state, "recipient": row.recipient, "attempts": row.attempts},
                after={"state": NoticeState.QUEUED.value, "recipient": address},
                source=source,
            )
            for row in rows
        ],
        at=now,
    )
    return ids


@dataclass(frozen=True)
class OutboxStatus:
    by_state: dict[str, int]
    by_kind: dict[str, dict[str, int]]
    oldest_waiting: datetime | None
    parked: list[dict[str, Any]]
    flagged_contacts: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "by_state": self.by_state,
            "by_kind": self.by_kind,
            "oldest_waiting": self.oldest_waiting,
            "parked": self.parked,
            "flagged_contacts": self.flagged_contacts,
        }


def outbox_status(session: Session, *, parked_limit: int = 20) -> OutboxStatus:
    """Counts per state and kind, the oldest waiting notice, parked notices, flagged contacts."""
    counts = session.execute(
        sa.select(NOTICE.c.kind, NOTICE.c.state, sa.func.count()).group_by(
            NOTICE.c.kind, NOTICE.c.state
        )
    ).all()
    by_state = {state.value: 0 for state in NoticeState}
    by_kind: dict[str, dict[str, int]] = {}
    for kind, state, count in counts:
        by_state[state] = by_state.get(state, 0) + count
        by_kind.setdefault(kind, {})[state] = count
    waiting = [NoticeState.QUEUED.value, NoticeState.RETRY_WAIT.value, NoticeState.SENDING.value]
    oldest = session.execute(
        sa.select(sa.func.min(NOTICE.c.created_at)).where(NOTICE.c.state.in_(waiting))
    ).scalar()
    parked_rows = session.execute(
        sa.select(
            NOTICE.c.id,
            NOTICE.c.kind,
            NOTICE.c.letter_number,
            NOTICE.c.recipient,
            NOTICE.c.state,
            NOTICE.c.attempts,
            NOTICE.c.smtp_reply,
            NOTICE.c.last_error,
        )
        .where(NOTICE.c.state.in_(PARKED_STATES))
        .order_by(NOTICE.c.id)
        .limit(parked_limit)
    ).all()
    flags = session.execute(
        sa.select(FLAG.c.address, FLAG.c.reason, FLAG.c.failures, FLAG.c.flagged_at)
        .where(FLAG.c.cleared_at.is_(None))
        .order_by(FLAG.c.address)
    ).all()
    return OutboxStatus(
        by_state=by_state,
        by_kind=by_kind,
        oldest_waiting=oldest,
        parked=[dict(row._mapping) for row in parked_rows],
        flagged_contacts=[dict(row._mapping) for row in flags],
    )
