"""Screening for a department: its code in any case, and never "clear" for an unknown one.

Issue 13 item 5: `screen UNIT --department foo` (or `NDRC`) answered "no measures in force" with
exit 0 for a unit on the black list — a misspelt code cleared the subject.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from registry.calendar import WorkingCalendar
from registry.clock import FrozenClock
from registry.models import Listing, Subject
from registry.screening import UnknownDepartment, screen
from tests.factories.routing import dispatched_batch


def test_a_department_code_matches_in_any_case_and_an_unknown_one_is_refused(
    engine: sa.Engine, catalogue: Catalogue, calendar: WorkingCalendar, clock: FrozenClock
) -> None:
    listing = next(iter(dispatched_batch(engine, catalogue, calendar, units=1)))
    with Session(engine) as session:
        code = session.execute(
            sa.select(col(Subject.uscc))
            .join(Listing, col(Listing.subject_id) == col(Subject.id))
            .where(col(Listing.id) == listing)
        ).scalar_one()

        def measures(department: str | None) -> set[str]:
            result = screen(
                session,
                catalogue=catalogue,
                today=clock.today(),
                uscc=code,
                shown_as=code,
                department=department,
            )
            return {m.department for m in result.measures}

        assert measures("ndrc") == {"ndrc"}
        assert measures("NDRC") == {"ndrc"}
        assert measures(" Ndrc ") == {"ndrc"}
        assert len(measures(None)) > 1
        with pytest.raises(UnknownDepartment, match="未知部门 'foo'"):
            measures("foo")
