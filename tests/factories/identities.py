"""Resident ID numbers that pass every check, and a search for any trace of them in text."""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Iterable
from datetime import date

from stdnum.cn import ric

from registry.identifiers import check_resident_id, mask_resident_id

KEY = "security-test-id-hash-key"
LONG_DIGIT_RUN = re.compile(r"\d{15,}")
HEX_DIGEST = re.compile(r"(?<![0-9A-Za-z])(?=[0-9a-f]*[a-f])[0-9a-f]{32,}(?![0-9A-Za-z])")
REGIONS = ("510104", "110105", "330106", "440305")  # existing county codes (stdnum's cn/loc)


def new_resident_id(rng: random.Random) -> str:
    """A number that passes every check: region, a birth date in 1960–1979, check digit.

    Births before 1980 keep the 8-digit birth date (`19xxxxxx`) apart from anything the system
    itself writes (dates of 2026 onwards), so finding it anywhere means it leaked.
    """
    born = date.fromordinal(
        rng.randint(date(1960, 1, 1).toordinal(), date(1979, 12, 31).toordinal())
    )
    body = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    number = body + ric.calc_check_digit(body + "0")  # stdnum ignores the last character
    assert check_resident_id(number, KEY).masked == mask_resident_id(number)
    return number


def leaks(text: str, raw_ids: Iterable[str]) -> list[str]:
    """Whatever of these ID numbers `text` shows: the number, its birth date, any long run of
    digits (an ID number cut or glued to others is still one).

    Full-width digits count (NFKC), and a final `x` as much as `X`.
    """
    plain = unicodedata.normalize("NFKC", text)
    found = [piece for raw in raw_ids for piece in (raw, raw.lower(), raw[6:14]) if piece in plain]
    # Hex digests (audit hashes, lookup hashes) have digit runs by chance, and a run of one
    # repeated digit is a placeholder (the audit chain's genesis hash): neither is a person.
    runs = LONG_DIGIT_RUN.findall(HEX_DIGEST.sub(" ", plain))
    return found + [run for run in runs if len(set(run)) > 1]
