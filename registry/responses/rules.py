"""What each answer may do (DOMAIN.md §1): from which action states, to which, and what counts
as already answered. A table, so the rule reads in one place; `recording` applies it.

- **Ack (响应)**: dispatched → acknowledged. **Feedback (反馈)**: dispatched | acknowledged →
  feedback_reported. **Lift (解除确认)**: lift_requested → lift_confirmed; nothing else can be
  confirmed, because no 解除函 was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from registry.models import ActionState
from registry.vocabulary import RESPONSE_KIND_LABELS, ResponseKind


@dataclass(frozen=True)
class Rule:
    sources: frozenset[str]
    target: ActionState
    done: frozenset[str]
    due: str
    late: str
    at: str
    audit: str
    field: str


_S = ActionState


LIFT_STATES = frozenset({_S.LIFT_REQUESTED.value, _S.LIFT_CONFIRMED.value})


RULES: dict[ResponseKind, Rule] = {
    ResponseKind.ACK: Rule(
        sources=frozenset({_S.DISPATCHED.value}),
        target=_S.ACKNOWLEDGED,
        done=frozenset(s.value for s in _S if s is not _S.DISPATCHED),
        due="ack_due",
        late="ack_late",
        at="acknowledged_at",
        audit="action.acknowledge",
        field="ack",
    ),
    ResponseKind.FEEDBACK: Rule(
        sources=frozenset({_S.DISPATCHED.value, _S.ACKNOWLEDGED.value}),
        target=_S.FEEDBACK_REPORTED,
        done=frozenset({_S.FEEDBACK_REPORTED.value}),  # and lift states once feedback came
        due="feedback_due",
        late="feedback_late",
        at="feedback_at",
        audit="action.feedback",
        field="feedback",
    ),
    ResponseKind.LIFT: Rule(
        sources=frozenset({_S.LIFT_REQUESTED.value}),
        target=_S.LIFT_CONFIRMED,
        done=frozenset({_S.LIFT_CONFIRMED.value}),
        due="lift_due",
        late="lift_late",
        at="lift_confirmed_at",
        audit="action.lift_confirm",
        field="lifted",
    ),
}


"""kind → which action states it moves, to where, and which states mean "already answered"."""


ORDER = (ResponseKind.ACK, ResponseKind.FEEDBACK, ResponseKind.LIFT)


"""Kinds apply in this order, so one sheet row may acknowledge, report and confirm at once."""


def verdict(kind: ResponseKind, state: str, feedback_at: datetime | None) -> str | tuple[str, str]:
    """What an answer of `kind` does to an action in `state`: `"move"`, `"already"`, or why not
    (zh, en). `feedback_at` tells a lift-stage action that had its feedback from one that did
    not."""
    rule = RULES[kind]
    if state in rule.sources:
        return "move"
    if state in rule.done:
        return "already"
    if kind is ResponseKind.FEEDBACK and state in LIFT_STATES:
        if feedback_at is not None:
            return "already"
        return ("已发出解除函，不再接收反馈", "measures are being lifted: feedback is closed")
    if kind is ResponseKind.LIFT:
        return ("未收到解除函，无需确认解除", "no lift request was sent for this listing")
    return (
        f"事项状态为 {state}，不能{RESPONSE_KIND_LABELS[kind]}",
        f"not allowed in {state}",
    )
