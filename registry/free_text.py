"""What may be stored of text a person typed: resident ID numbers masked, one line where one line
is meant.

Every free-text value that reaches the database — an objector's name, a reviewer, a reporter,
reasons, evidence, a commitment, a decision number, an audit event's actor and detail — passes
through here at the core function that stores it, so the CLI, the Prefect forms and imports are
covered alike (DOMAIN.md §5: a resident ID number is personal data; it is kept only as the
subject's keyed hash and masked form).

- `clean_free_text` masks every run that has the shape of a resident ID number — 18 characters
  (17 digits and a digit or X) or the 15-digit first-generation number, also typed with single
  spaces or hyphens inside — when its birth date is plausible or its check digit is right, in
  the form of `identifiers.mask_resident_id` (`510104********0351`). A mistyped number is still
  personal data, so the check digit alone does not decide; a date-shaped 18-digit code that is
  not an ID number loses its middle digits, which costs a reader little. It also removes control
  characters (NUL is refused by PostgreSQL, the others are invisible) and turns CRLF and CR into
  LF.
- `clean_single_line` does the same and joins the lines: CR, LF, VT, FF, NEL (U+0085) and the
  Unicode line and paragraph separators (U+2028/2029) become one space. Decision numbers, names
  and actors go into letters, subjects and logs, where a line break would start a new "header".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, overload

from stdnum.cn import ric

from registry.identifiers import mask_resident_id

_SEP = r"[ \-]?"
_ID_SHAPED = re.compile(
    r"(?<![0-9A-Za-z])"
    r"(?:\d(?:" + _SEP + r"\d){16}" + _SEP + r"[0-9Xx]"  # 18 characters
    r"|\d(?:" + _SEP + r"\d){14})"  # 15 digits (first-generation cards)
    r"(?![0-9A-Za-z])"
)
_LINE_BREAKS = re.compile(r"(?:\r\n|[\r\n\x0b\x0c\x85\u2028\u2029])+")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
"""Unicode category Cc (and lone surrogates) except TAB and LF."""


def _plausible_date(year: int, month: int, day: int) -> bool:
    return 1870 <= year <= 2199 and 1 <= month <= 12 and 1 <= day <= 31


def _looks_like_resident_id(compact: str) -> bool:
    if len(compact) == 18:
        digits = compact[:17]
        if _plausible_date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14])):
            return True
        return bool(ric.calc_check_digit(compact) == compact[-1])
    return _plausible_date(1900 + int(compact[6:8]), int(compact[8:10]), int(compact[10:12]))


def _mask_match(match: re.Match[str]) -> str:
    compact = re.sub(r"[ \-]", "", match.group()).upper()
    return mask_resident_id(compact) if _looks_like_resident_id(compact) else match.group()


def mask_resident_ids(text: str) -> str:
    """Every resident-ID-shaped run in `text` masked; nothing else changed."""
    return _ID_SHAPED.sub(_mask_match, text)


def _without_controls(text: str) -> str:
    return _CONTROLS.sub("", text)


@overload
def clean_free_text(value: str) -> str: ...
@overload
def clean_free_text(value: None) -> None: ...
def clean_free_text(value: str | None) -> str | None:
    """Multi-line text as it may be stored: IDs masked, CRLF/CR as LF, other controls removed."""
    if value is None:
        return None
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    for separator in ("\x0b", "\x0c", "\x85", "\u2028", "\u2029"):
        text = text.replace(separator, "\n")
    return mask_resident_ids(_without_controls(text))


@overload
def clean_single_line(value: str) -> str: ...
@overload
def clean_single_line(value: None) -> None: ...
def clean_single_line(value: str | None) -> str | None:
    """One-line text as it may be stored: IDs masked, every line break and control character
    gone (line breaks become one space), surrounding whitespace stripped."""
    if value is None:
        return None
    joined = _LINE_BREAKS.sub(" ", value).replace("\t", " ")
    return mask_resident_ids(_without_controls(joined)).strip()


def clean_json(value: Any) -> Any:
    """An audit event's detail with every string in it through `clean_free_text` (keys too)."""
    if isinstance(value, str):
        return clean_free_text(value)
    if isinstance(value, Mapping):
        return {clean_json(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value
