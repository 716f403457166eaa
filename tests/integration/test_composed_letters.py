"""Letters as `notifications.compose` writes them from stored rows (issue 14 items 9, 11, 12).

The sample contexts (tests/factories/notices.py) show what a template does with good data; these
tests go through the real path — rows in the database, `compose`, render — where the defects
were: a 2023 listing told about a 2026 measure, a person's letter sent to the company as if it
were the company's, a rejection reason hanging loose before the decision, internal codes and a
third form of address, a phrase doubled when an optional field is empty.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from notifications.compose import Composed, compose
from notifications.render import render_notice
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.models import Notice
from registry.repository import add_listings, add_subject
from registry.routing import (
    Decision,
    NoticeRequest,
    Routing,
    close_defence_windows,
    decide,
    dispatch_in_force,
    notify_proposed,
    publish_confirmed,
)
from registry.vocabulary import NoticeKind
from tests.factories.listings import (
    PROPOSER,
    REVIEWER,
    new_batch,
    proposed_batch,
    serve_prior_notices,
)
from tests.factories.routing import ISSUER

TODAY = date(2026, 12, 4)
NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)


def _listing(
    session: Session,
    catalogue: Catalogue,
    *,
    rule_set: str = "mem-2023-serious",
    subject: dict[str, Any] | None = None,
    **values: Any,
) -> int:
    rules = catalogue.rule_sets[rule_set]
    tag = uuid.uuid4().hex[:8]
    batch = new_batch(session, catalogue, rule_set, reference=f"CL-{tag}", now=NOW)
    subject_id = add_subject(
        session,
        **(
            subject
            or {
                "kind": "unit",
                "name": f"四川测试化工有限公司{tag}",
                "contact_email": f"{tag}@example.org",
            }
        ),
        created_at=NOW,
    )
    row: dict[str, Any] = {
        "subject_id": subject_id,
        "batch_id": batch,
        "list_type": rules.list_type,
        "rule_set": rule_set,
        "grounds": [rules.grounds[0].code],
        "decision_number": "川应急信决〔2026〕7号",
        "decision_date": date(2026, 11, 2),
        "e_service_consent": True,
        "state": "in_force",
        "proposed_at": NOW,
        "proposed_by": PROPOSER,
        "defence_due": date(2026, 11, 27),
        "defence_provisional": False,
        "published_at": NOW,
        "expires_on": date(2029, 12, 3),
        "catalogue_hash": catalogue.content_hash,
        "updated_at": NOW,
    }
    row.update(values)
    (listing_id,) = add_listings(session, rows=[row])
    return listing_id


def _compose(
    engine: sa.Engine, catalogue: Catalogue, kind: NoticeKind, listing_id: int, **extra: Any
) -> Composed:
    request = NoticeRequest(kind=kind, batch_id=None, listing_ids=(listing_id,), **extra)
    with Session(engine) as session:
        return compose(session, [request], catalogue=catalogue, issuer=ISSUER, today=TODAY)


def _letter(
    engine: sa.Engine, catalogue: Catalogue, kind: NoticeKind, listing_id: int, **extra: Any
) -> tuple[str, str, str]:
    """(recipient mailbox, text, html) of the one letter composed for the listing."""
    (draft,) = _compose(engine, catalogue, kind, listing_id, **extra).drafts
    rendered = render_notice(draft.kind, draft.context)
    return draft.recipient.address, rendered.text, rendered.html


# --- item 9: the repair rule in force on the decision date -------------------------------


def test_a_2023_legacy_decision_is_told_about_order_58_not_the_2026_measure(
    engine: sa.Engine, catalogue: Catalogue
) -> None:
    with session_scope(engine) as session:
        legacy = _listing(
            session, catalogue, rule_set="saws-2017-sanction", decision_date=date(2023, 6, 1)
        )
        before = _listing(
            session, catalogue, rule_set="saws-2017-sanction", decision_date=date(2023, 3, 1)
        )
    _, text, html = _letter(engine, catalogue, NoticeKind.LISTING_DECISION, legacy)
    assert "（安监总办〔2017〕49号 第二条第（一）项）" in text  # a ground names its instrument
    for body in (text, html):
        assert "令第58号" in body
        assert "令第36号" not in body
        assert "《信用修复管理办法》" not in body  # the 2026 measure's title
    _, text, html = _letter(engine, catalogue, NoticeKind.LISTING_DECISION, before)
    for body in (text, html):  # before 2023-05-01 no repair rule was in force
        assert "信用修复告知书" not in body
        assert "令第36号" not in body


# --- item 12: a person's own mailbox, or care of the unit, said so -----------------------


def _person(session: Session, own_mailbox: str | None) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    unit = add_subject(
        session,
        kind="unit",
        name=f"四川测试矿业有限公司{tag}",
        contact_email=f"unit-{tag}@example.org",
        created_at=NOW,
    )
    return {
        "kind": "person",
        "name": f"王测试{tag}",
        "id_hash": uuid.uuid4().hex,
        "id_masked": "110105********123X",
        "unit_id": unit,
        "contact_email": own_mailbox,
    }


def test_a_person_without_a_mailbox_is_written_to_care_of_the_unit_and_told_so(
    engine: sa.Engine, catalogue: Catalogue
) -> None:
    with session_scope(engine) as session:
        care_of = _listing(session, catalogue, subject=_person(session, None))
        own = _listing(session, catalogue, subject=_person(session, "own@example.org"))
    for kind in (NoticeKind.PRIOR_NOTICE, NoticeKind.LISTING_DECISION):
        mailbox, text, html = _letter(engine, catalogue, kind, care_of)
        assert mailbox.startswith("unit-")
        for body in (text, html):
            assert "本文书经由你所在单位转交" in body
            assert "你单位" not in body.replace("你所在单位", "")  # the person is 你
        mailbox, text, html = _letter(engine, catalogue, kind, own)
        assert mailbox == "own@example.org"
        assert "转交" not in text + html


def test_a_person_served_by_post_is_not_told_the_letter_came_through_the_unit(
    engine: sa.Engine, catalogue: Catalogue
) -> None:
    """Without consent to e-mail service the letter is printed and served to the person: it
    does not pass through the unit's mailbox, so it must not say so."""
    with session_scope(engine) as session:
        posted = _listing(
            session, catalogue, subject=_person(session, None), e_service_consent=False
        )
    for kind in (NoticeKind.PRIOR_NOTICE, NoticeKind.LISTING_DECISION):
        (draft,) = _compose(engine, catalogue, kind, posted).drafts
        assert draft.channel == "post"
        rendered = render_notice(draft.kind, draft.context)
        assert "转交" not in rendered.text + rendered.html


# --- item 12: a reason is part of a sentence ---------------------------------------------


def test_a_rejection_reason_is_embedded_in_the_decisions_sentence(
    engine: sa.Engine, catalogue: Catalogue
) -> None:
    with session_scope(engine) as session:
        listing = _listing(session, catalogue, state="rejected")
    reason = "经复核，该单位提交的证据表明事故发生在其停产期间"
    _, text, _ = _letter(engine, catalogue, NoticeKind.REJECTION, listing, reason=reason)
    assert f"列入安全生产严重失信主体名单，理由是：{reason}。相关信息不予公示" in text
    assert not any(line.strip("　") == reason for line in text.splitlines())


# --- item 12: an empty optional field doubles nothing ------------------------------------


def _doubled_sentences(document: str) -> list[str]:
    sentences = [
        re.sub(r"\s+", "", s)
        for s in re.split(r"[。；\n]", document)
        if len(re.sub(r"\s+", "", s)) >= 8
    ]
    return [s for s, n in Counter(sentences).items() if n > 1]


def test_an_empty_note_leaves_no_empty_paragraph_and_no_doubled_phrase(
    engine: sa.Engine, catalogue: Catalogue
) -> None:
    with session_scope(engine) as session:
        blank = _listing(session, catalogue, note="")
        missing = _listing(session, catalogue, note=None)
    for listing in (blank, missing):
        for kind in (NoticeKind.PRIOR_NOTICE, NoticeKind.LISTING_DECISION):
            _, text, _ = _letter(engine, catalogue, kind, listing)
            decision = text.split("────", 1)[0]  # the 修复告知书 repeats the contact lines
            assert "存在下列行为：" not in decision
            assert not any(line.strip() == "" and line for line in decision.splitlines())
            assert _doubled_sentences(decision) == [], kind
            assert "。。" not in text
            assert not re.search(r"(你单位|你)\1", text)


# --- item 11: no internal code, one form of address, in a routed batch --------------------


def test_no_letter_of_a_routed_batch_shows_an_internal_code_or_a_third_form_of_address(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    """A batch of two units and a person routed from 告知 to 推送, one unit not listed."""
    batch, listings = proposed_batch(engine, catalogue, clock, units=2, persons=1)
    unit, _other, person = listings
    with session_scope(engine) as session:
        notify_proposed(session, batch, routing)
    serve_prior_notices(engine, listings, clock.today())
    clock.advance(timedelta(days=20))
    with session_scope(engine) as session:
        close_defence_windows(session, batch, routing)
        rejections = {unit: "经复核，该单位已于事故发生前注销相关生产线"}
        decide(session, batch, Decision(REVIEWER, "", rejections), routing)
        publish_confirmed(session, batch, routing)
        dispatch_in_force(session, batch, routing)
    with Session(engine) as session:
        letters = session.execute(
            sa.select(
                col(Notice.kind),
                col(Notice.listing_id),
                col(Notice.body_text),
                col(Notice.body_html),
            ).where(sa.or_(col(Notice.batch_id) == batch, col(Notice.listing_id).in_(listings)))
        ).all()
    kinds = {kind for kind, *_ in letters}
    assert {"prior_notice", "rejection", "listing_decision", "department_dispatch"} <= kinds
    codes = {m.id for memo in catalogue.memoranda.values() for m in memo.measures}
    codes |= set(catalogue.rule_sets) | set(catalogue.memoranda)
    for kind, listing_id, text, html in letters:
        for body in (text, html or ""):
            assert "你方" not in body, kind
            assert not [code for code in codes if code in body], kind
            assert not re.search(r"(?<![A-Za-z0-9])(?:[AB][1-5]|S[23]\.\d+)(?![A-Za-z0-9.])", body)
        if listing_id == person:  # the person is 你, never 你单位
            assert "你单位" not in text.replace("你所在单位", ""), kind
