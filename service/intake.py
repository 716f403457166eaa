"""Importing one reported file in one transaction: the `intake-batch` task and `jointcredit
import` call this, so both quarantine to the same place with the same key and clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from registry import db
from registry.intake import ImportResult, import_batch
from service.runtime import Runtime


def import_file(
    runtime: Runtime,
    path: Path,
    *,
    proposed_by: str,
    reporter: str | None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    with db.session_scope(runtime.engine) as session:
        return import_batch(
            session,
            path,
            catalogue=runtime.catalogue,
            id_hash_key=runtime.settings.id_hash_key.get_secret_value(),
            clock=runtime.clock,
            proposed_by=proposed_by,
            reporter=reporter,
            quarantine_dir=runtime.settings.data_dir / "quarantine",
            limits=runtime.settings.input_limits,
            progress=progress,
        )
