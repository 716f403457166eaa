"""A real aiosmtpd server whose answers follow a script, for delivery tests.

It is the local sink (every accepted message filed as `.eml`), optionally slow, with three
misbehaviours a mail relay really shows: refusing some recipients permanently (5xx), deferring
each message's first DATA (4xx greylisting), and dropping the connection in the middle of DATA.
"""

from __future__ import annotations

import asyncio
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from notifications.sink import MailSink

REFUSED = "550 5.1.1 <{address}>: 收件人不存在 Recipient address rejected: User unknown"
DEFERRED = "451 4.7.1 Greylisted, please try again later"


class ScriptedSink(MailSink):
    def __init__(
        self,
        directory: Path,
        *,
        refuse: set[str] | None = None,
        defer_first_data: bool = False,
        always_defer: bool = False,
        drop_first: int = 0,
        delay: float = 0.0,
    ) -> None:
        super().__init__(directory)
        self.refuse = {address.lower() for address in refuse or set()}
        self.defer_first_data = defer_first_data
        self.always_defer = always_defer
        self.drops_left = drop_first
        self.deferred: set[str] = set()
        self.data_commands = 0
        self.delay = delay

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
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
        return await super().handle_DATA(server, session, envelope)
