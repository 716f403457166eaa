"""Red-list eligibility: which subjects a black listing bars from a red listing, and why.

A reward is never given to a subject the same system sanctions (DOMAIN.md §9). 安监总办〔2017〕133号
《对安全生产领域守信行为开展联合激励的实施办法》第二条 requires, all at once, that the unit and its
principal and safety leads had no work-safety untrustworthy act within 3 years (第（二）项), no
administrative penalty by the safety regulators within 3 years (第（三）项), and no record of being
a joint-sanction target (第（六）项). So a subject is barred from a red listing when

- it has a black listing that is live — proposed, under prior notice, awaiting confirmation,
  confirmed, in force or under removal review (a restored listing is back in force): the
  sanction is being decided or applied; or
- a black listing of it was still live inside the red rule-set's look-back period
  (`red_lookback_months` in rulesets.yml) before the red decision: removed two years ago still
  bars a 3-year look-back, removed four years ago does not.

A black listing revoked after an upheld objection (撤销列入) was never a sanction and bars
nothing. A black listing refused (不予列入) was no sanction either, but the administrative penalty
it was proposed on (its 处罚决定书 `penalty_number`, decided on `decision_date`) stands: inside the
look-back it bars the subject's own red listing (第（三）项, no work-safety administrative penalty
within 3 years). It bars only its own subject: 第（三）项 asks about the unit's penalties, and a
refused listing of a person records no untrustworthy act of the unit's leads.

A person's red listing is barred by that person's black listings. A unit's is barred by its own
and by those of the persons linked to it (`subject.unit_id`):
133号 第二条第（二）项 asks that "生产经营单位及其主要负责人、分管安全负责人3年内无安全生产失信行为"
[S: mem.gov.cn t20171207_245787]. The registry does not record a person's post, so every person
linked to the unit counts (our reading [D], the cautious side: a reward is refused for review
rather than given; the reason names the person so the operator can check the post).

One query per chunk of subjects (set-based), used by intake (quarantine), by the red
confirmation (a black listing imported after the red one) and by screening.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col

from memoranda.schema import RuleSet
from registry.clock import business_date
from registry.db import in_list_chunks
from registry.models import Batch, Listing, ListType, Subject, SubjectKind
from registry.models import ListingState as S
from registry.references import listing_reference
from registry.sla import add_months
from registry.vocabulary import LISTING_STATE_LABELS, label

LIVE_BLACK_STATES = (
    S.PROPOSED.value,
    S.NOTIFIED.value,
    S.AWAITING_CONFIRMATION.value,
    S.CONFIRMED.value,
    S.IN_FORCE.value,
    S.REMOVAL_REVIEW.value,
)
"""A black listing in one of these states is being decided or applied: it bars a red one."""


@dataclass(frozen=True)
class RedBar:
    """One black listing that bars a subject from a red listing."""

    subject_id: int
    listing_id: int
    reference: str  # as the letters print it (`<batch reference>-<listing id>`)
    state: str
    decision_date: date | None  # the penalty decision (处罚决定日期)
    last_live_on: date | None  # the day it left the list (removed), None while live
    person: str | None = None  # the unit's person whose listing it is; None: the subject's own
    penalty_number: str | None = None  # 处罚决定书文号

    @property
    def rejected(self) -> bool:
        """不予列入: no sanction, but its penalty decision still counts (第二条第（三）项)."""
        return self.state == S.REJECTED.value

    @property
    def live(self) -> bool:
        return self.state in LIVE_BLACK_STATES

    def bars(self, decided_on: date, lookback_months: int) -> bool:
        """Whether this black listing bars a red listing decided on `decided_on`: live, or
        its last live day (lacking one, its penalty decision) within the look-back before."""
        if self.live:
            return True
        if self.rejected:  # never listed: only its penalty decision date counts
            days: tuple[date | None, ...] = (self.decision_date,)
        else:
            days = (self.last_live_on, self.decision_date)
        last = max((d for d in days if d is not None), default=None)
        cutoff = add_months(decided_on, -lookback_months)
        return lookback_months > 0 and last is not None and last >= cutoff

    def reason_zh(self, lookback_months: int) -> str:
        decided = self.decision_date.isoformat() if self.decision_date else "未载明"
        if self.rejected:
            period = _period(lookback_months)
            return (
                f"不得列入红名单：该主体的黑名单 {self.reference} 虽不予列入，其所依据的行政处罚"
                f"（处罚决定书 {self.penalty_number or '未载明文号'}，处罚决定日期 {decided}）"
                f"在{period}内，守信联合激励须{period}内未受到安全生产行政处罚"
                "（安监总办〔2017〕133号第二条第（三）项）"
            )
        listed = (
            f"黑名单 {self.reference}（{label(LISTING_STATE_LABELS, self.state)}，"
            f"处罚决定日期 {decided}）"
        )
        if self.person is not None:
            # 安监总办〔2017〕133号 第二条第（二）项: the unit and its 主要负责人、分管安全负责人
            whose = f"该单位人员 {self.person} 的{listed}"
            when = "尚在名单中" if self.live else f"于 {self._removed()} 移出"
            return (
                f"不得列入红名单：{whose}{when}，守信联合激励须生产经营单位及其主要负责人、"
                "分管安全负责人3年内无安全生产失信行为"
                "（安监总办〔2017〕133号第二条第（二）项），请核实该人员职务"
            )
        if self.live:
            return f"不得列入红名单：该主体有{listed}，不得同时受联合惩戒和联合激励"
        return (
            f"不得列入红名单：该主体的{listed}于 {self._removed()} 移出，"
            f"守信联合激励须{_period(lookback_months)}内无失信行为和安全生产行政处罚"
        )

    def _removed(self) -> str:
        return self.last_live_on.isoformat() if self.last_live_on else "未载明"

    def reason_en(self) -> str:
        if self.rejected:
            return (
                f"barred from the red list: the penalty behind rejected black listing "
                f"{self.reference} is inside the look-back"
            )
        if self.person is not None:
            return f"barred from the red list: black listing {self.reference} of a unit's person"
        if self.live:
            return f"barred from the red list: black listing {self.reference} is {self.state}"
        return f"barred from the red list: black listing {self.reference} inside the look-back"


def _period(months: int) -> str:
    return f"{months // 12}年" if months % 12 == 0 else f"{months}个月"


def lookback_months(rule_set: RuleSet) -> int:
    """The red rule-set's look-back (rulesets.yml `red_lookback_months`); 0 for any other."""
    return rule_set.red_lookback_months or 0


def red_bars(
    session: Session,
    subject_ids: Iterable[int],
    *,
    decided_on: Mapping[int, date] | date,
    lookback_months: int,
) -> dict[int, list[RedBar]]:
    """Subject id → the black listings that bar it from a red listing decided on `decided_on`
    (one day for all, or a day per subject); subjects not barred are absent."""
    wanted = sorted(set(subject_ids))
    bars: dict[int, list[RedBar]] = {}
    for chunk in in_list_chunks(wanted):
        asked = set(chunk)
        rows = session.execute(
            sa.select(
                col(Listing.id),
                col(Listing.subject_id),
                col(Subject.kind),
                col(Subject.name),
                col(Subject.unit_id),
                col(Batch.reference),
                col(Listing.state),
                col(Listing.decision_date),
                col(Listing.removed_at),
                col(Listing.penalty_number),
            )
            .join(Batch, col(Batch.id) == col(Listing.batch_id))
            .join(Subject, col(Subject.id) == col(Listing.subject_id))
            .where(
                sa.or_(
                    col(Listing.subject_id).in_(chunk),
                    # a unit's persons: 133号 第二条第（二）项
                    sa.and_(
                        col(Subject.kind) == SubjectKind.PERSON.value,
                        col(Subject.unit_id).in_(chunk),
                    ),
                ),
                col(Listing.list_type) == ListType.BLACK.value,
                col(Listing.state).in_([*LIVE_BLACK_STATES, S.REMOVED.value, S.REJECTED.value]),
            )
            .order_by(col(Listing.id))
        )
        for found in rows:
            own = found.subject_id in asked
            barred = [found.subject_id] if own else []
            rejected = found.state == S.REJECTED.value  # its penalty bars its own subject only
            if found.kind == SubjectKind.PERSON.value and found.unit_id in asked and not rejected:
                barred.append(found.unit_id)
            for subject_id in barred:
                bar = RedBar(
                    subject_id=subject_id,
                    listing_id=found.id,
                    reference=listing_reference(found.reference, found.id),
                    state=found.state,
                    decision_date=found.decision_date,
                    last_live_on=business_date(found.removed_at) if found.removed_at else None,
                    person=None if subject_id == found.subject_id else found.name,
                    penalty_number=found.penalty_number,
                )
                day = decided_on if isinstance(decided_on, date) else decided_on[subject_id]
                if bar.bars(day, lookback_months):
                    bars.setdefault(subject_id, []).append(bar)
    return bars


def barred_red_listings(
    session: Session,
    listing_ids: Iterable[int],
    *,
    decided_on: date,
    rule_sets: Mapping[str, RuleSet],
) -> dict[int, list[str]]:
    """Of `listing_ids`, the red listings a black listing bars on `decided_on`, each with why
    (Chinese): the red 认定 refuses them — a black listing may have been imported after them."""
    red: dict[int, tuple[int, int]] = {}  # listing id → (subject id, look-back months)
    for chunk in in_list_chunks(sorted(set(listing_ids))):
        for listing_id, subject_id, rule_set in session.execute(
            sa.select(col(Listing.id), col(Listing.subject_id), col(Listing.rule_set)).where(
                col(Listing.id).in_(chunk), col(Listing.list_type) == ListType.RED.value
            )
        ):
            months = lookback_months(rule_sets[rule_set]) if rule_set in rule_sets else 0
            red[listing_id] = (subject_id, months)
    if not red:
        return {}
    months = max(m for _, m in red.values())
    bars = red_bars(
        session, (s for s, _ in red.values()), decided_on=decided_on, lookback_months=months
    )
    refused: dict[int, list[str]] = {}
    for listing_id, (subject_id, own_months) in red.items():
        why = [
            bar.reason_zh(own_months)
            for bar in bars.get(subject_id, [])
            if bar.bars(decided_on, own_months)
        ]
        if why:
            refused[listing_id] = why
    return refused
