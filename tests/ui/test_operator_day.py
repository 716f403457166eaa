"""Acceptance (issue 15): an operator's day in the Prefect UI, in V1 and in V2, in a real browser.

One `jointcredit up` serves both UI versions. For each, a red-list file is imported as intake
imports it: a stored name with `<script>`, a name with `* _ |`, and a pilot-era credit code whose
check character is off (a warning the operator must check). A run of the `route-batch` deployment
suspends on the confirmation form, and the operator:

1. opens the form: the count of listings needing attention is in the heading, names read as
   stored, the check-digit warning is seen whole in the dialog without scrolling, and the
   rejection select offers exactly the batch's listings;
2. opens the inbox (`operator-inbox`): the waiting run is listed by name and its link leads there;
3. answers wrongly (the proposer as reviewer): the run is suspended again and the form comes back
   with the error in Chinese above the review; nothing is recorded;
4. answers rightly (one listing rejected with a reason): the run completes, the states are right,
   and the batch artifact tells the decision.

Screenshots of the form (before and after the error), the inbox and the batch artifact are saved
as `var/screenshots/<v1|v2>-*.png`; docs/operator-guide.zh-CN.md (界面截图怎么看) explains them.
Checks of what the UI shows are collected (`Checks`), so one run names every broken part.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col
from stdnum.cn import uscc

from memoranda.loader import Catalogue
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.intake import import_batch
from registry.models import Listing
from tests.factories.listings import PROPOSER, REVIEWER
from tests.ui.conftest import LocalSystem
from tests.ui.prefect_ui import (
    BROWSER_MARKS,
    VERSIONS,
    Checks,
    PrefectUI,
    assert_fully_visible,
    flow_run,
    follow_link,
    latest_artifact,
    run_deployment,
    wait_for_state,
)

pytestmark = BROWSER_MARKS

SCRIPT_NAME = "<script>alert(1)</script>深圳示例机械有限公司"
MARKUP_NAME = "杭州*钱塘*精密_机械_有限|公司"
PILOT_NAME = "福建闽侯矿业有限公司"
HEADER = [
    *("名单类型", "主体类型", "名称", "统一社会信用代码", "身份证号", "所属单位信用代码"),
    *("行政区划代码", "行业", "认定依据", "处罚决定书文号", "处罚决定日期", "典型案例"),
    *("联系邮箱", "同意电子送达", "备注"),
]
ERROR_HEADING = "表单有误，请修改后重新提交"
PROPOSER_ERROR = "审核人不得为提出人"
REVIEW_FIELDS = ("审核人（不得为提出人）", "其余名单全部确认", "不予列入的名单")
REJECTION_REASON = "经核查近三年有一般事故记录，不符合守信条件"
SUSPEND_SECONDS = 180.0
ROUTED_SECONDS = 180.0


def _valid(body: str) -> str:
    return body + uscc.calc_check_digit(body)


def _pilot_era(body: str) -> str:
    """A code of the early pilot: its check character is not the one the standard computes."""
    right = uscc.calc_check_digit(body)
    return body + ("M" if right != "M" else "N")


def _red_file(folder: Path, serial: int) -> Path:
    """Three red-list units as a province reports them; `serial` keeps each file's codes new
    (the same unit cannot be listed twice on the same ground)."""
    rows = [
        (SCRIPT_NAME, _valid(f"91440300MA5FKKK{serial:02d}"), "440300", "机械制造", "是"),
        (PILOT_NAME, _pilot_era(f"91350100M000{serial:02d}TGQ"), "350100", "非煤矿山", "否"),
        (MARKUP_NAME, _valid(f"91330100MA2P4L{serial:02d}D"), "330100", "机械制造", "是"),
    ]
    path = folder / f"red-{serial}.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n, (name, code, region, industry, typical) in enumerate(rows, 1):
            writer.writerow(
                ["红名单", "单位", name, code, "", "", region, industry, "R", "", "2026-10-10",
                 typical, f"unit{serial}-{n}@example.org", "是", "星号*下划线_竖线|方括号[x]"]
            )  # fmt: skip
    return path


def _import(system: LocalSystem, catalogue: Catalogue, clock: FrozenClock, path: Path) -> int:
    """The file imported as intake imports it, proposed by `PROPOSER`; the batch id."""
    with Session(system.engine) as session:
        result = import_batch(
            session,
            path,
            catalogue=catalogue,
            id_hash_key="ui-test-id-hash-key",
            clock=clock,
            proposed_by=PROPOSER,
            reporter=None,
            quarantine_dir=path.parent / "quarantine",
        )
        session.commit()
    assert (result.accepted, result.rejected, result.needs_review) == (3, 0, 1), result.as_dict()
    return result.batch_id


def _listings(system: LocalSystem, batch: int) -> dict[str, tuple[int, str, str | None]]:
    """name → (listing id, state, decided by)."""
    from registry.models import Subject

    with session_scope(system.engine) as session:
        rows = session.execute(
            sa.select(
                col(Subject.name), col(Listing.id), col(Listing.state), col(Listing.decided_by)
            )
            .join(Subject, col(Subject.id) == col(Listing.subject_id))
            .where(col(Listing.batch_id) == batch)
        ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _states(system: LocalSystem, batch: int) -> Counter[str]:
    return Counter(state for _, state, _ in _listings(system, batch).values())


@pytest.mark.parametrize("version", VERSIONS)
def test_an_operators_day_in_the_prefect_ui(
    version: Any,
    local_system: LocalSystem,
    page: Any,
    catalogue: Catalogue,
    frozen_clock: FrozenClock,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    with Checks() as checks:
        ui = PrefectUI(page, local_system.ui_url, version)
        batch = _import(
            local_system, catalogue, frozen_clock, _red_file(tmp_path, VERSIONS.index(version) + 1)
        )
        listed = _listings(local_system, batch)
        ids = sorted(listing for listing, _, _ in listed.values())
        run = run_deployment("route-batch/route-batch", {"batch_id": batch})
        suspended = wait_for_state(run.id, "Suspended", SUSPEND_SECONDS, local_system.logs)
        assert _states(local_system, batch) == {"awaiting_confirmation": 3}

        # 1. The form: what needs checking first, names as stored, the warning seen whole.
        form = ui.open_resume_form(run.id)
        review = ui.description(form)
        with checks.check("核对提示不需滚动即可看全（the check-digit warning fits the dialog）"):
            assert_fully_visible(review.get_by_text("校验位不符").first)
        with checks.check("标题给出需核对条数（the heading counts what needs checking）"):
            expect(review).to_contain_text("待确认名单（共 3 条，其中 1 条需核对）")
        for name in (SCRIPT_NAME, MARKUP_NAME):
            with checks.check(f"名称按原样显示（the name reads as stored）：{name}"):
                expect(review).to_contain_text(name)
                assert name in review.inner_text()
        labels = " ".join(form.locator("label").all_inner_texts())
        with checks.check("中文字段标题（Chinese field titles）"):
            assert all(title in labels for title in REVIEW_FIELDS), labels
        ui.screenshot("confirmation-form")
        with checks.check("不予列入只能选本批次的名单（the rejection select offers the batch）"):
            offered = ui.choose(ui.list_item(form, "不予列入的名单"), "名单编号", str(ids[0]))
            assert sorted(offered, key=int) == [str(i) for i in ids], offered

        # 2. The inbox lists the waiting form by the run's name and links to it.
        run_name = f"batch-{batch}-确认"
        with checks.check(f"运行名为 {run_name}（the run is named after its batch）"):
            assert flow_run(run.id).name == run_name
        with checks.check("待办工件列出等待的表单并链接到它（the inbox links the waiting form）"):
            ui.open_artifact(latest_artifact("operator-inbox", 150.0, run_name).id)
            expect(page.get_by_text("待填写的表单").first).to_be_visible()
            ui.screenshot("inbox", full_page=True)
            # The inbox's own link (absolute), not the page's header link to the run that wrote it.
            link = page.locator('a[href^="http"]', has_text=run_name).first
            expect(link).to_have_attribute("href", re.compile(rf"/runs/flow-run/{run.id}$"))
            opened = follow_link(page, link)
            expect(opened).to_have_url(re.compile(rf"/runs/flow-run/{run.id}$"))
            expect(opened.get_by_text(run_name).first).to_be_visible()
            if opened is not page:
                opened.close()

        # 3. A wrong answer is answered in the form; the run waits again; nothing is recorded.
        form = ui.open_resume_form(run.id)
        ui.fill(form, "审核人（不得为提出人）", PROPOSER)
        ui.submit(form)
        wait_for_state(
            run.id, "Suspended", ROUTED_SECONDS, local_system.logs, not_state=suspended.state.id
        )
        assert _states(local_system, batch) == {"awaiting_confirmation": 3}
        assert {by for _, _, by in _listings(local_system, batch).values()} == {None}
        form = ui.open_resume_form(run.id)
        review = ui.description(form)
        with checks.check("表单内显示中文错误，且在名单之上（the error shows above the review）"):
            error = review.get_by_text(ERROR_HEADING)
            expect(error).to_be_visible()
            expect(review).to_contain_text(PROPOSER_ERROR)
            heading = review.get_by_text(re.compile("待确认名单")).first
            assert error.bounding_box()["y"] < heading.bounding_box()["y"]
        ui.screenshot("confirmation-form-error")

        # 4. The right answer: one listing not listed, with its reason; the others confirmed.
        rejected, _, _ = listed[MARKUP_NAME]
        ui.fill(form, "审核人（不得为提出人）", REVIEWER)
        item = ui.list_item(form, "不予列入的名单")
        ui.fill(item, "不予列入理由", REJECTION_REASON)
        ui.choose(item, "名单编号", str(rejected))
        ui.submit(form)
        wait_for_state(run.id, "Completed", ROUTED_SECONDS, local_system.logs)
        after = _listings(local_system, batch)
        assert {name: state for name, (_, state, _) in after.items()} == {
            SCRIPT_NAME: "in_force",
            PILOT_NAME: "in_force",
            MARKUP_NAME: "rejected",
        }
        assert after[SCRIPT_NAME][2] == after[PILOT_NAME][2] == REVIEWER

        # The batch artifact tells the decision: who decided, what was not listed and why.
        ui.open_artifact(latest_artifact(f"batch-{batch}").id)
        expect(page.get_by_text(re.compile("批次")).first).to_be_visible()
        ui.screenshot("batch-artifact", full_page=True)
        with checks.check(
            "批次工件写明审核人和不予列入理由（the batch artifact tells the decision）"
        ):
            expect(page.get_by_text(REVIEWER).first).to_be_visible()
            expect(page.get_by_text(REJECTION_REASON).first).to_be_visible()
