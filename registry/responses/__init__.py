"""Department responses (发起—响应—反馈, DOMAIN.md §1): acknowledgement, feedback, lift.

- `requests`: answers, outcomes and refusals, and parsing what a form or the CLI sent (the
  answer kinds themselves are `registry.vocabulary.ResponseKind`).
- `recording`: the rules per kind and `record_responses`, the one way any answer lands.
- `sheets`: the spreadsheet a department sends back, read with intake's rules.
"""

from registry.responses.recording import RULES, record_responses
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
