"""Benchmark: route a batch of 10,000 black listings through the real `route-batch` flow.

Not a test (DESIGN: targets live in benchmarks). One batch of 10,000 units under
`saws-2017-sanction` is routed to the end — prior notices, defence window, the operator's
decision, publication with decision notices, dispatch to every department of 发改财金〔2016〕
1001号 (18 signatories, 16 departments today: 160,000 department actions and one digest per
department) — on the Prefect engine (three flow runs, the decision given in between).

Baseline, measured in the same run on a fresh copy of the same data: the same rows written with
bare SQLAlchemy Core — listing updates, the same notices rendered from the same templates and
inserted, the action rows, the audit rows with their hash chain — with no lifecycle checks, no
idempotency, no Prefect. Target (issue 4): route ≤ 1.5 × baseline and < 60 s. One line of JSON.

    .venv/bin/python -m bench.route [--listings 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from memoranda.loader import Catalogue, load_catalogue
from notifications.compose import Issuer, compose
from notifications.outbox import NOTICE
from notifications.render import render_notice
from registry import db
from registry.calendar import WorkingCalendar
from registry.clock import BUSINESS_TZ
from registry.installation import installation_token
from registry.models import AuditEvent, DepartmentAction, Listing, Subject
from registry.repository import add_batch, insert_returning_ids
from registry.routing import Decision, NoticeRequest, RoutedNoticeKind
from registry.settings import get_settings
from registry.sla import action_deadlines, add_months, defence_deadline
from registry.vocabulary import NoticeKind

RULE_SET = "saws-2017-sanction"
MEMORANDUM = "fgcj-2016-1001"
START = datetime(2026, 11, 2, 9, 0, tzinfo=BUSINESS_TZ)
LATER = START + timedelta(days=20)
PROPOSER, REVIEWER = "省级报送 张伟", "审核人 李娜"
LISTING = sa.inspect(Listing).local_table
ACTION = sa.inspect(DepartmentAction).local_table
AUDIT = sa.inspect(AuditEvent).local_table
SUBJECT = sa.inspect(Subject).local_table


def seed(url: str, catalogue: Catalogue, count: int) -> int:
    """A batch of `count` proposed listings of distinct units, written with Core (not timed)."""
    db.upgrade(url)
    engine = db.make_engine(url)
    with db.session_scope(engine) as session:
        batch = add_batch(
            session,
            reference="BENCH-2026-001",
            list_type="black",
            rule_set=RULE_SET,
            source_kind="bench",
            proposed_by=PROPOSER,
            catalogue_hash=catalogue.content_hash,
            created_at=START,
        )
        subjects = insert_returning_ids(
            session,
            SUBJECT,
            [
                {
                    "kind": "unit",
                    "name": f"基准测试化工有限公司{i:05d}",
                    "uscc": f"91510100MA{i:08d}",
                    "uscc_status": "valid",
                    "contact_email": f"unit{i:05d}@example.org",
                    "created_at": START,
                }
                for i in range(count)
            ],
        )
        session.execute(
            sa.insert(LISTING),
            [
                {
                    "subject_id": subject,
                    "batch_id": batch,
                    "list_type": "black",
                    "rule_set": RULE_SET,
                    "grounds": ["S2.6"],
                    "decision_number": None,
                    "decision_date": date(2026, 10, 20),
                    "typical_case": False,
                    "needs_review": False,
                    "warnings": [],
                    "state": "proposed",
                    "proposed_at": START,
                    "proposed_by": PROPOSER,
                    "defence_provisional": False,
                    "catalogue_hash": catalogue.content_hash,
                    "updated_at": START,
                }
                for subject in subjects
            ],
        )
    engine.dispose()
    return batch


def route_through_prefect(batch: int) -> float:
    from flows.deliver import deliver_notices
    from flows.route import route_batch
    from service.runtime import opened_runtime
    from service.steps import record_decision

    os.environ["JOINTCREDIT_NOW"] = START.isoformat()
    asyncio.run(deliver_notices(limit=1))  # start the ephemeral Prefect server (not timed)
    started = time.perf_counter()
    asyncio.run(route_batch(batch, wait_for_operator=False))  # prior notices, defence window
    os.environ["JOINTCREDIT_NOW"] = LATER.isoformat()
    asyncio.run(route_batch(batch, wait_for_operator=False))  # window lapsed: awaits operator
    with opened_runtime() as runtime:
        record_decision(runtime, batch, Decision(REVIEWER), source="bench")
    asyncio.run(route_batch(batch, wait_for_operator=False))  # publication and dispatch
    return time.perf_counter() - started


def bare_core(url: str, batch: int, catalogue: Catalogue, calendar: WorkingCalendar) -> float:
    engine = db.make_engine(url)
    issuer = Issuer(name="应急管理局", office="信用管理科", email="jointcredit@example.org")
    limits = catalogue.time_limits
    started = time.perf_counter()
    with db.session_scope(engine) as session:
        ids = list(session.execute(sa.select(LISTING.c.id).order_by(LISTING.c.id)).scalars())
        defence = defence_deadline(calendar, limits, START.date())
        session.execute(
            sa.update(LISTING).values(
                state="notified",
                notified_at=START,
                defence_from=START.date(),
                defence_wd=limits.defence_wd,
                defence_due=defence.due,
            )
        )
        _insert_notices(session, NoticeKind.PRIOR_NOTICE, batch, ids, catalogue, issuer)
        session.execute(
            sa.update(LISTING).values(
                state="in_force",
                decided_at=LATER,
                decided_by=REVIEWER,
                decision_number="安监决〔2026〕1号",
                published_at=LATER,
                expires_on=add_months(LATER.date(), 12),
            )
        )
        _insert_notices(session, NoticeKind.LISTING_DECISION, batch, ids, catalogue, issuer)
        departments = catalogue.departments_of(MEMORANDUM)
        rows = []
        for department in departments:
            due = action_deadlines(calendar, catalogue.sla_for(department), LATER.date())
            measures = [m.id for m in catalogue.measures_for(MEMORANDUM, department)]
            rows += [
                {
                    "listing_id": listing,
                    "department": department,
                    "memorandum": MEMORANDUM,
                    "measures": measures,
                    "state": "dispatched",
                    "escalation_level": 0,
                    "dispatched_at": LATER,
                    "ack_due": due.ack.due,
                    "feedback_due": due.feedback.due,
                    "ack_provisional": False,
                    "feedback_provisional": False,
                    "lift_provisional": False,
                }
                for listing in ids
            ]
        for start in range(0, len(rows), 5000):
            session.execute(sa.insert(ACTION), rows[start : start + 5000])
        requests = [
            NoticeRequest(
                NoticeKind.DEPARTMENT_DISPATCH,
                batch,
                tuple(ids),
                department=department,
                memorandum=MEMORANDUM,
            )
            for department in departments
        ]
        _insert_rendered(session, requests, catalogue, issuer)
        previous, audit = "0" * 64, []
        for seq, (listing, action) in enumerate(
            ((i, a) for a in ("notify", "await", "confirm", "publish") for i in ids), start=1
        ):
            digest = hashlib.sha256(f"{previous}{listing}{action}".encode()).hexdigest()
            audit.append(
                {
                    "seq": seq,
                    "at": LATER,
                    "actor": REVIEWER,
                    "action": f"listing.{action}",
                    "entity_type": "listing",
                    "entity_id": str(listing),
                    "before": {"state": "x"},
                    "after": {"state": "y"},
                    "source": "bench",
                    "prev_hash": previous,
                    "hash": digest,
                }
            )
            previous = digest
        session.execute(sa.insert(AUDIT), audit)
    engine.dispose()
    return time.perf_counter() - started


def _insert_notices(
    session: Any,
    kind: RoutedNoticeKind,
    batch: int,
    ids: list[int],
    catalogue: Catalogue,
    issuer: Issuer,
) -> None:
    requests = [NoticeRequest(kind, batch, (i,)) for i in ids]
    _insert_rendered(session, requests, catalogue, issuer)


def _insert_rendered(
    session: Any, requests: list[NoticeRequest], catalogue: Catalogue, issuer: Issuer
) -> None:
    composed = compose(session, requests, catalogue=catalogue, issuer=issuer, today=LATER.date())
    rows = []
    for draft in composed.drafts:
        rendered = render_notice(draft.kind, draft.context)
        rows.append(
            {
                "kind": draft.kind.value,
                "idempotency_key": draft.key.value,
                "message_id": draft.key.message_id(installation_token(session)),
                "recipient": draft.recipient.address,
                "recipient_name": draft.recipient.name,
                "subject": rendered.subject,
                "body_text": rendered.text,
                "body_html": rendered.html,
                "state": "queued",
                "attempts": 0,
                "attempts_at_requeue": 0,
                "created_at": LATER,
            }
        )
    for start in range(0, len(rows), 2000):
        session.execute(sa.insert(NOTICE), rows[start : start + 2000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listings", type=int, default=10_000)
    args = parser.parse_args()
    os.environ["DO_NOT_TRACK"] = "1"
    work = Path(tempfile.mkdtemp(prefix="bench-route-"))
    try:
        catalogue = load_catalogue(get_settings().catalogue_dir)
        calendar = WorkingCalendar(catalogue.calendar_years, get_settings().calendar_dir)
        routed_url = f"sqlite:///{work / 'routed.db'}"
        bare_url = f"sqlite:///{work / 'bare.db'}"
        batch = seed(routed_url, catalogue, args.listings)
        bare_batch = seed(bare_url, catalogue, args.listings)
        os.environ["JOINTCREDIT_DATABASE_URL"] = routed_url
        routed = route_through_prefect(batch)
        baseline = bare_core(bare_url, bare_batch, catalogue, calendar)
        engine = db.make_engine(routed_url)
        with engine.connect() as connection:
            actions = connection.execute(sa.select(sa.func.count()).select_from(ACTION)).scalar()
            notices = connection.execute(sa.select(sa.func.count()).select_from(NOTICE)).scalar()
            in_force = connection.execute(
                sa.select(sa.func.count()).where(LISTING.c.state == "in_force")
            ).scalar()
        engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    departments = len(catalogue.departments_of(MEMORANDUM))
    print(
        json.dumps(
            {
                "benchmark": "route",
                "listings": args.listings,
                "departments": departments,
                "actions": actions,
                "notices": notices,
                "in_force": in_force,
                "route_s": round(routed, 2),
                "bare_core_s": round(baseline, 2),
                "ratio": round(routed / baseline, 2),
                "target_ratio": 1.5,
                "target_s": 60,
                "meets_target": routed / baseline <= 1.5 and routed < 60,
                "machine": f"{platform.machine()}, {os.cpu_count()} CPU, "
                f"Python {platform.python_version()}",
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
