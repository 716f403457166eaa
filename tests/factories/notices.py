"""One realistic context per notice kind: the golden files, the SMTP tests and the demo read these.

A fictitious case in Sichuan, autumn 2026: a chemical company in Jianyang conceals a fatal
accident, is notified, decided, published and pushed to the departments; one department is
late. Mailboxes are on example.org; the person's ID number appears masked only. The feedback
due date falls in 2027, a year the holiday calendar does not know yet, so it shows 暂定.
"""

from __future__ import annotations

from datetime import date

from notifications.contexts import (
    Contact,
    DepartmentDispatchContext,
    DepartmentRestoreContext,
    DispatchEntry,
    DueDate,
    EscalationContext,
    GroundLine,
    JurisdictionRow,
    Letterhead,
    LiftEntry,
    LiftRequestContext,
    ListingDecisionContext,
    MeasureLine,
    MemorandumRef,
    MonthlyReportContext,
    NoticeContext,
    ObjectionReplyContext,
    OverdueItem,
    PartyCaseCount,
    PartyCaseItem,
    PartyDeadlineEscalationContext,
    PartyDeadlineReminderContext,
    PriorNoticeContext,
    RedAwardContext,
    RejectionContext,
    Remedies,
    ReminderContext,
    RemovalNoticeContext,
    RemovalRefusalContext,
    RemovalWindowContext,
    RepairTerms,
    RestoreEntry,
    RestoreNoticeContext,
    SlaRow,
    SubjectLine,
)
from registry.vocabulary import NoticeKind, ResponseKind

ISSUER = "四川省应急管理厅"
BLACK_LIST = "安全生产严重失信主体名单"
RED_LIST = "安全生产守信激励对象名单"
BATCH = "SC-2026-012"

CONTACT = Contact(
    office="四川省应急管理厅政策法规处（信用管理科）",
    email="xinyong@example.org",
    phone="028-86630000",
)
CHEMICAL_UNIT = SubjectLine(name="简阳市鑫达化工有限公司", kind="unit", uscc="91512081MA62K0260E")
LEGAL_REPRESENTATIVE = SubjectLine(
    name="王建国",
    kind="person",
    id_masked="110105********1255",
    unit_name="简阳市鑫达化工有限公司",
)
MINING_UNIT = SubjectLine(
    name="绵阳市安州区金鼎矿业有限公司", kind="unit", uscc="91510700MA62Q3T7XY"
)
AWARDED_UNIT = SubjectLine(name="成都天府精细化工有限公司", kind="unit", uscc="91510100MA6CX8K5P8")

CONCEALMENT = GroundLine(
    code="A4",
    title="瞒报、谎报生产安全事故",
    article="应急管理部令第11号 发生生产安全事故应当列入名单的情形第（四）项",
)
UNLICENSED = GroundLine(
    code="B1",
    title="未依法取得安全生产相关许可或者许可被暂扣、吊销期间从事相关生产经营活动",
    article="应急管理部令第11号 未发生生产安全事故应当列入名单的情形第（一）项",
)
MEMORANDUM = MemorandumRef(citation="《中华人民共和国安全生产法》第七十八条")
ART78 = "《中华人民共和国安全生产法》第七十八条"
PROJECT_APPROVAL = MeasureLine(code="ndrc-project-approval", text="暂停项目审批", basis=ART78)
INSPECTIONS = MeasureLine(
    code="mem-inspection-frequency",
    text="加大执法检查频次",
    basis=ART78,
)
PUBLICATION = MeasureLine(code="mem-publication", text="向社会公告严重违法失信信息", basis=ART78)
INSURANCE = MeasureLine(code="nfra-insurance", text="上调有关保险费率", basis=ART78)

FACTS = (
    "2026年9月18日，你单位二车间在反应釜检修作业中发生一起中毒窒息事故，造成2人死亡。"
    "你单位未按规定向应急管理部门报告，直至9月21日经群众举报方被查实。\n"
    "上述事实有《简阳市鑫达化工有限公司“9·18”中毒窒息事故调查报告》、现场勘验笔录、"
    "询问笔录等证据为证。"
)

PRIOR_NOTICE = PriorNoticeContext(
    letterhead=Letterhead(
        issuer=ISSUER, reference="川应急信告〔2026〕18号", issued_on=date(2026, 11, 20)
    ),
    party=CHEMICAL_UNIT,
    list_name=BLACK_LIST,
    grounds=[CONCEALMENT],
    facts=FACTS,
    penalty_number="川应急罚〔2026〕12号",
    defence_wd=5,
    contact=CONTACT,
)

LISTING_DECISION = ListingDecisionContext(
    # A decision letter's 发文字号 is its listing's decision number.
    letterhead=Letterhead(
        issuer=ISSUER, reference="川应急信列〔2026〕7号", issued_on=date(2026, 12, 4)
    ),
    party=CHEMICAL_UNIT,
    list_name=BLACK_LIST,
    grounds=[CONCEALMENT],
    facts=FACTS,
    penalty_number="川应急罚〔2026〕12号",
    defence_outcome="在规定期限内未提出陈述、申辩意见，视为放弃陈述、申辩的权利。",
    measures=[INSPECTIONS, PUBLICATION, PROJECT_APPROVAL, INSURANCE],
    published_on=date(2026, 12, 11),
    expires_on=date(2029, 12, 10),
    term_months=36,
    term_word="管理期限",
    objection_filing_wd=15,
    repair=RepairTerms(
        basis="《信用修复管理办法》（国家发展改革委令第36号）",
        earliest_on=date(2027, 12, 11),
        min_published_months=12,
        obligations=["已纠正失信行为，并履行行政处罚决定等规定的相关义务"],
        commitment_required=True,
        channel="通过“信用中国”网站信用修复栏目在线提交申请，或向本机关提交书面申请及相关证明材料。",
        review_wd=20,
    ),
    contact=CONTACT,
)

REJECTION = RejectionContext(
    letterhead=Letterhead(
        issuer=ISSUER, reference="川应急信不列〔2026〕21号", issued_on=date(2026, 12, 4)
    ),
    party=LEGAL_REPRESENTATIVE,
    list_name=BLACK_LIST,
    outcome="withdrawn",
    batch_reference=BATCH,
    prior_notice_reference="川应急信告〔2026〕19号",
    reason=(
        "经复核，你提交的陈述、申辩材料及事故调查补充材料表明，事故发生时你已不再担任"
        "该单位法定代表人，不属于依法应当列入的有关人员。"
    ),
    contact=CONTACT,
)

DEPARTMENT_DISPATCH = DepartmentDispatchContext(
    letterhead=Letterhead(
        issuer=ISSUER, reference="川应急信推〔2026〕45号", issued_on=date(2026, 12, 14)
    ),
    department="四川省发展和改革委员会",
    batch_reference=BATCH,
    list_name=BLACK_LIST,
    memorandum=MEMORANDUM,
    measures=[PROJECT_APPROVAL],
    term_word="管理期限",
    entries=[
        DispatchEntry(
            listing_reference=f"{BATCH}-001",
            decision_number="川应急信列〔2026〕7号",
            penalty_number="川应急罚〔2026〕12号",
            subject=CHEMICAL_UNIT,
            grounds=[CONCEALMENT],
            published_on=date(2026, 12, 11),
            expires_on=date(2029, 12, 10),
        ),
        DispatchEntry(
            listing_reference=f"{BATCH}-002",
            decision_number="川应急信列〔2026〕8号",
            subject=MINING_UNIT,
            grounds=[UNLICENSED],
            published_on=date(2026, 12, 11),
            expires_on=date(2029, 12, 10),
        ),
    ],
    ack_due=DueDate(due=date(2026, 12, 21)),
    feedback_due=DueDate(due=date(2027, 1, 12), provisional=True),
    contact=CONTACT,
)

OVERDUE_ITEMS = [
    OverdueItem(
        listing_reference=f"{BATCH}-001",
        subject_name="简阳市鑫达化工有限公司",
        step=ResponseKind.ACK,
        due=DueDate(due=date(2026, 12, 21)),
        overdue_wd=3,
    ),
    OverdueItem(
        listing_reference=f"{BATCH}-002",
        subject_name="绵阳市安州区金鼎矿业有限公司",
        step=ResponseKind.ACK,
        due=DueDate(due=date(2026, 12, 21)),
        overdue_wd=3,
    ),
]

REMINDER = ReminderContext(
    letterhead=Letterhead(
        issuer=ISSUER, reference="川应急信催〔2026〕3号", issued_on=date(2026, 12, 24)
    ),
    department="国家金融监督管理总局四川监管局",
    items=OVERDUE_ITEMS,
    reply_due=DueDate(due=date(2026, 12, 29)),
    supervising_office="安全生产联合奖惩督办室",
    contact=CONTACT,
)

ESCALATION = EscalationContext(
    letterhead=Letterhead(
        issuer=ISSUER, reference="川应急信督〔2026〕1号", issued_on=date(2026, 12, 31)
    ),
    office="安全生产联合奖惩督办室",
    department="国家金融监督管理总局四川监管局",
    items=[item.model_copy(update={"overdue_wd": 8}) for item in OVERDUE_ITEMS],
    reminder_sent_on=date(2026, 12, 24),
    reminder_reference="川应急信催〔2026〕3号",
    contact=CONTACT,
)

EXPIRED_UNIT = SubjectLine(
    name="攀枝花市东区宏远建材有限公司", kind="unit", uscc="91510300MA62A1B2CG"
)

REMOVAL_NOTICE = RemovalNoticeContext(
    letterhead=Letterhead(
        issuer=ISSUER, reference="川应急信移〔2026〕9号", issued_on=date(2026, 11, 23)
    ),
    party=EXPIRED_UNIT,
    list_name=BLACK_LIST,
    decision_number="川应急信列〔2023〕15号",
    reason="管理期限届满，依规移出名单",
    removed_on=date(2026, 11, 20),
    measures_lifted=[INSPECTIONS, PUBLICATION, PROJECT_APPROVAL],
    contact=CONTACT,
)

REMOVAL_WINDOW = RemovalWindowContext(
    letterhead=Letterhead(
        issuer=ISSUER, reference="川应急信移提〔2026〕2号", issued_on=date(2026, 11, 2)
    ),
    party=EXPIRED_UNIT,
    list_name="安全生产领域失信联合惩戒对象名单",
    decision_number="川安监决〔2025〕31号",
    expires_on=date(2026, 12, 1),
    window_opens_on=date(2026, 11, 1),
    contact=CONTACT,
)

LIFT_REQUEST = LiftRequestContext(
    letterhead=Letterhead(
        issuer=ISSUER, reference="川应急信解〔2026〕41号", issued_on=date(2026, 11, 23)
    ),
    department="四川省发展和改革委员会",
    batch_reference="SC-2026-R05",
    list_name=BLACK_LIST,
    memorandum=MEMORANDUM,
    entries=[
        LiftEntry(
            listing_reference="SC-2023-031-004",
            decision_number="川应急信列〔2023〕15号",
            penalty_number="川安监罚〔2023〕40号",
            subject=EXPIRED_UNIT,
            reason="管理期限届满，依规移出名单",
            removed_on=date(2026, 11, 20),
            measures=[PROJECT_APPROVAL],
        ),
    ],
    confirm_due=DueDate(due=date(2026, 11, 30)),
    contact=CONTACT,
)

RED_AWARD = RedAwardContext(
    letterhead=Letterhead(
        issuer=ISSUER, reference="川应急信激〔2026〕4号", issued_on=date(2026, 12, 2)
    ),
    party=AWARDED_UNIT,
    list_name=RED_LIST,
    grounds=[
        GroundLine(
            code="R",
            title="同时满足公开安全承诺、3年无失信行为、3年无安全生产行政处罚、3年无死亡责任事故"
            "和新增职业病、安全生产标准化一级、未被其他领域列为联合惩戒对象等六项守信条件",
            article="安监总办〔2017〕133号",
        )
    ],
    published_on=date(2026, 12, 2),
    expires_on=date(2029, 12, 1),
    incentives=[
        MeasureLine(
            code="ndrc-incentive",
            text="项目审批核准开辟绿色通道，优先安排政府投资资金",
            basis="发改财金〔2017〕2219号",
        ),
        MeasureLine(
            code="mem-incentive",
            text="减少执法检查频次，优先推荐评先评优",
            basis="发改财金〔2017〕2219号",
        ),
        MeasureLine(
            code="pbc-incentive",
            text="作为金融机构授信的有利参考",
            basis="发改财金〔2017〕2219号",
        ),
    ],
    contact=CONTACT,
)

MONTHLY_REPORT = MonthlyReportContext(
    letterhead=Letterhead(
        issuer=ISSUER, reference="川应急信报〔2026〕11号", issued_on=date(2026, 12, 1)
    ),
    addressee="厅领导",
    month_label="2026年11月",
    jurisdictions=[
        JurisdictionRow(region="成都市", red=12, black=3, typical=9, ratio=0.6, below_target=False),
        JurisdictionRow(region="绵阳市", red=5, black=2, typical=2, ratio=2 / 7, below_target=True),
        JurisdictionRow(region="自贡市", red=0, black=0, typical=0, ratio=None, below_target=False),
    ],
    sla=[
        SlaRow(
            department="四川省发展和改革委员会",
            actions=14,
            ack_on_time=1.0,
            feedback_on_time=12 / 14,
            overdue_open=1,
            escalated=0,
        ),
        SlaRow(
            department="国家金融监督管理总局四川监管局",
            actions=9,
            ack_on_time=7 / 9,
            feedback_on_time=None,
            overdue_open=2,
            escalated=2,
        ),
    ],
    party_cases=[
        PartyCaseCount(
            case="异议",
            received=3,
            answered_on_time=1,
            answered_late=1,
            open_on_time=0,
            open_overdue=1,
        ),
        PartyCaseCount(
            case="移出申请",
            received=2,
            answered_on_time=2,
            answered_late=0,
            open_on_time=0,
            open_overdue=0,
        ),
    ],
    highlights=[
        "绵阳市典型案例占比28.6%，低于50%的目标，已通知其补报。",
        "国家金融监督管理总局四川监管局2项反馈逾期，经催办仍未办理，已于11月26日提请督办。",
    ],
    full_report_url="https://credit.example.org/reports/2026-11.html",
    contact=CONTACT,
)

REMEDIES = Remedies(review_body="有管辖权的行政复议机关")

OBJECTION_REPLY = ObjectionReplyContext(
    letterhead=Letterhead(
        issuer=ISSUER, reference="川应急异复〔2026〕3号", issued_on=date(2026, 11, 20)
    ),
    party=CHEMICAL_UNIT,
    list_name=BLACK_LIST,
    decision_number="川应急信决〔2026〕70号",
    objection_filed_on=date(2026, 11, 2),
    objection_reason="事故发生后已于当日电话报告，不属于瞒报。",
    finding="提出的异议理由不成立，本机关不予支持",
    reason="经调取值班记录和通话记录，事故发生当日未接到你单位报告；\n你单位于事故发生后第四日方才书面报告。",
    remedies=REMEDIES,
    contact=CONTACT,
)

REMOVAL_REFUSAL = RemovalRefusalContext(
    letterhead=Letterhead(
        issuer=ISSUER, reference="川应急信移〔2027〕2号", issued_on=date(2027, 2, 3)
    ),
    party=CHEMICAL_UNIT,
    list_name=BLACK_LIST,
    decision_number="川应急信决〔2026〕70号",
    applied_on=date(2027, 1, 12),
    early=True,
    reason="所附整改验收材料未经验收部门盖章确认，不能证明已纠正失信行为",
    expires_on=date(2029, 12, 10),
    term_word="管理期限",
    remedies=REMEDIES,
    contact=CONTACT,
)

RESTORE_NOTICE = RestoreNoticeContext(
    letterhead=Letterhead(
        issuer=ISSUER, reference="川应急信复〔2027〕1号", issued_on=date(2027, 3, 1)
    ),
    party=CHEMICAL_UNIT,
    list_name=BLACK_LIST,
    decision_number="川应急信决〔2026〕70号",
    removed_on=date(2027, 1, 20),
    reason="所附整改验收报告系伪造，验收单位出具书面说明予以否认。",
    restored_on=date(2027, 3, 1),
    expires_on=date(2029, 12, 10),
    term_word="管理期限",
    remedies=REMEDIES,
    contact=CONTACT,
)

DEPARTMENT_RESTORE = DepartmentRestoreContext(
    letterhead=Letterhead(
        issuer=ISSUER, reference="川应急信函〔2027〕8号", issued_on=date(2027, 3, 1)
    ),
    department="四川省发展和改革委员会",
    list_name=BLACK_LIST,
    memorandum=MEMORANDUM,
    measures=[PROJECT_APPROVAL],
    entries=[
        RestoreEntry(
            listing_reference="SC-2026-012-118",
            decision_number="川应急信决〔2026〕70号",
            subject=CHEMICAL_UNIT,
            reason="所附整改验收报告系伪造",
            restored_on=date(2027, 3, 1),
            expires_on=date(2029, 12, 10),
        )
    ],
    ack_due=DueDate(due=date(2027, 3, 8)),
    feedback_due=DueDate(due=date(2027, 3, 29)),
    contact=CONTACT,
)

PARTY_CASES = [
    PartyCaseItem(
        case="objection",
        case_id=7,
        listing_reference="SC-2026-012-118",
        subject_name=CHEMICAL_UNIT.name,
        filed_on=date(2026, 11, 2),
        due=DueDate(due=date(2026, 11, 23)),
        overdue_wd=3,
    ),
    PartyCaseItem(
        case="removal_application",
        case_id=2,
        listing_reference="SC-2023-031-004",
        subject_name=EXPIRED_UNIT.name,
        filed_on=date(2026, 10, 12),
        due=DueDate(due=date(2026, 11, 9)),
        overdue_wd=13,
    ),
]

PARTY_DEADLINE_REMINDER = PartyDeadlineReminderContext(
    letterhead=Letterhead(issuer=ISSUER, issued_on=date(2026, 11, 26)),
    office="四川省应急管理厅信用管理处",
    items=PARTY_CASES,
    escalate_after_wd=3,
    supervising_office="四川省应急管理厅办公室（督查室）",
    contact=CONTACT,
)

PARTY_DEADLINE_ESCALATION = PartyDeadlineEscalationContext(
    letterhead=Letterhead(issuer=ISSUER, issued_on=date(2026, 12, 1)),
    office="四川省应急管理厅办公室（督查室）",
    handling_office="四川省应急管理厅信用管理处",
    items=PARTY_CASES,
    reminder_sent_on=date(2026, 11, 26),
    contact=CONTACT,
)

SAMPLE_CONTEXTS: dict[NoticeKind, NoticeContext] = {
    NoticeKind.PRIOR_NOTICE: PRIOR_NOTICE,
    NoticeKind.LISTING_DECISION: LISTING_DECISION,
    NoticeKind.REJECTION: REJECTION,
    NoticeKind.DEPARTMENT_DISPATCH: DEPARTMENT_DISPATCH,
    NoticeKind.REMINDER: REMINDER,
    NoticeKind.ESCALATION: ESCALATION,
    NoticeKind.REMOVAL_NOTICE: REMOVAL_NOTICE,
    NoticeKind.REMOVAL_WINDOW: REMOVAL_WINDOW,
    NoticeKind.LIFT_REQUEST: LIFT_REQUEST,
    NoticeKind.RED_AWARD: RED_AWARD,
    NoticeKind.MONTHLY_REPORT: MONTHLY_REPORT,
    NoticeKind.OBJECTION_REPLY: OBJECTION_REPLY,
    NoticeKind.REMOVAL_REFUSAL: REMOVAL_REFUSAL,
    NoticeKind.RESTORE_NOTICE: RESTORE_NOTICE,
    NoticeKind.DEPARTMENT_RESTORE: DEPARTMENT_RESTORE,
    NoticeKind.PARTY_DEADLINE_REMINDER: PARTY_DEADLINE_REMINDER,
    NoticeKind.PARTY_DEADLINE_ESCALATION: PARTY_DEADLINE_ESCALATION,
}


# --- the same letters under the other rule-sets (issue 14 acceptance: goldens per rule-set) ---
# SAMPLE_CONTEXTS above are 令第11号 (mem-2023-serious) letters decided in 2026 (令第36号
# repair). Below, the letters whose wording differs by rule-set or by the repair rule in force on
# the decision date, as `compose` fills them from the catalogue: 安监总办〔2017〕49号 black letters
# (惩戒期限, the 1001号 memorandum, its unverified measures referred to it), a 49号 decision
# before 2023-05-01 (no repair rule yet: no 修复告知书) and one under 令第58号, and 133号 red
# letters (the 2219号 memorandum, every incentive unverified, so none stated as fact).

SANCTION_LIST = "安全生产领域失信联合惩戒对象名单"
MEMORANDUM_1001 = MemorandumRef(
    citation="《关于对安全生产领域失信生产经营单位及其有关人员开展联合惩戒的合作备忘录》"
    "（发改财金〔2016〕1001号）"
)
MEMORANDUM_2219 = MemorandumRef(
    citation="《关于对安全生产领域守信生产经营单位及其有关人员开展联合激励的合作备忘录》"
    "（发改财金〔2017〕2219号）"
)
LATE_REPORT = GroundLine(
    code="S2.6",
    title="瞒报、谎报、迟报生产安全事故",
    article="安监总办〔2017〕49号 第二条第（六）项",
)
BASIS_1001 = MEMORANDUM_1001.citation
SANCTION_MEASURES = [
    MeasureLine(code="mem-inspection-frequency", text="加大执法检查频次", basis=BASIS_1001),
    MeasureLine(
        code="mem-key-target", text="列为重点监管对象，实施不定期暗查暗访", basis=BASIS_1001
    ),
]
RED_GROUND = GroundLine(
    code="R",
    title="同时满足六项守信条件：公开安全承诺；3年无失信行为；3年无安全生产行政处罚；"
    "3年无死亡责任事故和新增职业病；安全生产标准化一级（部分地方二级）；未被其他领域列为联合惩戒对象",
    article="安监总办〔2017〕133号 第二条第（一）至（六）项",
)

LEGACY_DECISION_2023 = LISTING_DECISION.model_copy(
    update={
        "letterhead": Letterhead(
            issuer=ISSUER, reference="川安监信列〔2023〕15号", issued_on=date(2023, 6, 1)
        ),
        "party": EXPIRED_UNIT,
        "list_name": SANCTION_LIST,
        "penalty_number": "川安监罚〔2023〕40号",
        "grounds": [LATE_REPORT],
        "facts": None,
        "measures": SANCTION_MEASURES,
        "other_measures_in": BASIS_1001,
        "published_on": date(2023, 6, 8),
        "expires_on": date(2024, 6, 7),
        "term_months": 12,
        "term_word": "惩戒期限",
        "repair": RepairTerms(
            basis="《失信行为纠正后的信用信息修复管理办法（试行）》（国家发展改革委令第58号）",
            earliest_on=date(2024, 6, 8),
            min_published_months=12,
            obligations=["已纠正失信行为，并履行行政处罚决定等规定的相关义务"],
            commitment_required=True,
            channel="向本机关或“信用中国”网站提交信用修复申请及相关证明材料。",
            review_wd=20,
        ),
    }
)

RULE_SET_SAMPLES: dict[str, tuple[NoticeKind, NoticeContext]] = {
    "prior_notice--saws-2017-sanction": (
        NoticeKind.PRIOR_NOTICE,
        PRIOR_NOTICE.model_copy(
            update={
                "letterhead": Letterhead(
                    issuer=ISSUER, reference="川安监信告〔2023〕6号", issued_on=date(2023, 5, 18)
                ),
                "party": EXPIRED_UNIT,
                "list_name": SANCTION_LIST,
                "grounds": [LATE_REPORT],
                "facts": None,
                "penalty_number": "川安监罚〔2023〕40号",
            }
        ),
    ),
    "listing_decision--saws-2017-sanction--before-repair-rules": (
        NoticeKind.LISTING_DECISION,
        LEGACY_DECISION_2023.model_copy(
            update={
                "letterhead": Letterhead(
                    issuer=ISSUER, reference="川安监信列〔2023〕4号", issued_on=date(2023, 3, 1)
                ),
                "published_on": date(2023, 3, 8),
                "expires_on": date(2024, 3, 7),
                "repair": None,
            }
        ),
    ),
    "listing_decision--saws-2017-sanction--ndrc-2023-repair": (
        NoticeKind.LISTING_DECISION,
        LEGACY_DECISION_2023,
    ),
    "department_dispatch--saws-2017-sanction": (
        NoticeKind.DEPARTMENT_DISPATCH,
        DEPARTMENT_DISPATCH.model_copy(
            update={
                "letterhead": Letterhead(
                    issuer=ISSUER, reference="川安监信函〔2023〕12号", issued_on=date(2023, 6, 12)
                ),
                "batch_reference": "SC-2023-031",
                "list_name": SANCTION_LIST,
                "memorandum": MEMORANDUM_1001,
                "measures": [],
                "other_measures_in": BASIS_1001,
                "term_word": "惩戒期限",
                "entries": [
                    DispatchEntry(
                        listing_reference="SC-2023-031-004",
                        decision_number="川安监决〔2023〕15号",
                        subject=EXPIRED_UNIT,
                        grounds=[LATE_REPORT],
                        published_on=date(2023, 6, 8),
                        expires_on=date(2024, 6, 7),
                    )
                ],
                "ack_due": DueDate(due=date(2023, 6, 19)),
                "feedback_due": DueDate(due=date(2023, 7, 10)),
            }
        ),
    ),
    "lift_request--saws-2017-sanction": (
        NoticeKind.LIFT_REQUEST,
        LIFT_REQUEST.model_copy(
            update={
                "list_name": SANCTION_LIST,
                "memorandum": MEMORANDUM_1001,
                "other_measures_in": BASIS_1001,
                "entries": [
                    LIFT_REQUEST.entries[0].model_copy(
                        update={"reason": "惩戒期满，自动移出", "measures": []}
                    )
                ],
            }
        ),
    ),
    "red_award--saws-2017-incentive": (
        NoticeKind.RED_AWARD,
        RED_AWARD.model_copy(
            update={
                "grounds": [RED_GROUND],
                "incentives": [],
                "other_measures_in": MEMORANDUM_2219.citation,
            }
        ),
    ),
    "department_dispatch--saws-2017-incentive": (
        NoticeKind.DEPARTMENT_DISPATCH,
        DEPARTMENT_DISPATCH.model_copy(
            update={
                "list_name": RED_LIST,
                "list_type": "red",
                "batch_reference": "SC-2026-R02",
                "memorandum": MEMORANDUM_2219,
                "measures": [],
                "other_measures_in": MEMORANDUM_2219.citation,
                "term_word": "公示期限",
                "entries": [
                    DispatchEntry(
                        listing_reference="SC-2026-R02-001",
                        decision_number="川应急信激〔2026〕4号",
                        subject=AWARDED_UNIT,
                        grounds=[RED_GROUND],
                        published_on=date(2026, 12, 2),
                        expires_on=date(2029, 12, 1),
                    )
                ],
                "feedback_due": DueDate(due=date(2027, 1, 12), provisional=True),
            }
        ),
    ),
    "removal_notice--revoked": (
        NoticeKind.REMOVAL_NOTICE,
        REMOVAL_NOTICE.model_copy(
            update={
                "reason": "经核查认定有误，撤销列入",
                "revoked": True,
                "decision_reason": "经核查，处罚决定书所列主体系同名另一单位",
            }
        ),
    ),
    "lift_request--revoked": (
        NoticeKind.LIFT_REQUEST,
        LIFT_REQUEST.model_copy(
            update={
                "revoked": True,
                "entries": [
                    LIFT_REQUEST.entries[0].model_copy(
                        update={"reason": "经核查认定有误，撤销列入"}
                    )
                ],
            }
        ),
    ),
}
"""Golden name (`<kind>--<rule-set>[--<repair rule>]`) → the letter under that rule-set;
`<kind>--revoked`: the letter after an upheld objection (撤销列入)."""


def unnumbered(kind: NoticeKind) -> NoticeContext:
    """The sample letter of `kind` without its printed 发文字号, so the outbox numbers each copy
    from the sequence: a number is printed on one letter only (notice.letter_number is unique)."""
    context = SAMPLE_CONTEXTS[kind]
    head = context.letterhead.model_copy(update={"reference": None})
    return context.model_copy(update={"letterhead": head})
