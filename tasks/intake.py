"""Task around intake: open resources, import the file in one transaction, return counts."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from registry.intake import ImportResult
from service.intake import import_file as import_into
from service.runtime import opened_runtime

PROGRESS_EVERY = 10_000


@task(name="import-file")
def import_file(path: str, proposed_by: str, reporter: str | None) -> ImportResult:
    logger = get_run_logger()
    logged = [0]

    def progress(rows: int) -> None:
        if rows - logged[0] >= PROGRESS_EVERY:
            logged[0] = rows
            logger.info("已读取 %d 行", rows)

    with opened_runtime() as runtime:
        result = import_into(
            runtime, Path(path), proposed_by=proposed_by, reporter=reporter, progress=progress
        )
    return result
