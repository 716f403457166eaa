"""The words a person reads for the codes we store: one home for each code and its labels.

Every kind, state, reason and step a user can see is defined here once — as a `StrEnum` whose
values are the strings stored in the database — or, for states of a table, in `models.py`; its
Chinese labels sit in one table next to it. The CLI, the Prefect artifacts, the notices and the
views import these names instead of keeping copies, and `tests/unit/test_vocabulary.py` fails
when a member has no label or a table labels something that is not a member.

Pure: no Prefect and no `notifications` import, so the core can name a notice kind and
`notifications` can import it from here. Response kinds are here too because the SLA clocks and
the 催办函 name the step a department owes with them; the outcomes of feedback (已实施/不适用)
are used only through `registry.responses`, which keeps them.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from registry.models import ActionState, ListingState, ListType, NoticeState, SubjectKind


class NoticeKind(StrEnum):
    """Every notice we send; each has templates `<kind>.subject/.txt/.html` and a context."""

    PRIOR_NOTICE = "prior_notice"  # 告知书 to the party before a black listing
    LISTING_DECISION = "listing_decision"  # 决定书 + 信用修复告知书 served together (两书同达)
    REJECTION = "rejection"  # 不予列入 / 撤回 notice to the party
    DEPARTMENT_DISPATCH = "department_dispatch"  # 推送函: one per department per batch
    REMINDER = "reminder"  # 催办函 to a department
    ESCALATION = "escalation"  # 督办 notice to the supervising office
    REMOVAL_NOTICE = "removal_notice"  # 移出名单告知 to the party
    REMOVAL_WINDOW = "removal_window"  # legacy rule: apply to leave in the 30 days before expiry
    LIFT_REQUEST = "lift_request"  # 解除函 to departments: lift measures and confirm
    RED_AWARD = "red_award"  # 红名单 award notice to the party
    MONTHLY_REPORT = "monthly_report"  # monthly typical-case report mail to leadership
    OBJECTION_REPLY = "objection_reply"  # 异议答复书: a dismissed objection, with reasons
    REMOVAL_REFUSAL = "removal_refusal"  # 不予移出决定书: a refused removal application
    RESTORE_NOTICE = "restore_notice"  # 恢复列入告知书: an early removal undone for fraud
    DEPARTMENT_RESTORE = "department_restore"  # 恢复联合惩戒函: re-apply lifted measures
    PARTY_DEADLINE_REMINDER = "party_deadline_reminder"  # 催办: an objection/application overdue
    PARTY_DEADLINE_ESCALATION = "party_deadline_escalation"  # 督办 of the same, to the office


class RemovalReason(StrEnum):
    """Why a listing left its list: the value of `listing.removal_reason`."""

    EXPIRY = "expiry"  # term ended
    APPLICATION = "application"  # legacy rule: application in the window before expiry
    EARLY_REMOVAL = "early_removal"  # current rule: after the minimum period, with commitment
    REVOKED = "revoked"  # an upheld objection: the listing was wrongly made
    RED_FORFEITED = "red_forfeited"  # a red listing ends when its subject is confirmed black


class Step(StrEnum):
    """The steps of `route-batch`, in order (the operator's decision is `DECIDE`)."""

    NOTIFY = "notify"
    CLOSE_DEFENCE = "close_defence"
    DECIDE = "decide"
    PUBLISH = "publish"
    DISPATCH = "dispatch"


class ResponseKind(StrEnum):
    """What a department answers, and so the step it owes (发起—响应—反馈, then lifting)."""

    ACK = "ack"  # 响应: the department received the dispatch
    FEEDBACK = "feedback"  # 反馈: which measures it applied, or why none applied
    LIFT = "lift"  # 解除确认: measures lifted after the lift request (解除函)

    @property
    def label(self) -> str:
        """Its Chinese name (the 催办函 and 督办 templates read `step.label`)."""
        return RESPONSE_KIND_LABELS[self]


LIST_TYPE_LABELS: dict[str, str] = {ListType.BLACK: "黑名单", ListType.RED: "红名单"}
BATCH_LIST_TYPE_LABELS: dict[str, str] = {**LIST_TYPE_LABELS, "mixed": "红黑名单混合"}
"""A batch holds one list type, or both (`mixed`, as intake writes a file of both)."""
SUBJECT_KIND_LABELS: dict[str, str] = {SubjectKind.UNIT: "单位", SubjectKind.PERSON: "个人"}
LISTING_STATE_LABELS: dict[str, str] = {
    ListingState.PROPOSED: "已提出",
    ListingState.NOTIFIED: "已告知待申辩",
    ListingState.AWAITING_CONFIRMATION: "待确认",
    ListingState.CONFIRMED: "已认定",
    ListingState.IN_FORCE: "生效中",
    ListingState.REMOVAL_REVIEW: "移出审核中",
    ListingState.REMOVED: "已移出",
    ListingState.REJECTED: "不予列入",
    ListingState.REVOKED: "已撤销",
}
ACTION_STATE_LABELS: dict[str, str] = {
    ActionState.DISPATCHED: "已推送待响应",
    ActionState.ACKNOWLEDGED: "已响应待反馈",
    ActionState.FEEDBACK_REPORTED: "已反馈",
    ActionState.LIFT_REQUESTED: "待确认解除",
    ActionState.LIFT_CONFIRMED: "已确认解除",
}
NOTICE_STATE_LABELS: dict[str, str] = {
    NoticeState.QUEUED: "待发送",
    NoticeState.SENDING: "发送中",
    NoticeState.SENT: "已发出",
    NoticeState.RETRY_WAIT: "待重试",
    NoticeState.FAILED: "永久失败",
    NoticeState.DEAD: "已放弃",
    NoticeState.BAD_ADDRESS: "地址无效待更正",
    NoticeState.WITHHELD: "内容含未脱敏信息未发送",
    NoticeState.FOR_POST: "待邮寄/直接送达",
}
NOTICE_KIND_LABELS: dict[str, str] = {
    NoticeKind.PRIOR_NOTICE: "告知书",
    NoticeKind.LISTING_DECISION: "决定书",
    NoticeKind.REJECTION: "不予列入通知",
    NoticeKind.DEPARTMENT_DISPATCH: "推送函",
    NoticeKind.REMINDER: "催办函",
    NoticeKind.ESCALATION: "督办通知",
    NoticeKind.REMOVAL_NOTICE: "移出告知",
    NoticeKind.REMOVAL_WINDOW: "移出申请提示函",
    NoticeKind.LIFT_REQUEST: "解除函",
    NoticeKind.RED_AWARD: "红名单告知",
    NoticeKind.MONTHLY_REPORT: "月报",
    NoticeKind.OBJECTION_REPLY: "异议答复书",
    NoticeKind.REMOVAL_REFUSAL: "不予移出决定书",
    NoticeKind.RESTORE_NOTICE: "恢复列入告知书",
    NoticeKind.DEPARTMENT_RESTORE: "恢复联合惩戒函",
    NoticeKind.PARTY_DEADLINE_REMINDER: "当事人事项催办",
    NoticeKind.PARTY_DEADLINE_ESCALATION: "当事人事项督办",
}
NOTICE_NUMBER_WORDS: dict[str, str] = {
    # 发文字号 words (`registry.numbering`): 川应急 + 信告 + 〔2026〕3号. Every kind has one
    # (tests/unit/test_numbering.py); JOINTCREDIT_NUMBER_WORDS overrides them.
    NoticeKind.PRIOR_NOTICE: "信告",
    NoticeKind.LISTING_DECISION: "信列",
    NoticeKind.REJECTION: "信不列",
    NoticeKind.DEPARTMENT_DISPATCH: "信推",
    NoticeKind.REMINDER: "信催",
    NoticeKind.ESCALATION: "信督",
    NoticeKind.REMOVAL_NOTICE: "信移",
    NoticeKind.REMOVAL_WINDOW: "信移提",
    NoticeKind.LIFT_REQUEST: "信解",
    NoticeKind.RED_AWARD: "信激",
    NoticeKind.MONTHLY_REPORT: "信报",
    NoticeKind.OBJECTION_REPLY: "信异复",
    NoticeKind.REMOVAL_REFUSAL: "信不移",
    NoticeKind.RESTORE_NOTICE: "信恢告",
    NoticeKind.DEPARTMENT_RESTORE: "信恢函",
    NoticeKind.PARTY_DEADLINE_REMINDER: "信案催",
    NoticeKind.PARTY_DEADLINE_ESCALATION: "信案督",
}
AUDIT_ACTION_LABELS: dict[str, str] = {
    "listing.notify": "制发告知书",
    "listing.defence_window_opened": "告知书已送达，陈述申辩期起算",
    "notice.served": "记录送达",
    "notice.service_failed": "记录送达失败",
    "listing.await_confirmation": "申辩期满，转待确认",
    "listing.confirm": "认定列入",
    "listing.reject": "不予列入",
    "listing.publish": "公开",
    "listing.review_removal": "进入移出审核",
    "listing.retain": "维持列入",
    "listing.remove": "移出名单",
    "listing.revoke": "撤销列入",
    "listing.restore": "恢复列入",
    "objection.file": "登记异议",
    "objection.decide": "处理异议",
    "removal_application.file": "登记移出申请",
    "removal_application.decide": "决定移出申请",
    "commitment.record": "登记信用承诺",
    "action.lift_request": "请求解除措施",
    "action.redispatch": "恢复后重新推送",
    "objection.remind": "异议逾期催办",
    "objection.escalate": "异议逾期督办",
    "removal_application.remind": "移出申请逾期催办",
    "removal_application.escalate": "移出申请逾期督办",
    "report.monthly_mail": "报送月报",
    "audit.anchor_accept": "接受当前审计链头为锚点",
}
REMOVAL_REASON_LABELS: dict[str, str] = {
    RemovalReason.EXPIRY: "期满",
    RemovalReason.APPLICATION: "到期前申请",
    RemovalReason.EARLY_REMOVAL: "提前移出",
    RemovalReason.REVOKED: "撤销",
    RemovalReason.RED_FORFEITED: "因列入黑名单撤销红名单",
}
"""The operator's short name of a removal reason (listing view, credit archive)."""
REMOVAL_REASON_STATEMENTS: dict[str, str] = {
    RemovalReason.EXPIRY: "{term_word}届满，依规移出名单",
    RemovalReason.APPLICATION: "经当事人申请并审核同意，移出名单",
    RemovalReason.EARLY_REMOVAL: "完成信用修复，提前移出名单",
    RemovalReason.REVOKED: "经核查认定有误，撤销列入",
    RemovalReason.RED_FORFEITED: "被列入严重失信主体名单，撤销守信激励",
}
"""The sentence a letter states as the ground of removal (the party's notice, the 解除函); the
term is named as its rule-set names it (管理期限 under 令第11号, `rulesets.yml` term_word)."""
REMOVAL_STATEMENT_UNKNOWN = "移出名单"
"""What a letter states when the stored reason has no statement."""
REMOVAL_REVIEW_REASON_LABELS: dict[str, str] = {
    RemovalReason.EXPIRY: "期满（需操作员决定）",
    RemovalReason.APPLICATION: "当事人申请移出",
    RemovalReason.EARLY_REMOVAL: "申请提前移出（信用修复）",
}
"""Why a listing waits for the operator's removal decision (the review form's table); only
the reasons that can wait for one."""
STEP_LABELS: dict[str, str] = {
    Step.NOTIFY: "告知",
    Step.CLOSE_DEFENCE: "申辩期满",
    Step.DECIDE: "操作员决定",
    Step.PUBLISH: "公开",
    Step.DISPATCH: "推送部门",
}
RESPONSE_KIND_LABELS: dict[str, str] = {
    ResponseKind.ACK: "响应",
    ResponseKind.FEEDBACK: "反馈",
    ResponseKind.LIFT: "解除确认",
}
SERVICE_STATE_LABELS: dict[str, str] = {
    "pending": "未送达",
    "served": "已送达",
    "failed": "送达失败",
}
SERVICE_METHOD_LABELS: dict[str, str] = {
    "email": "电子邮件送达",
    "post": "邮寄送达",
    "in_person": "直接送达",
}
CHANNEL_LABELS: dict[str, str] = {"email": "电子邮件", "post": "邮寄/直接送达"}
CASE_STATE_LABELS: dict[str, str] = {
    "open": "待处理",
    "approved": "已批准",
    "granted": "已批准",
    "rejected": "已驳回",
    "refused": "已驳回",
    "upheld": "成立",
    "dismissed": "不成立",
    "withdrawn": "已撤回",
}


def is_revocation(reason: str | None) -> bool:
    """An upheld objection: the listing was wrong from the start, so letters say 撤销列入
    (the decision is undone), never 移出名单 (a valid listing ending)."""
    return reason == RemovalReason.REVOKED


def removal_statement(reason: str | None, *, term_word: str = "期限") -> str:
    """The ground of removal a letter states for a stored `removal_reason`."""
    statement = REMOVAL_REASON_STATEMENTS.get(reason or "", REMOVAL_STATEMENT_UNKNOWN)
    return statement.format(term_word=term_word)


def label(labels: Mapping[str, str], code: str | None) -> str:
    """The Chinese label of a stored code, or the code itself when it has none."""
    if code is None:
        return "—"
    return labels.get(code, code)
