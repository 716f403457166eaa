"""Draining the outbox: claim a batch, send it over the connection pool, record the outcomes.

Each batch is short transactions — claim, one `begin_attempt` per message right before its
send, record — so a deliverer never holds a database lock while it talks to a mail server, and
a crash leaves at most one batch `sending` until its lease runs out. The database calls run in
a worker thread (`asyncio.to_thread`) so the event loop keeps every SMTP connection busy.

A batch must be recorded while its leases hold, however slow the relay (issue 13): a deliverer
whose lease lapsed before the record would leave sent notices to be claimed and sent again.
So a batch lives within one lease, on this process's monotonic clock: sends start only in the
first 40 % of it, each send is cut off after another 40 %, and the batch is recorded at once —
the messages not yet begun are handed back in the same transaction. Batches are sized from
the seconds per message measured so far, so that a slow relay gets small batches and leaves
the rest of the queue to other drains. Correctness does not rest on that estimate:
`begin_attempt` refuses any send whose claim has been taken over (docs/reliability.md).

A message is built before its attempt begins. If building fails (a setting the email package
refuses, a stored value it cannot encode), the fault is ours, not the recipient's: no attempt is
counted, no contact flagged, the batch's unsent claims are handed back at once (no lease to wait
out) and the drain stops with a `MessageBuildError` naming the notice.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import secrets
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

import sqlalchemy as sa

from notifications.outbox import (
    ClaimedNotice,
    DeliveryOutcome,
    ParkedNotice,
    RetryPolicy,
    begin_attempt,
    claim_notices,
    park_exhausted,
    record_outcomes,
    release_unsent,
)
from notifications.smtp import SendResult, SendVerdict, SmtpConfig, SmtpSender, build_message
from registry.clock import Clock
from registry.db import session_scope
from registry.errors import JointcreditError
from registry.faults import BoundaryHook
from registry.models import AttemptOutcome
from registry.settings import Settings

DEFAULT_BATCH = 200
FAILURES_SHOWN = 50
FIRST_ESTIMATE_S = 1.0
"""Seconds one connection needs per message, assumed until the first batch has been timed."""
START_WITHIN = 0.4
SEND_WITHIN = 0.4
"""Fractions of the lease: sends start within its first 40 %, and each may take 40 % of it,
which leaves a fifth of the lease to record the batch."""


class MessageBuildError(JointcreditError):
    """A claimed notice's message could not be built; its claim was handed back unsent."""


COUNTED = ("claimed", "sent", "retry", "failed", "dead", "exhausted", "released", "lease_lost")


@dataclass
class DrainReport:
    """What one drain did, as running totals (`last_batch`: the latest batch alone).

    Every claimed notice ends in exactly one of `sent`, `retry`, `failed`, `dead`, `released`
    and `lease_lost`; `dead` also counts the `exhausted` notices, marked dead without a claim
    because their attempts were already spent. `lease_lost`: claims another deliverer had taken
    over before this one sent or recorded them (not sent here); `released`: claims handed back
    unsent because the batch's time was up (or a message could not be built).
    """

    deliverer: str
    claimed: int = 0
    sent: int = 0
    retry: int = 0
    failed: int = 0
    dead: int = 0
    exhausted: int = 0
    lease_lost: int = 0
    released: int = 0
    batches: int = 0
    failures: list[dict[str, object]] = field(default_factory=list)
    last_batch: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        found = asdict(self)
        del found["last_batch"]
        return found

    @property
    def acted(self) -> bool:
        """Whether the drain sent, will retry, parked or gave up anything (worth a report)."""
        return bool(self.sent or self.retry or self.failed or self.dead)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTED}

    def progress_line(self) -> str:
        """The latest batch's own counts, then the running total sent, in Chinese."""
        batch = self.last_batch
        line = (
            f"第 {self.batches} 批：领取 {batch.get('claimed', 0)}，"
            f"本批发出 {batch.get('sent', 0)}，累计发出 {self.sent}"
        )
        others = _claim_outcomes(batch)
        return f"{line}；本批{others}" if others else line

    def summary_line(self) -> str:
        """Where every claimed notice went, in Chinese (the buckets add up to `claimed`)."""
        others = _claim_outcomes(self.counts())
        line = f"领取 {self.claimed} 封：发出 {self.sent}"
        return f"{line}，{others}" if others else line


def _claim_outcomes(counts: dict[str, int]) -> str:
    """The non-zero outcomes other than sent, each with what it means for the operator; the
    notices found out of attempts were never claimed, so they are named apart."""
    counts = {**counts, "dead": counts.get("dead", 0) - counts.get("exhausted", 0)}
    words = (
        ("retry", "待重试 {}（暂时失败，稍后自动重试）"),
        ("failed", "永久失败 {}（服务器拒收，已搁置）"),
        ("dead", "放弃 {}（重试次数用尽）"),
        ("released", "交回未发 {}（本批时间已到，留待下次投递）"),
        ("lease_lost", "被其他投递进程接管 {}（由其发出）"),
        ("exhausted", "另有 {} 封重试次数已用尽，未领取即标为放弃"),
    )
    return "，".join(text.format(counts[name]) for name, text in words if counts.get(name))


@dataclass(frozen=True)
class DrainOptions:
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    lease: timedelta = timedelta(minutes=5)
    batch_size: int = DEFAULT_BATCH
    limit: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, limit: int | None = None) -> DrainOptions:
        return cls(
            policy=RetryPolicy(
                max_attempts=settings.outbox_max_attempts,
                base=timedelta(seconds=settings.outbox_retry_base_seconds),
                cap=timedelta(seconds=settings.outbox_retry_cap_seconds),
            ),
            lease=timedelta(seconds=settings.outbox_lease_seconds),
            limit=limit,
        )


def deliverer_name() -> str:
    """Who holds a lease: host, process and a token of this drain, unique to each drain.

    The token keeps two drains of one process (or a drain and its own expired claims) apart:
    `begin_attempt` checks the name before every send.
    """
    token = secrets.token_hex(4)
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{token}"


async def drain_outbox(
    engine: sa.Engine,
    config: SmtpConfig,
    *,
    clock: Clock,
    options: DrainOptions | None = None,
    deliverer: str | None = None,
    rng: random.Random | None = None,
    progress: Callable[[DrainReport], None] | None = None,
    on_boundary: BoundaryHook | None = None,
) -> DrainReport:
    """Deliver every notice due now (up to `options.limit`); safe to run beside other drains.

    `on_boundary` (registry.faults) is told `after-claim`, `after-send` and `after-record` for
    each batch; `after-send` is the RFC 1047 window — the relay has the messages, our database
    does not know yet.
    """
    options = options or DrainOptions()
    report = DrainReport(deliverer=deliverer or deliverer_name())
    batch = _Batch(engine, config, clock, options, report, rng or random.Random())
    async with SmtpSender(config) as sender:
        while options.limit is None or batch.done() < options.limit:
            before = report.counts()
            claimed = await asyncio.to_thread(_claim, engine, clock, options, report, batch.size())
            if not claimed:
                break
            report.claimed += len(claimed)
            report.batches += 1
            if on_boundary is not None:
                on_boundary("after-claim")
            outcomes, unsent = await batch.send(sender, claimed)
            if on_boundary is not None:
                on_boundary("after-send")
            await asyncio.to_thread(_record, engine, outcomes, unsent, report)
            report.last_batch = {
                name: count - before[name] for name, count in report.counts().items()
            }
            if on_boundary is not None:
                on_boundary("after-record")
            if progress is not None:
                progress(report)
            if batch.unbuildable is not None:
                raise batch.unbuildable
    return report


class _Batch:
    """Sizes a batch from the measured pace, and sends it within its lease."""

    def __init__(
        self,
        engine: sa.Engine,
        config: SmtpConfig,
        clock: Clock,
        options: DrainOptions,
        report: DrainReport,
        rng: random.Random,
    ) -> None:
        self.engine, self.config, self.clock = engine, config, clock
        self.options, self.report, self.rng = options, report, rng
        self.lease_s = options.lease.total_seconds()
        self.seconds_per_message = FIRST_ESTIMATE_S
        self.unbuildable: MessageBuildError | None = None

    def done(self) -> int:
        return self.report.claimed - self.report.released

    def size(self) -> int:
        """As many as the connections can start in the first part of a lease, at least one."""
        fits = math.floor(
            self.config.connections * self.lease_s * START_WITHIN / self.seconds_per_message
        )
        size = max(1, min(self.options.batch_size, fits))
        if self.options.limit is not None:
            size = min(size, self.options.limit - self.done())
        return size

    async def send(
        self, sender: SmtpSender, claimed: list[ClaimedNotice]
    ) -> tuple[list[DeliveryOutcome], list[ClaimedNotice]]:
        """Begin and send each message while the batch's time lasts; return what was left."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        start_until = began + self.lease_s * START_WITHIN
        waiting = deque(claimed)
        outcomes: list[DeliveryOutcome] = []

        async def connection() -> None:
            while waiting and loop.time() < start_until and self.unbuildable is None:
                notice = waiting.popleft()
                message = self._build(notice)
                if message is None:
                    waiting.appendleft(notice)  # handed back with the rest, never begun
                    return
                outcome = await self._attempt(sender, notice, message)
                if outcome is not None:
                    outcomes.append(outcome)

        await asyncio.gather(*(connection() for _ in range(self.config.connections)))
        if outcomes:
            pace = (loop.time() - began) * self.config.connections / len(outcomes)
            self.seconds_per_message = max(pace, 0.001)
        return outcomes, list(waiting)

    def _build(self, notice: ClaimedNotice) -> EmailMessage | None:
        """The notice's message, or None (and `unbuildable` set) if it cannot be built."""
        try:
            return build_message(notice, self.config, date=self.clock.now())
        except Exception as exc:  # whatever the cause, it is not the recipient's: stop, hand back
            self.unbuildable = MessageBuildError(
                f"通知 {notice.id} 无法生成邮件（cannot build the message）："
                f"{type(exc).__name__}: {exc}；本批未发出的通知已交回待发，未计入尝试次数。"
                "请检查发件设置（JOINTCREDIT_MAIL_FROM、JOINTCREDIT_MAIL_FROM_NAME）和该通知的内容",
                notice_id=notice.id,
            )
            return None

    async def _attempt(
        self, sender: SmtpSender, notice: ClaimedNotice, message: EmailMessage
    ) -> DeliveryOutcome | None:
        begun = await asyncio.to_thread(
            _begin, self.engine, self.clock, self.options, self.report.deliverer, notice
        )
        if not begun:
            self.report.lease_lost += 1
            return None
        started = self.clock.now()
        result = await sender.send(message, within=self.lease_s * SEND_WITHIN)
        return _outcome(notice, result, self.options.policy, started, self.clock.now(), self.rng)


def _claim(
    engine: sa.Engine, clock: Clock, options: DrainOptions, report: DrainReport, size: int
) -> list[ClaimedNotice]:
    now = clock.now()
    with session_scope(engine) as session:
        parked = park_exhausted(session, now=now, max_attempts=options.policy.max_attempts)
        claimed = claim_notices(
            session,
            now=now,
            limit=size,
            lease=options.lease,
            deliverer=report.deliverer,
            max_attempts=options.policy.max_attempts,
        )
    _report_parked(report, parked)
    return claimed


def _report_parked(report: DrainReport, parked: list[ParkedNotice]) -> None:
    report.dead += len(parked)
    report.exhausted += len(parked)
    shown = [
        {"notice_id": p.id, "recipient": p.recipient, "reply": p.reason}
        for p in parked[: max(FAILURES_SHOWN - len(report.failures), 0)]
    ]
    report.failures.extend(shown)


def _begin(
    engine: sa.Engine, clock: Clock, options: DrainOptions, deliverer: str, notice: ClaimedNotice
) -> bool:
    with session_scope(engine) as session:
        return begin_attempt(
            session,
            notice,
            now=clock.now(),
            lease=options.lease,
            deliverer=deliverer,
            max_attempts=options.policy.max_attempts,
        )


def _record(
    engine: sa.Engine,
    outcomes: list[DeliveryOutcome],
    unsent: list[ClaimedNotice],
    report: DrainReport,
) -> None:
    with session_scope(engine) as session:
        recorded = record_outcomes(session, outcomes, deliverer=report.deliverer)
        released = release_unsent(session, unsent, deliverer=report.deliverer)
    report.released += released
    report.lease_lost += len(unsent) - released
    report.sent += recorded.counts.get(AttemptOutcome.SENT.value, 0)
    report.retry += recorded.counts.get(AttemptOutcome.RETRY.value, 0)
    report.failed += recorded.counts.get(AttemptOutcome.FAILED.value, 0)
    report.dead += recorded.counts.get(AttemptOutcome.DEAD.value, 0)
    report.lease_lost += recorded.lease_lost
    parked = [
        {"notice_id": o.notice.id, "recipient": o.notice.recipient, "reply": o.reply}
        for o in outcomes
        if o.outcome in (AttemptOutcome.FAILED, AttemptOutcome.DEAD)
    ]
    report.failures.extend(parked[: max(FAILURES_SHOWN - len(report.failures), 0)])


def _outcome(
    notice: ClaimedNotice,
    result: SendResult,
    policy: RetryPolicy,
    started: datetime,
    finished: datetime,
    rng: random.Random,
) -> DeliveryOutcome:
    if result.verdict is SendVerdict.DELIVERED:
        kind = AttemptOutcome.SENT
    elif result.verdict is SendVerdict.PERMANENT:
        kind = AttemptOutcome.FAILED
    elif policy.exhausted(notice.attempt, notice.attempts_at_requeue):
        kind = AttemptOutcome.DEAD
    else:
        kind = AttemptOutcome.RETRY
    retry_at = None
    if kind is AttemptOutcome.RETRY:
        retry_at = finished + policy.delay(notice.attempt - notice.attempts_at_requeue, rng)
    return DeliveryOutcome(
        notice=notice,
        outcome=kind,
        started_at=started,
        finished_at=finished,
        smtp_code=result.code,
        reply=result.reply,
        retry_at=retry_at,
    )
