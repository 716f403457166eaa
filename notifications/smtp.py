"""Sending mail with aiosmtplib: message building apart from socket I/O, replies classified.

Messages are built with `email.message.EmailMessage` (SMTP policy, UTF-8): header values go
through the email package's header registry, so a display name or subject can never add a
header line. The sender keeps a few connections open (DESIGN §7: a reused connection sends
1,000 mails in half the time of a new one each) and bounds concurrency by their number.

Recipients go on the wire in ASCII: an internationalised domain (`江岸冶金.中国`) is sent as its
IDNA A-labels, the one address rule of `memoranda.addresses` (import refuses what it cannot send).

The reply decides what happens next (like aiosmtplib's own tests and every MTA): 2xx delivered;
4xx, a timeout or a dropped connection is transient (retry later); 5xx is permanent (park the
notice, flag the contact). After any error the connection is dropped and reopened on next use,
so a half-finished SMTP transaction never leaks into the next message.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum
from types import TracebackType
from typing import Literal

import aiosmtplib

from memoranda.addresses import deliverable
from notifications.outbox import ClaimedNotice
from registry.settings import Settings

TlsMode = Literal["none", "starttls", "ssl"]


class SendVerdict(StrEnum):
    DELIVERED = "delivered"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: TlsMode = "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log or a traceback
    timeout: float = 30.0
    connections: int = 4
    mail_from: str = "jointcredit@example.org"
    mail_from_name: str = "安全生产联合奖惩系统"

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            username=settings.smtp_username or None,
            password=password or None,
            timeout=settings.smtp_timeout_seconds,
            connections=settings.smtp_connections,
            mail_from=settings.mail_from,
            mail_from_name=settings.mail_from_name,
        )

    @property
    def message_id_domain(self) -> str:
        return self.mail_from.rpartition("@")[2] or "jointcredit.local"


@dataclass(frozen=True)
class SendResult:
    verdict: SendVerdict
    code: int | None
    reply: str


def build_message(notice: ClaimedNotice, config: SmtpConfig, *, date: datetime) -> EmailMessage:
    """The message for one notice; the same notice always carries the same Message-ID."""
    message = EmailMessage()
    message["From"] = Address(display_name=config.mail_from_name, addr_spec=config.mail_from)
    message["To"] = Address(
        display_name=notice.recipient_name or "", addr_spec=wire_address(notice)
    )
    message["Subject"] = notice.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = notice.message_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-Jointcredit-Kind"] = notice.kind
    message["X-Jointcredit-Notice"] = str(notice.id)
    message.set_content(notice.body_text, charset="utf-8")
    if notice.body_html:
        message.add_alternative(notice.body_html, subtype="html", charset="utf-8")
    return message


def wire_address(notice: ClaimedNotice) -> str:
    """The recipient as the relay must be given it: an internationalised domain in its IDNA
    A-labels (`memoranda.addresses`), so no SMTPUTF8 is needed. Only addressable notices are
    ever queued; were one not, the relay's refusal parks it like any 5xx."""
    found = deliverable(notice.recipient)
    return found.ascii if found is not None else notice.recipient


def classify(exc: BaseException) -> SendResult:
    """Map an aiosmtplib error to transient or permanent, keeping the server's words."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        refused = exc.recipients[0]
        return _by_code(refused.code, refused.message)
    if isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(
        exc, aiosmtplib.SMTPServerDisconnected
    ):
        return _by_code(exc.code, exc.message)
    reason = f"{type(exc).__name__}: {exc}".strip()
    return SendResult(SendVerdict.TRANSIENT, None, reason)


def relay_unavailable(exc: BaseException) -> SendResult:
    """Connecting or logging in failed: the relay or our credentials, never the recipient.

    Even a 5xx here (535: authentication failed) is retried, not parked against the address
    — a wrong relay password must not flag every department's mailbox as refused.
    """
    found = classify(exc)
    reason = f"发信服务器连接或登录失败（relay connection or login failed）：{found.reply}"
    return SendResult(SendVerdict.TRANSIENT, found.code, reason)


def _by_code(code: int, message: str) -> SendResult:
    verdict = SendVerdict.PERMANENT if 500 <= code < 600 else SendVerdict.TRANSIENT
    return SendResult(verdict, code, f"{code} {message}".strip())


class SmtpSender:
    """A small pool of reused connections; `send` may be awaited concurrently."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._idle: asyncio.Queue[aiosmtplib.SMTP | None] = asyncio.Queue()
        for _ in range(config.connections):
            self._idle.put_nowait(None)

    async def __aenter__(self) -> SmtpSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def send(self, message: EmailMessage, *, within: float | None = None) -> SendResult:
        """Send one message; `within` (seconds) bounds the whole send, connecting included.

        A send cut short by `within` is transient, and its connection is closed: the relay may
        still have filed the message (the RFC 1047 window), never half a transaction reused.
        """
        client = await self._idle.get()
        try:
            async with asyncio.timeout(within):
                if client is None or not client.is_connected:
                    try:
                        client = await self._connect()
                    except (aiosmtplib.SMTPException, OSError) as exc:
                        return relay_unavailable(exc)
                _errors, reply = await client.send_message(message)
            # aiosmtplib hands back the text of the 250 reply to DATA, without its code.
            return SendResult(SendVerdict.DELIVERED, 250, f"250 {reply}".strip())
        except ValueError as exc:  # an address aiosmtplib refuses to put on the wire
            reason = f"地址无法发送（unsendable address）：{exc}"
            return SendResult(SendVerdict.PERMANENT, None, reason)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            if client is not None:
                client.close()
            client = None
            if within is not None and type(exc) is TimeoutError:
                reason = f"发送超过 {within:g} 秒未完成（send did not finish within {within:g} s）"
                return SendResult(SendVerdict.TRANSIENT, None, reason)
            return classify(exc)
        finally:
            self._idle.put_nowait(client)

    async def send_many(self, messages: Sequence[EmailMessage]) -> list[SendResult]:
        return list(await asyncio.gather(*(self.send(message) for message in messages)))

    async def _connect(self) -> aiosmtplib.SMTP:
        config = self.config
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            timeout=config.timeout,
            use_tls=config.tls == "ssl",
            start_tls=config.tls == "starttls",
            tls_context=ssl.create_default_context() if config.tls != "none" else None,
        )
        await client.connect()
        if config.username:
            await client.login(config.username, config.password or "")
        return client

    async def close(self) -> None:
        """Say QUIT on every open connection (best effort: the server may already be gone)."""
        clients = []
        while not self._idle.empty():
            clients.append(self._idle.get_nowait())
        for client in clients:
            if client is not None and client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()
            self._idle.put_nowait(None)
