"""Every notice kind shows a person by the masked ID only, and refuses a raw ID number.

The person is built the way intake builds one — a real-looking resident ID number (valid
region, birth date and check digit) through `check_resident_id`, which keeps the keyed hash and
the masked form only — and put wherever a notice names a subject. Each rendered part is then
searched for the number itself, its 8-digit birth date and any run of 15 or more digits (half
an ID number is still personal data). `leaks` and `new_resident_id` live in
`tests/factories/identities.py`, shared with `tests/integration/test_security.py`.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from pydantic import BaseModel

from notifications.contexts import NoticeContext, SubjectLine
from notifications.render import NoticeContentError, render_notice
from registry.identifiers import check_resident_id, mask_resident_id
from registry.vocabulary import NoticeKind
from tests.factories.identities import KEY, leaks, new_resident_id
from tests.factories.notices import SAMPLE_CONTEXTS

KINDS_NAMING_A_SUBJECT = {
    NoticeKind.PRIOR_NOTICE,
    NoticeKind.LISTING_DECISION,
    NoticeKind.REJECTION,
    NoticeKind.DEPARTMENT_DISPATCH,
    NoticeKind.REMOVAL_NOTICE,
    NoticeKind.REMOVAL_WINDOW,
    NoticeKind.LIFT_REQUEST,
    NoticeKind.RED_AWARD,
}


def person_from(raw: str, *, name: str = "王某某") -> SubjectLine:
    """A person as intake stores one: only what `check_resident_id` keeps reaches the line."""
    kept = check_resident_id(raw, KEY)
    return SubjectLine(
        name=name, kind="person", id_masked=kept.masked, unit_name="简阳市鑫达化工有限公司"
    )


def _with_person(value: Any, person: SubjectLine) -> Any:
    """The context with every subject it names replaced by the person."""
    if isinstance(value, SubjectLine):
        return person
    if isinstance(value, list):
        return [_with_person(item, person) for item in value]
    if isinstance(value, BaseModel):
        update = {
            name: _with_person(getattr(value, name), person) for name in type(value).model_fields
        }
        return value.model_copy(update=update)
    return value


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_every_kind_shows_a_person_by_the_masked_id_only(kind: NoticeKind) -> None:
    raw = new_resident_id(random.Random(f"render-{kind.value}"))
    person = person_from(raw)
    context = _with_person(SAMPLE_CONTEXTS[kind], person)
    rendered = render_notice(kind, context)

    for part in ("subject", "text", "html"):
        shown = getattr(rendered, part)
        assert leaks(shown, [raw]) == [], f"{kind.value} {part}"
    if kind in KINDS_NAMING_A_SUBJECT:
        assert person.id_masked is not None
        assert person.id_masked in rendered.text
        assert person.id_masked in rendered.html


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_every_kind_refuses_to_render_a_raw_id_number(kind: NoticeKind) -> None:
    """The issuer appears in every notice: a number typed there fails the render, and the
    error names the number masked only."""
    raw = new_resident_id(random.Random(f"guard-{kind.value}"))
    sample: NoticeContext = SAMPLE_CONTEXTS[kind]
    letterhead = sample.letterhead.model_copy(update={"issuer": f"应急管理局（经办人 {raw}）"})
    context = sample.model_copy(update={"letterhead": letterhead})
    with pytest.raises(NoticeContentError) as refused:
        render_notice(kind, context)
    assert refused.value.fields["masked"] == mask_resident_id(raw)
    assert leaks(str(refused.value) + repr(refused.value.as_dict()), [raw]) == []


def test_the_leak_check_sees_what_it_should() -> None:
    raw = new_resident_id(random.Random(1))
    wide = raw.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert leaks(f"证件号{wide}", [raw])
    assert leaks(f"出生于{raw[6:14]}", [raw])
    assert leaks("编号1234567890123456", [])
    assert leaks("创世哈希" + "0" * 64, []) == []
    assert leaks("哈希 d932875a6f8ada7d6c2150bc6b823f43933db3e5254c72498842809529460fd7", []) == []
    assert leaks(f"哈希 d932875a6f8ada7d{raw}6c2150bc6b823f43933db3e52", [raw])
    assert leaks(f"证件号{mask_resident_id(raw)}，代码91512081MA62K0260E", [raw]) == []
