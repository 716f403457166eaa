"""The local mail sink (aiosmtpd): a real SMTP server that files every message it accepts.

The embedded default the demo and the tests deliver to, so nothing needs a real mail server:
`jointcredit mail-sink --port 2525 --dir var/mail`. Each accepted message becomes one `.eml`
file, written to a temporary name and renamed, so a reader never sees half a message. Every
delivery is kept, duplicates included — that is how tests count "exactly once".
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

ACCEPTED = "250 2.0.0 Message accepted for delivery"


class MailSink:
    """aiosmtpd handler: store the message as `<time>-<n>.eml` with the envelope recorded."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.store(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        return ACCEPTED

    def store(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> Path:
        with self._lock:
            number = next(self._sequence)
        name = f"{time.time_ns()}-{os.getpid()}-{number:06d}"
        envelope = (
            f"X-Sink-Envelope-From: <{mail_from}>\r\n"
            f"X-Sink-Envelope-To: {', '.join(f'<{r}>' for r in rcpt_tos)}\r\n"
        ).encode("ascii", "backslashreplace")
        partial = self.directory / f".{name}.tmp"
        partial.write_bytes(envelope + content)
        final = self.directory / f"{name}.eml"
        partial.rename(final)
        return final


@dataclass(frozen=True)
class RunningSink:
    host: str
    port: int
    directory: Path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_sink(
    directory: Path, *, host: str = "127.0.0.1", port: int = 0, handler: MailSink | None = None
) -> Iterator[RunningSink]:
    """Run a sink (or a scripted subclass of it) on its own thread for the duration."""
    chosen = port or free_port(host)
    controller = Controller(
        handler or MailSink(directory),
        hostname=host,
        port=chosen,
        enable_SMTPUTF8=True,
        data_size_limit=25 * 1024 * 1024,
    )
    controller.start()
    try:
        yield RunningSink(host, chosen, directory)
    finally:
        controller.stop()


def serve_sink(
    directory: Path, *, host: str, port: int, ready: threading.Event | None = None
) -> None:
    """Serve until interrupted (Ctrl-C) — the `jointcredit mail-sink` command."""
    with running_sink(directory, host=host, port=port):
        if ready is not None:
            ready.set()
        threading.Event().wait()


def read_mailbox(directory: Path) -> list[EmailMessage]:
    """Every message the sink holds, oldest first."""
    parser = BytesParser(policy=policy.default)
    messages = []
    for path in sorted(directory.glob("*.eml")):
        with path.open("rb") as handle:
            messages.append(parser.parse(handle))
    return messages


def message_id_counts(directory: Path) -> Counter[str]:
    """How many times each Message-ID arrived: a count above 1 is a duplicate delivery."""
    parser = BytesHeaderParser()
    counts: Counter[str] = Counter()
    for path in directory.glob("*.eml"):
        with path.open("rb") as handle:
            counts[str(parser.parse(handle)["Message-ID"]).strip()] += 1
    return counts
