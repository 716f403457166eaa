"""Acceptance: an operator confirms a batch in the Prefect UI, in a real browser.

`jointcredit up` runs the whole system; a red-list batch (no defence window) is routed by a run
of the `route-batch` deployment, which suspends on the confirmation form. In Chromium the
operator opens the run, chooses Resume, finds the form under the batch's table by its Chinese
field titles, names the reviewer and the decision number, leaves "confirm the others" on and
submits. The runner re-executes the resumed run from the top; the listings come into force and
every department of the memorandum gets its action. Ctrl-C then stops everything cleanly.
"""

from __future__ import annotations

import re
import socket
import time
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from memoranda.loader import Catalogue
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.models import DepartmentAction, Listing
from tests.factories.listings import REVIEWER, proposed_batch
from tests.ui.conftest import LocalSystem
from tests.ui.prefect_ui import BROWSER_MARKS, run_deployment, wait_for_state

pytestmark = BROWSER_MARKS

RULE_SET = "saws-2017-incentive"
DECISION_NUMBER = re.compile(
    r"^应急信激〔2026〕\d+号$"
)  # each red listing its own, from the sequence
FIELD_TITLES = ("审核人（不得为提出人）", "其余名单全部确认", "不予列入的名单")
SUSPEND_SECONDS = 180.0
ROUTED_SECONDS = 180.0


def _states(system: LocalSystem, batch: int) -> Counter[str]:
    with session_scope(system.engine) as session:
        rows = session.execute(sa.select(col(Listing.state)).where(col(Listing.batch_id) == batch))
        return Counter(rows.scalars())


def test_the_operator_confirms_a_batch_in_the_browser(
    local_system: LocalSystem, page: Any, catalogue: Catalogue, frozen_clock: FrozenClock
) -> None:
    from playwright.sync_api import expect

    batch, ids = proposed_batch(
        local_system.engine, catalogue, frozen_clock, rule_set=RULE_SET, units=2, persons=0
    )
    run = run_deployment("route-batch/route-batch", {"batch_id": batch})
    wait_for_state(run.id, "Suspended", SUSPEND_SECONDS, local_system.logs)
    assert _states(local_system, batch) == {"awaiting_confirmation": 2}

    page.goto(f"{local_system.ui_url}/v2/runs/flow-run/{run.id}")
    expect(page.get_by_text("Suspended").first).to_be_visible()
    page.get_by_role("button", name="Open menu").click()
    page.get_by_role("menuitem", name="Resume").click()
    form = page.get_by_role("dialog")
    expect(form.get_by_text("待确认名单（共 2 条）")).to_be_visible()
    # one compact item per listing (no table): its number in bold
    expect(form.locator("strong").filter(has_text=re.compile(rf"^{ids[0]}$"))).to_be_visible()
    expect(form.locator("label").first).to_be_visible()
    labels = form.locator("label").all_inner_texts()
    missing = [t for t in FIELD_TITLES if not any(t in label for label in labels)]
    assert not missing, f"表单缺少中文字段标题 {missing}（the form shows {labels}）"
    form.get_by_label("审核人（不得为提出人）").fill(REVIEWER)
    expect(form.get_by_role("switch")).to_have_attribute("aria-checked", "true")
    form.get_by_role("button", name="Resume").click()
    expect(form).to_be_hidden()

    deadline = time.monotonic() + ROUTED_SECONDS
    while _states(local_system, batch) != {"in_force": 2}:
        if time.monotonic() > deadline:
            pytest.fail(
                f"名单未生效（not in force）：{dict(_states(local_system, batch))}\n"
                f"{local_system.logs()}"
            )
        time.sleep(1.0)
    finished = wait_for_state(run.id, "Completed", 60.0, local_system.logs)
    assert finished.state.is_completed()

    memoranda = catalogue.memoranda_for(RULE_SET)
    departments = {d for m in memoranda for d in catalogue.departments_of(m.id)}
    with session_scope(local_system.engine) as session:
        actions = session.execute(
            sa.select(col(DepartmentAction.listing_id), col(DepartmentAction.department)).where(
                col(DepartmentAction.listing_id).in_(ids)
            )
        ).all()
        decided = session.execute(
            sa.select(col(Listing.decided_by), col(Listing.decision_number)).where(
                col(Listing.id).in_(ids)
            )
        ).all()
    assert {tuple(a) for a in actions} == {(i, d) for i in ids for d in departments}
    assert {d[0] for d in decided} == {REVIEWER}
    assert all(DECISION_NUMBER.match(d[1] or "") for d in decided), decided
    assert len({d[1] for d in decided}) == len(decided)

    assert local_system.interrupt() == 0, local_system.logs()
    assert "已全部停止" in local_system.printed()
    with socket.socket() as probe:  # the server is gone, not just `up`
        assert probe.connect_ex(("127.0.0.1", local_system.port)) != 0
