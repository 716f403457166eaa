"""A listing's views show only the letters that concern it (issue 13 item 6).

A batch with black and red listings is dispatched: each department that signed both memoranda
gets a black 推送函 and a red one. `listing show` and `archive` used to attach every batch-wide
letter to every listing — a black-list unit's archive showed the red-list letters, and letters
to departments it was never sent to. The oracle is the letter itself: a 推送函 concerns a
listing exactly when its body names the listing's reference (`名单编号：<reference>；`).
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col
from stdnum.cn import uscc

from memoranda.loader import Catalogue
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.intake import import_batch
from registry.models import Batch, Listing, Notice, Subject
from registry.routing import (
    Decision,
    Routing,
    close_defence_windows,
    decide,
    dispatch_in_force,
    notify_proposed,
    publish_confirmed,
)
from registry.views import credit_archive, listing_view
from tests.factories.listings import REVIEWER, serve_prior_notices

HEADER = (
    "名单类型,主体类型,名称,统一社会信用代码,认定依据,决定书文号,处罚决定日期,联系邮箱,同意电子送达"
)


def _uscc(rng: random.Random) -> str:
    body = "91510100" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    return body + uscc.calc_check_digit(body)


def _mixed_batch(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing, tmp_path: Path
) -> tuple[int, dict[str, tuple[int, str]]]:
    """Two black and two red units in one batch, routed to dispatch; list type → the first
    listing of that list and its subject's USCC."""
    rng = random.Random(uuid.uuid4().int)
    codes = {name: _uscc(rng) for name in ("黑甲", "黑乙", "红甲", "红乙")}
    rows = [
        f"{'黑名单' if name[0] == '黑' else '红名单'},单位,测试{name}有限公司{codes[name][-6:]},"
        f"{codes[name]},{'A2' if name[0] == '黑' else 'R'},川应急罚〔2026〕{i}号,2026-10-13,"
        f"unit{i}@example.org,是"
        for i, name in enumerate(codes, start=1)
    ]
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    with session_scope(engine) as session:
        imported = import_batch(
            session,
            path,
            catalogue=catalogue,
            id_hash_key="test-key",
            clock=clock,
            proposed_by="导入员 陈静",
            quarantine_dir=tmp_path / "quarantine",
        )
    assert imported.accepted == 4, imported.quarantine
    batch = imported.batch_id
    with session_scope(engine) as session:
        notified = notify_proposed(session, batch, routing)
    serve_prior_notices(engine, notified.moved, clock.today())
    clock.advance(timedelta(days=20))
    with session_scope(engine) as session:
        close_defence_windows(session, batch, routing)
        decide(session, batch, Decision(REVIEWER), routing)
        publish_confirmed(session, batch, routing)
        assert dispatch_in_force(session, batch, routing).actions_created
    first: dict[str, tuple[int, str]] = {}
    with session_scope(engine) as session:
        for list_type, listing, code in session.execute(
            sa.select(col(Listing.list_type), col(Listing.id), col(Subject.uscc))
            .join(Subject, col(Subject.id) == col(Listing.subject_id))
            .where(col(Listing.batch_id) == batch)
            .order_by(col(Listing.id))
        ):
            first.setdefault(list_type, (listing, code))
    return batch, first


def _letters_naming(engine: sa.Engine, batch: int, listing: int) -> tuple[set[int], set[int]]:
    """Of the batch's 推送函: those whose text names the listing, and all of them."""
    with session_scope(engine) as session:
        reference = session.execute(
            sa.select(col(Batch.reference)).where(col(Batch.id) == batch)
        ).scalar_one()
        letters = session.execute(
            sa.select(col(Notice.id), col(Notice.body_text)).where(
                col(Notice.batch_id) == batch, col(Notice.listing_id).is_(None)
            )
        ).all()
    naming = {i for i, body in letters if f"名单编号：{reference}-{listing}；" in body}
    return naming, {i for i, _ in letters}


def test_a_listing_and_an_archive_show_only_the_letters_that_name_the_listing(
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    routing: Routing,
    tmp_path: Path,
) -> None:
    batch, listings = _mixed_batch(engine, catalogue, clock, routing, tmp_path)
    (black, black_uscc), (red, _) = listings["black"], listings["red"]
    black_letters, every_letter = _letters_naming(engine, batch, black)
    red_letters, _ = _letters_naming(engine, batch, red)
    assert black_letters
    assert red_letters
    assert not black_letters & red_letters  # both lists' letters went to shared departments

    with Session(engine) as session:
        black_view = listing_view(session, black)
        red_view = listing_view(session, red)
        archive = credit_archive(session, uscc=black_uscc)
    shown_black = {n.id for n in black_view.notices if n.listing_id is None}
    shown_red = {n.id for n in red_view.notices if n.listing_id is None}
    assert shown_black == black_letters
    assert shown_red == red_letters
    assert {n.id for n in archive.notices if n.listing_id is None} == black_letters
    assert every_letter - black_letters  # there were letters to leave out
    departments = {a.department for a in black_view.actions}
    assert {n.department_code for n in black_view.notices if n.listing_id is None} == departments
