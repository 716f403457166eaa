"""Stress: concurrent drains against a slow relay with a short lease — deliveries per Message-ID.

Not a test (DESIGN: targets live in benchmarks). Issue 13 item 2: with a relay slower than the
lease, a second drain took over the first one's lapsed claims while the first was still sending
them, and both sent. This script plays that on the wall clock, scaled down so it finishes in a
minute or two:

- one SQLite file (or `--database-url`, a throwaway database: the drains send whatever it
  queues) holding `--notices` queued notices;
- a real aiosmtpd relay in this process that takes `--delay` seconds per message;
- `--drains` drain processes (`drain_outbox`, system clock, `--lease`, `--connections` each),
  started `--stagger` seconds apart, so that each new drain finds claims whose lease has lapsed
  — `outbox drain & sleep …; outbox drain`, four times over.

Target: every notice sent, each Message-ID delivered exactly once, no notice over the attempt
budget. Prints one line of JSON.

    .venv/bin/python -m bench.slow_relay [--notices 400] [--drains 4] [--delay 0.1] [--lease 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import shutil
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from notifications.delivery import DrainOptions, drain_outbox
from notifications.outbox import NOTICE, RetryPolicy
from notifications.sink import message_id_counts, running_sink
from notifications.smtp import SmtpConfig
from registry import db
from registry.clock import SystemClock
from tests.factories.outbox import queue_notices
from tests.smtp_scripts import ScriptedSink


def _drain(url: str, host: str, port: int, args: dict[str, Any], start_at: float) -> dict[str, Any]:
    """One drain process: wait for its start time, drain until nothing is due, report."""
    engine = db.make_engine(url)
    config = SmtpConfig(host=host, port=port, timeout=30, connections=args["connections"])
    options = DrainOptions(
        policy=RetryPolicy(max_attempts=args["max_attempts"]),
        lease=timedelta(seconds=args["lease"]),
    )
    time.sleep(max(start_at - time.time(), 0))
    started = time.monotonic()
    report = asyncio.run(drain_outbox(engine, config, clock=SystemClock(), options=options))
    engine.dispose()
    fields = ("claimed", "sent", "retry", "dead", "lease_lost", "released", "batches")
    summary = {name: getattr(report, name) for name in fields if hasattr(report, name)}
    return {**summary, "seconds": round(time.monotonic() - started, 2)}


def _ledger(engine: sa.Engine, ids: list[int]) -> tuple[Counter[str], dict[str, int], int]:
    with db.session_scope(engine) as session:
        columns = (NOTICE.c.message_id, NOTICE.c.state, NOTICE.c.attempts)
        rows = session.execute(sa.select(*columns).where(NOTICE.c.id.in_(ids))).all()
    states = Counter(row.state for row in rows)
    return states, {row.message_id: row.attempts for row in rows}, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notices", type=int, default=400)
    parser.add_argument("--drains", type=int, default=4)
    parser.add_argument("--delay", type=float, default=0.1, help="relay seconds per message")
    parser.add_argument("--lease", type=float, default=2.0, help="lease seconds")
    parser.add_argument("--stagger", type=float, default=None, help="default: 0.75 × lease")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--max-attempts", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    stagger = args.stagger if args.stagger is not None else 0.75 * args.lease

    work = Path(tempfile.mkdtemp(prefix="bench-slow-relay-"))
    url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    ids = queue_notices(engine, SystemClock(), args.notices)
    mail = work / "mail"
    settings = {
        "connections": args.connections,
        "lease": args.lease,
        "max_attempts": args.max_attempts,
    }
    try:
        with running_sink(mail, handler=ScriptedSink(mail, delay=args.delay)) as sink:
            context = multiprocessing.get_context("spawn")
            first = time.time() + 3.0  # time for the spawned drains to import
            started = time.monotonic()
            with context.Pool(args.drains) as pool:
                pending = [
                    pool.apply_async(
                        _drain, (url, sink.host, sink.port, settings, first + n * stagger)
                    )
                    for n in range(args.drains)
                ]
                drains = [result.get(timeout=900) for result in pending]
            elapsed = time.monotonic() - started - 3.0
        states, attempts, found = _ledger(engine, ids)
        counts = message_id_counts(mail)
    finally:
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)

    ours = {message_id: counts.get(message_id, 0) for message_id in attempts}
    per_message = Counter(ours.values())
    exactly_once = found == args.notices and set(per_message) == {1}
    print(
        json.dumps(
            {
                "benchmark": "slow_relay",
                "database": sa.make_url(url).get_backend_name(),
                "notices": args.notices,
                "drains": args.drains,
                "relay_delay_s": args.delay,
                "lease_s": args.lease,
                "stagger_s": round(stagger, 2),
                "connections_per_drain": args.connections,
                "elapsed_s": round(elapsed, 1),
                "deliveries": sum(ours.values()),
                "message_ids_delivered": sum(1 for n in ours.values() if n),
                "deliveries_per_message_id": {str(k): v for k, v in sorted(per_message.items())},
                "max_deliveries_per_message_id": max(ours.values(), default=0),
                "states": dict(states),
                "max_attempts_seen": max(attempts.values(), default=0),
                "max_attempts_allowed": args.max_attempts,
                "drain_reports": drains,
                "exactly_once": exactly_once,
                "machine": f"{platform.machine()}, {os.cpu_count()} CPU, "
                f"Python {platform.python_version()}",
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
