"""The SLA sweep and the per-department figures, each in one transaction: the `sweep-sla`
tasks and `jointcredit sla report` call these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from notifications.compose import Issuer
from notifications.party_deadline_notices import party_notice_enqueuer
from notifications.sla_notices import sla_notice_enqueuer
from registry import db
from registry.faults import BoundaryHook
from registry.party_deadlines import sweep_party_deadlines
from registry.reporting.party_cases import PartyCaseFigures, party_case_figures
from registry.reporting.sla import DepartmentSla, sla_report
from registry.sla_sweep import Sweep, SweepResult, sweep_overdue
from service.runtime import Runtime


def sweep_of(runtime: Runtime, *, actor: str, source: str) -> Sweep:
    """The sweep's rules, time and notice wiring, from an opened runtime."""
    return Sweep(
        catalogue=runtime.catalogue,
        calendar=runtime.calendar,
        clock=runtime.clock,
        actor=actor,
        source=source,
        enqueue=sla_notice_enqueuer(
            catalogue=runtime.catalogue,
            issuer=Issuer.from_settings(runtime.settings),
            clock=runtime.clock,
        ),
    )


def sweep_once(
    runtime: Runtime, *, actor: str, source: str, on_boundary: BoundaryHook | None = None
) -> SweepResult:
    """One sweep, one transaction; `on_boundary` is told `before-commit` and `after-commit`.

    The boundaries sit around the commit, not inside the core sweep: the sweep is one
    transaction, so "before" and "after" its commit are the only crash points it has.
    """
    sweep = sweep_of(runtime, actor=actor, source=source)
    party_enqueue = party_notice_enqueuer(
        catalogue=runtime.catalogue,
        issuer=Issuer.from_settings(runtime.settings),
        clock=runtime.clock,
    )
    with db.session_scope(runtime.engine) as session:
        result = sweep_overdue(session, sweep)
        # the party's objections and applications we owe an answer on, in the same transaction
        result.party = sweep_party_deadlines(session, sweep, party_enqueue).as_dict()
        if on_boundary is not None:
            on_boundary("before-commit")
    if on_boundary is not None:
        on_boundary("after-commit")
    return result


@dataclass(frozen=True)
class SlaFigures:
    """The per-department SLA lines as of `today` (by the runtime's clock)."""

    today: date
    departments: list[DepartmentSla]
    party_cases: list[PartyCaseFigures] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "departments": [line.as_dict() for line in self.departments],
            "party_cases": [line.as_dict() for line in self.party_cases],
        }


def sla_figures(runtime: Runtime) -> SlaFigures:
    today = runtime.clock.today()
    with db.session_scope(runtime.engine) as session:
        lines = sla_report(
            session, catalogue=runtime.catalogue, calendar=runtime.calendar, today=today
        )
        cases = party_case_figures(session, today=today)
    return SlaFigures(today, lines, cases)
