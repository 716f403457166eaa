"""What each official notice says: one strict pydantic model per notice kind, plus shared parts.

The models are the only way data reaches a template, so they are where personal data is held
back: a person's ID number can only enter as its masked form (`110105********1234`), and
identifiers (USCC, ground and measure codes, mailboxes) are format-checked. Every other string
is free text and is escaped by the HTML templates. Dates are plain `date`s; a due date carries
its provisional flag (DOMAIN.md §4: a deadline in a year the calendar does not know is 暂定 and
must say so wherever it is shown).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from memoranda.schema import Code, ListType, Mailbox
from registry.vocabulary import ResponseKind

MaskedResidentId = Annotated[str, Field(pattern=r"^[0-9]{6}\*{8}[0-9]{3}[0-9X]$")]
"""Six region digits, eight stars, the last four characters: nothing else may reach a notice."""

Uscc = Annotated[str, Field(pattern=r"^[0-9A-Z]{18}$")]
"""Format only: a pilot code with a mismatching check character is still a legal code."""

GroundCode = Annotated[str, Field(pattern=r"^([a-z][a-z0-9-]*:)?[A-Z][0-9A-Z.]*$")]
"""`A1` or `mem-2023-serious:A1` (DOMAIN.md §2.1)."""

ReportUrl = Annotated[str, Field(pattern=r"^(https?|file)://[^\s<>\"'\\]+$")]
"""A link a mail reader can open; no spaces or quotes, so it is safe in an `href`."""

Ratio = Annotated[float, Field(ge=0, le=1)]


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- shared parts ------------------------------------------------------------------------


class Letterhead(Frozen):
    """The issuing authority (发文机关), the letter's own number (发文字号) and its date (成文日期).

    `reference` is given by the outbox when the letter is first enqueued (`registry.numbering`),
    or by the composer for a decision letter (its listing's decision number)."""

    issuer: str
    reference: str | None = None
    issued_on: date


class SubjectLine(Frozen):
    """A listed unit (USCC) or person (masked ID, and the unit they act for)."""

    name: str
    kind: Literal["unit", "person"]
    uscc: Uscc | None = None
    id_masked: MaskedResidentId | None = None
    unit_name: str | None = None
    care_of_unit: bool = False
    """A person's letter that goes to the unit's mailbox (their own is unknown): the letter
    says it is passed on by the unit (经由你所在单位转交)."""

    @model_validator(mode="after")
    def _identifier_fits_kind(self) -> SubjectLine:
        if self.kind == "unit" and (self.id_masked is not None or self.unit_name is not None):
            raise ValueError("单位主体不应有身份证号或所属单位（a unit has no ID number or unit）")
        if self.kind == "person" and self.uscc is not None:
            raise ValueError("自然人主体不应有统一社会信用代码（a person has no USCC）")
        if self.care_of_unit and self.kind != "person":
            raise ValueError(
                "只有自然人的告知可经所在单位转交（only a person's letter goes care of a unit）"
            )
        return self


class GroundLine(Frozen):
    """One ground (认定依据): its code, what it says, and the article it rests on."""

    code: GroundCode
    title: str
    article: str


class DueDate(Frozen):
    """A due date, marked 暂定 when it falls in a year the holiday calendar does not know.

    `DueDate.model_validate(deadline, from_attributes=True)` takes a `registry.calendar.Deadline`.
    """

    due: date
    provisional: bool = False


class MeasureLine(Frozen):
    """One measure a department applies or lifts, with its legal basis (国办发〔2020〕49号)."""

    code: Code
    text: str
    basis: str


class Contact(Frozen):
    """Where the reader answers: the handling office, its mailbox and, optionally, a phone."""

    office: str
    email: Mailbox
    phone: str | None = None


class MemorandumRef(Frozen):
    """The cooperation memorandum (合作备忘录) a dispatch or lift request rests on."""

    citation: str
    """How the letter names it: 《安全生产法》第七十八条, 《…备忘录》（发改财金〔2016〕1001号）."""


class OverdueItem(Frozen):
    """One overdue department action, as listed in a 催办函 and a 督办 notice."""

    listing_reference: str
    subject_name: str
    step: ResponseKind  # the step that is overdue; templates show `step.label`
    due: DueDate
    overdue_wd: Annotated[int, Field(ge=1)]


# --- the notices -------------------------------------------------------------------------


class NoticeContext(Frozen):
    """Common base: every notice is a letter from an issuer, with a number and a date."""

    letterhead: Letterhead


class PriorNoticeContext(NoticeContext):
    """告知书: reasons, basis and the right to state a case before a black listing."""

    party: SubjectLine
    list_name: str
    grounds: list[GroundLine] = Field(min_length=1)
    facts: str | None = None
    penalty_number: str | None = None  # 处罚决定书文号: the penalty the listing rests on
    # The window runs from service (行政处罚法第四十四条), so the letter states its length, never a
    # date: the date is known only once the letter is served (registry.service_of_notices).
    defence_wd: Annotated[int, Field(ge=1)]
    contact: Contact


class RepairTerms(Frozen):
    """信用修复告知书, served with the decision (两书同达, 《信用修复管理办法》)."""

    basis: str
    earliest_on: date
    min_published_months: Annotated[int, Field(ge=1)]
    obligations: list[str] = Field(min_length=1)
    commitment_required: bool = True
    channel: str
    review_wd: Annotated[int, Field(ge=1)]


class ListingDecisionContext(NoticeContext):
    """决定书 with the credit-repair notice served together; its number is the letterhead's."""

    party: SubjectLine
    list_name: str
    grounds: list[GroundLine] = Field(min_length=1)
    facts: str | None = None
    penalty_number: str | None = None  # 处罚决定书文号, the ground; never the decision's number
    defence_outcome: str
    measures: list[MeasureLine] = []
    other_measures_in: str | None = None
    """Where measures not stated as fact (unverified) are found: "其他措施按《…》执行"."""
    published_on: date
    expires_on: date
    term_months: Annotated[int, Field(ge=1)]
    term_word: str = "公示期限"
    objection_filing_wd: Annotated[int, Field(ge=1)]
    repair: RepairTerms | None
    """None for a decision dated before any repair rule took effect."""
    contact: Contact


class RejectionContext(NoticeContext):
    """不予列入 (refused at confirmation) or 撤回 (the proposal dropped) after a prior notice."""

    party: SubjectLine
    list_name: str
    outcome: Literal["rejected", "withdrawn"]
    batch_reference: str
    prior_notice_reference: str | None = None
    reason: str
    contact: Contact


class DispatchEntry(Frozen):
    """One listing in a 推送函 digest (the measures are the department's, stated once)."""

    listing_reference: str
    decision_number: str
    penalty_number: str | None = None
    subject: SubjectLine
    grounds: list[GroundLine] = Field(min_length=1)
    published_on: date
    expires_on: date


class DepartmentDispatchContext(NoticeContext):
    """推送函: one per department per batch, the whole batch as a digest table.

    `measures` are what this department applies under this memorandum — the same for every
    listing it receives — so the letter states them once above the table of subjects.
    """

    department: str
    batch_reference: str
    list_name: str
    list_type: ListType = "black"
    memorandum: MemorandumRef
    measures: list[MeasureLine] = []
    other_measures_in: str | None = None
    term_word: str = "公示期限"
    entries: list[DispatchEntry] = Field(min_length=1)
    ack_due: DueDate
    feedback_due: DueDate
    contact: Contact


class ReminderContext(NoticeContext):
    """催办函 to a department with its overdue actions."""

    department: str
    items: list[OverdueItem] = Field(min_length=1)
    reply_due: DueDate
    supervising_office: str
    contact: Contact


class EscalationContext(NoticeContext):
    """督办: actions still open after the reminder, referred to the supervising office."""

    office: str
    department: str
    items: list[OverdueItem] = Field(min_length=1)
    reminder_sent_on: date
    reminder_reference: str | None = None
    contact: Contact


class RemovalNoticeContext(NoticeContext):
    """移出名单告知: the listing ends; publication stops and the measures are lifted."""

    party: SubjectLine
    list_name: str
    list_type: ListType = "black"
    decision_number: str
    reason: str
    removed_on: date
    measures_lifted: list[MeasureLine] = []
    revoked: bool = False  # an upheld objection: 撤销列入, the listing was wrong from the start
    decision_reason: str | None = None  # an upheld objection: why the operator found it so
    contact: Contact


class RemovalWindowContext(NoticeContext):
    """移出申请提示: under the legacy rule the party must apply in the days before expiry."""

    party: SubjectLine
    list_name: str
    decision_number: str
    expires_on: date
    window_opens_on: date
    contact: Contact


class LiftEntry(Frozen):
    """One removed listing in a 解除函, with the measures this department must lift."""

    listing_reference: str
    decision_number: str
    penalty_number: str | None = None
    subject: SubjectLine
    reason: str
    removed_on: date
    measures: list[MeasureLine] = []


class LiftRequestContext(NoticeContext):
    """解除函: lift the measures of removed listings and confirm by the due date."""

    department: str
    batch_reference: str
    list_name: str
    list_type: ListType = "black"
    memorandum: MemorandumRef
    other_measures_in: str | None = None
    entries: list[LiftEntry] = Field(min_length=1)
    confirm_due: DueDate
    revoked: bool = False  # every entry's listing was revoked (upheld objection): 撤销列入
    contact: Contact


class Remedies(Frozen):
    """The party's remedies against a decision (救济途径), each with its window from receipt,
    worded as the 决定书 words them (六十日 / 六个月, no article numbers).

    60 days: 行政复议法 (read in the old law's 第九条; the 2023 revision's article number is
    second-hand [K], so no letter cites it); 6 months: 行政诉讼法第四十六条 [K]. A letter served
    is when the party knows, so both run from receipt (docs/legal-sources.md).
    """

    review_body: str  # 行政复议机关 (the government at the same level, our default wording)


class ObjectionReplyContext(NoticeContext):
    """异议答复书: a dismissed objection answered in writing, with the reason and remedies."""

    party: SubjectLine
    list_name: str
    decision_number: str
    objection_filed_on: date
    objection_reason: str
    finding: str
    reason: str
    remedies: Remedies
    contact: Contact


class RemovalRefusalContext(NoticeContext):
    """不予移出决定书: a refused removal (credit-repair) application, with reason and remedies."""

    party: SubjectLine
    list_name: str
    decision_number: str
    applied_on: date
    early: bool  # 提前移出（信用修复） under the current rule, else the legacy application
    reason: str
    expires_on: date
    term_word: str = "公示期限"
    remedies: Remedies
    contact: Contact


class RestoreNoticeContext(NoticeContext):
    """恢复列入告知书: an early removal obtained by fraud is undone; the original term stands."""

    party: SubjectLine
    list_name: str
    list_type: ListType = "black"
    decision_number: str
    removed_on: date | None = None
    reason: str
    restored_on: date
    expires_on: date
    term_word: str = "公示期限"
    remedies: Remedies
    contact: Contact


class RestoreEntry(Frozen):
    """One restored listing in a 恢复联合惩戒函."""

    listing_reference: str
    decision_number: str
    subject: SubjectLine
    reason: str
    restored_on: date
    expires_on: date


class DepartmentRestoreContext(NoticeContext):
    """恢复联合惩戒函: the department lifted its measures; it applies them again and answers."""

    department: str
    list_name: str
    list_type: ListType = "black"
    memorandum: MemorandumRef
    measures: list[MeasureLine] = []
    other_measures_in: str | None = None
    term_word: str = "公示期限"
    entries: list[RestoreEntry] = Field(min_length=1)
    ack_due: DueDate
    feedback_due: DueDate
    contact: Contact


class PartyCaseItem(Frozen):
    """One objection or removal application the authority has not answered by its due date."""

    case: Literal["objection", "removal_application"]
    case_id: Annotated[int, Field(ge=1)]
    listing_reference: str
    subject_name: str
    filed_on: date
    due: DueDate
    overdue_wd: Annotated[int, Field(ge=1)]


class PartyDeadlineReminderContext(NoticeContext):
    """催办 to our own office: a party's objection or application waits past its answer date."""

    office: str
    items: list[PartyCaseItem] = Field(min_length=1)
    escalate_after_wd: Annotated[int, Field(ge=1)]
    supervising_office: str
    contact: Contact


class PartyDeadlineEscalationContext(NoticeContext):
    """督办 to the supervising office: still unanswered after the reminder."""

    office: str
    handling_office: str
    items: list[PartyCaseItem] = Field(min_length=1)
    reminder_sent_on: date
    contact: Contact


class RedAwardContext(NoticeContext):
    """红名单 award: the party is listed as trustworthy and what it gains; its number (the
    listing's decision number) is the letterhead's."""

    party: SubjectLine
    list_name: str
    grounds: list[GroundLine] = Field(min_length=1)
    published_on: date
    expires_on: date
    incentives: list[MeasureLine] = []
    other_measures_in: str | None = None
    contact: Contact


class JurisdictionRow(Frozen):
    """Typical cases against red/black entries reported in the month (target ≥ 50 %)."""

    region: str
    red: Annotated[int, Field(ge=0)]
    black: Annotated[int, Field(ge=0)]
    typical: Annotated[int, Field(ge=0)]
    ratio: Ratio | None
    below_target: bool


class SlaRow(Frozen):
    """One department's timeliness in the month."""

    department: str
    actions: Annotated[int, Field(ge=0)]
    ack_on_time: Ratio | None
    feedback_on_time: Ratio | None
    overdue_open: Annotated[int, Field(ge=0)]
    escalated: Annotated[int, Field(ge=0)]


class PartyCaseCount(Frozen):
    """Objections or removal applications received in the month and how they were answered."""

    case: str  # 异议 / 移出申请
    received: Annotated[int, Field(ge=0)]
    answered_on_time: Annotated[int, Field(ge=0)]
    answered_late: Annotated[int, Field(ge=0)]
    open_on_time: Annotated[int, Field(ge=0)]
    open_overdue: Annotated[int, Field(ge=0)]


class MonthlyReportContext(NoticeContext):
    """Monthly typical-case report mail to leadership; the full report is linked."""

    addressee: str
    month_label: str
    typical_target: Ratio = 0.5
    jurisdictions: list[JurisdictionRow] = Field(min_length=1)
    sla: list[SlaRow] = []
    party_cases: list[PartyCaseCount] = []
    highlights: list[str] = []
    full_report_url: ReportUrl
    contact: Contact
