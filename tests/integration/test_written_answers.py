"""Every answer in writing (issue 14 item 3) and every letter linked to its listings (item 3's
restore letters, `notice_listing`).

A dismissed objection and a refused removal application each send the party a reasoned letter
with its remedies; an upheld objection's letters say 撤销列入; a fraud restore tells the party
and sends each department a restore letter instead of a copy of the 推送函; and `listing show`
lists every letter that names the listing, found through `notice_listing`.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import date

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.errors import TransitionRefused
from registry.models import Notice, NoticeListing
from registry.removal import (
    RemovalRefused,
    apply_for_removal,
    decide_objection,
    decide_removal,
    file_objection,
    request_lifts,
    restore_after_fraud,
)
from registry.routing import Routing, StepResult
from registry.views import listing_view
from tests.factories.listings import REVIEWER, clock_at, in_force, run

REMEDIES = ("自收到本", "日内依法向", "申请行政复议", "个月内依法向人民法院提起行政诉讼")


def notices_since(engine: sa.Engine, since: int, listing: int) -> list[Notice]:
    """Notices queued after `since` that name `listing` (by their `notice_listing` links)."""
    with session_scope(engine) as session:
        rows = session.execute(
            sa.select(Notice)
            .join(NoticeListing, col(NoticeListing.notice_id) == col(Notice.id))
            .where(col(Notice.id) > since, col(NoticeListing.listing_id) == listing)
            .order_by(col(Notice.id))
        ).scalars()
        found = list(rows)
        session.expunge_all()
        return found


def last_notice(engine: sa.Engine) -> int:
    with session_scope(engine) as session:
        return int(
            session.execute(
                sa.select(sa.func.coalesce(sa.func.max(col(Notice.id)), 0))
            ).scalar_one()
        )


def test_a_dismissed_objection_is_answered_in_writing_with_reasons_and_remedies(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    _batch, (listing,) = in_force(engine, catalogue, clock, routing, published=date(2026, 10, 9))
    clock_at(clock, date(2026, 11, 2))
    objection = run(
        engine,
        file_objection,
        listing,
        filed_by="当事人",
        reason="处罚过重，请求撤销",
        routing=routing,
    )
    before = last_notice(engine)
    clock_at(clock, date(2026, 11, 16))
    for _ in range(2):  # a repeat decision is refused and queues nothing more
        with contextlib.suppress(RemovalRefused):
            run(engine, decide_objection, objection, upheld=False, reviewer=REVIEWER,
                reason="处罚决定已经生效，证据充分", routing=routing)  # fmt: skip
    (reply,) = notices_since(engine, before, listing)
    assert reply.kind == "objection_reply"
    assert reply.listing_id == listing
    assert "2026年11月2日" in reply.body_text  # the objection's date
    assert "处罚过重，请求撤销" in reply.body_text
    assert "处罚决定已经生效，证据充分" in reply.body_text
    assert "异议理由不成立" in reply.body_text
    for phrase in REMEDIES:
        assert phrase in reply.body_text, phrase
        assert phrase in (reply.body_html or ""), phrase


def test_a_refused_application_gets_a_reasoned_decision_and_a_refusal_needs_a_reason(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    _batch, (listing,) = in_force(engine, catalogue, clock, routing, published=date(2025, 6, 2))
    clock_at(clock, date(2026, 11, 27))
    run(engine, apply_for_removal, listing, evidence="已整改", commitment="公开承诺守法经营",
        routing=routing)  # fmt: skip
    with pytest.raises(RemovalRefused, match="须说明理由"):
        run(engine, decide_removal, [listing], approve=False, reviewer=REVIEWER, reason="  ",
            routing=routing)  # fmt: skip
    before = last_notice(engine)
    run(engine, decide_removal, [listing], approve=False, reviewer=REVIEWER,
        reason="整改验收材料未盖章", routing=routing)  # fmt: skip
    (refusal,) = notices_since(engine, before, listing)
    assert refusal.kind == "removal_refusal"
    assert "不予将" in refusal.subject
    assert "提前移出" in refusal.subject
    assert "整改验收材料未盖章" in refusal.body_text
    for phrase in REMEDIES:
        assert phrase in refusal.body_text, phrase


def test_an_upheld_objection_revokes_the_listing_and_its_letters_say_so(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    _batch, (listing,) = in_force(engine, catalogue, clock, routing, published=date(2026, 10, 9))
    clock_at(clock, date(2026, 11, 2))
    objection = run(
        engine, file_objection, listing, filed_by="当事人", reason="主体认定错误", routing=routing
    )
    before = last_notice(engine)
    run(engine, decide_objection, objection, upheld=True, reviewer=REVIEWER,
        reason="经核查，主体有误", routing=routing)  # fmt: skip
    letters = notices_since(engine, before, listing)
    kinds = Counter(n.kind for n in letters)
    assert kinds["removal_notice"] == 1
    assert kinds["lift_request"] == len(catalogue.departments_of("mem-2023-art78"))
    for letter in letters:
        assert "撤销" in letter.subject + letter.body_text
        assert "已移出" not in letter.body_text
        assert "移出主体" not in letter.subject
    (notice,) = [n for n in letters if n.kind == "removal_notice"]
    assert "撤销将" in notice.subject
    assert "将你单位移出" not in notice.body_text


def test_an_upheld_objection_s_letters_label_the_revocation_and_give_the_operator_s_reason(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    """解除函 entries say 撤销原因/撤销日期, and the party's 撤销 letter gives the reasons the
    operator found the objection well-founded, not only the fixed statement."""
    _batch, (listing,) = in_force(engine, catalogue, clock, routing, published=date(2026, 10, 9))
    clock_at(clock, date(2026, 11, 2))
    objection = run(
        engine, file_objection, listing, filed_by="当事人", reason="主体认定错误", routing=routing
    )
    before = last_notice(engine)
    run(engine, decide_objection, objection, upheld=True, reviewer=REVIEWER,
        reason="经核查，处罚决定书所列主体系同名另一单位", routing=routing)  # fmt: skip
    letters = notices_since(engine, before, listing)
    lifts = [n for n in letters if n.kind == "lift_request"]
    assert lifts
    for lift in lifts:
        assert "撤销原因：经核查认定有误，撤销列入；撤销日期：2026年11月2日" in lift.body_text
        assert "移出原因" not in lift.body_text + (lift.body_html or "")
        assert "移出日期" not in lift.body_text
        assert "撤销原因及日期" in (lift.body_html or "")
    (notice,) = [n for n in letters if n.kind == "removal_notice"]
    for body in (notice.body_text, notice.body_html or ""):
        assert "处罚决定书所列主体系同名另一单位" in body
        assert "经核查认定有误，撤销列入" in body


def test_a_fraud_restore_tells_the_party_and_sends_restore_letters_not_push_letters(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    _batch, (listing,) = in_force(engine, catalogue, clock, routing, published=date(2026, 1, 12))
    clock_at(clock, date(2027, 1, 12))
    run(engine, apply_for_removal, listing, evidence="已整改", commitment="公开承诺守法经营",
        routing=routing)  # fmt: skip
    run(engine, decide_removal, [listing], approve=True, reviewer=REVIEWER, reason=None,
        routing=routing)  # fmt: skip
    clock_at(clock, date(2027, 3, 1))
    before = last_notice(engine)
    for _ in range(2):  # the second restore is refused by the lifecycle: nothing queued twice
        with contextlib.suppress(TransitionRefused):  # in force already: only the outbox counts
            run(engine, restore_after_fraud, listing, reviewer=REVIEWER,
                reason="整改证明系伪造", routing=routing)  # fmt: skip
    letters = notices_since(engine, before, listing)
    departments = catalogue.departments_of("mem-2023-art78")
    assert Counter(n.kind for n in letters) == {
        "restore_notice": 1,
        "department_restore": len(departments),
    }
    (party,) = [n for n in letters if n.kind == "restore_notice"]
    assert "整改证明系伪造" in party.body_text
    assert "恢复将你单位列入" in party.body_text
    assert "管理期限仍至" in party.body_text
    restore = next(n for n in letters if n.kind == "department_restore")
    assert "恢复实施" in restore.body_text
    assert "联合惩戒措施" in restore.body_text
    assert "前回复响应" in restore.body_text

    with session_scope(engine) as session:
        shown = {n.id: n.kind for n in listing_view(session, listing).notices}
    assert {n.id for n in letters} <= set(shown)  # restore letters are in `listing show`
    assert "lift_request" in shown.values()
    assert "department_dispatch" in shown.values()


def lift_again(session: Session, listing_ids: list[int], routing: Routing) -> StepResult:
    return routing.finish(session, request_lifts(session, listing_ids, routing))


def test_every_removal_and_restore_round_gets_its_own_letters_and_a_rerun_none(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    """Removed early, restored for fraud, removed early again and restored again, all on one
    day: each round asks every department again (its own 解除函 / 恢复联合惩戒函) and tells the
    party again; repeating a round's step queues nothing more."""
    _batch, (listing,) = in_force(engine, catalogue, clock, routing, published=date(2026, 1, 12))
    departments = catalogue.departments_of("mem-2023-art78")
    clock_at(clock, date(2027, 1, 12))
    before = last_notice(engine)
    for _ in range(2):
        run(engine, apply_for_removal, listing, evidence="已整改", commitment="公开承诺守法经营",
            routing=routing)  # fmt: skip
        run(engine, decide_removal, [listing], approve=True, reviewer=REVIEWER, reason=None,
            routing=routing)  # fmt: skip
        run(engine, lift_again, [listing], routing)  # a re-run of the step queues nothing
        run(engine, restore_after_fraud, listing, reviewer=REVIEWER, reason="整改证明系伪造",
            routing=routing)  # fmt: skip
    letters = notices_since(engine, before, listing)
    assert Counter(n.kind for n in letters) == {
        "removal_notice": 2,
        "lift_request": 2 * len(departments),
        "restore_notice": 2,
        "department_restore": 2 * len(departments),
    }
    lifts = Counter(n.department_code for n in letters if n.kind == "lift_request")
    assert lifts == dict.fromkeys(departments, 2)
    assert len({n.idempotency_key for n in letters}) == len(letters)
