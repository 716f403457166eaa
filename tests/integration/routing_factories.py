"""Batches as intake leaves them: `proposed` listings of real-looking subjects with mailboxes."""

from __future__ import annotations

import itertools
import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa

from memoranda.loader import Catalogue
from registry.clock import Clock
from registry.db import session_scope
from registry.repository import add_batch, add_listings, add_subject

PROPOSER = "提出人 张伟"
REVIEWER = "审核人 李娜"
_uscc_serial = itertools.count(1)


def proposed_batch(
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: Clock,
    *,
    rule_set: str = "mem-2023-serious",
    units: int = 2,
    persons: int = 1,
    with_email: bool = True,
) -> tuple[int, list[int]]:
    """A batch of `units` units and `persons` persons (each person acting for the first unit)."""
    rules = catalogue.rule_sets[rule_set]
    assert rules.list_type is not None
    now = clock.now()
    tag = uuid.uuid4().hex[:8]
    with session_scope(engine) as session:
        batch = add_batch(
            session,
            reference=f"TEST-{tag}",
            list_type=rules.list_type,
            rule_set=rule_set,
            source_kind="test",
            proposed_by=PROPOSER,
            catalogue_hash=catalogue.content_hash,
            created_at=now,
        )
        subjects = []
        for i in range(units):
            serial = next(_uscc_serial)
            subjects.append(
                add_subject(
                    session,
                    kind="unit",
                    name=f"四川测试化工有限公司{tag}-{i}",
                    uscc=f"915100000000{serial:06d}",
                    uscc_status="valid",
                    region_code="510100",
                    industry="危险化学品",
                    contact_email=f"unit{serial}@example.org" if with_email else None,
                    created_at=now,
                )
            )
        for i in range(persons):
            subjects.append(
                add_subject(
                    session,
                    kind="person",
                    name=f"王测试{i}",
                    id_hash=uuid.uuid4().hex,
                    id_masked="110105********123X",
                    unit_id=subjects[0],
                    created_at=now,
                )
            )
        rows: list[dict[str, Any]] = [
            {
                "subject_id": subject,
                "batch_id": batch,
                "list_type": rules.list_type,
                "rule_set": rule_set,
                "grounds": [rules.grounds[0].code],
                "decision_number": None,
                "decision_date": date(2026, 11, 2),
                "state": "proposed",
                "proposed_at": now,
                "proposed_by": PROPOSER,
                "catalogue_hash": catalogue.content_hash,
                "updated_at": now,
            }
            for subject in subjects
        ]
        return batch, add_listings(session, rows=rows)
