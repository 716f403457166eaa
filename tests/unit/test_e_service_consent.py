"""同意电子送达 at intake: yes/no in Chinese or English, empty is no, anything else refuses the
row naming the field (行政处罚法第六十一条: e-mail service needs the party's consent)."""

from __future__ import annotations

from datetime import date

import pytest

from memoranda.loader import Catalogue
from registry.intake.rows import RowRules, ValidRow, validate_row
from registry.service_of_notices import is_party_kind
from registry.vocabulary import NoticeKind

ROW = {
    "list_type": "黑名单",
    "subject_kind": "单位",
    "name": "样本化工有限公司",
    "uscc": "91320500MA1MXQ4E7B",
    "grounds": "A4",
    "decision_date": "2026-10-20",
}


@pytest.mark.parametrize(
    ("cell", "consent"),
    [
        ("是", True),
        ("yes", True),
        ("TRUE", True),
        ("1", True),
        ("ｙｅｓ", True),  # full-width, as an IME types it
        ("是 ", True),
        ("Ｙ", True),
        ("否", False),
        ("no", False),
        ("false", False),
        ("0", False),
        ("", False),
        (None, False),
    ],
)
def test_consent_values(catalogue: Catalogue, cell: str | None, consent: bool) -> None:
    values = dict(ROW) if cell is None else {**ROW, "e_service_consent": cell}
    row = validate_row(values, RowRules(catalogue, "k" * 32, date(2026, 11, 2)))
    assert isinstance(row, ValidRow)
    assert row.e_service_consent is consent


def test_a_value_that_is_neither_yes_nor_no_refuses_the_row(catalogue: Catalogue) -> None:
    problems = validate_row(
        {**ROW, "e_service_consent": "也许"}, RowRules(catalogue, "k" * 32, date(2026, 11, 2))
    )
    assert isinstance(problems, tuple)
    assert [p.field for p in problems] == ["e_service_consent"]
    assert "同意电子送达应为 是 或 否" in problems[0].reason_zh


def test_every_letter_kind_is_classified_as_to_a_party_or_to_an_office() -> None:
    """Only letters to parties need consent and a service record; the restore letter and the
    party-case reminders go to departments and to our own offices (a new kind must be placed)."""
    party = {
        NoticeKind.PRIOR_NOTICE,
        NoticeKind.LISTING_DECISION,
        NoticeKind.REJECTION,
        NoticeKind.REMOVAL_NOTICE,
        NoticeKind.REMOVAL_WINDOW,
        NoticeKind.RED_AWARD,
        NoticeKind.OBJECTION_REPLY,
        NoticeKind.REMOVAL_REFUSAL,
        NoticeKind.RESTORE_NOTICE,
    }
    assert {k for k in NoticeKind if is_party_kind(k.value)} == party
