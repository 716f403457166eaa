"""What a task returns when the operator's answer in a form is refused: the reasons, in Chinese.

A refused answer is not a failure of the run: the flow shows the same form again with these
messages above it (`flows.operator_ui.ask_until_accepted`), so the task returns the refusal
instead of raising it — no Failed task run, no traceback for a typo in a form.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.errors import JointcreditError, TransitionRefused, refusal_summary
from registry.responses import ResponseRefused

SHOWN = 20
"""Refusals listed one per line above the form; the rest are counted."""


@dataclass(frozen=True)
class AnswerRefused:
    """The answer changed nothing (its transaction was rolled back); `messages` say why."""

    messages: tuple[str, ...]

    @classmethod
    def of(cls, error: JointcreditError) -> AnswerRefused:
        if isinstance(error, ResponseRefused):
            lines = [refusal.message for refusal in error.refusals]
        elif isinstance(error, TransitionRefused):
            lines = refusal_summary(error.refusals).split("；")
        else:
            lines = [error.message]
        more = len(lines) - SHOWN
        shown = lines[:SHOWN] + ([f"另有 {more} 处问题未列出"] if more > 0 else [])
        return cls(tuple(shown))
