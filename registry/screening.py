"""Screening (联合奖惩 嵌入审批): is this subject under joint measures today, which, from whom.

What a partner department calls from its own approval process before granting a licence,
a subsidy or a contract: for a USCC (or a person's ID lookup hash), every listing in force
today and, per department, the measures it applies — since publication, until expiry. A
subject we have never listed is simply clear; persons are shown masked only.

A department code is matched without regard to case (`NDRC` is `ndrc`), and one that is not
in the catalogue is refused: answering "no measures" for a misspelt department would clear a
subject on the black list. For the same reason a department with no measure of its own under
the memoranda in force for a subject is still told the subject is on the black list
(`on_black_list`): "no measures for you" is not "clean".

A subject is never answered as under sanction and incentive at once (DOMAIN.md §9): while it
has a live black listing (`registry.red_eligibility`), its red listing is reported suspended
(`suspended_red`, with the reason) and none of its incentive measures is returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from registry.clock import business_date
from registry.errors import JointcreditError
from registry.models import Batch, DepartmentAction, Listing, Subject
from registry.models import ListingState as S
from registry.red_eligibility import red_bars
from registry.references import listing_reference

IN_FORCE_STATES = (S.IN_FORCE.value, S.REMOVAL_REVIEW.value)
LIFTED = ("lift_requested", "lift_confirmed")


class UnknownDepartment(JointcreditError):
    """A screening asked for a department that is not in the catalogue."""


def department_code(catalogue: Catalogue, typed: str) -> str:
    """The catalogue's code for `typed` (any letter case, surrounding spaces ignored)."""
    wanted = typed.strip().casefold()
    for code in catalogue.departments:
        if code.casefold() == wanted:
            return code
    raise UnknownDepartment(
        f"未知部门 {typed.strip()!r}：不在部门目录中（unknown department）；"
        "部门代码见 jointcredit catalogue validate --json",
        department=typed.strip(),
    )


@dataclass(frozen=True)
class MeasureInForce:
    listing_id: int
    reference: str  # as the letters print it (`<batch reference>-<listing id>`)
    list_type: str
    department: str
    department_name: str
    memorandum: str
    measure: str
    text: str
    basis: str
    since: date | None
    until: date | None
    department_says: str | None  # applied / not_applicable, from the department's feedback


@dataclass(frozen=True)
class Screening:
    identifier: str
    checked_on: date
    subject_name: str | None = None
    department: str | None = None  # the department asking, when it asked for its own only
    listings: list[dict[str, Any]] = field(default_factory=list)
    measures: list[MeasureInForce] = field(default_factory=list)
    suspended_red: list[dict[str, Any]] = field(default_factory=list)
    """Red listings in force but not applied: the subject has a live black listing."""

    @property
    def on_black_list(self) -> bool:
        """In force on the black list today, whatever measures the asking department has."""
        return any(row["list_type"] == "black" for row in self.listings)

    @property
    def on_red_list(self) -> bool:
        return any(row["list_type"] == "red" for row in self.listings)

    @property
    def under_sanction(self) -> bool:
        return any(m.list_type == "black" for m in self.measures)

    @property
    def under_incentive(self) -> bool:
        return any(m.list_type == "red" for m in self.measures)

    def as_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "subject_name": self.subject_name,
            "checked_on": self.checked_on.isoformat(),
            "department": self.department,
            "on_black_list": self.on_black_list,
            "on_red_list": self.on_red_list,
            "under_sanction": self.under_sanction,
            "under_incentive": self.under_incentive,
            "listings": self.listings,
            "suspended_red": self.suspended_red,
            "measures": [
                {
                    k: (v.isoformat() if isinstance(v, date) else v)
                    for k, v in asdict(measure).items()
                }
                for measure in self.measures
            ],
        }


def screen(
    session: Session,
    *,
    catalogue: Catalogue,
    today: date,
    uscc: str | None = None,
    id_hash: str | None = None,
    shown_as: str,
    department: str | None = None,
) -> Screening:
    """Measures in force today for one subject (optionally only one department's)."""
    if department is not None:
        department = department_code(catalogue, department)
    where = col(Subject.uscc) == uscc if uscc is not None else col(Subject.id_hash) == id_hash
    subject = session.execute(sa.select(col(Subject.id), col(Subject.name)).where(where)).first()
    if subject is None:
        return Screening(identifier=shown_as, checked_on=today, department=department)
    listings = session.execute(
        sa.select(
            col(Listing.id),
            col(Batch.reference),
            col(Listing.list_type),
            col(Listing.rule_set),
            col(Listing.state),
            col(Listing.decision_number),
            col(Listing.penalty_number),
            col(Listing.published_at),
            col(Listing.expires_on),
        )
        .join(Batch, col(Batch.id) == col(Listing.batch_id))
        .where(
            col(Listing.subject_id) == subject.id,
            col(Listing.state).in_(IN_FORCE_STATES),
            sa.or_(col(Listing.expires_on).is_(None), col(Listing.expires_on) >= today),
        )
    ).all()
    suspended = _suspended_red(session, subject.id, listings, today)
    listings = [row for row in listings if row.id not in suspended]
    by_id = {row.id: row for row in listings}
    actions = session.execute(
        sa.select(
            col(DepartmentAction.listing_id),
            col(DepartmentAction.department),
            col(DepartmentAction.memorandum),
            col(DepartmentAction.measures),
            col(DepartmentAction.feedback_outcome),
        )
        .where(
            col(DepartmentAction.listing_id).in_(list(by_id)),
            col(DepartmentAction.state).not_in(LIFTED),
            *([col(DepartmentAction.department) == department] if department else []),
        )
        .order_by(col(DepartmentAction.department), col(DepartmentAction.listing_id))
    ).all()
    measures = []
    for action in actions:
        listing = by_id[action.listing_id]
        known = {m.id: m for m in catalogue.measures_for(action.memorandum, action.department)}
        for code in action.measures:
            measure = known.get(code)
            measures.append(
                MeasureInForce(
                    listing_id=listing.id,
                    reference=listing_reference(listing.reference, listing.id),
                    list_type=listing.list_type,
                    department=action.department,
                    department_name=catalogue.departments[action.department].name
                    if action.department in catalogue.departments
                    else action.department,
                    memorandum=action.memorandum,
                    measure=code,
                    text=measure.text if measure else code,
                    basis=(measure.basis.document + (measure.basis.article or ""))
                    if measure
                    else "",
                    since=business_date(listing.published_at) if listing.published_at else None,
                    until=listing.expires_on,
                    department_says=action.feedback_outcome,
                )
            )
    return Screening(
        identifier=shown_as,
        checked_on=today,
        subject_name=subject.name,
        department=department,
        listings=[
            {
                "listing_id": row.id,
                "reference": listing_reference(row.reference, row.id),
                "list_type": row.list_type,
                "rule_set": row.rule_set,
                "state": row.state,
                "decision_number": row.decision_number,
                "penalty_number": row.penalty_number,
                "since": business_date(row.published_at).isoformat() if row.published_at else None,
                "until": row.expires_on.isoformat() if row.expires_on else None,
            }
            for row in listings
        ],
        measures=measures,
        suspended_red=[
            {"listing_id": listing_id, "reference": reference, "reason": reason}
            for listing_id, (reference, reason) in suspended.items()
        ],
    )


def _suspended_red(
    session: Session, subject_id: int, listings: Sequence[Any], today: date
) -> dict[int, tuple[str, str]]:
    """Red listings in force that a live black listing suspends: id → (reference, why)."""
    red = [row for row in listings if row.list_type == "red"]
    if not red:
        return {}
    bars = red_bars(session, [subject_id], decided_on=today, lookback_months=0).get(subject_id)
    if not bars:
        return {}
    why = "红名单激励措施暂停适用：" + bars[0].reason_zh(0).removeprefix("不得列入红名单：")
    return {row.id: (listing_reference(row.reference, row.id), why) for row in red}
