"""Task around intake: open resources, import the file in one transaction, return counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from registry import db
from registry.intake import import_batch
from tasks.runtime import opened_runtime

PROGRESS_EVERY = 10_000


@task(name="import-file")
def import_file(path: str, proposed_by: str, reporter: str | None) -> dict[str, Any]:
    logger = get_run_logger()
    logged = [0]

    def progress(rows: int) -> None:
        if rows - logged[0] >= PROGRESS_EVERY:
            logged[0] = rows
            logger.info("已读取 %d 行", rows)

    with opened_runtime() as runtime, db.session_scope(runtime.engine) as session:
        result = import_batch(
            session,
            Path(path),
            catalogue=runtime.catalogue,
            id_hash_key=runtime.settings.id_hash_key.get_secret_value(),
            clock=runtime.clock,
            proposed_by=proposed_by,
            reporter=reporter,
            quarantine_dir=runtime.settings.data_dir / "quarantine",
            progress=progress,
        )
    return result.as_dict()
