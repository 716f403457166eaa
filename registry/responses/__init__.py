"""Department responses (发起—响应—反馈, DOMAIN.md §1): acknowledgement, feedback, lift.

- `requests`: answers, outcomes and refusals, and parsing what a form or the CLI sent (the
  answer kinds themselves are `registry.vocabulary.ResponseKind`).
- `rules`: what each kind may do (from which action states, to which, what counts as done).
- `items`: answers checked one by one and merged per listing; refusals that name the listing.
- `recording`: `record_responses`, the one way any answer lands (one guarded UPDATE per kind).
- `sheets`: the spreadsheet a department sends back, read with intake's rules.
"""

from registry.responses.recording import record_responses
from registry.responses.requests import (
    Outcome,
    Refusal,
    Response,
    ResponseRefused,
    ResponseRequestError,
    ResponseResult,
    parse_kind,
    response_request,
)
from registry.responses.rules import RULES
from registry.responses.sheets import record_response_sheet

__all__ = [
    "RULES",
    "Outcome",
    "Refusal",
    "Response",
    "ResponseRefused",
    "ResponseRequestError",
    "ResponseResult",
    "parse_kind",
    "record_response_sheet",
    "record_responses",
    "response_request",
]
