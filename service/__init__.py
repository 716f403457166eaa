"""The service layer: how one unit of work runs, shared by the Prefect tasks and the CLI.

It owns opening the resources (settings, engine, catalogue, calendar, clock), wiring the core's
contexts (routing, SLA sweep), and running one core operation in one transaction with its
crash-test boundaries. It decides nothing — the rules are the core's (`registry`) — and imports
no Prefect, so `jointcredit confirm` and the `route-batch` flow take exactly the same path.
"""

from service.contacts import ContactCorrection, correct_contact
from service.intake import import_file
from service.runtime import Runtime, current_catalogue, opened_runtime, require_ready_database
from service.sla import SlaFigures, sla_figures, sweep_of, sweep_once
from service.steps import (
    STEPS,
    position,
    record_decision,
    record_response,
    removal_decision,
    run_core,
    run_query,
    run_step,
    states_of,
)

__all__ = [
    "STEPS",
    "ContactCorrection",
    "Runtime",
    "SlaFigures",
    "correct_contact",
    "current_catalogue",
    "import_file",
    "opened_runtime",
    "position",
    "record_decision",
    "record_response",
    "removal_decision",
    "require_ready_database",
    "run_core",
    "run_query",
    "run_step",
    "sla_figures",
    "states_of",
    "sweep_of",
    "sweep_once",
]
