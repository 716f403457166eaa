"""Strict schema of the catalogue files (`extra="forbid"`: a misspelt key is an error, not a no-op).

Tags follow DOMAIN.md: `confirmed` is stated in a public source; `unverified` is widely cited but
not confirmed here and must stay configurable. The loader resolves cross-file references.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from memoranda.addresses import checked_mailbox

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=40)]
Status = Literal["confirmed", "unverified"]
ListType = Literal["black", "red"]
WorkingDays = Annotated[int, Field(ge=1, le=400)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _mailbox(value: str) -> str:
    return checked_mailbox(value)


Mailbox = Annotated[str, AfterValidator(_mailbox)]
"""A deliverable address anywhere a model holds one (settings, letter contexts)."""


# --- departments.yml ---------------------------------------------------------------------


class Sla(Strict):
    """Working days a department has to acknowledge, report feedback, and confirm a lift."""

    ack_wd: WorkingDays
    feedback_wd: WorkingDays
    lift_wd: WorkingDays


class Predecessor(Strict):
    """A name under which the department signed before the 2018 reorganisation."""

    name: str
    short_name: str | None = None
    until: date | None = None


class Department(Strict):
    code: Code
    name: str
    short_name: str
    mailbox: str
    predecessors: list[Predecessor] = []
    sla: Sla | None = None
    status: Status = "confirmed"
    note: str | None = None

    @field_validator("mailbox")
    @classmethod
    def _deliverable_mailbox(cls, value: str, info: ValidationInfo) -> str:
        code = info.data.get("code")  # validated before the mailbox; absent if it was invalid
        return checked_mailbox(value, f"部门 {code} 的" if code else "部门的")


class Office(Strict):
    name: str
    mailbox: str

    @field_validator("mailbox")
    @classmethod
    def _deliverable_mailbox(cls, value: str) -> str:
        return checked_mailbox(value, "督办室的")


class DepartmentsFile(Strict):
    version: Literal[1]
    default_sla: Sla
    supervising_office: Office
    departments: list[Department] = Field(min_length=1)


# --- catalogue/<memorandum>.yml ----------------------------------------------------------


class Basis(Strict):
    """The legal basis of a measure (国办发〔2020〕49号: every sanction needs one)."""

    document: str
    article: str | None = None
    status: Status


class Measure(Strict):
    id: Code
    department: Code
    text: str
    basis: Basis
    status: Status


class Signatory(Strict):
    as_signed: str
    department: Code
    status: Status = "confirmed"


class Memorandum(Strict):
    """A source of measures: a cooperation memorandum, or a statute's article (安全生产法
    第七十八条) where the measures rest on the law itself. Letters cite it as
    《title》article（document_number）, each part only where it is given."""

    id: Code
    title: str
    document_number: str | None = None
    article: str | None = None
    issued_on: date | None = None
    list_type: ListType
    rule_sets: list[Code] = Field(min_length=1)
    status: Status
    signatories: list[Signatory] = Field(min_length=1)
    measures: list[Measure] = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _cited_by_number_or_article(self) -> Memorandum:
        if self.document_number is None and self.article is None:
            raise ValueError("备忘录须给出文号 document_number 或条款 article（cite it）")
        return self

    @property
    def citation(self) -> str:
        """How a letter names the source: 《…安全生产法》第七十八条, 《…备忘录》（…1001号）."""
        number = f"（{self.document_number}）" if self.document_number else ""
        return f"《{self.title}》{self.article or ''}{number}"


# --- rulesets.yml ------------------------------------------------------------------------


class TimeLimits(Strict):
    """DOMAIN.md §4, in working days unless the name says otherwise."""

    defence_wd: WorkingDays
    defence_min_calendar_days: Annotated[int, Field(ge=1)]
    decision_wd: WorkingDays
    publication_wd: WorkingDays
    objection_wd: WorkingDays
    """The authority's time to verify and answer an objection (our deadline, not the party's)."""
    objection_filing_wd: WorkingDays
    """The party's own window to file an objection after service of the decision; a separate
    figure with its own source or default tag (DOMAIN.md §4), never `objection_wd`."""
    removal_push_wd: WorkingDays
    early_removal_accept_wd: WorkingDays
    early_removal_decide_wd: WorkingDays
    escalate_after_wd: WorkingDays


class Ground(Strict):
    code: Annotated[str, Field(pattern=r"^[A-Z][0-9A-Z.]*$")]
    title: str
    article: str
    status: Status = "confirmed"


class Removal(Strict):
    mode: Literal["automatic", "application", "expiry"]
    application_window_days: Annotated[int, Field(ge=1)] | None = None
    early_removal_after_months: Annotated[int, Field(ge=1)] | None = None
    restore_on_fraud: bool = False


class RuleSet(Strict):
    id: Code
    title: str
    list_name: Annotated[str, Field(min_length=1, pattern=r"^[^\x00-\x1f\x7f|<>]+$")] | None = None
    """The list's name as letters state it (名单名称), one line; without it, letters use `title`
    (as they did before the name was data)."""
    instruments: list[str] = Field(min_length=1)
    kind: Literal["sanction", "incentive", "repair"]
    list_type: ListType | None
    effective_from: date
    effective_until: date | None = None
    term_months: Annotated[int, Field(ge=1)] | None
    term_word: Literal["公示期限", "管理期限", "惩戒期限", "激励期限"] = "公示期限"
    """What the instrument calls the listing's term: 令第11号 speaks of 管理期限 (DOMAIN.md §10)."""
    prior_notice: bool
    removal: Removal | None
    grounds: list[Ground] = []
    min_published_months: Annotated[int, Field(ge=1)] | None = None
    max_published_months: Annotated[int, Field(ge=1)] | None = None
    requires_commitment: bool = False
    red_lookback_months: Annotated[int, Field(ge=1)] | None = None
    """Red lists only: months before the decision in which a black listing still bars a red
    one (registry.red_eligibility); without it only a live black listing bars."""
    status: Status

    @model_validator(mode="after")
    def _lists_need_terms_and_grounds(self) -> RuleSet:
        if self.kind != "repair":
            if self.list_type is None or self.term_months is None or self.removal is None:
                raise ValueError("名单规则必须给出 list_type、term_months 和 removal")
            if not self.grounds:
                raise ValueError("名单规则必须列出认定依据 grounds")
        if self.list_type == "red" and (
            self.prior_notice or (self.removal is not None and self.removal.restore_on_fraud)
        ):
            # A reward is neither preceded by a 告知书 and 陈述申辩 nor restored after fraud: the
            # lifecycle built from these flags would otherwise give a red list a defence window.
            raise ValueError(
                "红名单不经告知申辩、不因欺诈恢复：prior_notice 与 restore_on_fraud 须为 false"
            )
        if self.red_lookback_months is not None and self.list_type != "red":
            raise ValueError("red_lookback_months 仅适用于红名单规则")
        if self.effective_until is not None and self.effective_until < self.effective_from:
            raise ValueError("effective_until 早于 effective_from")
        return self


class RuleSetsFile(Strict):
    version: Literal[1]
    time_limits: TimeLimits
    rule_sets: list[RuleSet] = Field(min_length=1)


# --- calendar/<year>.yml -----------------------------------------------------------------


class HolidaySpan(Strict):
    name: str
    start: date
    end: date


class MakeUpDay(Strict):
    """A weekend day worked instead (调休上班)."""

    date: date
    name: str


class CalendarYear(Strict):
    """One year of the State Council holiday schedule, maintained by an operator."""

    year: Annotated[int, Field(ge=2004, le=2100)]
    source: str
    status: Status
    holidays: list[HolidaySpan] = Field(min_length=1)
    workdays: list[MakeUpDay] = []

    @model_validator(mode="after")
    def _dates_inside_the_year(self) -> CalendarYear:
        for span in self.holidays:
            if span.end < span.start:
                raise ValueError(f"假期 {span.name} 的 end 早于 start")
            if span.start.year != self.year and span.end.year != self.year:
                raise ValueError(f"假期 {span.name} 不在 {self.year} 年内")
        for day in self.workdays:
            if day.date.year != self.year:
                raise ValueError(f"调休上班日 {day.date} 不在 {self.year} 年内")
            if day.date.weekday() < 5:
                raise ValueError(f"调休上班日 {day.date} 不是周末")
            if self.is_holiday(day.date):
                raise ValueError(f"调休上班日 {day.date} 同时被列为假期")
        return self

    def is_holiday(self, day: date) -> bool:
        return any(span.start <= day <= span.end for span in self.holidays)

    def is_working_day(self, day: date) -> bool:
        if any(m.date == day for m in self.workdays):
            return True
        if self.is_holiday(day):
            return False
        return day.weekday() < 5

    def days(self) -> list[date]:
        """Every holiday date, for listings and tests."""
        out: list[date] = []
        for span in self.holidays:
            d = span.start
            while d <= span.end:
                out.append(d)
                d += timedelta(days=1)
        return out
