"""Prefect tasks that read an operator view, so an artifact shows what the CLI prints."""

from __future__ import annotations

from prefect import task

from registry.views import BatchView, batch_view
from service.runtime import opened_runtime
from service.steps import run_query


@task(name="read-batch-view")
def read_batch_view(batch_id: int) -> BatchView:
    """The batch as `jointcredit batch show` prints it (`registry.views.batch`)."""
    with opened_runtime() as runtime:
        return run_query(runtime, lambda session: batch_view(session, batch_id))
