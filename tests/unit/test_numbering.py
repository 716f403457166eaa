"""How numbers are written (`registry.numbering`) and configured (JOINTCREDIT_NUMBER_*)."""

from __future__ import annotations

import pytest

from registry.errors import ConfigurationError
from registry.models import ListType
from registry.numbering import (
    DECISION_KINDS,
    DEFAULT_WORDS,
    Numbering,
    NumberingError,
    checked_words,
    default_prefix,
)
from registry.settings import Settings, get_settings
from registry.vocabulary import NoticeKind


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_every_notice_kind_has_a_number_word(kind: NoticeKind) -> None:
    """A new kind of letter without a word would go out without a 发文字号: add its word to
    `registry.vocabulary.NOTICE_NUMBER_WORDS`."""
    assert DEFAULT_WORDS.get(kind), f"no 发文字号 word for {kind}"


def test_the_words_are_distinct_so_no_two_kinds_print_alike() -> None:
    assert len(set(DEFAULT_WORDS.values())) == len(DEFAULT_WORDS)


def test_every_list_type_numbers_its_decisions_from_a_letter_kind() -> None:
    assert set(DECISION_KINDS) == {t.value for t in ListType}


def test_a_number_is_prefix_word_year_in_hexagonal_brackets_and_sequence() -> None:
    book = Numbering.for_authority("四川省应急管理厅", "川应急")
    assert book.render(NoticeKind.PRIOR_NOTICE, 2026, 3) == "川应急信告〔2026〕3号"
    assert book.render(NoticeKind.LISTING_DECISION, 2027, 12) == "川应急信列〔2027〕12号"


def test_the_default_prefix_is_the_authority_without_its_suffix() -> None:
    assert default_prefix("应急管理局") == "应急"
    assert default_prefix("四川省应急管理厅") == "四川省应急"
    assert Numbering.for_authority("应急管理局").prefix == "应急"


def test_a_kind_without_a_word_takes_no_number() -> None:
    book = Numbering(authority="x", prefix="测", words={})
    with pytest.raises(NumberingError, match="没有发文字号代字"):
        book.render("prior_notice", 2026, 1)


def test_words_can_be_overridden_but_not_for_unknown_kinds_or_with_brackets() -> None:
    assert checked_words({"listing_decision": "信决"})["listing_decision"] == "信决"
    with pytest.raises(NumberingError, match="未知的文书类型"):
        checked_words({"decision": "信决"})
    with pytest.raises(NumberingError, match="不含空格、括号"):
        checked_words({"reminder": "催〔"})


def test_settings_build_the_numbering_and_refuse_bad_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOINTCREDIT_AUTHORITY_NAME", "四川省应急管理厅")
    monkeypatch.setenv("JOINTCREDIT_NUMBER_PREFIX", "川应急")
    monkeypatch.setenv("JOINTCREDIT_NUMBER_WORDS", '{"reminder": "信催办"}')
    numbering = Settings(_env_file=None).numbering  # type: ignore[call-arg]
    assert numbering.authority == "四川省应急管理厅"
    assert numbering.render("reminder", 2026, 1) == "川应急信催办〔2026〕1号"
    monkeypatch.setenv("JOINTCREDIT_NUMBER_WORDS", '{"notice": "信"}')
    with pytest.raises(ConfigurationError, match="JOINTCREDIT_NUMBER_WORDS"):
        get_settings()
    monkeypatch.delenv("JOINTCREDIT_NUMBER_WORDS")
    monkeypatch.setenv("JOINTCREDIT_NUMBER_PREFIX", "川 应急")
    with pytest.raises(ConfigurationError, match="JOINTCREDIT_NUMBER_PREFIX"):
        get_settings()


def test_two_kinds_may_not_share_a_word() -> None:
    """Two sequences printing one word would repeat each other's numbers."""
    with pytest.raises(NumberingError, match="用字重复"):
        checked_words({"prior_notice": "信列"})
