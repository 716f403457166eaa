"""What operators fill in the Prefect UI: the forms (each a `RunInput`) and how a run waits.

The UI renders a form under its Markdown review text (`notifications.artifacts`); titles are
Chinese, and a boolean is named so that its field name reads well (the UI shows booleans by
name). Where the answer must be one of a few known values (the batch's listings awaiting a
decision, the catalogue's departments) the form offers exactly those as a select.

A run waits for its form through `ask_operator`: suspended (no process held, re-run from the top
on resume, no time limit) when it came from a deployment, paused (the run keeps its process, for
at most the run's timeout) when started by hand. `ask_until_accepted` asks until the answer is
accepted: a refused answer records nothing and the same form comes back with the reasons above
it — a mistake in a form is answered in the form, never by a Failed run. Once an answer is dealt
with, Prefect's stored copy of it is masked (`settle_answers`): a resident ID number typed into a
reason lives on only masked, as in our database.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar

import pydantic
from prefect import get_run_logger
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import apause_flow_run, asuspend_flow_run
from prefect.input import RunInput
from prefect.input.actions import (
    acreate_flow_run_input,
    adelete_flow_run_input,
    aread_flow_run_input,
)
from prefect.runtime import deployment
from pydantic import BaseModel, Field, WithJsonSchema
from pydantic.fields import FieldInfo

from notifications.artifacts import markdown_cell
from registry.free_text import mask_resident_ids
from tasks.form_answers import AnswerRefused

Form = TypeVar("Form", bound=RunInput)
Model = TypeVar("Model", bound=BaseModel)
Outcome = TypeVar("Outcome")

CHOICES_LIMIT = 500
"""Above this many choices a select is no help (and its JSON schema bloats every stored run
input): the field stays a plain number, and the decision itself refuses a wrong one."""
MAX_ATTEMPTS = 20
"""Refused answers after which a run stops asking (the batch still waits; see the warning)."""
FORM_ERRORS_HEADING = "### 表单有误，请修改后重新提交"


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
        # A default, never a factory: only a default appears in the schema the UI fills the
        # form from (pydantic copies a mutable default for each instance). Validated, so an
        # answer that leaves a prefilled list out gets its items as models, not dicts.
        info = FieldInfo.merge_field_infos(
            original, default=copy.deepcopy(value), default_factory=None, validate_default=True
        )
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
    """The decision on a batch. No decision number: the system numbers each confirmed listing
    from the authority's sequence (issue 14); a paper decision's number goes through
    `jointcredit confirm --decision-number`."""

    reviewer: str = Field(
        title="审核人（不得为提出人）", min_length=1, max_length=100, pattern=NOT_BLANK
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


TECHNICAL = "一般无需修改。"
"""How a run form's technical parameter (a timeout, a poll interval) starts its description."""
POLL_HELP = f"{TECHNICAL}手动运行（非部署）暂停等待表单时，每隔多少秒查看一次是否已提交"
TIMEOUT_HELP = (
    f"{TECHNICAL}仅对手动运行（非部署）有效：暂停等待表单占用进程，超过此时限无人提交则本次运行结束"
    "{after}。由部署（定时推进、收件箱链接）发起的运行挂起等待，不占用进程，不设时限，"
    "表单一直可以提交"
)
"""How a form's timeout parameter is described: `{after}` says what is left after a timeout."""


def parameter(title: str, description: str, **constraints: Any) -> Any:
    """A flow parameter's Chinese title and help in the run form (`Annotated[T, parameter(…)]`).

    Prefect's parameter schema sets each title to the parameter's name and its description
    from the docstring, but merges `json_schema_extra` last: both go there."""
    return Field(json_schema_extra={"title": title, "description": description}, **constraints)


DECISIONS_NUMBERED = "列入决定书文号由系统逐条自动编号，表单中无需填写。"


def choice_of(values: Sequence[Any]) -> Any:
    """`Literal[v1, v2, …]`, which the UI shows as a select of exactly these values; None when
    there is nothing to choose or more than `CHOICES_LIMIT` choices."""
    distinct = tuple(dict.fromkeys(values))
    if not distinct or len(distinct) > CHOICES_LIMIT:
        return None
    kind = "integer" if all(isinstance(v, int) for v in distinct) else "string"
    # Spelled out: pydantic writes a single choice as `const`, which the UI shows as no select.
    shown = WithJsonSchema({"type": kind, "enum": list(distinct)})
    return Annotated[Literal.__getitem__(distinct), shown]


def retyped(
    model: type[Model], described: dict[str, str] | None = None, **types: Any
) -> type[Model]:
    """`model` with some fields' types replaced (a `Literal` of the allowed values), each field
    keeping its title, constraints and default; `described` replaces fields' descriptions."""
    fields: dict[str, Any] = {}
    for name in {*types, *(described or {})}:
        original = model.model_fields[name]
        info = FieldInfo.merge_field_infos(original)
        if described and name in described:
            info = FieldInfo.merge_field_infos(original, description=described[name])
        if name in types:
            info.metadata = []  # `ge=1` and the like mean nothing to a choice of values
        fields[name] = (types.get(name, original.annotation), info)
    made: type[Model] = pydantic.create_model(model.__name__, __base__=model, **fields)
    return made


def with_errors(errors: Sequence[str], description: str) -> str:
    """The form's Markdown: when an answer was refused, why — one line each — above the rest."""
    if not errors:
        return description
    return "\n".join(
        [FORM_ERRORS_HEADING, "", *(f"- {markdown_cell(e)}" for e in errors), "", description]
    )


def confirmation_form(
    review: str, awaiting: Sequence[int], errors: Sequence[str] = ()
) -> type[ConfirmationForm]:
    """The confirmation form of a batch: rejections choose among its listings awaiting a
    decision (a listing of another batch cannot be picked)."""
    form = ConfirmationForm
    choice = choice_of(awaiting)
    if choice is not None:
        rejection = retyped(Rejection, listing_id=choice)
        form = retyped(ConfirmationForm, rejections=list[rejection])  # type: ignore[valid-type]
    return form_with(form, with_errors(errors, f"{review}\n\n{DECISIONS_NUMBERED}\n"))


def removal_form(
    review: str, pending: Sequence[int], errors: Sequence[str] = ()
) -> type[RemovalForm]:
    """The removal form: approvals and refusals choose among the listings in removal review."""
    form = RemovalForm
    choice = choice_of(pending)
    if choice is not None:
        refusal = retyped(RemovalRefusal, listing_id=choice)
        form = retyped(
            RemovalForm,
            approve=list[choice],  # type: ignore[valid-type]
            refusals=list[refusal],  # type: ignore[valid-type]
        )
    return form_with(form, with_errors(errors, review))


class ExpectedWaitIsNotAnError(logging.Filter):
    """Prefect logs an async flow's end in any state but Completed at ERROR — including the
    Suspended and Paused of a run that waits for its form, which is the plan, not a fault. The
    record is turned into INFO before any handler (the API's included) sees it."""

    WAITING = ("Finished in state Suspended", "Finished in state Paused")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and str(record.msg).startswith(self.WAITING):
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


def quiet_expected_waits() -> None:
    """Install `ExpectedWaitIsNotAnError` on Prefect's flow-run logger, once per process."""
    logger = logging.getLogger("prefect.flow_runs")
    if not any(isinstance(f, ExpectedWaitIsNotAnError) for f in logger.filters):
        logger.addFilter(ExpectedWaitIsNotAnError())


async def ask_operator(
    form: type[Form],
    *,
    key: str,
    timeout_hours: float,
    poll_seconds: int,
    unanswered: str,
    waiting: str = "填写表单",
) -> Form | None:
    """The operator's answer to `form`; None when nobody answered in time.

    Suspends when the run came from a deployment (Prefect suspends only those), without a time
    limit: a suspended run holds no process, the inbox lists it and it stays answerable — a
    Prefect timeout would leave it showing Suspended yet fail it on a late answer, the answer
    lost. Else pauses, polling every `poll_seconds`, for at most `timeout_hours` (a paused run
    holds its process). Before waiting it logs what it waits for (`waiting`, e.g. "确认批次
    12"); on a timeout `unanswered` is logged as a warning, with `{hours}` replaced by the
    timeout in hours. A key already answered returns that answer at once (a suspended run
    re-run from the top replays its earlier answers), loaded with this `form`: an answer the
    current form no longer accepts raises `pydantic.ValidationError`.
    """
    quiet_expected_waits()
    logger = get_run_logger()
    timeout = int(timeout_hours * 3600)
    suspend = bool(deployment.id)
    stored = await aread_flow_run_input(f"{'suspended' if suspend else 'paused'}-{key}-response")
    if stored is None:
        logger.info(
            "等待操作员在表单中%s（%s）",
            waiting,
            "运行已挂起，不占用进程，不设时限；提交后从头继续"
            if suspend
            else f"运行已暂停，本进程每 {poll_seconds} 秒查看一次是否已提交",
        )
    try:
        if suspend:
            answer = await asuspend_flow_run(wait_for_input=form, timeout=None, key=key)
        else:
            answer = await apause_flow_run(
                wait_for_input=form, timeout=timeout, poll_interval=poll_seconds, key=key
            )
    except FlowPauseTimeout:
        logger.warning(unanswered.format(hours=f"{timeout_hours:.0f}"))
        return None
    return answer


def _masked(value: Any) -> Any:
    """`value` (a stored answer: JSON) with every resident ID number in its text masked."""
    if isinstance(value, str):
        return mask_resident_ids(value)
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if isinstance(value, dict):
        return {name: _masked(item) for name, item in value.items()}
    return value


RESPONSE_KINDS = ("suspended", "paused")
"""How `ask_operator` stores an answer: `{kind}-{key}-response` (Prefect's keyset)."""


async def mask_stored_answer(key: str) -> None:
    """Overwrite Prefect's stored answer(s) under `key` with the answer masked: the flow run
    input keeps what the operator typed, a resident ID number included, for as long as the run
    exists. Prefect has no update: the input is deleted and written again."""
    for kind in RESPONSE_KINDS:
        stored_key = f"{kind}-{key}-response"
        value = await aread_flow_run_input(stored_key)
        if value is None:
            continue
        masked = _masked(value)
        if masked != value:
            await adelete_flow_run_input(stored_key)
            await acreate_flow_run_input(key=stored_key, value=masked)


async def settle_answers(key: str, attempts: int) -> None:
    """Mark the answers of attempts 1…`attempts` under `key` dealt with (applied, or not
    applied because someone decided elsewhere) and mask what Prefect stored of them."""
    for attempt in range(1, attempts + 1):
        attempt_key = key if attempt == 1 else f"{key}-{attempt}"
        await mask_stored_answer(attempt_key)
    last = key if attempts == 1 else f"{key}-{attempts}"
    if await aread_flow_run_input(f"{last}-settled") is None:
        await acreate_flow_run_input(key=f"{last}-settled", value=True)


async def unapplied_answer(key: str) -> tuple[dict[str, Any], int] | None:
    """An answer submitted under `key` (or `key-2` …) that was neither refused nor settled, with
    its attempt number: what a run re-run after the form's submission finds when the matter was
    decided elsewhere in between, and must not drop in silence."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        attempt_key = key if attempt == 1 else f"{key}-{attempt}"
        answers = [
            await aread_flow_run_input(f"{kind}-{attempt_key}-response") for kind in RESPONSE_KINDS
        ]
        answer = next((a for a in answers if a is not None), None)
        if answer is None:
            return None
        if await aread_flow_run_input(f"{attempt_key}-settled") is not None:
            return None
        if await aread_flow_run_input(f"{attempt_key}-refused") is None:
            return (answer if isinstance(answer, dict) else {}), attempt
    return None


STALE_ANSWER = "此前提交的答复已不符合当前表单（例如所选名单已不再等待决定），请重新填写"


def prefilled(form: type[Form], answer: RunInput) -> type[Form]:
    """`form` filled in with a refused `answer`, so the operator corrects it instead of typing
    every rejection again. The values become defaults of the form's schema, which Prefect
    stores: resident ID numbers typed in them are masked first."""
    values = _masked(answer.model_dump(mode="json"))
    known = {name: value for name, value in values.items() if name in form.model_fields}
    description = getattr(form, "_description", None)
    return form_with(form, description if isinstance(description, str) else "", **known)


async def ask_until_accepted(
    make_form: Callable[[Sequence[str]], type[Form]],
    apply: Callable[[Form], Outcome | AnswerRefused],
    *,
    key: str,
    timeout_hours: float,
    poll_seconds: int,
    unanswered: str,
    waiting: str = "填写表单",
) -> Outcome | None:
    """Ask with `make_form(errors)` until `apply(answer)` accepts the answer; None when nobody
    answered in time, or after `MAX_ATTEMPTS` refused answers.

    `apply` records the answer, all or nothing, or returns `AnswerRefused` having recorded
    nothing; the form is then shown again with the reasons above it (`with_errors`), filled in
    with the refused answer (`prefilled`). Attempt n
    waits under key `key` (first), then `key-2`, `key-3` …: a suspended run re-run from the top
    gets its earlier answers back in order, and each refusal is stored beside its answer, so a
    replay neither applies a refused answer twice nor depends on what changed since. A refused
    answer is masked in Prefect once its refusal is stored; the accepted one once applied, when
    the last attempt is marked settled (`unapplied_answer` then finds nothing).
    """
    errors: Sequence[str] = ()
    refused: Form | None = None  # shown filled in the next form
    for attempt in range(1, MAX_ATTEMPTS + 1):
        attempt_key = key if attempt == 1 else f"{key}-{attempt}"
        form = make_form(errors)
        try:
            answer = await ask_operator(
                form if refused is None else prefilled(form, refused),
                key=attempt_key,
                timeout_hours=timeout_hours,
                poll_seconds=poll_seconds,
                unanswered=unanswered,
                waiting=waiting,
            )
        except pydantic.ValidationError:
            errors, refused = [STALE_ANSWER], None
            continue
        if answer is None:
            return None
        refused_key = f"{attempt_key}-refused"
        replayed = await aread_flow_run_input(refused_key)
        if replayed is not None:
            errors, refused = [str(message) for message in replayed], answer
            continue
        outcome = apply(answer)
        if not isinstance(outcome, AnswerRefused):
            await settle_answers(key, attempt)
            return outcome
        errors = [mask_resident_ids(message) for message in outcome.messages]
        refused = answer
        await acreate_flow_run_input(key=refused_key, value=errors)
        # Superseded: only its refusal is replayed, so its ID numbers can go now.
        await mask_stored_answer(attempt_key)
        get_run_logger().warning(
            "表单答复未被接受（第 %d 次），未记录任何内容，已重新显示表单：%s",
            attempt,
            "；".join(errors),
        )
    get_run_logger().warning(
        "表单已连续 %d 次被退回，本次运行不再等待（%s）；请核对后重新运行，或使用命令行办理",
        MAX_ATTEMPTS,
        waiting,
    )
    return None
