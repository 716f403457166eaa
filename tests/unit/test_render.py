"""Official notices: golden output per kind, and what render_notice guarantees whatever the data.

Goldens live in `golden/notices/<kind>.{subject,txt,html}`; run with JOINTCREDIT_UPDATE_GOLDEN=1
to rewrite them after an intended template change, then read the diff like a letter.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from stdnum.cn import ric

from notifications.contexts import DueDate, PriorNoticeContext, SubjectLine
from notifications.render import (
    SUBJECT_MAX_CHARS,
    TEMPLATE_DIR,
    NoticeContentError,
    chinese_date,
    chinese_ordinal,
    context_model,
    due_date_label,
    percent_label,
    render_notice,
    term_label,
)
from registry.calendar import Deadline
from registry.vocabulary import NoticeKind
from tests.conftest import REPO
from tests.factories.notices import RULE_SET_SAMPLES, SAMPLE_CONTEXTS

GOLDEN_DIR = Path(__file__).parent / "golden" / "notices"
UPDATE_GOLDEN = os.environ.get("JOINTCREDIT_UPDATE_GOLDEN") == "1"
VALID_ID = "110105199003071255"  # passes the GB 11643 check: must never reach a notice unmasked

PRIOR = SAMPLE_CONTEXTS[NoticeKind.PRIOR_NOTICE]
assert isinstance(PRIOR, PriorNoticeContext)


def _with_party_name(name: str) -> PriorNoticeContext:
    return PRIOR.model_copy(update={"party": PRIOR.party.model_copy(update={"name": name})})


# --- golden output -----------------------------------------------------------------------


GOLDEN_SAMPLES = {
    kind.value: (kind, SAMPLE_CONTEXTS[kind]) for kind in NoticeKind
} | RULE_SET_SAMPLES
"""`<kind>` is the 令第11号 letter; `<kind>--<rule-set>[--…]` the same kind under another rule-set
or repair rule (tests/factories/notices.py `RULE_SET_SAMPLES`)."""


@pytest.mark.parametrize("name", list(GOLDEN_SAMPLES))
def test_sample_renders_as_its_golden_letter(name: str) -> None:
    kind, context = GOLDEN_SAMPLES[name]
    rendered = render_notice(kind, context)
    parts = {"subject": rendered.subject, "txt": rendered.text, "html": rendered.html}
    for suffix, content in parts.items():
        golden = GOLDEN_DIR / f"{name}.{suffix}"
        if UPDATE_GOLDEN:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_bytes(content.encode("utf-8"))
            continue
        assert golden.exists(), f"missing {golden.name}: run with JOINTCREDIT_UPDATE_GOLDEN=1"
        assert content == golden.read_bytes().decode("utf-8"), f"{golden.name} differs"


def test_every_kind_has_a_model_a_sample_and_templates() -> None:
    assert set(SAMPLE_CONTEXTS) == set(NoticeKind)
    models = {kind: context_model(kind) for kind in NoticeKind}
    assert len(set(models.values())) == len(NoticeKind), "two kinds share a context model"
    for kind in NoticeKind:
        assert isinstance(SAMPLE_CONTEXTS[kind], models[kind])
        for suffix in ("subject", "txt", "html"):
            assert (TEMPLATE_DIR / f"{kind.value}.{suffix}").is_file()


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_a_context_of_another_kind_is_refused(kind: NoticeKind) -> None:
    kinds = list(NoticeKind)
    other = kinds[(kinds.index(kind) + 1) % len(kinds)]
    with pytest.raises(NoticeContentError) as refused:
        render_notice(kind, SAMPLE_CONTEXTS[other])
    assert refused.value.fields["kind"] == kind.value


def test_a_provisional_due_date_is_marked_and_explained() -> None:
    dispatch = render_notice(
        NoticeKind.DEPARTMENT_DISPATCH, SAMPLE_CONTEXTS[NoticeKind.DEPARTMENT_DISPATCH]
    )
    for body in (dispatch.text, dispatch.html):
        assert "2027年1月12日（暂定）" in body
        assert "注：标注“（暂定）”的日期" in body
    prior = render_notice(NoticeKind.PRIOR_NOTICE, PRIOR)
    assert "暂定" not in prior.text + prior.html


# --- escaping and header safety ----------------------------------------------------------


def test_markup_in_a_name_is_escaped_in_html_and_kept_in_text() -> None:
    name = "<script>alert(1)</script>"
    rendered = render_notice(NoticeKind.PRIOR_NOTICE, _with_party_name(name))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "<script" not in rendered.html
    assert f"{name}：" in rendered.text


def test_a_line_break_in_a_name_cannot_inject_a_header() -> None:
    rendered = render_notice(
        NoticeKind.PRIOR_NOTICE, _with_party_name("简阳市鑫达化工有限公司\r\nBcc: x@y")
    )
    assert "\r" not in rendered.subject
    assert "\n" not in rendered.subject
    assert "简阳市鑫达化工有限公司 Bcc: x@y" in rendered.subject


def test_a_long_subject_is_cut_with_an_ellipsis() -> None:
    rendered = render_notice(NoticeKind.PRIOR_NOTICE, _with_party_name("鑫" * 300))
    assert len(rendered.subject) == SUBJECT_MAX_CHARS
    assert rendered.subject.endswith("…")


# --- personal data -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "leak",
    [
        f"当事人身份证号{VALID_ID}。",
        f"编号9{VALID_ID}7",  # glued to other digits
        VALID_ID.translate(str.maketrans("0123456789", "０１２３４５６７８９")),  # full width
    ],
)
def test_an_unmasked_id_number_in_free_text_fails_the_render(leak: str) -> None:
    context = PRIOR.model_copy(update={"facts": leak})
    with pytest.raises(NoticeContentError) as refused:
        render_notice(NoticeKind.PRIOR_NOTICE, context)
    assert VALID_ID not in refused.value.message
    assert refused.value.fields["masked"] == "110105********1255"


def test_a_raw_id_number_cannot_enter_a_context() -> None:
    with pytest.raises(ValidationError):
        SubjectLine(name="王建国", kind="person", id_masked=VALID_ID)


def test_identifiers_must_fit_the_subject_kind() -> None:
    with pytest.raises(ValidationError):
        SubjectLine(name="王建国", kind="person", uscc="91512081MA62K0260E")
    with pytest.raises(ValidationError):
        SubjectLine(name="简阳市鑫达化工有限公司", kind="unit", id_masked="110105********1255")


# --- filters -----------------------------------------------------------------------------


def test_dates_labels_and_numbers_read_as_chinese() -> None:
    assert chinese_date(date(2026, 12, 4)) == "2026年12月4日"
    provisional = DueDate(due=date(2027, 1, 12), provisional=True)
    assert due_date_label(provisional) == "2027年1月12日（暂定）"
    assert due_date_label(DueDate(due=date(2026, 12, 21))) == "2026年12月21日"
    ordinals = [chinese_ordinal(n) for n in (1, 10, 12, 20, 23)]
    assert ordinals == ["一", "十", "十二", "二十", "二十三"]
    assert (term_label(36), term_label(18)) == ("3年", "18个月")
    assert (percent_label(0.5), percent_label(2 / 7), percent_label(None)) == ("50%", "28.6%", "—")


def test_a_registry_deadline_becomes_a_due_date() -> None:
    deadline = Deadline(due=date(2027, 1, 12), provisional=True, unknown_years=(2027,))
    due = DueDate.model_validate(deadline, from_attributes=True)
    assert due == DueDate(due=date(2027, 1, 12), provisional=True)


def test_the_environment_is_built_on_first_use_not_at_import() -> None:
    probe = (
        "import notifications.render as r; "
        "assert r.notice_environment.cache_info().currsize == 0; "
        "import sys; assert 'prefect' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", probe], cwd=REPO, check=True)


# --- property: any text in any field -----------------------------------------------------


def _is_free_text(info: FieldInfo) -> bool:
    """Plain strings; identifiers with a format (USCC, masked ID, codes, mailboxes) are not."""
    if info.annotation == list[str]:
        return True
    return info.annotation in (str, str | None) and not info.metadata


def _scrambled(draw: st.DrawFn, value: Any, drawn: list[str]) -> Any:
    """The same context with every free-text string replaced by arbitrary Unicode text."""
    if isinstance(value, list):
        return [_scrambled(draw, item, drawn) for item in value]
    if not isinstance(value, BaseModel):
        return value
    fields = dict(value)
    for name, info in type(value).model_fields.items():
        current = fields[name]
        if _is_free_text(info) and isinstance(current, str | list):
            new: Any = (
                draw(st.text()) if isinstance(current, str) else [draw(st.text()) for _ in current]
            )
            drawn.extend([new] if isinstance(new, str) else new)
            fields[name] = new
        else:
            fields[name] = _scrambled(draw, current, drawn)
    return type(value)(**fields)


def _contains_valid_id(text: str) -> bool:
    digits = unicodedata.normalize("NFKC", text)
    return any(ric.is_valid(digits[i : i + 18]) for i in range(len(digits) - 17))


@functools.cache
def _sample_html(kind: NoticeKind) -> str:
    return render_notice(kind, SAMPLE_CONTEXTS[kind]).html


def _markup_counts(html: str) -> tuple[int, ...]:
    return tuple(html.count(char) for char in ("<", ">", '"', "'"))


@pytest.mark.parametrize("kind", list(NoticeKind))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_text_renders_safely(kind: NoticeKind, data: st.DataObject) -> None:
    sample_html = _sample_html(kind)  # warm Jinja first: its set-up must not run between draws
    drawn: list[str] = []
    context = _scrambled(data.draw, SAMPLE_CONTEXTS[kind], drawn)
    try:
        rendered = render_notice(kind, context)
    except NoticeContentError:
        assert any(_contains_valid_id(text) for text in drawn)
        return
    _assert_one_clean_line(rendered.subject)
    for text in drawn:  # multi-line free text is indented after each line break
        for line in text.split("\n"):
            assert str(escape(line)) in rendered.html
    # Same structure as the sample: no drawn character became markup.
    assert _markup_counts(rendered.html) == _markup_counts(sample_html)


def _assert_one_clean_line(subject: str) -> None:
    assert len(subject) <= SUBJECT_MAX_CHARS
    assert subject == " ".join(subject.split())
    for char in subject:
        category = unicodedata.category(char)
        assert not category.startswith("C"), repr(char)
        assert category not in ("Zl", "Zp"), repr(char)
