"""The end of listings with time travel: expiry, applications, early removal, fraud, objections,
red lists forfeited — each removal with exactly one lift request per department."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from memoranda.loader import Catalogue
from registry.audit import verify
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.models import AuditEvent, DepartmentAction, Listing, Notice
from registry.removal import (
    RemovalRefused,
    apply_for_removal,
    decide_and_forfeit_red,
    decide_objection,
    decide_removal,
    file_objection,
    restore_after_fraud,
    review_expired,
    revoke_red_listings_of,
)
from registry.routing import Decision, Routing, close_defence_windows, notify_proposed
from registry.screening import screen
from tests.factories.listings import (
    REVIEWER,
    clock_at,
    in_force,
    proposed_batch,
    run,
    serve_prior_notices,
    states,
)


def actions(engine: sa.Engine, ids: list[int]) -> Counter[str]:
    with session_scope(engine) as session:
        return Counter(
            session.execute(
                sa.select(col(DepartmentAction.state)).where(
                    col(DepartmentAction.listing_id).in_(ids)
                )
            ).scalars()
        )


def lift_requests_naming(engine: sa.Engine, listing: int, since_id: int) -> Counter[str | None]:
    """Lift requests (per department) since `since_id` that name this listing: the test database
    is shared, so other tests' expired listings may be in the same sweep."""
    with session_scope(engine) as session:
        reference = session.execute(
            sa.text(
                "SELECT b.reference FROM listing l JOIN batch b ON b.id = l.batch_id "
                "WHERE l.id = :i"
            ),
            {"i": listing},
        ).scalar_one()
        return Counter(
            session.execute(
                sa.select(col(Notice.department_code)).where(
                    col(Notice.kind) == "lift_request",
                    col(Notice.id) > since_id,
                    col(Notice.body_text).contains(f"{reference}-{listing}"),
                )
            ).scalars()
        )


def last_notice_id(engine: sa.Engine) -> int:
    with session_scope(engine) as session:
        return session.execute(
            sa.select(sa.func.coalesce(sa.func.max(col(Notice.id)), 0))
        ).scalar_one()


def screened(engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, listing: int) -> Any:
    with session_scope(engine) as session:
        uscc = session.execute(
            sa.text(
                "SELECT s.uscc FROM subject s JOIN listing l ON l.subject_id = s.id WHERE l.id = :i"
            ),
            {"i": listing},
        ).scalar_one()
        return screen(session, catalogue=catalogue, today=clock.today(), uscc=uscc, shown_as=uscc)


def test_a_current_rule_listing_is_removed_at_expiry_with_one_lift_request_per_department(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    _batch, ids = in_force(engine, catalogue, clock, routing, published=date(2023, 11, 20))
    departments = catalogue.departments_of("mem-2023-art78")
    assert screened(engine, catalogue, clock, ids[0]).under_sanction
    before = last_notice_id(engine)

    clock_at(clock, date(2026, 11, 27))  # three years later: the term ended on 2026-11-20
    first = run(engine, review_expired, routing)
    again = run(engine, review_expired, routing)

    assert set(ids) <= set(first.moved)  # other tests' expired listings may be swept too
    assert not set(ids) & set(again.moved)
    assert states(engine, ids) == {"removed": 1}
    assert actions(engine, ids) == {"lift_requested": len(departments)}
    assert lift_requests_naming(engine, ids[0], before) == dict.fromkeys(departments, 1)
    with session_scope(engine) as session:
        removal = session.execute(
            sa.select(Notice).where(
                col(Notice.kind) == "removal_notice",
                col(Notice.id) > before,
                col(Notice.listing_id) == ids[0],
            )
        ).scalar_one()
        assert "管理期限届满" in removal.body_text  # 令第11号 speaks of 管理期限
        assert "公示期" not in removal.body_text
        lift = session.execute(
            sa.select(col(DepartmentAction.lift_due), col(DepartmentAction.lift_wd)).where(
                col(DepartmentAction.listing_id) == ids[0]
            )
        ).first()
        assert lift is not None
        assert lift[0] > clock.today()
        assert verify(session).ok
    assert screened(engine, catalogue, clock, ids[0]).measures == []


def test_early_removal_waits_twelve_months_then_fraud_restores_it(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    _batch, (listing,) = in_force(engine, catalogue, clock, routing, published=date(2026, 1, 12))
    with session_scope(engine) as session:
        original_expiry = session.get(Listing, listing).expires_on  # type: ignore[union-attr]

    clock_at(clock, date(2026, 11, 27))
    with pytest.raises(RemovalRefused, match="2027-01-12") as refused:
        run(
            engine,
            apply_for_removal,
            listing,
            evidence="已缴清罚款，完成整改",
            commitment="本单位公开承诺守法经营",
            routing=routing,
        )
    assert refused.value.fields["earliest"] == "2027-01-12"

    clock_at(clock, date(2027, 1, 12))
    application = run(
        engine,
        apply_for_removal,
        listing,
        evidence="已缴清罚款，完成整改",
        commitment="本单位公开承诺守法经营",
        routing=routing,
    )
    assert states(engine, [listing]) == {"removal_review": 1}
    removed = run(
        engine,
        decide_removal,
        [listing],
        approve=True,
        reviewer=REVIEWER,
        reason=None,
        routing=routing,
    )
    assert removed.moved == [listing]
    assert states(engine, [listing]) == {"removed": 1}
    with session_scope(engine) as session:
        row = session.get(Listing, listing)
        assert row is not None
        assert row.removal_reason == "early_removal"
        assert (
            session.execute(
                sa.text("SELECT state FROM removal_application WHERE id = :i"),
                {"i": application.id},
            ).scalar_one()
            == "approved"
        )

    clock_at(clock, date(2027, 3, 1))
    restored = run(
        engine,
        restore_after_fraud,
        listing,
        reviewer=REVIEWER,
        reason="整改证明系伪造",
        routing=routing,
    )
    assert restored.moved == [listing]
    departments = catalogue.departments_of("mem-2023-art78")
    assert actions(engine, [listing]) == {"dispatched": len(departments)}
    with session_scope(engine) as session:
        row = session.get(Listing, listing)
        assert row is not None
        assert (row.state, row.expires_on, row.removed_at) == ("in_force", original_expiry, None)
    assert screened(engine, catalogue, clock, listing).under_sanction


def test_a_legacy_listing_waits_for_an_operator_at_expiry(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    _batch, ids = in_force(
        engine,
        catalogue,
        clock,
        routing,
        published=date(2025, 11, 3),
        rule_set="saws-2017-sanction",
    )
    clock_at(clock, date(2026, 11, 27))
    reviewed = run(engine, review_expired, routing)
    assert set(ids) <= set(reviewed.moved)
    assert states(engine, ids) == {"removal_review": 1}  # no application: an operator decides
    kept = run(
        engine,
        decide_removal,
        ids,
        approve=False,
        reviewer=REVIEWER,
        reason="仍有未履行的处罚",
        routing=routing,
    )
    assert kept.moved == ids
    assert states(engine, ids) == {"in_force": 1}
    with pytest.raises(RemovalRefused, match="不在移出审查中"):
        run(
            engine,
            decide_removal,
            ids,
            approve=True,
            reviewer=REVIEWER,
            reason=None,
            routing=routing,
        )


def test_an_upheld_objection_revokes_and_lifts_a_dismissed_one_changes_nothing(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    _batch, (first, second) = in_force(
        engine, catalogue, clock, routing, published=date(2026, 10, 9), units=2
    )
    clock_at(clock, date(2026, 11, 2))
    upheld = run(
        engine, file_objection, first, filed_by="当事人", reason="主体认定错误", routing=routing
    )
    dismissed = run(
        engine, file_objection, second, filed_by="当事人", reason="处罚过重", routing=routing
    )
    with session_scope(engine) as session:
        due = session.execute(
            sa.text("SELECT answer_due FROM objection WHERE id = :i"), {"i": upheld}
        ).scalar_one()
    assert str(due) == "2026-11-23"  # 15 working days

    run(
        engine,
        decide_objection,
        upheld,
        upheld=True,
        reviewer=REVIEWER,
        reason="经核查，主体有误",
        routing=routing,
    )
    run(
        engine,
        decide_objection,
        dismissed,
        upheld=False,
        reviewer=REVIEWER,
        reason="证据充分",
        routing=routing,
    )
    with pytest.raises(RemovalRefused, match="已处理"):
        run(
            engine,
            decide_objection,
            upheld,
            upheld=True,
            reviewer=REVIEWER,
            reason="再次",
            routing=routing,
        )

    assert states(engine, [first]) == {"revoked": 1}
    assert states(engine, [second]) == {"in_force": 1}
    departments = catalogue.departments_of("mem-2023-art78")
    assert actions(engine, [first]) == {"lift_requested": len(departments)}


def test_a_red_listing_is_forfeited_when_its_subject_is_confirmed_black(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    _red_batch, (red,) = in_force(
        engine,
        catalogue,
        clock,
        routing,
        published=date(2026, 6, 1),
        rule_set="saws-2017-incentive",
    )
    with session_scope(engine) as session:
        subject = session.get(Listing, red).subject_id  # type: ignore[union-attr]
        black = session.execute(
            sa.text(
                "INSERT INTO listing (subject_id, batch_id, list_type, rule_set, grounds, "
                "decision_number, state, proposed_at, proposed_by, catalogue_hash, updated_at, "
                "typical_case, needs_review, warnings, defence_provisional) "
                "SELECT subject_id, batch_id, 'black', 'mem-2023-serious', '[\"A4\"]', 'x', "
                "'confirmed', proposed_at, proposed_by, catalogue_hash, updated_at, false, false, "
                "'[]', false FROM listing WHERE id = :red RETURNING id"
            ),
            {"red": red},
        ).scalar_one()
        assert subject
    clock_at(clock, date(2026, 11, 27))
    forfeited = run(engine, revoke_red_listings_of, [black], routing)
    assert forfeited.moved == [red]
    assert states(engine, [red]) == {"revoked": 1}
    with session_scope(engine) as session:
        assert session.get(Listing, red).removal_reason == "red_forfeited"  # type: ignore[union-attr]
        # The revoke event records the reason stored, so `audit verify` replays it.
        after = session.execute(
            sa.select(col(AuditEvent.after))
            .where(col(AuditEvent.entity_type) == "listing", col(AuditEvent.entity_id) == str(red))
            .order_by(col(AuditEvent.seq).desc())
            .limit(1)
        ).scalar_one()
    assert after["removal_reason"] == "red_forfeited"


def test_confirming_a_black_listing_in_the_core_forfeits_the_red_one(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    """The rule lives in the core's decision, not in whoever runs it (service, CLI, flow)."""
    _red_batch, (red,) = in_force(
        engine,
        catalogue,
        clock,
        routing,
        published=date(2026, 6, 1),
        rule_set="saws-2017-incentive",
    )
    clock_at(clock, date(2026, 10, 12))
    black_batch, (black,) = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    with session_scope(engine) as session:
        session.execute(
            sa.text(
                "UPDATE listing SET subject_id = (SELECT subject_id FROM listing WHERE id = :red) "
                "WHERE id = :black"
            ),
            {"red": red, "black": black},
        )
    run(engine, notify_proposed, black_batch, routing)
    serve_prior_notices(engine, [black], clock.today())
    clock_at(clock, date(2026, 11, 27))
    run(engine, close_defence_windows, black_batch, routing)
    assert states(engine, [black]) == {"awaiting_confirmation": 1}
    decided = run(
        engine,
        decide_and_forfeit_red,
        black_batch,
        Decision(REVIEWER),
        routing,
    )
    assert decided.moved == [black]
    assert states(engine, [black]) == {"confirmed": 1}
    assert states(engine, [red]) == {"revoked": 1}
    with session_scope(engine) as session:
        assert session.get(Listing, red).removal_reason == "red_forfeited"  # type: ignore[union-attr]


def test_the_legacy_party_is_told_once_when_its_application_window_opens(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> None:
    _batch, (listing,) = in_force(
        engine,
        catalogue,
        clock,
        routing,
        published=date(2025, 11, 3),
        rule_set="saws-2017-sanction",
    )

    def windows() -> int:
        with session_scope(engine) as session:
            return session.execute(
                sa.select(sa.func.count()).where(
                    col(Notice.kind) == "removal_window", col(Notice.listing_id) == listing
                )
            ).scalar_one()

    clock_at(clock, date(2026, 9, 1))
    run(engine, review_expired, routing)
    assert windows() == 0
    clock_at(clock, date(2026, 10, 10))  # within the 30 days before the 2026-11-03 expiry
    run(engine, review_expired, routing)
    clock_at(clock, date(2026, 10, 12))
    run(engine, review_expired, routing)
    assert windows() == 1
    with session_scope(engine) as session:
        body = session.execute(
            sa.select(col(Notice.body_text)).where(
                col(Notice.listing_id) == listing, col(Notice.kind) == "removal_window"
            )
        ).scalar_one()
    assert "2026年10月4日" in body
