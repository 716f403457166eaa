"""What may be stored of text a person typed: resident ID numbers masked, one line where one line
is meant.

Every free-text value that reaches the database — an objector's name, a reviewer, a reporter,
reasons, evidence, a commitment, a decision number, an audit event's actor and detail — passes
through here at the core function that stores it, so the CLI, the Prefect forms and imports are
covered alike (DOMAIN.md §5: a resident ID number is personal data; it is kept only as the
subject's keyed hash and masked form).

- `clean_free_text` masks every run that has the shape of a resident ID number — 18 characters
  (17 digits and a digit or X) or the 15-digit first-generation number — when its birth date is
  plausible or its check digit is right, in the form of `identifiers.mask_resident_id`
  (`510104********0351`). A mistyped number is still personal data, so the check digit alone
  does not decide; a date-shaped 18-digit code that is not an ID number loses its middle digits,
  which costs a reader little. The number is found however it was typed (`resident_id_spans`):
  digits and the check letter in any compatibility form (full-width `５１０…`, `Ｘ`, other
  scripts' decimal digits), any run of separators between digits (whitespace including U+3000
  and NBSP, zero-width and other format characters, hyphens and dashes including `－`, `.`, `_`,
  `/`, `,`, `、`, `·`), and glued to letters (`ID510104…`). Detection runs on a normalised
  shadow of the text; only the span of the number is replaced, so everything else stays as the
  operator typed it (full-width punctuation included). Inside a longer run of digits, any 18 of
  them that validate as an ID number (`identifiers.is_resident_id`) are masked too. It also
  removes control characters (NUL is refused by PostgreSQL, the others are invisible) and turns
  CRLF and CR into LF.
- The renderer's last check (`notifications.render`) uses the same detection through
  `unmasked_resident_id`, with the strict rule only: whatever it refuses, the cleaner masks, so
  a letter built from cleaned text is never refused for a number the cleaner left.
- `clean_single_line` does the same and joins the lines: CR, LF, VT, FF, NEL (U+0085) and the
  Unicode line and paragraph separators (U+2028/2029) become one space. Decision numbers, names
  and actors go into letters, subjects and logs, where a line break would start a new "header".
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, overload

from stdnum.cn import ric

from registry.identifiers import is_resident_id, mask_resident_id

_STREAM = re.compile(r"[0-9](?: *[0-9])*(?: *X)?")
"""A run of digits on the shadow (`_shadow`), any separators between, an optional check letter."""
_DIGIT_LIKE = re.compile(
    r"[\d\u00b2\u00b3\u00b9\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468\u24ea]"
)
"""Every character `_shadow` turns into a digit (decimal digits, and those NFKC makes digits)."""
_LINE_BREAKS = re.compile(r"(?:\r\n|[\r\n\x0b\x0c\x85\u2028\u2029])+")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
"""Unicode category Cc (and lone surrogates) except TAB and LF."""
_SEPARATORS = frozenset("._/,、·・\u2212\u2022")
"""Besides whitespace, format characters (Cf: zero-width and the like) and dashes (Pd)."""
_CHECK_LETTERS = frozenset("Xx\u0425\u0445\u03a7\u03c7\u00d7")
"""X, and the letters and sign that look like it (Cyrillic Х х, Greek Χ χ, ×); NFKC adds Ｘ ｘ."""


@functools.cache
def _shadow_char(char: str) -> str:
    """A digit as its ASCII digit, a check letter as X, a separator as a space, else `#`."""
    normal = unicodedata.normalize("NFKC", char)
    if len(normal) != 1:
        normal = char
    digit = unicodedata.decimal(normal, None)
    if digit is not None:
        return str(digit)
    if normal in _CHECK_LETTERS or char in _CHECK_LETTERS:
        return "X"
    if (
        normal.isspace()
        or normal in _SEPARATORS
        or unicodedata.category(normal) in ("Cf", "Pd", "Zs")
    ):
        return " "
    return "#"


def _shadow(text: str) -> str:
    """`text` normalised for detection, one character for one: positions are the original's."""
    return text.translate({ord(char): _shadow_char(char) for char in set(text)})


def _plausible_date(year: int, month: int, day: int) -> bool:
    return 1870 <= year <= 2199 and 1 <= month <= 12 and 1 <= day <= 31


def _looks_like_resident_id(compact: str) -> bool:
    if len(compact) == 18:
        digits = compact[:17]
        if _plausible_date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14])):
            return True
        return bool(ric.calc_check_digit(compact) == compact[-1])
    return _plausible_date(1900 + int(compact[6:8]), int(compact[8:10]), int(compact[10:12]))


@dataclass(frozen=True, slots=True)
class IdSpan:
    """Where a resident ID number sits in a text (`text[start:end]`) and its compact ASCII form."""

    start: int
    end: int
    number: str
    valid: bool
    """It validates as an ID number (check digit, birth date, region), not only looks like one."""


def resident_id_spans(text: str) -> list[IdSpan]:
    """Every number in `text` that is or looks like a resident ID number, left to right, none
    overlapping (the longer first where two start together).

    Candidates are the 18- and 15-character runs bounded by the edges of digit groups — a group
    is digits typed together, groups are parted by separators; letters around do not count —
    taken if they look like a number (`_looks_like_resident_id`), and any 18 consecutive
    characters of a longer run taken only if they validate (`identifiers.is_resident_id`).
    """
    if len(text) < 15 or len(_DIGIT_LIKE.findall(text)) < 15:
        return []  # the common case, and the fast one: too few digits to hold a number
    shadow = _shadow(text)
    found: list[IdSpan] = []
    for stream in _STREAM.finditer(shadow):
        positions = [stream.start() + i for i, c in enumerate(stream.group()) if c != " "]
        if len(positions) < 15:
            continue
        chars = "".join(shadow[p] for p in positions)
        found.extend(_candidates(positions, chars))
    found.sort(key=lambda span: (span.start, -span.end))
    chosen: list[IdSpan] = []
    for span in found:
        if not chosen or span.start >= chosen[-1].end:
            chosen.append(span)
    return chosen


def _candidates(positions: list[int], chars: str) -> list[IdSpan]:
    count = len(chars)
    starts = [k for k in range(count) if k == 0 or positions[k] - positions[k - 1] > 1]
    ends = {k for k in range(count) if k == count - 1 or positions[k + 1] - positions[k] > 1}
    spans: list[IdSpan] = []
    for first in starts:
        for length in (15, 18):
            last = first + length - 1
            number = chars[first : last + 1]
            shaped = "X" not in number[: 17 if length == 18 else 15]
            if last in ends and shaped and _looks_like_resident_id(number):
                valid = length == 18 and is_resident_id(number)
                spans.append(IdSpan(positions[first], positions[last] + 1, number, valid))
    for first in range(count - 17):
        number = chars[first : first + 18]
        if "X" not in number[:-1] and is_resident_id(number):
            spans.append(IdSpan(positions[first], positions[first + 17] + 1, number, True))
    return spans


def _mask_once(text: str) -> str:
    parts: list[str] = []
    done = 0
    for span in resident_id_spans(text):
        parts += [text[done : span.start], mask_resident_id(span.number)]
        done = span.end
    return "".join(parts) + text[done:]


def mask_resident_ids(text: str) -> str:
    """Every resident-ID-shaped number in `text` masked; nothing else changed.

    Repeated until nothing more is found: a number skipped because it overlapped one masked
    keeps its first six digits, which may still complete one with the digits before it.
    """
    while True:
        masked = _mask_once(text)
        if masked == text:
            return text
        text = masked


def unmasked_resident_id(text: str) -> str | None:
    """The masked form of the first number in `text` that validates as a resident ID number, if
    any: what a letter must never contain. The cleaner masks every such number."""
    for span in resident_id_spans(text):
        if span.valid:
            return mask_resident_id(span.number)
    return None


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


def same_person(written: str, other: str) -> bool:
    """Whether two written names name the same person, as a reader sees them: compatibility
    forms folded (NFKC: a full-width space is a space), invisible format characters (zero-width
    space, bidi marks: Unicode category Cf) dropped, every run of whitespace (a no-break space
    too) one space, case ignored. The four-eyes rule (DESIGN.md: reviewer ≠ proposer) must not
    be passed by a character nobody can see."""
    return _person_key(written) == _person_key(other)


def _person_key(name: str) -> str:
    normal = unicodedata.normalize("NFKC", name)
    visible = "".join(c for c in normal if unicodedata.category(c) != "Cf")
    return " ".join(visible.split()).casefold()


def clean_json(value: Any) -> Any:
    """An audit event's detail with every string in it through `clean_free_text` (keys too)."""
    if isinstance(value, str):
        return clean_free_text(value)
    if isinstance(value, Mapping):
        return {clean_json(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value
