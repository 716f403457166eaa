"""The words a person reads for the codes we store: one home for each label table.

Every state, kind and reason a user can see is named here once; the CLI, the Prefect
artifacts, the notices and the views import these tables instead of keeping copies.
"""

from __future__ import annotations

from collections.abc import Mapping

from registry.models import ActionState, ListingState, NoticeState

LIST_TYPE_LABELS: dict[str, str] = {"black": "黑名单", "red": "红名单"}
SUBJECT_KIND_LABELS: dict[str, str] = {"unit": "单位", "person": "个人"}
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
}
# Values of `notifications.render.NoticeKind`; the core may not import notifications.
NOTICE_KIND_LABELS: dict[str, str] = {
    "prior_notice": "告知书",
    "listing_decision": "决定书",
    "rejection": "不予列入通知",
    "department_dispatch": "推送函",
    "reminder": "催办函",
    "escalation": "督办通知",
    "removal_notice": "移出告知",
    "lift_request": "解除函",
    "red_award": "红名单告知",
    "monthly_report": "月报",
}
AUDIT_ACTION_LABELS: dict[str, str] = {
    "listing.notify": "送达告知书",
    "listing.await_confirmation": "申辩期满，转待确认",
    "listing.confirm": "认定列入",
    "listing.reject": "不予列入",
    "listing.publish": "公开",
    "listing.review_removal": "进入移出审核",
    "listing.retain": "维持列入",
    "listing.remove": "移出名单",
    "listing.revoke": "撤销列入",
    "listing.restore": "恢复列入",
}
REMOVAL_REASON_LABELS: dict[str, str] = {
    "expiry": "期满",
    "application": "到期前申请",
    "early_removal": "提前移出",
    "revoked": "撤销",
}
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


def label(labels: Mapping[str, str], code: str | None) -> str:
    """The Chinese label of a stored code, or the code itself when it has none."""
    if code is None:
        return "—"
    return labels.get(code, code)
