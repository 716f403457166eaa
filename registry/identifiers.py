"""Identifiers of DOMAIN.md §5: unified social credit codes and resident identity numbers.

USCC (GB 32100-2015) through `stdnum.cn.uscc`, with one departure: stdnum calls any check
character outside the code alphabet a format error, but early pilot codes (e.g. Fujian's
`91350100M000100Y4Z`) are legal codes whose check character simply does not match. So a code
whose first 17 positions are well formed is a *check mismatch* — a warning an operator must
confirm — whatever its 18th character; only a malformed body or length is a rejection.

Resident ID numbers are personal data: stored only as a keyed hash (for lookups) and a masked
form (`110105********1234`) that is all a person or a log ever sees.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from stdnum import exceptions as stdnum_errors
from stdnum import numdb
from stdnum.cn import ric, uscc

from registry.errors import IdentifierError

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Positions 1-2: registration authority and entity category (digits or code letters);
# 3-8: administrative region code; 9-17: organisation code; 18: check character.
_USCC_BODY = re.compile(rf"^[{_ALPHABET}]{{2}}[0-9]{{6}}[{_ALPHABET}]{{9}}[0-9A-Z]$")
# A code already in compact form that stdnum would accept if its check character matches: the
# shape of nearly every code in an intake file, checked here without stdnum's cleaning pass.
_USCC_COMPACT = re.compile(rf"^[0-9]{{8}}[{_ALPHABET}]{{10}}$")
_USCC_VALUES = {char: value for value, char in enumerate(_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class UsccStatus(StrEnum):
    VALID = "valid"
    CHECK_MISMATCH = "check_mismatch"
    INVALID_FORMAT = "invalid_format"


@dataclass(frozen=True)
class UsccCheck:
    code: str
    status: UsccStatus
    message: str
    expected_check: str | None = None

    @property
    def accepted(self) -> bool:
        """Valid, or a check mismatch an operator may confirm."""
        return self.status is not UsccStatus.INVALID_FORMAT

    @property
    def needs_review(self) -> bool:
        return self.status is UsccStatus.CHECK_MISMATCH


def check_uscc(raw: str) -> UsccCheck:
    """Classify a USCC as valid, check mismatch (warning) or invalid format (rejection)."""
    if _USCC_COMPACT.match(raw) and raw[-1] == _uscc_check_character(raw):
        return UsccCheck(raw, UsccStatus.VALID, _USCC_VALID)
    code = uscc.compact(raw)
    try:
        uscc.validate(code)
    except stdnum_errors.ValidationError:
        return _classify_invalid(code)
    return UsccCheck(code, UsccStatus.VALID, _USCC_VALID)


_USCC_VALID = "统一社会信用代码有效（valid）"


def _uscc_check_character(code: str) -> str:
    """GB 32100-2015 check character (as `stdnum.cn.uscc.calc_check_digit`, without cleaning)."""
    total = sum(
        _USCC_VALUES[char] * weight for char, weight in zip(code[:17], _USCC_WEIGHTS, strict=True)
    )
    return _ALPHABET[(31 - total) % 31]


def _classify_invalid(code: str) -> UsccCheck:
    """A code stdnum refused: a malformed body is a rejection, a bad check char a warning."""
    if len(code) != 18:
        return UsccCheck(
            code,
            UsccStatus.INVALID_FORMAT,
            f"格式错误：应为18位，实际 {len(code)} 位（invalid length: {len(code)}, expected 18）",
        )
    if not _USCC_BODY.match(code):
        position = _first_bad_position(code)
        return UsccCheck(
            code,
            UsccStatus.INVALID_FORMAT,
            f"格式错误：第 {position} 位字符 {code[position - 1]!r} 不合规"
            f"（invalid character at position {position}）",
        )
    expected = uscc.calc_check_digit(code)
    return UsccCheck(
        code,
        UsccStatus.CHECK_MISMATCH,
        f"校验位不符：应为 {expected}，实际 {code[-1]}；早期试点代码可能合法，需操作员确认"
        f"（check character mismatch: expected {expected}, got {code[-1]}; needs operator review）",
        expected_check=expected,
    )


def _first_bad_position(code: str) -> int:
    for index, char in enumerate(code[:17]):
        allowed = "0123456789" if 2 <= index < 8 else _ALPHABET
        if char not in allowed:
            return index + 1
    return 18


@dataclass(frozen=True)
class ResidentId:
    """A resident ID number reduced to what may be stored: its hash and its masked form."""

    masked: str
    lookup_hash: str


def mask_resident_id(number: str) -> str:
    """`110105199001011234` → `110105********1234`; anything else keeps at most 4 + 2 chars."""
    compact = ric.compact(number)
    if len(compact) == 18:
        return f"{compact[:6]}********{compact[-4:]}"
    if len(compact) <= 6:
        return "*" * len(compact)
    return f"{compact[:4]}{'*' * (len(compact) - 6)}{compact[-2:]}"


def resident_id_hash(number: str, key: str) -> str:
    """HMAC-SHA256 under the configured key: equal numbers match, the number is not recoverable."""
    compact = ric.compact(number)
    return hmac.new(key.encode(), compact.encode(), hashlib.sha256).hexdigest()


def validate_resident_id(number: str) -> str:
    """The compact number if it is a resident ID number: 18 characters, check digit, birth date,
    and a region code that exists in the national division list.

    Departure from `stdnum.cn.ric.validate`: stdnum also requires the region code to have existed
    in the person's birth year, but the code is that of the household registration when the
    card was issued — a person born in 1968 in Chengdu holds 510104 (锦江区, coded 1990) — so
    stdnum refuses genuine numbers. We accept a region code valid in any period.
    """
    compact = number if len(number) == 18 and number.isascii() else ric.compact(number)
    if len(compact) != 18 or not compact[:17].isdigit():
        raise stdnum_errors.InvalidFormat()
    if compact[-1] != ric.calc_check_digit(compact):
        raise stdnum_errors.InvalidChecksum()
    ric.get_birth_date(compact)
    if not _known_region(compact[:6]):
        raise stdnum_errors.InvalidComponent()
    return compact


@functools.lru_cache(maxsize=8192)
def _known_region(code: str) -> bool:
    """Whether the division list knows the region code in any period (a file repeats a few
    hundred codes; the list lookup costs ~0.4 ms)."""
    return bool(numdb.get("cn/loc").info(code)[-1][1])


def resident_birth_date(number: str) -> date:
    """The birth date a (validated) resident ID number carries."""
    return ric.get_birth_date(number)


def is_resident_id(number: str) -> bool:
    try:
        validate_resident_id(number)
    except stdnum_errors.ValidationError:
        return False
    return True


def check_resident_id(number: str, key: str) -> ResidentId:
    """Validate a resident ID number; the error names only the masked form, never the number."""
    try:
        valid = validate_resident_id(number)
    except stdnum_errors.InvalidChecksum as exc:
        raise _id_error(number, "校验位不符（checksum mismatch）") from exc
    except stdnum_errors.InvalidComponent as exc:
        raise _id_error(number, "出生日期或地区码无效（invalid birth date or region）") from exc
    except stdnum_errors.ValidationError as exc:
        raise _id_error(
            number, "格式错误：应为18位（invalid format, expected 18 characters）"
        ) from exc
    return ResidentId(masked=mask_resident_id(valid), lookup_hash=resident_id_hash(valid, key))


def _id_error(number: str, reason: str) -> IdentifierError:
    masked = mask_resident_id(number)
    return IdentifierError(f"身份证号 {masked} 无效：{reason}", masked=masked, reason=reason)


def shown_identifier(text: str) -> str:
    """What may be printed back of an identifier someone typed: a USCC with letters as is; a
    digit-led value masked, since a mistyped ID number (a wrong check digit reads as a pilot
    USCC) is still personal data."""
    if check_uscc(text).accepted and not text[:17].isdigit():
        return text  # letters among the first 17: a USCC, never an ID number
    return mask_resident_id(text) if re.search(r"\d{6,}", text) else text
