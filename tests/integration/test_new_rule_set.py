"""A rule-set added to `rulesets.yml` routes end to end with no code change (issue 12).

The catalogue is copied to a temporary folder, a provincial black list of its own — id, list
name, grounds, term, removal — is appended to `rulesets.yml` and named by one memorandum, and a
batch under it goes through the same core steps `service/steps.py` runs: notify, close the
defence window, the operator's decision, publish, dispatch. Its letters name its own list.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from memoranda.loader import Catalogue, load_catalogue
from registry.calendar import WorkingCalendar
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.models import DepartmentAction, Listing, Notice
from registry.routing import (
    Decision,
    Routing,
    close_defence_windows,
    decide,
    dispatch_in_force,
    notify_proposed,
    publish_confirmed,
)
from tests.conftest import CATALOGUE_DIR
from tests.factories.listings import REVIEWER, proposed_batch, serve_prior_notices
from tests.factories.routing import make_routing

RULE_SET = "prov-2027-serious"
LIST_NAME = "某省安全生产严重失信主体名单（试行）"
NEW_RULE_SET = f"""
  - id: {RULE_SET}
    title: 某省安全生产严重失信主体名单管理办法（试行）
    list_name: {LIST_NAME}
    instruments: [某省应急管理厅公告2027年第1号]
    kind: sanction
    list_type: black
    effective_from: 2027-01-01
    term_months: 24
    prior_notice: true
    removal:
      mode: automatic
      early_removal_after_months: 6
      restore_on_fraud: true
    status: unverified
    grounds:
      - {{code: P1, article: 第五条第（一）项, title: 一年内两次被责令停产停业整顿仍组织生产}}
"""
MEMORANDUM = "mem-2023-art78"


@pytest.fixture(scope="module")
def new_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    directory = tmp_path_factory.mktemp("catalogue") / "memoranda"
    shutil.copytree(CATALOGUE_DIR, directory, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    rulesets = directory / "rulesets.yml"
    rulesets.write_text(rulesets.read_text(encoding="utf-8") + NEW_RULE_SET, encoding="utf-8")
    memorandum = directory / "catalogue" / f"{MEMORANDUM}.yml"
    text = memorandum.read_text(encoding="utf-8")
    assert "rule_sets: [mem-2023-serious]" in text
    memorandum.write_text(
        text.replace("rule_sets: [mem-2023-serious]", f"rule_sets: [mem-2023-serious, {RULE_SET}]"),
        encoding="utf-8",
    )
    return load_catalogue(Path(directory))


def _step(engine: sa.Engine, step: Any, batch_id: int, routing: Routing, *args: Any) -> Any:
    with session_scope(engine) as session:
        return step(session, batch_id, *args, routing)


def test_a_new_rule_set_routes_end_to_end_under_its_own_list_name(
    engine: sa.Engine, new_catalogue: Catalogue, clock: FrozenClock
) -> None:
    calendar = WorkingCalendar(new_catalogue.calendar_years, new_catalogue.directory / "calendar")
    routing = make_routing(new_catalogue, calendar, clock)
    batch, ids = proposed_batch(engine, new_catalogue, clock, rule_set=RULE_SET, units=2)

    assert sorted(_step(engine, notify_proposed, batch, routing).moved) == ids
    serve_prior_notices(engine, ids, clock.today())
    clock.advance(timedelta(days=20))
    assert sorted(_step(engine, close_defence_windows, batch, routing).moved) == ids
    decision = Decision(REVIEWER, rejections={ids[2]: "证据不足，不予认定"})
    assert sorted(_step(engine, decide, batch, routing, decision).moved) == ids
    published = _step(engine, publish_confirmed, batch, routing)
    assert sorted(published.moved) == ids[:2]
    dispatched = _step(engine, dispatch_in_force, batch, routing)
    departments = new_catalogue.departments_of(MEMORANDUM)
    assert dispatched.actions_created == 2 * len(departments)

    with session_scope(engine) as session:
        listings = session.execute(
            sa.select(Listing.id, Listing.state, Listing.published_at, Listing.expires_on)
            .where(col(Listing.id).in_(ids))
            .order_by(col(Listing.id))
        ).all()
        notices = (
            session.execute(
                sa.select(Notice).where(
                    sa.or_(col(Notice.batch_id) == batch, col(Notice.listing_id).in_(ids))
                )
            )
            .scalars()
            .all()
        )
        actions = session.execute(
            sa.select(sa.func.count())
            .select_from(DepartmentAction)
            .where(col(DepartmentAction.listing_id).in_(ids))
        ).scalar_one()
    assert [row.state for row in listings] == ["in_force", "in_force", "rejected"]
    for row in listings[:2]:  # the rule-set's own 24-month term
        assert row.expires_on.year == row.published_at.year + 2
    assert actions == 2 * len(departments)
    assert Counter(n.kind for n in notices) == {
        "prior_notice": 3,
        "rejection": 1,
        "listing_decision": 2,
        "department_dispatch": len(departments),
    }
    for notice in notices:
        assert LIST_NAME in notice.body_text, notice.kind
        assert RULE_SET not in notice.body_text, notice.kind  # letters show no internal codes
