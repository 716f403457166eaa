"""The operator inbox artifact (`operator-inbox`): gathered, rendered, written when it changed.

The sweeps call `refresh_operator_inbox` at their end, and `route-batch` right before it waits
for the operator. `deliver-notices` runs every minute: comparing with the latest version of the
key keeps it from writing a new version each minute when nothing changed.

The waiting forms come from the Prefect API (runs of our flows in a Paused state; Prefect's
Suspended is a Paused-type state), the rest from our database (`registry.views.inbox`).
`jointcredit inbox` uses `read_waiting_forms` and `read_inbox` without being a task.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from prefect import get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run
from prefect.settings import get_current_settings

from notifications.inbox import INBOX_DESCRIPTION, INBOX_KEY, inbox_markdown
from registry.db import session_scope
from registry.views.inbox import (
    FLOW_WAITS_FOR,
    SHOWN,
    OperatorInbox,
    WaitingForm,
    operator_inbox,
)
from service.runtime import opened_runtime

PAGE = 200


def ui_url() -> str:
    """Where the Prefect UI is: `PREFECT_UI_URL`, else the API URL without its `/api`."""
    settings = get_current_settings()
    found = settings.ui_url or (settings.api.url or "").removesuffix("/api")
    return found.rstrip("/")


def run_link(run_id: object) -> str:
    """The V1 run page, as Prefect's own "View at" log line links it."""
    return f"{ui_url()}/runs/flow-run/{run_id}"


def _form(run: FlowRun, flow_name: str, since: datetime) -> WaitingForm:
    batch = run.parameters.get("batch_id")
    return WaitingForm(
        run_id=str(run.id),
        run_name=run.name,
        flow_name=flow_name,
        url=run_link(run.id),
        waiting_since=since,
        batch_id=batch if isinstance(batch, int) and not isinstance(batch, bool) else None,
    )


async def read_waiting_forms(client: PrefectClient) -> list[WaitingForm]:
    """Every run of a flow of ours that waits on a form (paused or suspended), oldest first."""
    ours = FlowFilter(name=FlowFilterName(any_=sorted(FLOW_WAITS_FOR)))
    flows = {f.id: f.name for f in await client.read_flows(flow_filter=ours)}
    if not flows:
        return []
    forms: list[WaitingForm] = []
    offset = 0
    while True:
        runs = await client.read_flow_runs(
            flow_filter=ours,
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            ),
            limit=PAGE,
            offset=offset,
        )
        forms += [
            _form(run, flows.get(run.flow_id, ""), run.state.timestamp)
            for run in runs
            if run.state is not None
        ]
        if len(runs) < PAGE:
            return forms
        offset += PAGE


def read_inbox(forms: list[WaitingForm] | None, shown: int | None = SHOWN) -> OperatorInbox:
    """The inbox from our database, with the forms read from Prefect (None: not readable);
    `shown` lines per section (None: all, for `jointcredit inbox --all`)."""
    with opened_runtime() as runtime:
        departments = {
            code: (d.name, d.mailbox) for code, d in runtime.catalogue.departments.items()
        }
        with session_scope(runtime.engine) as session:
            return operator_inbox(
                session,
                today=runtime.clock.today(),
                now=datetime.now(UTC),  # Prefect's state times are wall-clock times
                forms=forms,
                department_mailboxes=departments,
                shown=shown,
            )


PREFECT_FAULTS = (httpx.HTTPError, OSError, ObjectNotFound)
"""What reading or writing through the Prefect API raises when the server is slow, down or
answers with an error (`PrefectHTTPStatusError` is an `httpx.HTTPStatusError`)."""


@task(name="refresh-operator-inbox")
async def refresh_operator_inbox(this_run_waits: bool = False) -> bool:
    """Write the `operator-inbox` artifact if its content changed; whether it was written.

    `this_run_waits`: the calling run is about to wait on a form — list it already (it is
    still Running at this point, so Prefect does not show it as paused yet).

    Best-effort: the inbox is a summary, never the work of the run that refreshes it. When the
    Prefect API cannot be read or written, one warning says so and the run goes on (the next
    sweep refreshes it). A database failure is let through: the run works on the same
    database, so that is a fault of the run itself, not of the summary.
    """
    logger = get_run_logger()
    try:
        async with get_client() as client:
            forms = await read_waiting_forms(client)
            if this_run_waits and flow_run.id:
                run = await client.read_flow_run(flow_run.id)
                if all(form.run_id != str(run.id) for form in forms):
                    forms.append(_form(run, flow_run.flow_name, datetime.now(UTC)))
    except PREFECT_FAULTS as exc:
        logger.warning(_not_refreshed("读取待填写的表单", exc))
        return False
    markdown = inbox_markdown(read_inbox(forms))
    try:
        async with get_client() as client:
            latest = await client.read_latest_artifacts(
                artifact_filter=ArtifactCollectionFilter(
                    key=ArtifactCollectionFilterKey(any_=[INBOX_KEY])
                ),
                limit=1,
            )
        if latest and latest[0].data == markdown:
            return False
        await acreate_markdown_artifact(
            key=INBOX_KEY, markdown=markdown, description=INBOX_DESCRIPTION
        )
    except PREFECT_FAULTS as exc:
        logger.warning(_not_refreshed("写入操作员待办", exc))
        return False
    return True


def _not_refreshed(step: str, exc: BaseException) -> str:
    return (
        f"通过 Prefect API {step}失败（{type(exc).__name__}: {exc}），"
        f"本次未更新操作员待办（{INBOX_KEY}）；本次运行的结果不受影响，下一次巡检会重试"
        "（operator inbox not refreshed this time; the next sweep retries）"
    )
