"""USCC classification (DOMAIN.md §5) and resident ID masking and hashing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from registry.errors import IdentifierError
from registry.identifiers import (
    UsccStatus,
    check_resident_id,
    check_uscc,
    is_resident_id,
    mask_resident_id,
    resident_id_hash,
)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("91512081MA62K0260E", UsccStatus.VALID),
        ("91350100M0001TGQXM", UsccStatus.CHECK_MISMATCH),  # Fujian pilot code
        ("91350100M000100Y4Z", UsccStatus.CHECK_MISMATCH),  # check char outside the alphabet
        ("12345", UsccStatus.INVALID_FORMAT),
        ("9135010OM0001TGQXM", UsccStatus.INVALID_FORMAT),  # letter O in the region code
        ("91350100M0001IGQXM", UsccStatus.INVALID_FORMAT),  # I is not in the code alphabet
        (" 9151 2081-MA62K0260E ", UsccStatus.VALID),  # spaces and dashes are compacted
    ],
)
def test_uscc_classification(code: str, status: UsccStatus) -> None:
    assert check_uscc(code).status is status


_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXYIOZSVabc -"


@given(
    st.text(alphabet=_USCC_CHARS, min_size=16, max_size=20)
    | st.builds(
        lambda body: body + uscc.calc_check_digit(body),
        st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=17, max_size=17),
    )
)
def test_uscc_fast_path_agrees_with_stdnum(code: str) -> None:
    """`check_uscc` skips stdnum for codes already in compact form; the verdict must not change."""
    assert (check_uscc(code).status is UsccStatus.VALID) == uscc.is_valid(code)
    if uscc.is_valid(code):
        assert check_uscc(code).code == uscc.compact(code)


def test_check_mismatch_is_a_warning_that_needs_review() -> None:
    result = check_uscc("91350100M0001TGQXM")
    assert result.accepted
    assert result.needs_review
    assert result.expected_check == "1"
    assert "需操作员确认" in result.message


def test_invalid_format_names_the_position() -> None:
    result = check_uscc("9135010OM0001TGQXM")
    assert not result.accepted
    assert "第 8 位" in result.message


def test_resident_id_is_masked_and_hashed_never_kept() -> None:
    person = check_resident_id("11010519491231002X", "key-a")
    assert person.masked == "110105********002X"
    assert person.lookup_hash == resident_id_hash("11010519491231002x", "key-a")
    assert person.lookup_hash != resident_id_hash("11010519491231002X", "key-b")
    assert "19491231" not in person.masked


def test_an_invalid_id_error_shows_only_the_masked_number() -> None:
    with pytest.raises(IdentifierError) as caught:
        check_resident_id("110105194912310021", "key")
    assert "110105********0021" in caught.value.message
    assert "19491231" not in caught.value.message
    assert "19491231" not in str(caught.value.as_dict())


def test_masking_short_or_odd_numbers_hides_the_middle() -> None:
    assert mask_resident_id("1234") == "****"
    assert mask_resident_id("110105491231002") == "1101*********02"


def test_a_region_coded_after_the_birth_year_is_still_a_valid_number() -> None:
    """510104 (锦江区) dates from 1990; a Chengdu resident born in 1968 holds it all the same."""
    body = "51010419681203035"
    number = body + ric.calc_check_digit(body + "0")
    assert not ric.is_valid(number)  # stdnum's stricter reading
    assert is_resident_id(number)
    assert check_resident_id(number, "k").masked == f"510104********{number[-4:]}"
    unknown = "99999919681203035"
    assert not is_resident_id(unknown + ric.calc_check_digit(unknown + "0"))
