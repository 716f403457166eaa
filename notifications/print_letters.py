"""Printable letters for post or in-person service (行政处罚法第六十一条: without the party's
consent a letter is not served by e-mail).

A letter stored on the `post` channel keeps the HTML the e-mail would have carried; printing
takes its body — rendered and autoescaped once, when the letter was composed — and places it on
an A4 print layout with a 送达回证 (proof of service) under it: one file per letter, one file
with every letter (a page break between them) and an index of who must be served. Pure: the
caller reads the rows and writes the files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from notifications.render import notice_environment

_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class PrintableLetter:
    """One stored letter and what the index and the proof of service name."""

    notice_id: int
    kind_label: str
    letter_number: str | None
    recipient_name: str
    listing_reference: str
    subject: str
    body_html: str
    service: str

    @property
    def file_name(self) -> str:
        return f"notice-{self.notice_id}.html"

    @property
    def body(self) -> Markup:
        """The stored letter's body: our own render, autoescaped when it was composed."""
        found = _BODY.search(self.body_html)
        return Markup(found.group(1) if found else self.body_html)


def letters_html(letters: Sequence[PrintableLetter]) -> str:
    """One printable document: each letter with its proof of service, a page per letter."""
    return notice_environment().get_template("print/letter.html").render(letters=list(letters))


def index_html(letters: Sequence[PrintableLetter]) -> str:
    """Who must be served: each letter, its party, listing, service so far and file."""
    return notice_environment().get_template("print/index.html").render(letters=list(letters))
