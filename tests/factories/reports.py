"""A month of listings and department actions whose report figures are known by hand.

The report month is October 2026 (Asia/Shanghai). Listings, proposed at (Shanghai time):

| id  | subject (region, industry)       | list  | grounds | typical | proposed          |
|-----|----------------------------------|-------|---------|---------|-------------------|
| L1  | S1 510104 危险化学品             | black | A4      | yes     | 10-01 00:30 (1)   |
| L2  | S2 510700 矿山                   | black | A1, B1  | no      | 10-15             |
| L3  | S3 person, no region → unit S1   | black | A4      | yes     | 10-20             |
| L4  | S1                               | red   | R       | no      | 10-31 23:30       |
| L5  | S4 440300 建筑施工               | black | B1      | no      | 10-10             |
| L6  | S5 440106 危险化学品             | red   | R       | no      | 10-11             |
| L7  | S4                               | black | A2      | yes     | 10-12             |
| L8  | S6 330100 矿山                   | red   | R       | yes     | 10-05             |
| L9  | S7 no region, no industry        | black | B2      | no      | 10-06             |
| L10 | S8 990000 (unknown), no industry | black | B2      | no      | 10-07             |
| L11 | S6, rejected (不予列入)          | black | A1      | yes     | 10-08             |
| L12 | S4                               | black | A1      | yes     | 11-01 00:10 (2)   |
| L13 | S1                               | black | A4      | yes     | 2026-09-15        |
| L14 | S2                               | red   | R       | no      | 2026-09-20        |
| L15 | S6                               | black | A1      | no      | 2025-10-20 (3)    |
| L16 | S5                               | black | A3      | yes     | 2025-11-02        |

(1) September 30 in UTC; (2) October 31 in UTC; (3) before the 12-month trend window.

Department actions (the report is as of 2026-11-27; dues and answers in 2026):

| id | dept | dispatched  | ack due / acked   | feedback due / reported | state, level         |
|----|------|-------------|-------------------|-------------------------|----------------------|
| A1 | mem  | 10-09       | 10-16 / 10-12     | 11-06 / 11-02           | feedback_reported, 0 |
| A2 | mem  | 10-09       | 10-16 / 10-20 late| 11-06 / —               | acknowledged, 2      |
| A3 | mem  | 10-30       | 11-06 / —         | 11-27 / —               | dispatched, 1        |
| B1 | pbc  | 10-20       | 10-27 / 10-21     | 11-17 / 11-20 late      | feedback_reported, 0 |
| B2 | pbc  | 10-31 23:00 | 12-07 / —         | 12-28 / —               | dispatched, 0        |
| C1 | ndrc | 09-28       | 10-10 / —         | 10-30 / —               | dispatched, 2        |
| C2 | ndrc | 11-01 00:30 | 11-06 / —         | 11-27 / —               | dispatched, 0        |

The party's cases (objections 异议, removal applications 移出申请; answer due / answered):

| id | kind        | listing | filed       | due   | answered        | in October's report      |
|----|-------------|---------|-------------|-------|-----------------|--------------------------|
| O1 | objection   | L1      | 10-12       | 10-26 | 10-20 dismissed | answered on time         |
| R1 | application | L2      | 10-15       | 10-29 | 11-05 refused   | answered late            |
| O2 | objection   | L5      | 10-20       | 11-03 | —               | open, overdue on 11-27   |
| O3 | objection   | L7      | 11-01 00:10 | 11-13 | —               | not counted (4)          |
| R2 | application | L13     | 09-28       | 10-14 | 10-13 approved  | not counted (September)  |

(4) October 31 in UTC: filed in November in Shanghai time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from memoranda.loader import Catalogue
from registry.clock import BUSINESS_TZ
from registry.db import session_scope
from registry.models import DepartmentAction, Objection, RemovalApplication
from registry.repository import add_batch, add_listings, add_subject

AS_OF = date(2026, 11, 27)
PROPOSER = "提出人 张伟"


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BUSINESS_TZ)


@dataclass(frozen=True)
class FixtureMonth:
    listings: dict[str, int]


def build_fixture_month(engine: sa.Engine, catalogue: Catalogue) -> FixtureMonth:
    tag = uuid.uuid4().hex[:8]
    now = at(2026, 11, 27)
    with session_scope(engine) as session:
        batches = {
            list_type: add_batch(
                session,
                reference=f"REPORT-{list_type}-{tag}",
                list_type=list_type,
                rule_set=rule_set,
                source_kind="test",
                proposed_by=PROPOSER,
                catalogue_hash=catalogue.content_hash,
                created_at=now,
            )
            for list_type, rule_set in (
                ("black", "mem-2023-serious"),
                ("red", "saws-2017-incentive"),
            )
        }

        def unit(n: int, region: str | None, industry: str | None) -> int:
            return add_subject(
                session,
                kind="unit",
                name=f"月报测试单位{n}-{tag}",
                uscc=f"91{tag[:6].upper().replace('I', 'A').replace('O', 'B')}{n:010d}",
                region_code=region,
                industry=industry,
                created_at=now,
            )

        s1 = unit(1, "510104", "危险化学品")
        s2 = unit(2, "510700", "矿山")
        s3 = add_subject(
            session,
            kind="person",
            name=f"月报测试人员-{tag}",
            id_hash=uuid.uuid4().hex,
            id_masked="510104********123X",
            unit_id=s1,
            created_at=now,
        )
        s4 = unit(4, "440300", "建筑施工")
        s5 = unit(5, "440106", "危险化学品")
        s6 = unit(6, "330100", "矿山")
        s7 = unit(7, None, None)
        s8 = unit(8, "990000", None)

        black, red = ("black", "mem-2023-serious"), ("red", "saws-2017-incentive")
        plan: list[tuple[str, int, tuple[str, str], list[str], bool, datetime, str]] = [
            ("L1", s1, black, ["A4"], True, at(2026, 10, 1, 0, 30), "in_force"),
            ("L2", s2, black, ["A1", "B1"], False, at(2026, 10, 15), "in_force"),
            ("L3", s3, black, ["A4"], True, at(2026, 10, 20), "notified"),
            ("L4", s1, red, ["R"], False, at(2026, 10, 31, 23, 30), "in_force"),
            ("L5", s4, black, ["B1"], False, at(2026, 10, 10), "in_force"),
            ("L6", s5, red, ["R"], False, at(2026, 10, 11), "removed"),
            ("L7", s4, black, ["A2"], True, at(2026, 10, 12), "in_force"),
            ("L8", s6, red, ["R"], True, at(2026, 10, 5), "in_force"),
            ("L9", s7, black, ["B2"], False, at(2026, 10, 6), "proposed"),
            ("L10", s8, black, ["B2"], False, at(2026, 10, 7), "revoked"),
            ("L11", s6, black, ["A1"], True, at(2026, 10, 8), "rejected"),
            ("L12", s4, black, ["A1"], True, at(2026, 11, 1, 0, 10), "proposed"),
            ("L13", s1, black, ["A4"], True, at(2026, 9, 15), "in_force"),
            ("L14", s2, red, ["R"], False, at(2026, 9, 20), "in_force"),
            ("L15", s6, black, ["A1"], False, at(2025, 10, 20), "removed"),
            ("L16", s5, black, ["A3"], True, at(2025, 11, 2), "in_force"),
        ]
        rows: list[dict[str, Any]] = [
            {
                "subject_id": subject,
                "batch_id": batches[list_type],
                "list_type": list_type,
                "rule_set": rule_set,
                "grounds": grounds,
                "typical_case": typical,
                "state": state,
                "proposed_at": proposed_at,
                "proposed_by": PROPOSER,
                "catalogue_hash": catalogue.content_hash,
                "updated_at": now,
            }
            for _, subject, (list_type, rule_set), grounds, typical, proposed_at, state in plan
        ]
        ids = dict(zip((p[0] for p in plan), add_listings(session, rows=rows), strict=True))

        def action(
            listing: str,
            department: str,
            dispatched: datetime,
            ack_due: date,
            feedback_due: date,
            state: str,
            *,
            acked: datetime | None = None,
            ack_late: bool = False,
            reported: datetime | None = None,
            feedback_late: bool = False,
            level: int = 0,
        ) -> DepartmentAction:
            return DepartmentAction(
                listing_id=ids[listing],
                department=department,
                memorandum="mem-2023-art78",
                state=state,
                escalation_level=level,
                dispatched_at=dispatched,
                ack_due=ack_due,
                acknowledged_at=acked,
                ack_late=ack_late,
                feedback_due=feedback_due,
                feedback_at=reported,
                feedback_late=feedback_late,
            )

        session.add_all(
            [
                action(
                    "L1", "mem", at(2026, 10, 9), date(2026, 10, 16), date(2026, 11, 6),
                    "feedback_reported", acked=at(2026, 10, 12), reported=at(2026, 11, 2),
                ),
                action(
                    "L2", "mem", at(2026, 10, 9), date(2026, 10, 16), date(2026, 11, 6),
                    "acknowledged", acked=at(2026, 10, 20), ack_late=True, level=2,
                ),
                action(
                    "L3", "mem", at(2026, 10, 30), date(2026, 11, 6), date(2026, 11, 27),
                    "dispatched", level=1,
                ),
                action(
                    "L1", "pbc", at(2026, 10, 20), date(2026, 10, 27), date(2026, 11, 17),
                    "feedback_reported", acked=at(2026, 10, 21), reported=at(2026, 11, 20),
                    feedback_late=True,
                ),
                action(
                    "L2", "pbc", at(2026, 10, 31, 23, 0), date(2026, 12, 7), date(2026, 12, 28),
                    "dispatched",
                ),
                action(
                    "L13", "ndrc", at(2026, 9, 28), date(2026, 10, 10), date(2026, 10, 30),
                    "dispatched", level=2,
                ),
                action(
                    "L12", "ndrc", at(2026, 11, 1, 0, 30), date(2026, 11, 6), date(2026, 11, 27),
                    "dispatched",
                ),
            ]
        )  # fmt: skip

        def objection(
            listing: str, filed: datetime, due: date, decided: datetime | None, state: str
        ) -> Objection:
            return Objection(
                listing_id=ids[listing], filed_at=filed, filed_by="当事人", reason="认定有误",
                state=state, answer_due=due, decided_at=decided,
            )  # fmt: skip

        def application(
            listing: str, applied: datetime, due: date, decided: datetime | None, state: str
        ) -> RemovalApplication:
            return RemovalApplication(
                listing_id=ids[listing], applied_at=applied, evidence="已整改", state=state,
                decide_due=due, decided_at=decided,
            )  # fmt: skip

        d = date
        session.add_all(
            [
                objection("L1", at(2026, 10, 12), d(2026, 10, 26), at(2026, 10, 20), "dismissed"),
                application("L2", at(2026, 10, 15), d(2026, 10, 29), at(2026, 11, 5), "refused"),
                objection("L5", at(2026, 10, 20), d(2026, 11, 3), None, "open"),
                objection("L7", at(2026, 11, 1, 0, 10), d(2026, 11, 13), None, "open"),
                application("L13", at(2026, 9, 28), d(2026, 10, 14), at(2026, 10, 13), "approved"),
            ]
        )  # fmt: skip
    return FixtureMonth(listings=ids)
