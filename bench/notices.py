"""Benchmark: 10,000 notices through the outbox into the mail sink, against a bare aiosmtplib loop.

Not a test (DESIGN: targets live in benchmarks). Both paths do the same work for the same
notices — render the template, build the MIME message, send it — to the same sink, a separate
`jointcredit mail-sink` process, in the same run:
- outbox: `enqueue_notices` (render + insert, one transaction) then `drain_outbox` (claim, build,
  send over the pooled connections, record every attempt);
- bare: what a script without an outbox would do — render, build and send over one aiosmtplib
  connection in a loop, nothing stored, nothing recorded.
The difference is the price of "nothing lost, nothing doubled". Target (issue 3): outbox
notices/s ≥ 0.7 × bare. Prints one line of JSON.

    .venv/bin/python bench/notices.py [--count 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import aiosmtplib

from notifications.delivery import DrainOptions, drain_outbox
from notifications.outbox import ClaimedNotice, NoticeDraft, NoticeKey, Recipient, enqueue_notices
from notifications.render import render_notice
from notifications.sink import free_port
from notifications.smtp import SmtpConfig, build_message
from registry import db
from registry.clock import BUSINESS_TZ, FrozenClock
from registry.vocabulary import NoticeKind
from tests.factories.notices import SAMPLE_CONTEXTS

KIND = NoticeKind.DEPARTMENT_DISPATCH
TARGET_RATIO = 0.7


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"mail sink did not start on port {port}")


def _drafts(count: int, run: str) -> list[NoticeDraft]:
    drafts = []
    for i in range(count):
        address = f"dept{i:05d}@example.org"
        key = NoticeKey(KIND, f"bench:{run}-{i}", address, "dispatch")
        drafts.append(NoticeDraft(KIND, Recipient(address, "联络员"), SAMPLE_CONTEXTS[KIND], key))
    return drafts


async def _bare(config: SmtpConfig, drafts: list[NoticeDraft], now: datetime) -> float:
    started = time.perf_counter()
    async with aiosmtplib.SMTP(hostname=config.host, port=config.port) as client:
        for n, draft in enumerate(drafts):
            rendered = render_notice(draft.kind, draft.context)
            notice = ClaimedNotice(
                id=n,
                attempt=1,
                attempts_at_requeue=0,
                kind=draft.kind.value,
                message_id=draft.key.message_id("0bench0", "bench.example.org"),
                recipient=draft.recipient.address,
                recipient_name=draft.recipient.name,
                subject=rendered.subject,
                body_text=rendered.text,
                body_html=rendered.html,
            )
            await client.send_message(build_message(notice, config, date=now))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    clock = FrozenClock(datetime(2026, 11, 27, 10, 0, tzinfo=BUSINESS_TZ))
    work = Path(tempfile.mkdtemp(prefix="bench-notices-"))
    port = free_port()
    sink_command = [str(Path(sys.executable).parent / "jointcredit"), "mail-sink"]
    sink = subprocess.Popen(
        [*sink_command, "--port", str(port), "--dir", str(work / "mail")],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "DO_NOT_TRACK": "1"},
    )
    try:
        _wait_for_port(port)
        url = f"sqlite:///{work / 'bench.db'}"
        db.upgrade(url)
        engine = db.make_engine(url)
        config = SmtpConfig(host="127.0.0.1", port=port)
        drafts = _drafts(args.count, "outbox")

        started = time.perf_counter()
        with db.session_scope(engine) as session:
            enqueue_notices(session, drafts, now=clock.now())
        enqueued = time.perf_counter() - started
        report = asyncio.run(
            drain_outbox(engine, config, clock=clock, options=DrainOptions(batch_size=500))
        )
        outbox_seconds = time.perf_counter() - started
        assert report.sent == args.count, report

        bare_seconds = asyncio.run(_bare(config, _drafts(args.count, "bare"), clock.now()))
        engine.dispose()
    finally:
        sink.terminate()
        sink.wait(timeout=10)
        delivered = len(list((work / "mail").glob("*.eml")))
        shutil.rmtree(work, ignore_errors=True)

    outbox_rate = args.count / outbox_seconds
    bare_rate = args.count / bare_seconds
    print(
        json.dumps(
            {
                "benchmark": "notices",
                "count": args.count,
                "outbox_notices_per_s": round(outbox_rate),
                "outbox_enqueue_s": round(enqueued, 2),
                "outbox_total_s": round(outbox_seconds, 2),
                "bare_notices_per_s": round(bare_rate),
                "bare_total_s": round(bare_seconds, 2),
                "ratio": round(outbox_rate / bare_rate, 2),
                "target_ratio": TARGET_RATIO,
                "meets_target": outbox_rate / bare_rate >= TARGET_RATIO,
                "delivered_to_sink": delivered,
                "connections": config.connections,
                "machine": f"{platform.machine()}, {os.cpu_count()} CPU, "
                f"Python {platform.python_version()}",
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
