"""The monthly report's figures against a month counted by hand (`tests.factories.reports`),
the HTML document, and the mail enqueued once per (month, recipient).

The figures cover every row of a month, so this module has its own SQLite database instead of
the session one that other tests fill; the expected numbers below are written out by hand from
the tables in `tests.factories.reports`, never computed by the code under test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col

from memoranda.loader import Catalogue
from notifications.compose import Issuer
from notifications.render import render_notice
from notifications.report_html import report_html
from notifications.report_mail import enqueue_report_mail, report_context, report_recipients
from registry import db
from registry.db import session_scope
from registry.models import Notice
from registry.reporting import MonthlyReport, ReportMonth, monthly_report, report_csvs
from registry.vocabulary import NoticeKind
from tests.factories.reports import AS_OF, at, build_fixture_month

ISSUER = Issuer(name="四川省应急管理厅", office="信用管理处", email="xinyong@example.org")
OCTOBER = ReportMonth(2026, 10)


@pytest.fixture(scope="module")
def report_engine(
    tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue
) -> Iterator[sa.Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('report') / 'report.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    build_fixture_month(engine, catalogue)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def october(report_engine: sa.Engine, catalogue: Catalogue) -> MonthlyReport:
    with session_scope(report_engine) as session:
        return monthly_report(session, month=OCTOBER, catalogue=catalogue, today=AS_OF)


def test_jurisdictions_count_the_entries_proposed_in_the_month(october: MonthlyReport) -> None:
    rows = [
        (j.code, j.name, j.red, j.black, j.typical, j.ratio, j.below_target)
        for j in october.jurisdictions
    ]
    assert rows == [
        # L8
        ("330000", "浙江省", 1, 0, 1, 1.0, False),
        # L5, L6, L7: 1 of 3 typical
        ("440000", "广东省", 1, 2, 1, pytest.approx(1 / 3), True),
        # L1 (Oct 1 00:30 Shanghai), L2, L3 (person → unit's region), L4 (Oct 31 23:30): 2 of 4
        ("510000", "四川省", 1, 3, 2, 0.5, False),
        # L9 (no region), L10 (990000 unknown prefix); L11 rejected and L12 (Nov 1) left out
        ("", "未标注地区", 0, 2, 0, 0.0, True),
    ]
    total = october.total
    assert (total.red, total.black, total.typical, total.ratio) == (3, 7, 4, 0.4)
    assert total.below_target
    assert [j.name for j in october.below_target] == ["广东省", "未标注地区"]


def test_department_timeliness_over_the_actions_dispatched_in_the_month(
    october: MonthlyReport,
) -> None:
    rows = [
        (
            d.department,
            d.name,
            d.actions,
            d.ack_settled,
            d.ack_on_time,
            d.ack_on_time_ratio,
            d.feedback_settled,
            d.feedback_on_time,
            d.feedback_on_time_ratio,
            d.overdue_open,
            d.escalated,
        )
        for d in october.departments
    ]
    assert rows == [
        # departments.yml order: ndrc (none in October: C1 in Sep, C2 on Nov 1), pbc, mem
        # B1 acked on time, feedback late; B2 (Oct 31 23:00) not yet due on either clock
        ("pbc", "人民银行", 2, 1, 1, 1.0, 1, 0, 0.0, 0, 0),
        # ack: A1 on time, A2 late, A3 unanswered past 11-06 → 1/3
        # feedback: A1 on time, A2 past 11-06 unanswered; A3 due 11-27 = today, not judged → 1/2
        # overdue open: A2 (feedback), A3 (ack); escalated: A2 only (A3 is at level 1)
        ("mem", "应急管理部", 3, 3, 1, pytest.approx(1 / 3), 2, 1, 0.5, 2, 1),
    ]
    total = october.department_total
    assert (total.actions, total.ack_on_time, total.ack_settled) == (5, 2, 4)
    assert (total.feedback_on_time, total.feedback_settled) == (1, 3)


def test_entries_by_ground_and_by_industry(october: MonthlyReport) -> None:
    grounds = [(g.key, g.entries, g.typical) for g in october.grounds]
    assert grounds == [
        ("saws-2017-incentive:R", 3, 1),  # L4, L6, L8 (typical)
        ("mem-2023-serious:A4", 2, 2),  # L1, L3
        ("mem-2023-serious:B1", 2, 0),  # L2, L5
        ("mem-2023-serious:B2", 2, 0),  # L9, L10
        ("mem-2023-serious:A1", 1, 0),  # L2 (L11 rejected)
        ("mem-2023-serious:A2", 1, 1),  # L7
    ]
    assert october.grounds[1].label == "A4 瞒报、谎报生产安全事故"
    industries = [(i.label, i.entries, i.typical) for i in october.industries]
    assert industries == [
        ("危险化学品", 4, 2),  # L1, L3 (person → unit S1), L4, L6
        ("建筑施工", 2, 1),  # L5, L7
        ("未标注行业", 2, 0),  # L9, L10
        ("矿山", 2, 1),  # L2, L8
    ]


def test_the_trend_has_twelve_months_ending_at_the_report_month(october: MonthlyReport) -> None:
    points = [(p.month, p.red, p.black, p.typical, p.ratio) for p in october.trend]
    empty = [(f"2026-{m:02d}", 0, 0, 0, None) for m in range(1, 9)]
    assert points == [
        ("2025-11", 0, 1, 1, 1.0),  # L16 (L15 is October 2025: outside the window)
        ("2025-12", 0, 0, 0, None),
        *empty,
        ("2026-09", 1, 1, 1, 0.5),  # L13, L14
        ("2026-10", 3, 7, 4, 0.4),
    ]


def test_the_html_is_self_contained_and_flags_the_jurisdictions_below_target(
    october: MonthlyReport,
) -> None:
    html = report_html(october, issuer="四川省应急管理厅", generated_on=AS_OF)

    assert re.search(r"https?:", html) is None
    assert re.search(r"<(script|link|img|iframe)\b", html) is None
    assert html.count("<svg") == 2
    assert "2026年10月安全生产联合奖惩典型案例月报" in html
    rows = re.findall(r"<tr( class=\"below\")?><td>([^<]+)</td>", html)
    flagged = {name for below, name in rows if below}
    assert {"广东省", "未标注地区"} <= flagged
    assert {"四川省", "浙江省"}.isdisjoint(flagged)
    assert "33.3%" in html
    assert "40%" in html
    # the ratio chart draws the below-target bars in red, and names them
    chart = html[html.index("<svg") : html.index("</svg>")]
    assert "未达标" in chart


def test_the_csvs_hold_the_tables(october: MonthlyReport) -> None:
    files = report_csvs(october)
    assert sorted(files) == [
        "departments.csv",
        "grounds.csv",
        "industries.csv",
        "party_cases.csv",
        "report.csv",
        "trend.csv",
    ]
    lines = files["report.csv"].splitlines()
    assert lines[0] == "辖区代码,辖区,红名单,黑名单,合计,典型案例,占比,是否达标"
    assert lines[2] == "440000,广东省,1,2,3,1,33.3%,未达标"
    assert lines[-1] == ",合计,3,7,10,4,40%,未达标"
    assert len(files["trend.csv"].splitlines()) == 13


# October's party cases (`tests.factories.reports`): O1 on time, R1 late, O2 open and overdue;
# O3 (filed 11-01 00:10 Shanghai) and R2 (September) are outside the month.
OBJECTIONS_LINE = ("异议", 2, 1, 0, 0, 1)
APPLICATIONS_LINE = ("移出申请", 1, 0, 1, 0, 0)


def test_the_partys_cases_filed_in_the_month_are_counted_as_of_the_report_date(
    october: MonthlyReport,
) -> None:
    lines = [
        (c.label, c.received, c.answered_on_time, c.answered_late, c.open_on_time, c.open_overdue)
        for c in october.party_cases
    ]
    assert lines == [OBJECTIONS_LINE, APPLICATIONS_LINE]
    as_json = october.as_dict()["party_cases"]
    assert [(c["case"], c["received"], c["open_overdue"]) for c in as_json] == [
        ("objection", 2, 1),
        ("removal_application", 1, 0),
    ]


def test_the_partys_cases_show_in_the_html_the_mail_and_the_csv(october: MonthlyReport) -> None:
    html = report_html(october, issuer="四川省应急管理厅", generated_on=AS_OF)
    section = html[html.index("三、当事人异议与移出申请") : html.index("四、名单构成")]
    cells = re.findall(r"<tr[^>]*><td>([^<]+)</td>((?:<td class=\"num\">\d+</td>)+)</tr>", section)
    assert [(name, re.findall(r">(\d+)<", numbers)) for name, numbers in cells] == [
        ("异议", ["2", "1", "0", "0", "1"]),
        ("移出申请", ["1", "0", "1", "0", "0"]),
    ]

    context = report_context(
        october, issuer=ISSUER, addressee="各位领导", full_report_url="file:///r.html", today=AS_OF
    )
    mail = render_notice(NoticeKind.MONTHLY_REPORT, context)
    assert "三、当事人异议与移出申请" in mail.text
    assert (
        "1. 异议：收到2件，按时答复1件，逾期答复0件，未逾期待答复0件，逾期未答复1件。" in mail.text
    )
    assert (
        "2. 移出申请：收到1件，按时答复0件，逾期答复1件，未逾期待答复0件，逾期未答复0件。"
        in mail.text
    )
    assert "四、情况说明" in mail.text
    mail_cells = re.findall(r"<td[^>]*>(?:<span[^>]*>)?([^<]+)(?:</span>)?</td>", mail.html)
    start = mail_cells.index("异议")
    assert mail_cells[start : start + 12] == [
        "异议", "2", "1", "0", "0", "1", "移出申请", "1", "0", "1", "0", "0",
    ]  # fmt: skip

    csv_lines = report_csvs(october)["party_cases.csv"].splitlines()
    assert csv_lines == [
        "事项,收到,按时答复,逾期答复,未逾期待答复,逾期未答复",
        "异议,2,1,0,0,1",
        "移出申请,1,0,1,0,0",
    ]


def test_an_empty_month_has_no_ratio_and_still_reports(
    report_engine: sa.Engine, catalogue: Catalogue
) -> None:
    with session_scope(report_engine) as session:
        june = monthly_report(session, month=ReportMonth(2026, 6), catalogue=catalogue, today=AS_OF)
    assert june.jurisdictions == ()
    assert june.departments == ()
    assert (june.total.ratio, june.total.below_target) == (None, False)
    assert len(june.trend) == 12
    assert june.trend[-1].month == "2026-06"

    html = report_html(june, issuer="四川省应急管理厅", generated_on=AS_OF)
    assert "本月各辖区未报送红、黑名单" in html
    assert html.count("<svg") == 1
    context = report_context(
        june, issuer=ISSUER, addressee="各位领导", full_report_url="file:///r.html", today=AS_OF
    )
    mail = render_notice(NoticeKind.MONTHLY_REPORT, context)
    assert "本月未报送红、黑名单" in mail.text
    assert "2026年6月" in mail.subject


def test_the_mail_goes_once_per_month_and_recipient(
    report_engine: sa.Engine, october: MonthlyReport, catalogue: Catalogue
) -> None:
    office = report_recipients(None, catalogue)
    assert [(r.address, r.name) for r in office] == [
        ("supervision@example.org", "安全生产联合奖惩督办室")
    ]
    leaders = report_recipients("leader1@example.org；leader2@example.org", catalogue)
    assert [r.address for r in leaders] == ["leader1@example.org", "leader2@example.org"]
    assert [r.address for r in report_recipients(["a@example.org"], catalogue)] == ["a@example.org"]

    url = Path("/srv/报告/2026-10/report.html").as_uri()
    for _ in range(2):
        with session_scope(report_engine) as session:
            result = enqueue_report_mail(
                session,
                october,
                recipients=[*office, *leaders],
                issuer=ISSUER,
                full_report_url=url,
                now=at(2026, 11, 27),
                today=AS_OF,
            )
    assert (len(result.new_ids), result.already_queued) == (0, 3)
    with session_scope(report_engine) as session:
        notices = (
            session.execute(
                sa.select(Notice).where(col(Notice.kind) == NoticeKind.MONTHLY_REPORT.value)
            )
            .scalars()
            .all()
        )
    assert sorted(n.recipient for n in notices) == [
        "leader1@example.org",
        "leader2@example.org",
        "supervision@example.org",
    ]
    office_mail = next(n for n in notices if n.recipient == "supervision@example.org")
    assert office_mail.subject == "2026年10月安全生产联合奖惩典型案例月报"
    assert "安全生产联合奖惩督办室：" in office_mail.body_text
    assert "广东省：红名单1条，黑名单2条，典型案例1个，占比33.3%，未达标" in office_mail.body_text
    assert url in office_mail.body_text
    assert office_mail.body_html is not None
    assert f'href="{url}"' in office_mail.body_html
