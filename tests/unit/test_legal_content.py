"""Issue 14 items 8–12: citations that exist, dates in force, wording by rule-set, unverified
entries kept out of letters, and letter style — checked on the bundled catalogue and the
sample letters (goldens hold the full wording)."""

from __future__ import annotations

import html as html_lib
import re
from datetime import date

import pytest

from memoranda.loader import Catalogue
from notifications.contexts import NoticeContext, SubjectLine
from notifications.render import render_notice
from registry.vocabulary import NoticeKind
from tests.factories.notices import RULE_SET_SAMPLES, SAMPLE_CONTEXTS

ART78_MEASURES = {"加大执法检查频次", "暂停项目审批", "上调有关保险费率", "行业或者职业禁入"}


def _rendered() -> list[tuple[NoticeKind, str, str]]:
    """Every sample letter: one per kind and the same kinds under the other rule-sets."""
    contexts = [*SAMPLE_CONTEXTS.items(), *RULE_SET_SAMPLES.values()]
    return [(kind, (r := render_notice(kind, context)).text, r.html) for kind, context in contexts]


# --- item 8: citations ------------------------------------------------------------------


def test_no_source_or_letter_cites_the_document_that_does_not_exist(catalogue: Catalogue) -> None:
    ghost = "联合惩戒措施（安全生产法第七十八条）"
    assert all(ghost not in m.citation for m in catalogue.memoranda.values())
    for _, text, html in _rendered():
        assert ghost not in text
        assert ghost not in html


def test_article_78_lists_only_its_own_measures(catalogue: Catalogue) -> None:
    stated = [
        m
        for memo in catalogue.memoranda.values()
        for m in memo.measures
        if m.basis.article == "第七十八条" and m.status == "confirmed"
    ]
    assert stated
    assert {m.text for m in stated} <= ART78_MEASURES | {"向社会公告严重违法失信信息"}
    assert all(
        "每半年" not in m.text for memo in catalogue.memoranda.values() for m in memo.measures
    )


def test_grounds_of_order_11_are_cited_by_item_never_by_a_made_up_article(
    catalogue: Catalogue,
) -> None:
    for ground in catalogue.rule_sets["mem-2023-serious"].grounds:
        assert "严重失信情形（事故类）" not in ground.article
        assert re.search(r"第（[一二三四五]）项", ground.article)
        # no article number was found in the order's text: a 第X条 would be invented
        assert ground.status == "unverified"
        assert "条" not in ground.article


# --- item 9: dates in force -------------------------------------------------------------


def test_the_2017_rules_take_effect_on_their_issue_dates(catalogue: Catalogue) -> None:
    assert catalogue.rule_sets["saws-2017-sanction"].effective_from == date(2017, 5, 9)
    assert catalogue.rule_sets["saws-2017-incentive"].effective_from == date(2017, 12, 7)
    assert catalogue.rule_set_for("black", date(2017, 5, 8)) is None


@pytest.mark.parametrize(
    ("decided_on", "order"),
    [
        (date(2023, 4, 30), None),
        (date(2023, 11, 1), "国家发展改革委令第58号"),
        (date(2026, 3, 31), "国家发展改革委令第58号"),
        (date(2026, 4, 1), "国家发展改革委令第36号"),
    ],
)
def test_the_repair_rule_is_the_one_in_force_on_the_decision_date(
    catalogue: Catalogue, decided_on: date, order: str | None
) -> None:
    rule = catalogue.repair_rule_for(decided_on)
    assert (rule.instruments[0] if rule else None) == order


# --- item 10: wording by rule-set, one figure per time limit ----------------------------


def test_order_11_speaks_of_a_management_term(catalogue: Catalogue) -> None:
    assert catalogue.rule_sets["mem-2023-serious"].term_word == "管理期限"
    decision = SAMPLE_CONTEXTS[NoticeKind.LISTING_DECISION]
    assert "管理期限3年" in render_notice(NoticeKind.LISTING_DECISION, decision).text


def test_the_partys_objection_window_is_its_own_figure(catalogue: Catalogue) -> None:
    limits = catalogue.time_limits
    assert limits.objection_filing_wd >= 1
    assert not hasattr(limits, "repair_review_wd")  # the repair promise is the tracker's figure


def test_each_repair_condition_is_stated_once() -> None:
    text = render_notice(
        NoticeKind.LISTING_DECISION, SAMPLE_CONTEXTS[NoticeKind.LISTING_DECISION]
    ).text
    repair = text.split("信用修复告知书", 1)[1]
    assert repair.count("信用承诺") == 1


# --- item 11: unverified entries and internal codes -------------------------------------


def test_validate_lists_what_remains_unverified(catalogue: Catalogue) -> None:
    entries = "\n".join(catalogue.unverified_entries())
    assert "csrc-issuance" in entries
    assert "mem-2023-serious 认定依据 A1" in entries


def test_no_internal_code_appears_in_any_letter(catalogue: Catalogue) -> None:
    codes = {m.id for memo in catalogue.memoranda.values() for m in memo.measures}
    codes |= set(catalogue.rule_sets) | set(catalogue.memoranda)
    for kind, text, html in _rendered():
        for code in codes:
            assert code not in text, (kind, code)
            assert code not in html, (kind, code)
        assert not re.search(r"(?<![A-Za-z0-9])(?:[AB][1-5]|S[23]\.\d+) ", text), kind


def _words(text: str) -> str:
    return re.sub(r"[\W_]+", "", text)


TABULAR_DIGESTS = {
    NoticeKind.REMINDER,
    NoticeKind.ESCALATION,
    NoticeKind.PARTY_DEADLINE_REMINDER,
    NoticeKind.PARTY_DEADLINE_ESCALATION,
    NoticeKind.MONTHLY_REPORT,
}
"""Their rows are tables in HTML: the text writes each column's label inline (名单编号SC-…；
逾期环节：响应), the HTML once in the header row — so a row is compared by its values."""
ROW = re.compile(r"^[\s　]*\d+\. ")
VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-.%]*|—")


def _row_values(phrase: str) -> list[str]:
    """What a table row's phrase says, without its column label: its figures, codes and dates
    (名单编号SC-2026-012-001 → SC-2026-012-001, 已逾期3个工作日 → 3, 占比—), or, with none, the
    words after the label (逾期环节：响应 → 响应, a name → the name)."""
    value = phrase.rsplit("：", 1)[-1]
    return VALUE.findall(value) or [_words(value)]


def _samples() -> list[tuple[str, NoticeKind, NoticeContext]]:
    return [(k.value, k, c) for k, c in SAMPLE_CONTEXTS.items()] + [
        (name, k, c) for name, (k, c) in RULE_SET_SAMPLES.items()
    ]


@pytest.mark.parametrize(("name", "kind", "context"), _samples(), ids=[n for n, *_ in _samples()])
def test_text_and_html_carry_the_same_content(
    name: str, kind: NoticeKind, context: NoticeContext
) -> None:
    """Every phrase of the plain-text letter is in the HTML letter too (lists may become
    tables, so phrases are compared without list markers, labels' punctuation or layout; a
    digest's table rows by their values)."""
    rendered = render_notice(kind, context)
    body = rendered.html.split("<body", 1)[-1]
    html = _words(html_lib.unescape(re.sub(r"<[^>]+>", "", body)))
    for line in rendered.text.splitlines():
        tabular = kind in TABULAR_DIGESTS and ROW.match(line)
        line = re.sub(r"^[\s　]*(?:[一二三四五六七八九十]+、|\d+\. )", "", line)
        for phrase in re.split(r"[。；，：、（）\n]" if not tabular else r"[。；，\n]", line):
            if tabular:
                for value in _row_values(phrase):
                    assert _words(value) in html or value in html, (name, phrase)
                continue
            words = _words(phrase)
            if len(words) >= 6:
                assert words in html, (name, phrase)


# --- item 12: letter style --------------------------------------------------------------


def test_a_person_reached_through_the_unit_is_told_so() -> None:
    prior = SAMPLE_CONTEXTS[NoticeKind.PRIOR_NOTICE]
    person = SubjectLine(
        name="王建国",
        kind="person",
        id_masked="110105********1255",
        unit_name="简阳市鑫达化工有限公司",
        care_of_unit=True,
    )
    rendered = render_notice(
        NoticeKind.PRIOR_NOTICE, prior.model_copy(update={"party": person, "facts": None})
    )
    assert "经由你所在单位转交" in rendered.text
    assert "经由你所在单位转交" in rendered.html
    assert "你单位" not in rendered.text.replace("你所在单位", "")


PARTY_LETTERS = [
    NoticeKind.PRIOR_NOTICE,
    NoticeKind.LISTING_DECISION,
    NoticeKind.REJECTION,
    NoticeKind.RED_AWARD,
    NoticeKind.REMOVAL_NOTICE,
    NoticeKind.REMOVAL_WINDOW,
]


PARTY_SAMPLES = [sample for sample in _samples() if sample[1] in PARTY_LETTERS]


@pytest.mark.parametrize(
    ("name", "kind", "context"), PARTY_SAMPLES, ids=[n for n, *_ in PARTY_SAMPLES]
)
def test_one_form_of_address_and_closed_paragraphs(
    name: str, kind: NoticeKind, context: NoticeContext
) -> None:
    text = render_notice(kind, context).text
    assert "你方" not in text
    you = "你单位" if "你单位" in text else "你"
    if you == "你单位":  # a unit's letter never says a bare 你 to it
        assert not re.search(r"你(?!单位|所在单位)", text), name
    for line in text.splitlines():
        if line.startswith("　　") and len(line) > 20 and not line.endswith("："):
            assert line[-1] in "。；：）」”", (name, line)


def test_other_measures_are_other_only_below_measures_the_letter_states() -> None:
    """其他措施按《…》执行 follows a list of stated measures; where every measure of the source is
    unverified (the 2219号 incentives) the letter says 具体措施."""
    said = []
    for kind, text, html in _rendered():
        for body in (text, re.sub(r"<[^>]+>", "\n", html)):
            lines = body.splitlines()
            for i, line in enumerate(lines):
                if "其他措施按" in line:
                    assert any("依据：" in above for above in lines[:i]), (kind, line)
                said.append("具体措施按" in line)
    assert any(said)
