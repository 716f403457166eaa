"""Benchmark: dispatching 1,000 listings as `route-batch` does it vs one Prefect task per action.

Not a test (DESIGN: targets live in benchmarks). DESIGN.md §1.3 and §6 make the batch the
routing unit and call "one task per row" an anti-pattern; this measures what that choice buys.
1,000 black listings in force under `saws-2017-sanction` are dispatched to the 16 departments of
发改财金〔2016〕1001号: 16,000 department actions, one audit record and one 推送函 per department.

- **batch**: the real `route-batch` flow run — one `dispatch-departments` task that inserts
  every action with set-based SQL, appends the audit event and queues the 16 digests.
- **naive**: a flow that does the same work the way a first draft would — one task run per
  department action (open the database, compute the due dates, insert the row, append an audit
  event, commit), then one task per department to queue its digest.

Both run on a fresh copy of the same data against the same Prefect server (the ephemeral
SQLite one, as `make bench` uses it); the naive tasks run one after another, which is kinder to
SQLite than running them concurrently. Prints one line of JSON with the ratio naive / batch.

    .venv/bin/python -m bench.naive [--listings 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prefect import flow, task
from sqlalchemy.dialects import sqlite

from bench.route import ACTION, LISTING, RULE_SET, START, seed
from memoranda.loader import load_catalogue
from notifications.outbox import NOTICE
from registry import db
from registry.audit import EventDraft, append_events
from registry.routing import NoticeRequest
from registry.settings import get_settings
from registry.sla import action_deadlines
from registry.vocabulary import NoticeKind
from service.runtime import opened_runtime

ACTOR = "bench:naive-dispatch"


def put_in_force(url: str) -> None:
    """Seeding, not timed: the listings as publication leaves them."""
    engine = db.make_engine(url)
    with db.session_scope(engine) as session:
        session.execute(
            sa.update(LISTING).values(
                state="in_force",
                decision_number="安监决〔2026〕1号",
                decided_at=START,
                decided_by="审核人 李娜",
                published_at=START,
                expires_on=START.date().replace(year=START.year + 1),
            )
        )
    engine.dispose()


@task(name="dispatch-one-action")
def dispatch_one_action(listing_id: int, department: str, memorandum: str) -> int:
    """The per-row draft: everything `dispatch_in_force` does for one action, in its own run."""
    with opened_runtime() as runtime, db.session_scope(runtime.engine) as session:
        catalogue, today, now = runtime.catalogue, runtime.clock.today(), runtime.clock.now()
        sla = catalogue.sla_for(department)
        due = action_deadlines(runtime.calendar, sla, today)
        inserted = session.execute(
            sqlite.insert(ACTION)
            .on_conflict_do_nothing(index_elements=["listing_id", "department", "memorandum"])
            .returning(ACTION.c.id),
            {
                "listing_id": listing_id,
                "department": department,
                "memorandum": memorandum,
                "measures": [m.id for m in catalogue.measures_for(memorandum, department)],
                "state": "dispatched",
                "escalation_level": 0,
                "dispatched_at": now,
                "ack_from": today,
                "ack_wd": sla.ack_wd,
                "ack_due": due.ack.due,
                "ack_provisional": due.ack.provisional,
                "feedback_from": today,
                "feedback_wd": sla.feedback_wd,
                "feedback_due": due.feedback.due,
                "feedback_provisional": due.feedback.provisional,
            },
        ).scalar_one_or_none()
        if inserted is not None:
            after = {"department": department}
            draft = EventDraft(ACTOR, "action.dispatch", "action", inserted, None, after, ACTOR)
            append_events(session, [draft], at=now)
    return 0 if inserted is None else 1


@task(name="queue-one-digest")
def queue_one_digest(batch_id: int, department: str, memorandum: str) -> int:
    with opened_runtime() as runtime, db.session_scope(runtime.engine) as session:
        ids = tuple(
            session.execute(
                sa.select(ACTION.c.listing_id)
                .where(ACTION.c.department == department, ACTION.c.memorandum == memorandum)
                .order_by(ACTION.c.listing_id)
            ).scalars()
        )
        request = NoticeRequest(
            NoticeKind.DEPARTMENT_DISPATCH,
            batch_id,
            ids,
            department=department,
            memorandum=memorandum,
        )
        queued, _ = runtime.routing(actor=ACTOR, source=ACTOR).enqueue(session, [request])
    return queued


@flow(name="naive-dispatch")
def naive_dispatch(batch_id: int) -> dict[str, int]:
    with opened_runtime() as runtime, runtime.engine.connect() as connection:
        listings = list(
            connection.execute(
                sa.select(LISTING.c.id).where(LISTING.c.batch_id == batch_id).order_by(LISTING.c.id)
            ).scalars()
        )
        pairs = [
            (memorandum.id, department)
            for memorandum in runtime.catalogue.memoranda_for(RULE_SET)
            for department in runtime.catalogue.departments_of(memorandum.id)
        ]
    actions = sum(
        dispatch_one_action(listing, department, memorandum)
        for listing in listings
        for memorandum, department in pairs
    )
    digests = sum(
        queue_one_digest(batch_id, department, memorandum) for memorandum, department in pairs
    )
    return {"actions": actions, "digests": digests}


def _counts(url: str) -> tuple[int, int]:
    engine = db.make_engine(url)
    with engine.connect() as connection:
        actions = connection.execute(sa.select(sa.func.count()).select_from(ACTION)).scalar_one()
        notices = connection.execute(sa.select(sa.func.count()).select_from(NOTICE)).scalar_one()
    engine.dispose()
    return int(actions), int(notices)


def main() -> None:
    from flows.deliver import deliver_notices
    from flows.route import route_batch

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listings", type=int, default=1_000)
    args = parser.parse_args()
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ["JOINTCREDIT_NOW"] = START.isoformat()
    catalogue = load_catalogue(get_settings().catalogue_dir)
    work = Path(tempfile.mkdtemp(prefix="bench-naive-"))
    result: dict[str, Any] = {}
    try:
        urls = {name: f"sqlite:///{work / f'{name}.db'}" for name in ("batch", "naive")}
        batches = {name: seed(url, catalogue, args.listings) for name, url in urls.items()}
        for url in urls.values():
            put_in_force(url)
        os.environ["JOINTCREDIT_DATABASE_URL"] = urls["batch"]
        asyncio.run(deliver_notices(limit=1))  # start the ephemeral Prefect server (not timed)
        started = time.perf_counter()
        asyncio.run(route_batch(batches["batch"], wait_for_operator=False))
        result["batch_s"] = time.perf_counter() - started
        os.environ["JOINTCREDIT_DATABASE_URL"] = urls["naive"]
        started = time.perf_counter()
        naive_dispatch(batches["naive"])
        result["naive_s"] = time.perf_counter() - started
        result["batch_counts"], result["naive_counts"] = (
            _counts(urls["batch"]),
            _counts(urls["naive"]),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if result["batch_counts"] != result["naive_counts"]:
        raise SystemExit(f"the two paths disagree: {result}")
    actions, notices = result["batch_counts"]
    print(
        json.dumps(
            {
                "benchmark": "naive",
                "listings": args.listings,
                "actions": actions,
                "digests": notices,
                "batch_s": round(result["batch_s"], 2),
                "naive_s": round(result["naive_s"], 2),
                "naive_task_runs": actions + notices,
                "ratio_naive_to_batch": round(result["naive_s"] / result["batch_s"], 1),
                "note": "batch = the real route-batch run (5 task runs); naive = one task run "
                "per department action, then one per digest, run one after another",
                "machine": f"{platform.machine()}, {os.cpu_count()} CPU, "
                f"Python {platform.python_version()}",
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
