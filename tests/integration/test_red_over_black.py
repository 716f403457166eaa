"""Red over black is refused (issue 14 item 5, DOMAIN.md §9; 安监总办〔2017〕133号 第二条).

Before: a red listing for a subject under a black listing was routed and pushed to every
department, and `screen` answered sanction and incentive at once. Now intake quarantines it
(a black listing stored, or a black row in the same file whatever the order), a black listing
live within the 36-month look-back bars it, the red 认定 refuses a subject that became barred
after intake, and screening suspends the red listing while a black one is live.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.intake import ImportResult, import_batch
from registry.models import AuditEvent, Listing, Subject
from registry.routing import Decision, Routing, decide, notify_proposed
from registry.screening import screen
from tests.factories import import_files as samples
from tests.factories.listings import REVIEWER, in_force, run, states

KEY = "test-id-hash-key"
PROPOSER = "导入员 陈静"


def _black(uscc: str, n: int) -> dict[str, Any]:
    return {
        "list_type": "黑名单",
        "subject_kind": "单位",
        "name": f"失信样本单位{n}",
        "uscc": uscc,
        "grounds": "A4",
        "decision_date": "2026-05-20",
    }


def _red(uscc: str, n: int, decided: str = "2026-06-01") -> dict[str, Any]:
    return {
        "list_type": "红名单",
        "subject_kind": "单位",
        "name": f"守信样本单位{n}",
        "uscc": uscc,
        "grounds": "R",
        "decision_date": decided,
    }


def _import(
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    tmp_path: Path,
    rows: list[dict[str, Any]],
) -> ImportResult:
    path = samples.write_csv(tmp_path / f"rows-{samples.fresh()}.csv", rows)
    with Session(engine) as session:
        result = import_batch(
            session,
            path,
            catalogue=catalogue,
            id_hash_key=KEY,
            clock=clock,
            proposed_by=PROPOSER,
            quarantine_dir=tmp_path / "quarantine",
        )
        session.commit()
    return result


def test_a_red_row_for_a_subject_with_a_stored_black_listing_is_quarantined(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, tmp_path: Path
) -> None:
    n = samples.fresh()
    code = samples.valid_uscc(n)
    black = _import(engine, catalogue, clock, tmp_path, [_black(code, n)])
    assert black.accepted == 1
    red = _import(engine, catalogue, clock, tmp_path, [_red(code, n)])
    assert red.accepted == 0
    (line,) = red.quarantine
    assert (line.row_number, line.column) == (2, "名单类型")
    reference = f"{black.batch_reference}-{black.listing_ids[0]}"
    assert f"不得列入红名单：该主体有黑名单 {reference}（已提出，处罚决定日期 2026-05-20）" in (
        line.reason_zh
    )


def test_a_black_row_wins_over_a_red_row_for_the_same_subject_in_the_same_file(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, tmp_path: Path
) -> None:
    n = samples.fresh()
    code = samples.valid_uscc(n)
    other = samples.valid_uscc(n + 1)
    result = _import(
        engine,
        catalogue,
        clock,
        tmp_path,
        [_red(code, n), _black(code, n), _red(other, n + 1)],
    )
    assert result.accepted == 2  # the black row and the other subject's red row
    (line,) = result.quarantine
    assert (line.row_number, line.column) == (2, "名单类型")
    assert "同一文件第 3 行将该主体列入黑名单" in line.reason_zh


def _removed_black(
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    tmp_path: Path,
    *,
    removed: datetime,
) -> str:
    n = samples.fresh()
    code = samples.valid_uscc(n)
    black = _import(engine, catalogue, clock, tmp_path, [_black(code, n)])
    with session_scope(engine) as session:
        session.execute(
            sa.update(Listing)
            .where(col(Listing.id) == black.listing_ids[0])
            .values(state="removed", removed_at=removed, decision_date=date(2021, 3, 1))
        )
    return code


def test_a_black_listing_removed_inside_the_look_back_still_bars_a_red_listing(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, tmp_path: Path
) -> None:
    """36 months (rulesets.yml `red_lookback_months`) before the red decision of 2026-06-01."""
    two_years = _removed_black(
        engine, catalogue, clock, tmp_path, removed=datetime(2024, 6, 3, 2, tzinfo=UTC)
    )
    four_years = _removed_black(
        engine, catalogue, clock, tmp_path, removed=datetime(2022, 6, 1, 2, tzinfo=UTC)
    )
    result = _import(engine, catalogue, clock, tmp_path, [_red(two_years, 1), _red(four_years, 2)])
    assert result.accepted == 1
    (line,) = result.quarantine
    assert line.row_number == 2
    assert "于 2024-06-03 移出" in line.reason_zh
    assert "3年内无失信行为和安全生产行政处罚" in line.reason_zh


def test_the_red_confirmation_refuses_a_subject_black_listed_after_intake(
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    routing: Routing,
    tmp_path: Path,
) -> None:
    n = samples.fresh()
    code, other = samples.valid_uscc(n), samples.valid_uscc(n + 1)
    red = _import(engine, catalogue, clock, tmp_path, [_red(code, n), _red(other, n + 1)])
    barred, clean = red.listing_ids
    run(engine, notify_proposed, red.batch_id, routing)
    assert states(engine, [barred, clean]) == {"awaiting_confirmation": 2}
    black = _import(engine, catalogue, clock, tmp_path, [_black(code, n)])
    assert black.accepted == 1

    refused = run(engine, decide, red.batch_id, Decision(REVIEWER, ""), routing)
    assert refused.moved == []
    assert list(refused.refused) == [barred]
    assert "不得列入红名单：该主体有黑名单" in refused.refused[barred][0]
    assert states(engine, [barred, clean]) == {"awaiting_confirmation": 2}
    with session_scope(engine) as session:
        last = session.execute(
            sa.select(col(AuditEvent.action), col(AuditEvent.entity_id))
            .order_by(col(AuditEvent.seq).desc())
            .limit(1)
        ).one()
    assert tuple(last) == ("batch.decision_refused", str(red.batch_id))

    reason = refused.refused[barred][0]
    decided = run(engine, decide, red.batch_id, Decision(REVIEWER, "", {barred: reason}), routing)
    assert sorted(decided.moved) == [barred, clean]
    assert states(engine, [barred]) == {"rejected": 1}
    assert states(engine, [clean]) == {"confirmed": 1}


def test_screening_never_answers_sanction_and_incentive_at_once(
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
    _black_batch, (black,) = in_force(engine, catalogue, clock, routing, published=date(2026, 9, 1))
    with session_scope(engine) as session:
        subject = session.get(Listing, black).subject_id  # type: ignore[union-attr]
        session.execute(sa.update(Listing).where(col(Listing.id) == red).values(subject_id=subject))
        code = session.execute(
            sa.select(col(Subject.uscc)).where(col(Subject.id) == subject)
        ).scalar_one()
        result = screen(
            session, catalogue=catalogue, today=date(2026, 11, 27), uscc=code, shown_as=code
        )
    assert result.under_sanction
    assert not result.under_incentive
    assert not result.on_red_list
    (suspended,) = result.suspended_red
    assert suspended["listing_id"] == red
    assert suspended["reason"].startswith("红名单激励措施暂停适用：该主体有黑名单")
    assert "（生效中，" in suspended["reason"]


def test_a_red_row_in_an_earlier_chunk_than_its_black_row_is_refused_at_confirmation(
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    routing: Routing,
    tmp_path: Path,
) -> None:
    """Intake keeps memory bounded per chunk, so a red row written before the chunk holding the
    subject's black row is not taken back; the red 认定 refuses it instead."""
    n = samples.fresh()
    code = samples.valid_uscc(n)
    path = samples.write_csv(tmp_path / "chunks.csv", [_red(code, n), _black(code, n)])
    with Session(engine) as session:
        result = import_batch(
            session,
            path,
            catalogue=catalogue,
            id_hash_key=KEY,
            clock=clock,
            proposed_by=PROPOSER,
            quarantine_dir=tmp_path / "quarantine",
            chunk_rows=1,
        )
        session.commit()
    red, _black_listing = result.listing_ids
    run(engine, notify_proposed, result.batch_id, routing)
    refused = run(
        engine, decide, result.batch_id, Decision(REVIEWER, "川应急信决〔2026〕3号"), routing
    )
    assert list(refused.refused) == [red]
    assert states(engine, [red]) == {"awaiting_confirmation": 1}


def test_a_unit_is_barred_by_the_black_listing_of_a_person_linked_to_it(
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    routing: Routing,
    tmp_path: Path,
) -> None:
    """安监总办〔2017〕133号 第二条第（二）项: the unit *and its 主要负责人、分管安全负责人* 3 years
    without an untrustworthy act — a black-listed person of the unit bars the unit's red listing
    (at the red 认定 and at intake), while an unrelated unit is not barred."""
    n = samples.fresh()
    codes = [samples.valid_uscc(n + i) for i in range(3)]
    red = _import(engine, catalogue, clock, tmp_path, [_red(c, n + i) for i, c in enumerate(codes)])
    barred, clean, later = red.listing_ids
    persons = [
        {
            "list_type": "黑名单",
            "subject_kind": "个人",
            "name": f"赵负责人{n + i}",
            "id_number": samples.resident_id(n + i),
            "unit_uscc": codes[i],
            "grounds": "A4",
            "decision_date": "2026-05-20",
        }
        for i in (0, 2)
    ]
    black = _import(engine, catalogue, clock, tmp_path, persons)
    assert black.accepted == 2
    with session_scope(engine) as session:
        linked = (
            session.execute(
                sa.select(col(Subject.unit_id))
                .where(col(Subject.id_masked).is_not(None))
                .where(col(Subject.name).in_([p["name"] for p in persons]))
            )
            .scalars()
            .all()
        )
        assert None not in linked  # both persons are linked to their red units
        # the third unit's red listing is set aside, so it can be proposed again below
        session.execute(sa.update(Listing).where(col(Listing.id) == later).values(state="rejected"))

    run(engine, notify_proposed, red.batch_id, routing)
    refused = run(engine, decide, red.batch_id, Decision(REVIEWER, ""), routing)
    assert list(refused.refused) == [barred]
    assert f"该单位人员 赵负责人{n} 的黑名单" in refused.refused[barred][0]
    assert "133号第二条第（二）项" in refused.refused[barred][0]
    assert states(engine, [clean]) == {"awaiting_confirmation": 1}

    again = _import(engine, catalogue, clock, tmp_path, [_red(codes[2], n + 2)])
    assert again.accepted == 0
    (line,) = again.quarantine
    assert f"该单位人员 赵负责人{n + 2} 的黑名单" in line.reason_zh


def _rejected_black(
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    tmp_path: Path,
    *,
    penalty_decided: date,
    penalty_number: str,
) -> str:
    """A black listing refused (不予列入) whose 处罚决定书 stands."""
    n = samples.fresh()
    code = samples.valid_uscc(n)
    black = _import(engine, catalogue, clock, tmp_path, [_black(code, n)])
    with session_scope(engine) as session:
        session.execute(
            sa.update(Listing)
            .where(col(Listing.id) == black.listing_ids[0])
            .values(state="rejected", decision_date=penalty_decided, penalty_number=penalty_number)
        )
    return code


def test_the_penalty_behind_a_rejected_black_listing_bars_a_red_listing_inside_the_look_back(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, tmp_path: Path
) -> None:
    """安监总办〔2017〕133号 第二条第（三）项: no work-safety penalty in the 3 years before the red
    decision of 2026-06-01 — a refused listing does not undo the penalty it was proposed on."""
    inside = _rejected_black(
        engine, catalogue, clock, tmp_path,
        penalty_decided=date(2023, 6, 2), penalty_number="（京）应急罚〔2023〕17号",
    )  # fmt: skip
    outside = _rejected_black(
        engine, catalogue, clock, tmp_path,
        penalty_decided=date(2023, 5, 31), penalty_number="（京）应急罚〔2023〕16号",
    )  # fmt: skip
    result = _import(engine, catalogue, clock, tmp_path, [_red(inside, 1), _red(outside, 2)])
    assert result.accepted == 1
    (line,) = result.quarantine
    assert line.row_number == 2
    assert "（京）应急罚〔2023〕17号" in line.reason_zh
    assert "2023-06-02" in line.reason_zh
    assert "第二条第（三）项" in line.reason_zh
    assert "penalty" in line.reason_en
