"""Draining the outbox: claim a batch, send it over the connection pool, record the outcomes.

Each batch is three short transactions — claim, (SMTP, no transaction open), record — so a
deliverer never holds a database lock while it talks to a mail server, and a crash leaves at
most one batch `sending` until its lease runs out. The database calls run in a worker thread
(`asyncio.to_thread`) so the event loop keeps every SMTP connection busy meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from notifications.outbox import (
    ClaimedNotice,
    DeliveryOutcome,
    RetryPolicy,
    claim_notices,
    record_outcomes,
)
from notifications.smtp import SendResult, SendVerdict, SmtpConfig, SmtpSender, build_message
from registry.clock import Clock
from registry.db import session_scope
from registry.faults import BoundaryHook
from registry.models import AttemptOutcome
from registry.settings import Settings

DEFAULT_BATCH = 200
FAILURES_SHOWN = 50


@dataclass
class DrainReport:
    """What one drain did; `lease_lost` counts outcomes another deliverer had already taken."""

    deliverer: str
    claimed: int = 0
    sent: int = 0
    retry: int = 0
    failed: int = 0
    dead: int = 0
    lease_lost: int = 0
    batches: int = 0
    failures: list[dict[str, object]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


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
    """Who holds a lease: host and process, so an operator can tell deliverers apart."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


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
    jitter = rng or random.Random()
    async with SmtpSender(config) as sender:
        while options.limit is None or report.claimed < options.limit:
            size = options.batch_size
            if options.limit is not None:
                size = min(size, options.limit - report.claimed)
            batch = await asyncio.to_thread(_claim, engine, clock, options, report.deliverer, size)
            if not batch:
                break
            report.claimed += len(batch)
            report.batches += 1
            if on_boundary is not None:
                on_boundary("after-claim")
            started = clock.now()
            messages = [build_message(notice, config, date=started) for notice in batch]
            results = await sender.send_many(messages)
            finished = clock.now()
            if on_boundary is not None:
                on_boundary("after-send")
            outcomes = [
                _outcome(notice, result, options.policy, started, finished, jitter)
                for notice, result in zip(batch, results, strict=True)
            ]
            await asyncio.to_thread(_record, engine, outcomes, report)
            if on_boundary is not None:
                on_boundary("after-record")
            if progress is not None:
                progress(report)
    return report


def _claim(
    engine: sa.Engine, clock: Clock, options: DrainOptions, deliverer: str, size: int
) -> list[ClaimedNotice]:
    with session_scope(engine) as session:
        return claim_notices(
            session, now=clock.now(), limit=size, lease=options.lease, deliverer=deliverer
        )


def _record(engine: sa.Engine, outcomes: list[DeliveryOutcome], report: DrainReport) -> None:
    with session_scope(engine) as session:
        recorded = record_outcomes(session, outcomes, deliverer=report.deliverer)
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
