"""Writing an intake file as one new batch of `proposed` listings; bad rows are quarantined.

- **Chunks.** Rows are written in chunks with SQLAlchemy Core bulk inserts; subjects and
  duplicates are looked up once per chunk (DESIGN.md §1.3: the ORM is 25× slower).
- **Bounded memory** (issue 13). Nothing about a row outlives its chunk except its listing id
  and file row number, kept in two `array`s (12 bytes a row): subjects and duplicates — of
  earlier imports and of earlier chunks of this one alike — are looked up in the database, where
  this transaction's own rows are visible. Only a person whose unit is not yet known is kept
  until the end, to be linked if the unit comes later in the file.
- **No commit.** Like the repository functions, `import_batch` writes in the caller's transaction.

Over 500 lines because `_Importer` is one idea: the state of one import (the batch, the ids
written, the counts) and the per-chunk writes that keep it consistent.
"""

from __future__ import annotations

import secrets
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from registry.audit import EventDraft, append_events
from registry.clock import Clock
from registry.db import in_list_chunks
from registry.free_text import clean_single_line
from registry.input_limits import InputLimits
from registry.intake.quarantine import QuarantineFile, remove_stale_parts
from registry.intake.reading import RawRow, Source, open_rows
from registry.intake.rows import LIST_TYPE_CHOICES, RowRules, ValidRow, validate_row
from registry.models import Batch, ImportRejection, Listing, ListingState, ListType, Subject
from registry.red_eligibility import RedBar, lookback_months, red_bars
from registry.references import listing_reference
from registry.repository import core_table, insert_returning_ids
from registry.spreadsheet import (
    VALUE_MAX,
    ImportFileError,
    QuarantineLine,
    RowProblem,
    file_error,
    shown_value,
)
from registry.vocabulary import LIST_TYPE_LABELS

CHUNK_ROWS = 1_000


QUARANTINE_KEPT = 2_000  # the intake artifact shows every kept line (QUARANTINE_SHOWN)


"""Quarantine lines kept in memory for the result; the table and the CSV report hold all."""


REASON_MAX = 1_000


_INACTIVE_STATES = (ListingState.REJECTED, ListingState.REMOVED, ListingState.REVOKED)


@dataclass(frozen=True)
class ImportResult:
    """What an import did; `quarantine` keeps the first lines, the table and report keep all."""

    batch_id: int
    batch_reference: str
    accepted: int
    rejected: int
    listing_ids: Sequence[int]
    quarantine: list[QuarantineLine]
    quarantine_path: Path | None
    warnings: list[str]
    quarantine_total: int = 0
    needs_review: int = 0
    format: str = ""
    encoding: str | None = None

    def as_dict(self, *, lines: int = 100) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "batch_reference": self.batch_reference,
            "format": self.format,
            "encoding": self.encoding,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "needs_review": self.needs_review,
            "quarantine_path": str(self.quarantine_path) if self.quarantine_path else None,
            "quarantine_total": self.quarantine_total,
            "quarantine": [line.as_dict() for line in self.quarantine[:lines]],
            "warnings": self.warnings,
        }


def import_batch(
    session: Session,
    path: Path,
    *,
    catalogue: Catalogue,
    id_hash_key: str,
    clock: Clock,
    proposed_by: str,
    reporter: str | None = None,
    quarantine_dir: Path,
    progress: Callable[[int], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
    limits: InputLimits | None = None,
) -> ImportResult:
    """Import one file as one new batch of `proposed` listings; never commits.

    Raises `ImportFileError` (nothing written) when the file as a whole cannot be imported,
    including when it breaks one of `limits` (`registry.input_limits`).
    """
    if reporter is not None and len(reporter) > 100:
        raise ImportFileError("报送单位名称过长，最多100字（reporter too long）", reporter=reporter)
    rules = RowRules(catalogue, id_hash_key, clock.today())
    remove_stale_parts(quarantine_dir)
    with open_rows(path, limits) as source:
        importer = _Importer(
            session,
            source=source,
            file_name=path.name,
            rules=rules,
            now=clock.now(),
            proposed_by=proposed_by,
            reporter=reporter,
            quarantine_dir=quarantine_dir,
        )
        try:
            for chunk in _chunks(source.rows, chunk_rows):
                importer.add_chunk(chunk)
                if progress is not None:
                    progress(importer.rows_read)
            if importer.rows_read == 0:
                raise file_error(path, "没有数据行（no data rows）")
            return importer.finish()
        finally:
            importer.quarantine_file.discard()


def _chunks(rows: Iterator[RawRow], size: int) -> Iterator[list[RawRow]]:
    chunk: list[RawRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(slots=True)
class _SubjectRef:
    id: int
    name: str
    unit_id: int | None


@dataclass(slots=True)
class _Pending:
    """A person whose unit was not known when their listing was written (it may come later)."""

    listing_id: int
    subject_id: int
    unit_uscc: str


class _Importer:
    """The state of one import: the batch, known subjects, duplicate keys, counts."""

    def __init__(
        self,
        session: Session,
        *,
        source: Source,
        file_name: str,
        rules: RowRules,
        now: datetime,
        proposed_by: str,
        reporter: str | None,
        quarantine_dir: Path,
    ) -> None:
        self.session = session
        self.source = source
        self.file_name = clean_single_line(file_name)  # stored as the batch's source
        self.rules = rules
        self.now = now
        self.proposed_by = clean_single_line(proposed_by)
        self.reporter = clean_single_line(reporter)
        self.audit_source = f"import:{self.file_name}"[:100]
        self.quarantine_file = QuarantineFile(quarantine_dir)
        self.batch_id = 0
        self.reference = ""
        self.rows_read = 0
        self.rejected = 0
        self.needs_review = 0
        self.listing_ids = array("q")
        self.row_numbers = array("l")
        """The file row of each listing written, for "duplicate of row n" in later chunks."""
        self.kept: list[QuarantineLine] = []
        self.quarantine_total = 0
        self.subjects: dict[str, _SubjectRef] = {}
        """The subjects the current chunk names, stored or written by it (reset per chunk)."""
        self.pending: list[_Pending] = []
        self.list_types: set[str] = set()
        self.rule_sets: set[str] = set()
        self.parsed_list_types: set[str] = set()

    def _core(self, statement: sa.Executable, rows: list[dict[str, Any]]) -> sa.CursorResult[Any]:
        """Many rows through Core on the connection (the ORM bulk path measured 1.2-1.4× slower)."""
        return self.session.connection().execute(statement, rows)

    # -- per chunk --

    def add_chunk(self, raw_rows: list[RawRow]) -> None:
        if not self.batch_id:
            self._open_batch()
        self.rows_read += len(raw_rows)
        rejections: list[tuple[int, list[RowProblem]]] = []
        candidates: list[tuple[int, ValidRow]] = []
        for raw in raw_rows:
            if raw.problem is not None:
                rejections.append((raw.number, [raw.problem]))
                continue
            outcome = validate_row(raw.values, self.rules)
            if isinstance(outcome, tuple):
                rejections.append((raw.number, list(outcome)))
                listed = LIST_TYPE_CHOICES.get(
                    str(raw.values.get("list_type", "")).strip().casefold()
                )
                if listed:
                    self.parsed_list_types.add(listed)
                continue
            candidates.append((raw.number, outcome))
        self._look_up_subjects(candidates)
        accepted: list[tuple[int, ValidRow]] = []
        seen: dict[tuple[str, str, str], int] = {}  # this chunk's keys; earlier ones are stored
        for number, row, existing in self._stored_duplicates(candidates):
            if existing is not None:
                listing_id, batch_id, batch_reference = existing
                if batch_id == self.batch_id:  # an earlier chunk of this file
                    problem = _repeated_in_file(row, self._row_of(listing_id))
                else:
                    problem = _already_listed(row, listing_id, batch_reference)
                rejections.append((number, [problem]))
                continue
            first = next((seen[key] for key in _keys(row) if key in seen), None)
            if first is not None:
                rejections.append((number, [_repeated_in_file(row, first)]))
                continue
            seen.update(dict.fromkeys(_keys(row), number))
            accepted.append((number, row))
        accepted = self._refuse_barred_red(accepted, rejections)
        self._insert_subjects(accepted)
        self._insert_listings(accepted)
        self._quarantine(sorted(rejections, key=lambda item: item[0]))

    def _open_batch(self) -> None:
        reference = _new_reference(self.session, self.rules.today)
        self.batch_id = int(
            self.session.execute(
                sa.insert(Batch)
                .values(
                    reference=reference,
                    list_type="mixed",
                    rule_set=None,
                    source_kind="file",
                    source_name=self.file_name[:500],
                    reporter=self.reporter,
                    proposed_by=self.proposed_by,
                    status="open",
                    accepted_count=0,
                    rejected_count=0,
                    catalogue_hash=self.rules.catalogue.content_hash,
                    created_at=self.now,
                )
                .returning(col(Batch.id))
            ).scalar_one()
        )
        self.reference = reference

    def _row_of(self, listing_id: int) -> int:
        """The file row a listing of this import came from (ids are written in order)."""
        at = bisect_left(self.listing_ids, listing_id)
        if at == len(self.listing_ids) or self.listing_ids[at] != listing_id:
            at = self.listing_ids.index(listing_id)
        return self.row_numbers[at]

    def _look_up_subjects(self, candidates: Sequence[tuple[int, ValidRow]]) -> None:
        """The stored subjects this chunk names — earlier chunks' included (same transaction)."""
        self.subjects = {}
        usccs = {r.uscc for _, r in candidates if r.uscc} | {
            r.unit_uscc for _, r in candidates if r.unit_uscc
        }
        self._load_subjects("u", col(Subject.uscc), sorted(usccs))
        self._load_subjects(
            "p", col(Subject.id_hash), sorted({r.id_hash for _, r in candidates if r.id_hash})
        )

    def _load_subjects(self, prefix: str, column: Any, values: list[str]) -> None:
        columns = (col(Subject.id), col(Subject.name), col(Subject.unit_id), column)
        for chunk in in_list_chunks(values):
            for sid, name, unit_id, key in self.session.execute(
                sa.select(*columns).where(column.in_(chunk))
            ):
                self.subjects[f"{prefix}:{key}"] = _SubjectRef(sid, name, unit_id)

    def _stored_duplicates(
        self, candidates: Sequence[tuple[int, ValidRow]]
    ) -> Iterator[tuple[int, ValidRow, tuple[int, int, str] | None]]:
        """Pair each candidate with an active listing it repeats, if any, as (listing id, batch
        id, batch reference): one of an earlier import, or of an earlier chunk of this one."""
        stored: dict[int, str] = {}
        for _, row in candidates:
            ref = self.subjects.get(row.identity)
            if ref is not None:
                stored[ref.id] = row.identity
        active: dict[tuple[str, str, str], tuple[int, int, str]] = {}
        for chunk in in_list_chunks(sorted(stored)):
            rows = self.session.execute(
                sa.select(
                    col(Listing.id),
                    col(Listing.batch_id),
                    col(Batch.reference),
                    col(Listing.subject_id),
                    col(Listing.list_type),
                    col(Listing.rule_set),
                    col(Listing.grounds),
                )
                .join(Batch, col(Batch.id) == col(Listing.batch_id))
                .where(
                    col(Listing.subject_id).in_(chunk),
                    col(Listing.state).not_in([str(s) for s in _INACTIVE_STATES]),
                )
                .order_by(col(Listing.id))
            )
            for listing_id, batch_id, reference, subject_id, list_type, rule_set, grounds in rows:
                for ground in grounds or []:
                    canonical = ground if ":" in ground else f"{rule_set}:{ground}"
                    key = (stored[subject_id], list_type, canonical)
                    active.setdefault(key, (listing_id, batch_id, reference))
        for number, row in candidates:
            existing = next((active[k] for k in _keys(row) if k in active), None)
            yield number, row, existing

    def _refuse_barred_red(
        self,
        accepted: list[tuple[int, ValidRow]],
        rejections: list[tuple[int, list[RowProblem]]],
    ) -> list[tuple[int, ValidRow]]:
        """Red over black is refused (registry.red_eligibility, DOMAIN.md §9): a red row for a
        subject with a black listing — stored, or written by an earlier chunk of this file —
        or with a black row in this chunk (black wins whatever the order) is quarantined."""
        red = [(n, r) for n, r in accepted if r.list_type == ListType.RED.value]
        if not red:
            return accepted
        black_rows: dict[str, int] = {}
        for number, row in accepted:
            if row.list_type == ListType.BLACK.value:
                black_rows.setdefault(row.identity, number)
        rule_sets = self.rules.catalogue.rule_sets
        earliest: dict[int, date] = {}
        for _, row in red:
            ref = self.subjects.get(row.identity)
            if ref is not None:
                day = earliest.get(ref.id, row.decision_date)
                earliest[ref.id] = min(day, row.decision_date)
        months = max(lookback_months(rule_sets[r.rule_set]) for _, r in red)
        stored = red_bars(self.session, earliest, decided_on=earliest, lookback_months=months)
        barred: set[int] = set()
        for number, row in red:
            ref = self.subjects.get(row.identity)
            row_months = lookback_months(rule_sets[row.rule_set])
            bars = [
                bar
                for bar in stored.get(ref.id if ref else -1, [])
                if bar.bars(row.decision_date, row_months)
            ]
            if row.identity in black_rows:
                rejections.append((number, [_black_in_file(black_rows[row.identity])]))
            elif bars:
                rejections.append((number, [_barred_red(bars[0], row_months)]))
            else:
                continue
            barred.add(number)
        return [(n, r) for n, r in accepted if n not in barred]

    def _insert_subjects(self, accepted: Sequence[tuple[int, ValidRow]]) -> None:
        """New units first, so persons in the same chunk can be linked to them."""
        for kind in ("unit", "person"):
            new: dict[str, dict[str, Any]] = {}
            for _, row in accepted:
                if row.kind != kind or row.identity in self.subjects or row.identity in new:
                    continue
                unit = self.subjects.get(f"u:{row.unit_uscc}") if row.unit_uscc else None
                new[row.identity] = {
                    "kind": row.kind,
                    "name": row.name,
                    "uscc": row.uscc,
                    "uscc_status": row.uscc_status,
                    "id_hash": row.id_hash,
                    "id_masked": row.id_masked,
                    "unit_id": unit.id if unit else None,
                    "region_code": row.region,
                    "industry": row.industry,
                    "contact_email": row.contact_email,
                    "created_at": self.now,
                }
            if not new:
                continue
            ids = insert_returning_ids(self.session, core_table(Subject), list(new.values()))
            for (identity, values), sid in zip(new.items(), ids, strict=True):
                self.subjects[identity] = _SubjectRef(int(sid), values["name"], values["unit_id"])
        # Persons stored before without a unit get the one this file names, if it is known.
        links: list[dict[str, int]] = []
        for _, row in accepted:
            ref = self.subjects[row.identity]
            unit = self.subjects.get(f"u:{row.unit_uscc}") if row.unit_uscc else None
            if row.kind == "person" and ref.unit_id is None and unit is not None:
                links.append({"sid": ref.id, "unit": unit.id})
                ref.unit_id = unit.id
        if links:
            self._link_units(links)

    def _link_units(self, links: list[dict[str, int]]) -> None:
        table = core_table(Subject)
        self._core(
            sa.update(table)
            .where(table.c.id == sa.bindparam("sid"), table.c.unit_id.is_(None))
            .values(unit_id=sa.bindparam("unit")),
            links,
        )

    def _insert_listings(self, accepted: Sequence[tuple[int, ValidRow]]) -> None:
        if not accepted:
            return
        values: list[dict[str, Any]] = []
        unresolved: list[tuple[int, str] | None] = []
        for _, row in accepted:
            ref = self.subjects[row.identity]
            warnings = list(row.warnings)
            if ref.name != row.name:
                warnings.append(
                    f"名称与已登记的主体不同（已登记为「{ref.name}」）"
                    f"（name differs from the stored subject）"
                )
            pending = None
            if row.unit_uscc and self.subjects.get(f"u:{row.unit_uscc}") is None:
                warnings.append(_unit_not_found(row.unit_uscc))
                pending = (ref.id, row.unit_uscc)
            unresolved.append(pending)
            values.append(
                {
                    "subject_id": ref.id,
                    "batch_id": self.batch_id,
                    "list_type": row.list_type,
                    "rule_set": row.rule_set,
                    "grounds": list(row.grounds),
                    "penalty_number": row.penalty_number,
                    "decision_date": row.decision_date,
                    "typical_case": row.typical_case,
                    "needs_review": row.needs_review,
                    "warnings": warnings,
                    "note": row.note,
                    "e_service_consent": row.e_service_consent,
                    "state": ListingState.PROPOSED.value,
                    "proposed_at": self.now,
                    "proposed_by": self.proposed_by,
                    "catalogue_hash": self.rules.catalogue.content_hash,
                    "updated_at": self.now,
                }
            )
        ids = insert_returning_ids(self.session, core_table(Listing), values)
        self.listing_ids.extend(ids)
        self.row_numbers.extend(number for number, _ in accepted)
        drafts: list[EventDraft] = []
        for listing_id, (number, row), stored, pending in zip(
            ids, accepted, values, unresolved, strict=True
        ):
            self.list_types.add(row.list_type)
            self.rule_sets.add(row.rule_set)
            self.needs_review += row.needs_review
            if pending is not None:
                self.pending.append(_Pending(listing_id, *pending))
            drafts.append(
                EventDraft(
                    self.proposed_by,
                    "listing.propose",
                    "listing",
                    listing_id,
                    None,
                    {
                        "state": ListingState.PROPOSED.value,
                        "batch": self.reference,
                        "row": number,
                        "subject_id": stored["subject_id"],
                        "list_type": row.list_type,
                        "rule_set": row.rule_set,
                        "grounds": list(row.grounds),
                        "needs_review": row.needs_review,
                    },
                    self.audit_source,
                )
            )
        append_events(self.session, drafts, at=self.now)

    def _quarantine(self, rejections: Sequence[tuple[int, list[RowProblem]]]) -> None:
        if not rejections:
            return
        header = self.source.header
        lines = [
            QuarantineLine(
                number,
                header.label(problem.field)[:VALUE_MAX],
                problem.value,
                problem.reason_zh[:REASON_MAX],
                problem.reason_en[:REASON_MAX],
            )
            for number, problems in rejections
            for problem in problems
        ]
        self.rejected += len(rejections)
        self.quarantine_total += len(lines)
        room = QUARANTINE_KEPT - len(self.kept)
        if room > 0:
            self.kept.extend(lines[:room])
        self._core(
            sa.insert(core_table(ImportRejection)),
            [
                {
                    "batch_id": self.batch_id,
                    "row_number": line.row_number,
                    "column_name": line.column,
                    "value": line.value,
                    "reason_zh": line.reason_zh,
                    "reason_en": line.reason_en,
                }
                for line in lines
            ],
        )
        self.quarantine_file.write(self.reference, lines)

    # -- at the end --

    def finish(self) -> ImportResult:
        self._resolve_pending_units()
        accepted = len(self.listing_ids)
        types = self.list_types or self.parsed_list_types
        list_type = next(iter(types)) if len(types) == 1 else "mixed"
        rule_set = next(iter(self.rule_sets)) if len(self.rule_sets) == 1 else None
        self.session.execute(
            sa.update(Batch)
            .where(col(Batch.id) == self.batch_id)
            .values(
                list_type=list_type,
                rule_set=rule_set,
                accepted_count=accepted,
                rejected_count=self.rejected,
            )
        )
        warnings = list(self.source.warnings)
        if accepted == 0:
            warnings.append(
                f"所有 {self.rejected} 行均被拒绝：批次 {self.reference} 已建立但没有名单，"
                "仅用于保存隔离记录（every row was rejected; the batch only keeps the quarantine）"
            )
        report = self.quarantine_file.path
        append_events(
            self.session,
            [
                EventDraft(
                    self.proposed_by,
                    "batch.import",
                    "batch",
                    self.batch_id,
                    None,
                    {
                        "reference": self.reference,
                        "source_name": self.file_name,
                        "format": self.source.format,
                        "rows": self.rows_read,
                        "accepted": accepted,
                        "rejected": self.rejected,
                        "needs_review": self.needs_review,
                        "list_type": list_type,
                        "rule_set": rule_set,
                        "reporter": self.reporter,
                        "quarantine": report.name if report else None,
                    },
                    self.audit_source,
                )
            ],
            at=self.now,
        )
        quarantine_path = self.quarantine_file.complete()  # last: nothing after it can fail
        return ImportResult(
            batch_id=self.batch_id,
            batch_reference=self.reference,
            accepted=accepted,
            rejected=self.rejected,
            listing_ids=self.listing_ids,
            quarantine=self.kept,
            quarantine_path=quarantine_path,
            warnings=warnings,
            quarantine_total=self.quarantine_total,
            needs_review=self.needs_review,
            format=self.source.format,
            encoding=self.source.encoding,
        )

    def _resolve_pending_units(self) -> None:
        """Persons listed before their unit appeared later in the file: link them now."""
        table = core_table(Listing)
        for pending in in_list_chunks(self.pending):
            self._look_up_subjects([])
            self._load_subjects("u", col(Subject.uscc), sorted({p.unit_uscc for p in pending}))
            resolved = [
                (p, unit)
                for p in pending
                if (unit := self.subjects.get(f"u:{p.unit_uscc}")) is not None
            ]
            if not resolved:
                continue
            self._link_units([{"sid": p.subject_id, "unit": unit.id} for p, unit in resolved])
            query = sa.select(table.c.id, table.c.warnings).where(
                table.c.id.in_([p.listing_id for p, _ in resolved])
            )
            stored: dict[int, list[str] | None] = {}
            for lid, warnings in self.session.execute(query):
                stored[lid] = warnings
            self._core(
                sa.update(table)
                .where(table.c.id == sa.bindparam("lid"))
                .values(warnings=sa.bindparam("kept", type_=table.c.warnings.type)),
                [
                    {
                        "lid": p.listing_id,
                        "kept": [
                            w
                            for w in stored[p.listing_id] or []
                            if w != _unit_not_found(p.unit_uscc)
                        ],
                    }
                    for p, _ in resolved
                ],
            )


def _keys(row: ValidRow) -> list[tuple[str, str, str]]:
    return [(row.identity, row.list_type, f"{row.rule_set}:{g}") for g in row.grounds]


def _unit_not_found(unit_uscc: str) -> str:
    return (
        f"未找到所属单位 {unit_uscc}，个人未关联到单位"
        f"（unit {unit_uscc} not found; person not linked）"
    )


def _who(row: ValidRow) -> str:
    return f"{row.name}（{row.uscc or row.id_masked}）"


def _repeated_in_file(row: ValidRow, first: int) -> RowProblem:
    return RowProblem(
        "grounds",
        shown_value("grounds", ";".join(row.grounds)),
        f"与第 {first} 行重复：{_who(row)} 已以相同认定依据列入{LIST_TYPE_LABELS[row.list_type]}",
        f"duplicate of row {first}: same subject, list and ground",
    )


def _already_listed(row: ValidRow, listing_id: int, batch_reference: str) -> RowProblem:
    return RowProblem(
        "grounds",
        shown_value("grounds", ";".join(row.grounds)),
        f"重复：{_who(row)} 已有相同认定依据的有效{LIST_TYPE_LABELS[row.list_type]}（名单 "
        f"{listing_reference(batch_reference, listing_id)}，编号 {listing_id}）",
        f"duplicate: an active listing {listing_reference(batch_reference, listing_id)} (id "
        f"{listing_id}) has the same subject, list and ground",
    )


def _black_in_file(black_row: int) -> RowProblem:
    return RowProblem(
        "list_type",
        LIST_TYPE_LABELS[ListType.RED.value],
        f"不得列入红名单：同一文件第 {black_row} 行将该主体列入黑名单，"
        "不得同时受联合惩戒和联合激励",
        f"barred from the red list: row {black_row} of this file lists the subject as black",
    )


def _barred_red(bar: RedBar, lookback: int) -> RowProblem:
    return RowProblem(
        "list_type",
        LIST_TYPE_LABELS[ListType.RED.value],
        bar.reason_zh(lookback),
        bar.reason_en(),
    )


def _new_reference(session: Session, today: date) -> str:
    while True:
        reference = f"IMP-{today:%Y%m%d}-{secrets.token_hex(3).upper()}"
        taken = session.execute(
            sa.select(col(Batch.id)).where(col(Batch.reference) == reference)
        ).first()
        if taken is None:
            return reference
