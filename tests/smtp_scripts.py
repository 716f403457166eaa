"""A real aiosmtpd server whose answers follow a script, for delivery tests.

It is the local sink (every accepted message filed as `.eml`), optionally slow, with the
misbehaviours a mail relay really shows: refusing some recipients permanently (5xx), deferring
each message's first DATA (4xx greylisting), a burst of 4xx to every transaction while it is
overloaded, dropping the connection in the middle of DATA (nothing filed), and dropping it after
it has accepted a message but before its 250 reaches the client (filed, yet the client must
assume it was not: the RFC 1047 duplicate window).

Every scripted misbehaviour is counted on the handler, so a test can compare what the outbox
recorded with what the server actually did.
"""

from __future__ import annotations

import asyncio
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from notifications.sink import MailSink

REFUSED = "550 5.1.1 <{address}>: 收件人不存在 Recipient address rejected: User unknown"
DEFERRED = "451 4.7.1 Greylisted, please try again later"
BUSY = "421 4.3.2 系统繁忙，请稍后重试 Service not available, try again later"


class ScriptedSink(MailSink):
    def __init__(
        self,
        directory: Path,
        *,
        refuse: set[str] | None = None,
        defer_first_data: bool = False,
        always_defer: bool = False,
        drop_first: int = 0,
        busy_burst: int = 0,
        drop_after_accept: int = 0,
        delay: float = 0.0,
    ) -> None:
        """`busy_burst`: the next N MAIL commands are answered 421 (an overloaded relay), then it
        recovers. `drop_after_accept`: the first N messages are filed and the connection closed
        before the 250 is sent."""
        super().__init__(directory)
        self.refuse = {address.lower() for address in refuse or set()}
        self.defer_first_data = defer_first_data
        self.always_defer = always_defer
        self.drops_left = drop_first
        self.busy_left = busy_burst
        self.accept_drops_left = drop_after_accept
        self.deferred: set[str] = set()
        self.data_commands = 0
        self.busy_answered = 0
        self.refused_answered = 0
        self.accepted_then_dropped: list[str] = []  # Message-IDs filed but never acknowledged
        self.delay = delay

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        # Counted per transaction, not per connection: the client reconnects after a 421 and
        # every new transaction spends one unit of the burst, however the sends interleave.
        if self.busy_left > 0:
            self.busy_left -= 1
            self.busy_answered += 1
            return BUSY
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            self.refused_answered += 1
            return REFUSED.format(address=address)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.data_commands += 1
        if self.delay:
            await asyncio.sleep(self.delay)  # a slow relay, so concurrent deliverers overlap
        message_id = str(BytesHeaderParser().parsebytes(envelope.original_content)["Message-ID"])
        if self.always_defer:
            return DEFERRED
        if self.defer_first_data and message_id not in self.deferred:
            self.deferred.add(message_id)
            return DEFERRED
        if self.drops_left > 0:
            self.drops_left -= 1
            server.transport.close()  # hang up before the message is stored: nothing delivered
            return "421 4.4.2 Connection dropped"
        accepted = await super().handle_DATA(server, session, envelope)
        if self.accept_drops_left > 0:
            self.accept_drops_left -= 1
            self.accepted_then_dropped.append(message_id.strip())
            # Filed, then hung up: closing the transport discards the reply aiosmtpd is about to
            # write, so the client never reads the 250 for a message the server now holds.
            server.transport.close()
        return accepted
