"""Task around the outbox drain: open resources from settings, drain, return plain counts.

No retries on the task: delivery is already retried per notice by the outbox, and a re-run of
the whole drain is harmless because claims are leased (DESIGN §6: no `retries=3` on a send).
"""

from __future__ import annotations

from prefect import get_run_logger, task

from notifications.delivery import DrainOptions, DrainReport, drain_outbox
from notifications.smtp import SmtpConfig
from registry.clock import clock_from_settings
from registry.db import make_engine
from registry.faults import boundary_hook
from registry.settings import get_settings


@task(name="drain-outbox", retries=0)
async def drain_outbox_task(limit: int | None = None) -> DrainReport:
    settings = get_settings()
    logger = get_run_logger()

    def progress(report: DrainReport) -> None:
        logger.info("%s", report.progress_line())

    engine = make_engine(settings.database_url)
    try:
        report = await drain_outbox(
            engine,
            SmtpConfig.from_settings(settings),
            clock=clock_from_settings(settings),
            options=DrainOptions.from_settings(settings, limit=limit),
            progress=progress,
            on_boundary=boundary_hook(settings.kill_at, "deliver-notices"),
        )
    finally:
        engine.dispose()
    return report
