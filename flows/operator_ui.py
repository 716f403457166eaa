"""What operators fill in the Prefect UI: the forms (each a `RunInput`) and how a run waits.

The UI renders a form under its Markdown table (`notifications.artifacts`); titles are Chinese,
and a boolean is named so that its field name reads well (the UI shows booleans by name). A run
waits for its form through `ask_operator`: suspended (no process held, re-run from the top on
resume) when it came from a deployment, paused (the run keeps its process) when started by hand.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

import pydantic
from prefect import get_run_logger
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import apause_flow_run, asuspend_flow_run
from prefect.input import RunInput
from prefect.runtime import deployment
from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

Form = TypeVar("Form", bound=RunInput)


def form_with(form: type[Form], description: str, **defaults: Any) -> type[Form]:
    """The form with `description` above it and some fields pre-filled.

    Prefect's `with_initial_data` rebuilds each given field from its type alone, which drops
    the Chinese title and the constraints (a reviewer could then be left empty); this keeps
    each field's FieldInfo and changes only its default. An empty value for a required field
    leaves the field required.
    """
    fields: dict[str, Any] = {}
    for name, value in defaults.items():
        original = form.model_fields[name]
        if value in ("", None) and original.is_required():
            continue
        if original.default_factory is not None:
            info = FieldInfo.merge_field_infos(
                original, default_factory=lambda value=value: copy.deepcopy(value)
            )
        else:
            info = FieldInfo.merge_field_infos(original, default=value)
        fields[name] = (original.annotation, info)
    model: type[Form] = pydantic.create_model(form.__name__, __base__=form, **fields)
    model._description = description  # what Prefect shows above the form
    return model


NOT_BLANK = r"\S"
"""A name made only of spaces is no name: refused in the form, where the operator sees it."""


class Rejection(BaseModel):
    listing_id: int = Field(title="名单编号", ge=1)
    reason: str = Field(title="不予列入理由", min_length=2, max_length=2000)


class ConfirmationForm(RunInput):
    reviewer: str = Field(
        title="审核人（不得为提出人）", min_length=1, max_length=100, pattern=NOT_BLANK
    )
    decision_number: str = Field(
        title="决定书文号",
        description="一般不填：列入决定文号由系统逐条自动编号。仅当本次只确认一条名单且已有纸质决定书时填写其文号",
        default="",
        max_length=100,
    )
    approve_others: bool = Field(title="其余名单全部确认", default=True)
    rejections: list[Rejection] = Field(title="不予列入的名单", default_factory=list)


class RemovalRefusal(BaseModel):
    listing_id: int = Field(title="名单编号", ge=1)
    reason: str = Field(title="不予移出理由", min_length=2, max_length=2000)


class RemovalForm(RunInput):
    reviewer: str = Field(title="审核人", min_length=1, max_length=100, pattern=NOT_BLANK)
    approve: list[int] = Field(title="同意移出的名单编号", default_factory=list)
    refusals: list[RemovalRefusal] = Field(title="不予移出的名单", default_factory=list)


async def ask_operator(
    form: type[Form], *, key: str, timeout_hours: float, poll_seconds: int, unanswered: str
) -> Form | None:
    """The operator's answer to `form`; None when nobody answered in time.

    Suspends when the run came from a deployment (Prefect suspends only those), else pauses,
    polling every `poll_seconds`. On a timeout `unanswered` is logged as a warning, with
    `{hours}` replaced by the timeout in hours.
    """
    timeout = int(timeout_hours * 3600)
    try:
        if deployment.id:
            answer = await asuspend_flow_run(wait_for_input=form, timeout=timeout, key=key)
        else:
            answer = await apause_flow_run(
                wait_for_input=form, timeout=timeout, poll_interval=poll_seconds, key=key
            )
    except FlowPauseTimeout:
        get_run_logger().warning(unanswered.format(hours=f"{timeout_hours:.0f}"))
        return None
    return answer
