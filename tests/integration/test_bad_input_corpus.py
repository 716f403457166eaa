"""The bad-input corpus (`tests/corpus/bad_input/*.yml`), every case through the real code path.

- **import**: `import_batch` on the file the case describes (a good row before and after the
  bad ones): bad rows are quarantined at their row and column with a Chinese reason, good rows
  become listings, a bad file writes nothing at all.
- **responses**: `record_response_sheet` on a returned sheet about freshly dispatched listings:
  bad rows are reported at their row and column, good rows land, no other action moves.
- **forms**: the `RunInput` forms of the Prefect UI, validated as Prefect's server validates a
  resumed run's input (the JSON schema) and as the flow loads it (pydantic); payloads the form
  accepts go on through the core step the flow calls, which must refuse them.
- **cli**: the real `jointcredit` console script in a subprocess, each case on its own copy of a
  prepared SQLite database (a thread pool runs them two at a time).

For every case the error is Chinese, names the row and field where there is one, shows no raw
resident ID number, and the database is unchanged for the bad part (table counts compared).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
import unicodedata
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col

from memoranda.loader import Catalogue
from registry import db
from registry.clock import FrozenClock
from registry.db import session_scope
from registry.errors import JointcreditError
from registry.input_limits import InputLimits
from registry.intake import ImportFileError, ImportResult, import_batch
from registry.models import AuditEvent, Batch, Listing
from registry.routing import (
    Decision,
    Routing,
    close_defence_windows,
    decide,
    dispatch_in_force,
    notify_proposed,
    publish_confirmed,
)
from tests.conftest import CATALOGUE_DIR
from tests.corpus.bad_input import make_corpus as corpus
from tests.factories.listings import PROPOSER, REVIEWER, proposed_batch, serve_prior_notices
from tests.factories.routing import make_routing
from tests.integration.cli_runner import run as run_cli

KEY = "test-id-hash-key"
IMPORTER = "导入员 陈静"
COUNTED = (
    "batch",
    "subject",
    "listing",
    "import_rejection",
    "audit_event",
    "department_action",
    "notice",
    "objection",
    "removal_application",
)
MINIMUM_CASES = {"import": 235, "responses": 65, "forms": 63, "cli": 65}
"""Today's sizes: removing a case means lowering its floor here, on purpose, in review."""
MINIMUM_TOTAL = 200
_CJK = re.compile(r"[\u4e00-\u9fff]")


def case_ids(surface: str) -> list[Any]:
    return [pytest.param(case, id=case["id"]) for case in corpus.cases(surface)]


def counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(
                sa.select(sa.func.count()).select_from(SQLModel.metadata.tables[name])
            ).scalar_one()
            for name in COUNTED
        }


def delta(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in before if after[name] != before[name]}


def chinese(text: str) -> bool:
    return bool(_CJK.search(text))


def assert_no_raw_ids(raw_ids: set[str], *haystacks: Any) -> None:
    """No resident ID number of the case appears anywhere a person or a log could read it."""
    text = json.dumps(haystacks, ensure_ascii=False, default=str)
    # Typed full-width or with separators inside, the number is leaked all the same.
    compact = re.sub(r"[\s_/\-]+", "", unicodedata.normalize("NFKC", text))
    leaked = sorted(
        number
        for number in raw_ids
        if number in text or number.lower() in text or number in compact.upper()
    )
    assert not leaked, f"raw resident ID numbers shown: {leaked}"


def test_the_corpus_holds_at_least_200_cases() -> None:
    """The corpus cannot shrink silently: a case removed must be removed on purpose, here."""
    sizes = {surface: len(corpus.cases(surface)) for surface in corpus.SURFACES}
    for surface, minimum in MINIMUM_CASES.items():
        assert sizes[surface] >= minimum, (surface, sizes[surface])
    assert sum(sizes.values()) >= MINIMUM_TOTAL, sizes
    ids = [case["id"] for surface in corpus.SURFACES for case in corpus.cases(surface)]
    assert len(ids) == len(set(ids)), "case ids must be unique across surfaces"


# --- import ----------------------------------------------------------------------------------


def run_import(
    engine: sa.Engine,
    path: Path,
    catalogue: Catalogue,
    clock: FrozenClock,
    quarantine_dir: Path,
    **options: Any,
) -> ImportResult:
    """One import in one transaction, committed, as `jointcredit import` does."""
    with Session(engine) as session:
        result = import_batch(
            session,
            path,
            catalogue=catalogue,
            id_hash_key=KEY,
            clock=clock,
            proposed_by=IMPORTER,
            quarantine_dir=quarantine_dir,
            **options,
        )
        session.commit()
    return result


def proposals(engine: sa.Engine, listing_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """File row → the listing it became (with its subject), from the `listing.propose` events."""
    if not listing_ids:
        return {}
    with Session(engine) as session:
        events = session.execute(
            sa.select(col(AuditEvent.entity_id), col(AuditEvent.after)).where(
                col(AuditEvent.action) == "listing.propose",
                col(AuditEvent.entity_id).in_([str(i) for i in listing_ids]),
            )
        ).all()
        rows = session.execute(
            sa.text(
                "SELECT l.id, l.warnings, l.needs_review, l.note, l.decision_number, "
                "s.name, s.uscc, s.id_masked, s.id_hash, s.industry, s.contact_email "
                "FROM listing l JOIN subject s ON s.id = l.subject_id WHERE l.id IN "
                f"({','.join(str(i) for i in listing_ids)})"
            )
        ).all()
    by_id = {row[0]: dict(row._mapping) for row in rows}
    found: dict[int, dict[str, Any]] = {}
    for entity_id, after in events:
        listing = by_id[int(entity_id)]
        warnings = listing["warnings"]
        listing["warnings"] = json.loads(warnings) if isinstance(warnings, str) else warnings
        listing["event"] = after
        found[int(after["row"])] = listing
    return found


def stored_rejections(engine: sa.Engine, batch_id: int) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                sa.text(
                    "SELECT row_number, column_name, value, reason_zh, reason_en "
                    "FROM import_rejection WHERE batch_id = :b ORDER BY id"
                ),
                {"b": batch_id},
            )
        ]


def expected_lines(expect: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if expect["outcome"] != "rejected":
        return []
    return list(expect.get("lines") or [expect])


def column_label(made: corpus.ImportFile, name: str) -> str:
    if name == corpus.ROW:
        return corpus.ROW_LABEL
    return made.labels.get(name, corpus.IMPORT_ZH.get(name, name))


@pytest.mark.parametrize("case", case_ids("import"))
def test_import(
    case: dict[str, Any],
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    expect = case["expect"]
    filler = corpus.Filler()
    quarantine_dir = tmp_path / "quarantine"
    if "preload" in case:
        first = corpus.import_file(
            {"id": "preload", "rows": case["preload"], "sandwich": False},
            tmp_path,
            filler,
        )
        loaded = run_import(engine, first.path, catalogue, clock, tmp_path / "preloaded")
        assert loaded.rejected == 0, loaded.quarantine
    made = corpus.import_file(case, tmp_path, filler)
    options = filler.fill(case.get("options", {}))
    if "limits" in options:  # a small configured limit (JOINTCREDIT_IMPORT_MAX_*)
        options["limits"] = InputLimits(**options["limits"])
    before = counts(engine)

    if expect["outcome"] == "file_error":
        with pytest.raises(ImportFileError) as caught:
            run_import(engine, made.path, catalogue, clock, quarantine_dir, **options)
        message = caught.value.message
        assert expect["message"] in message
        assert chinese(message)
        assert counts(engine) == before, "a refused file wrote something"
        assert not quarantine_dir.exists() or not any(quarantine_dir.iterdir())
        assert_no_raw_ids(made.resident_ids, caught.value.as_dict())
        return

    result = run_import(engine, made.path, catalogue, clock, quarantine_dir, **options)
    after = counts(engine)
    wanted = expected_lines(expect)
    bad_rows = {line["row"] for line in wanted}
    shown = [(q.row_number, q.column, q.reason_zh) for q in result.quarantine]

    # Every bad row, and only those, is quarantined at its row and column, in Chinese.
    assert {q.row_number for q in result.quarantine} == bad_rows, shown
    for line in wanted:
        label = column_label(made, line["field"])
        at = [q for q in result.quarantine if (q.row_number, q.column) == (line["row"], label)]
        assert at, f"no quarantine line at row {line['row']}, column {label}: {shown}"
        assert any(line["message"] in q.reason_zh for q in at), shown
    for q in result.quarantine:
        assert chinese(q.reason_zh), q
        assert q.reason_en, q
    assert result.rejected == len(bad_rows)

    # Every other row is imported; nothing else is written.
    accepted = expect.get("accepted", len([n for n in made.rows if n not in bad_rows]))
    assert result.accepted == accepted, shown
    changes = delta(before, after)
    assert set(changes) <= {"batch", "listing", "subject", "import_rejection", "audit_event"}
    assert changes["batch"] == 1  # kept, even when every row is refused, for its quarantine
    assert changes.get("listing", 0) == accepted
    assert 0 <= changes.get("subject", 0) <= accepted
    assert changes.get("import_rejection", 0) == result.quarantine_total
    assert changes.get("audit_event", 0) == accepted + 1
    stored = stored_rejections(engine, result.batch_id)
    assert [(r[0], r[1]) for r in stored] == [(q.row_number, q.column) for q in result.quarantine]
    listed = proposals(engine, result.listing_ids)
    if "accepted" not in expect:
        assert sorted(listed) == sorted(n for n in made.rows if n not in bad_rows)
    if "accepted" not in expect and "preload" not in case:
        for number, listing in listed.items():
            assert listing["name"] == str(made.rows[number]["name"]).strip()

    if expect["outcome"] == "warning":
        if expect.get("where") == "file":
            assert any(expect["message"] in w for w in result.warnings), result.warnings
        else:
            listing = listed[expect["row"]]
            assert any(expect["message"] in w for w in listing["warnings"]), listing["warnings"]
            if "needs_review" in expect:
                assert bool(listing["needs_review"]) is expect["needs_review"]

    report = (
        result.quarantine_path.read_text(encoding="utf-8-sig") if result.quarantine_path else ""
    )
    with Session(engine) as session:
        events = (
            session.execute(
                sa.select(col(AuditEvent.after)).where(
                    col(AuditEvent.entity_type) == "batch",
                    col(AuditEvent.entity_id) == str(result.batch_id),
                )
            )
            .scalars()
            .all()
        )
    assert_no_raw_ids(
        made.resident_ids, result.as_dict(lines=10_000), stored, listed, report, events
    )
    assert_no_live_formula(report)


_TRIMMED = " \t\r\n\u00a0\u3000\u2000\u2001\u2002\u2003\u2009\u200a\u200b\u200c\u200d\u2060\ufeff"


def assert_no_live_formula(report: str) -> None:
    """Every cell of the quarantine report that a spreadsheet would evaluate once it has trimmed
    the spaces (NBSP, ideographic, zero-width) in front is quoted with `'` (issue 13, item 14)."""
    for line in csv.reader(io.StringIO(report)):
        for cell in line:
            trimmed = cell.lstrip(_TRIMMED)
            formula = trimmed[:1] in ("=", "+", "-", "@", "＝", "＋", "－", "＠")
            live = formula or cell[:1] in "\t\r\n"
            assert not (cell and live), f"a report cell a spreadsheet would evaluate: {cell!r}"


# --- returned department sheets --------------------------------------------------------------


def dispatched_batch(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> tuple[int, list[int]]:
    """Three units on the current black list, dispatched (the clock moves on 20 days)."""
    batch, ids = proposed_batch(engine, catalogue, clock, units=3, persons=0)
    with session_scope(engine) as session:
        notify_proposed(session, batch, routing)
    serve_prior_notices(engine, ids, clock.today())
    clock.advance(timedelta(days=20))
    with session_scope(engine) as session:
        close_defence_windows(session, batch, routing)
        decide(session, batch, Decision(REVIEWER), routing)
        publish_confirmed(session, batch, routing)
        assert dispatch_in_force(session, batch, routing).actions_created
    return batch, ids


@dataclass(frozen=True)
class Dispatched:
    batch: int
    reference: str
    ids: list[int]
    never: int

    @property
    def tokens(self) -> dict[str, Any]:
        return {
            "L1": self.ids[0],
            "L2": self.ids[1],
            "L3": self.ids[2],
            "BATCH": self.batch,
            "REF": self.reference,
            "REF1": f"{self.reference}-{self.ids[0]}",
            "WRONGREF1": f"IMP-20200101-000000-{self.ids[0]}",
            "NEVER": self.never,
            "MISSING": 987_654_321,
            "PROPOSER": PROPOSER,
        }


@pytest.fixture
def dispatched(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> Dispatched:
    batch, ids = dispatched_batch(engine, catalogue, clock, routing)
    _other, never = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    with session_scope(engine) as session:
        reference = session.get_one(Batch, batch).reference
    return Dispatched(batch, reference, ids, never[0])


def action_snapshot(engine: sa.Engine, listing_ids: list[int]) -> dict[int, tuple[Any, ...]]:
    """Everything a response may change, per department action of these listings."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT id, state, acknowledged_at, ack_late, feedback_at, feedback_text, "
                "feedback_outcome, lift_confirmed_at FROM department_action WHERE listing_id IN "
                f"({','.join(str(i) for i in listing_ids)})"
            )
        ).all()
    return {row[0]: tuple(row[1:]) for row in rows}


@pytest.mark.parametrize("case", case_ids("responses"))
def test_response_sheet(
    case: dict[str, Any],
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    dispatched: Dispatched,
    tmp_path: Path,
) -> None:
    from registry.responses import record_response_sheet

    expect = case["expect"]
    filler = corpus.Filler(tokens=dispatched.tokens)
    path, labels = corpus.response_file(case, tmp_path, filler)
    watched = [*dispatched.ids, dispatched.never]
    actions_before = action_snapshot(engine, watched)
    before = counts(engine)

    def record() -> Any:
        with session_scope(engine) as session:
            return record_response_sheet(
                session,
                path,
                catalogue=catalogue,
                clock=clock,
                recorded_by="录入员 周敏",
                department=case.get("department"),
                limits=InputLimits(**case["limits"]) if "limits" in case else None,
            )

    if expect["outcome"] == "file_error":
        with pytest.raises(JointcreditError) as caught:
            record()
        assert type(caught.value).__name__ == expect.get("error", "ImportFileError")
        assert expect["message"] in caught.value.message
        assert chinese(caught.value.message)
        assert counts(engine) == before
        assert action_snapshot(engine, watched) == actions_before
        assert_no_raw_ids(filler.resident_ids, caught.value.as_dict())
        return

    outcome = record()
    payload = outcome.as_dict()
    shown = [(p.row_number, p.column, p.reason_zh) for p in outcome.problems]
    wanted = expected_lines(expect)
    assert {p.row_number for p in outcome.problems} == {line["row"] for line in wanted}, shown
    for line in wanted:
        name = line["field"]
        label = (
            corpus.ROW_LABEL if name == corpus.ROW else labels.get(name, corpus.RESPONSE_ZH[name])
        )
        at = [p for p in outcome.problems if (p.row_number, p.column) == (line["row"], label)]
        assert at, f"no problem at row {line['row']}, column {label}: {shown}"
        assert any(line["message"] in p.reason_zh for p in at), shown
    for problem in outcome.problems:
        assert chinese(problem.reason_zh), problem
        assert problem.reason_en, problem
    if expect["outcome"] == "warning":
        assert any(expect["message"] in w for w in outcome.sheet.warnings), outcome.sheet.warnings

    # The good rows landed; no action a bad row names has moved.
    recorded = {kind: v["recorded"] for kind, v in payload["by_kind"].items() if v["recorded"]}
    assert recorded == expect.get("recorded", {}), shown
    moved = {r.action_id for r in outcome.result.recorded}
    after = action_snapshot(engine, watched)
    changed = {i for i in after if after[i] != actions_before[i]}
    assert changed == moved
    changes = delta(before, counts(engine))
    assert changes == ({"audit_event": len(moved)} if moved else {})
    assert_no_raw_ids(filler.resident_ids, payload)


# --- RunInput forms --------------------------------------------------------------------------

FORM_SAMPLE_TOKENS = {"L1": 101, "L2": 102, "L3": 103, "BATCH": 11, "OTHER": 201, "NEVER": 202}


def form_class(name: str) -> type[pydantic.BaseModel]:
    """The form as the flow shows it: `form_with` keeps every title and constraint."""
    from flows.operator_ui import ConfirmationForm, RemovalForm, form_with
    from flows.responses import ResponseForm

    forms: dict[str, Any] = {
        "confirmation": ConfirmationForm,
        "removal": RemovalForm,
        "response": ResponseForm,
    }
    shown: type[pydantic.BaseModel] = form_with(forms[name], "### 表单说明")
    return shown


def server_errors(form: type[pydantic.BaseModel], payload: Any) -> list[tuple[str, str]]:
    """(field path, message) as Prefect's server finds them resuming a run with this input."""
    from prefect._internal.pydantic.v2_schema import create_v2_schema
    from prefect.utilities.schema_tools import validate

    schema = create_v2_schema(form.__name__, model_base=form)
    found = []
    for error in validate(payload, schema):
        path = [str(p) for p in error.path]
        if error.validator == "required":
            path.append(re.findall(r"'([^']+)' is a required property", error.message)[0])
        found.append((".".join(path), error.message))
    return found


def field_title(form: type[pydantic.BaseModel], path: str) -> str:
    """The Chinese titles down to the field, as the form shows them: `不予列入的名单 › 名单编号`."""
    titles: list[str] = []
    model: Any = form
    for part in path.split("."):
        if part.isdigit() or model is None:
            continue
        info = model.model_fields[part]
        titles.append(info.title or part)
        args = [*getattr(info.annotation, "__args__", ()), info.annotation]
        model = next(
            (a for a in args if isinstance(a, type) and issubclass(a, pydantic.BaseModel)), None
        )
    return " › ".join(titles)


@dataclass(frozen=True)
class FormTarget:
    """What a form case's payload is applied to, and what must not change."""

    tokens: dict[str, Any]
    listing_ids: list[int]
    batch: int


def confirmation_target(
    engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock, routing: Routing
) -> FormTarget:
    batch, ids = proposed_batch(engine, catalogue, clock, units=2, persons=0)
    _other, other = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    with session_scope(engine) as session:
        notify_proposed(session, batch, routing)
    serve_prior_notices(engine, ids, clock.today())
    clock.advance(timedelta(days=20))
    with session_scope(engine) as session:
        close_defence_windows(session, batch, routing)
    tokens = {"L1": ids[0], "L2": ids[1], "BATCH": batch, "OTHER": other[0]}
    return FormTarget(tokens, [*ids, *other], batch)


def removal_target(engine: sa.Engine, catalogue: Catalogue, clock: FrozenClock) -> FormTarget:
    """Listing 1 in removal review (as the expiry review leaves it), listing 2 only proposed."""
    batch, ids = proposed_batch(engine, catalogue, clock, units=2, persons=0)
    with engine.begin() as connection:
        connection.execute(
            sa.update(Listing)
            .where(col(Listing.id) == ids[0])
            .values(
                state="removal_review",
                removal_reason="expiry",
                published_at=clock.now() - timedelta(days=3 * 366),
                expires_on=clock.today() - timedelta(days=1),
            )
        )
    return FormTarget({"L1": ids[0], "L2": ids[1], "BATCH": batch}, ids, batch)


def listing_states(engine: sa.Engine, listing_ids: list[int]) -> dict[int, str]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT id, state FROM listing WHERE id IN "
                f"({','.join(str(i) for i in listing_ids)})"
            )
        ).all()
    return {row[0]: row[1] for row in rows}


def apply_form(
    name: str,
    form: Any,
    target: FormTarget,
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    routing: Routing,
) -> None:
    """What the flow does with a submitted form: the same core calls, the same transactions."""
    from dataclasses import replace

    from registry.errors import TransitionRefused
    from registry.removal import check_removal_form, decide_removal
    from registry.responses import record_responses, response_request
    from registry.routing import reasons_by_listing

    if name == "confirmation":  # route-batch → apply_decision → record_decision
        decision = Decision(
            form.reviewer,
            "",  # numbered by the system: the form asks no decision number
            reasons_by_listing((r.listing_id, r.reason) for r in form.rejections),
            form.approve_others,
        )
        with session_scope(engine) as session:
            result = decide(session, target.batch, decision, replace(routing, actor=form.reviewer))
        if result.refused:
            raise TransitionRefused("confirm", result.refused)
    elif name == "removal":  # review-removals → apply_removal_decisions
        check_removal_form(form.approve, [r.listing_id for r in form.refusals])
        decisions = [(form.approve, True, None)] if form.approve else []
        decisions += [([r.listing_id], False, r.reason) for r in form.refusals]
        for ids, approve, reason in decisions:
            with session_scope(engine) as session:
                decide_removal(
                    session,
                    ids,
                    approve=approve,
                    reviewer=form.reviewer,
                    reason=reason,
                    routing=replace(routing, actor=form.reviewer),
                )
    else:  # record-responses → record_department_responses → record_response
        response = response_request(
            department=form.department,
            kind=form.response,
            listings=[form.listing_ids],
            batch_id=form.batch_id or None,
            feedback=form.feedback,
            not_applicable=form.measures_not_applicable,
            answered_on=form.answered_on,
        )
        with session_scope(engine) as session:
            outcome = record_responses(
                session,
                responses=[response],
                catalogue=catalogue,
                clock=clock,
                recorded_by=form.recorded_by,
                source="flow:record-responses",
            )
        outcome.raise_if_refused()


def form_cases(stage: str) -> list[Any]:
    return [
        pytest.param(
            case,
            id=case["id"],
            marks=[pytest.mark.xfail(reason=case["known_bug"], strict=True)]
            if case.get("known_bug")
            else [],
        )
        for case in corpus.cases("forms")
        if case["expect"]["stage"] == stage
    ]


@pytest.mark.parametrize("case", form_cases("form"))
def test_form_refuses(case: dict[str, Any]) -> None:
    """Refused where the operator types it: by the server (the run stays paused) and by
    pydantic, at the field's path, under a Chinese title."""
    expect = case["expect"]
    form = form_class(case["form"])
    filler = corpus.Filler(tokens={**FORM_SAMPLE_TOKENS, "MISSING": 987_654_321})
    payload = filler.fill(case["payload"])
    errors = server_errors(form, payload)
    assert expect["field"] in {path for path, _ in errors}, errors
    with pytest.raises(pydantic.ValidationError) as caught:
        form.model_validate(payload)
    paths = {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}
    assert expect["field"] in paths, caught.value.errors()
    title = field_title(form, expect["field"])
    assert chinese(title), title
    assert expect["message"] in title, title
    assert_no_raw_ids(filler.resident_ids, errors)


@pytest.mark.parametrize("case", form_cases("apply"))
def test_form_input_refused_by_the_core(
    case: dict[str, Any],
    engine: sa.Engine,
    catalogue: Catalogue,
    clock: FrozenClock,
    routing: Routing,
    request: pytest.FixtureRequest,
) -> None:
    """Accepted by the form, refused by the step the flow calls next; nothing moves."""
    expect = case["expect"]
    form = form_class(case["form"])
    if case["form"] == "confirmation":
        target = confirmation_target(engine, catalogue, clock, routing)
    elif case["form"] == "removal":
        target = removal_target(engine, catalogue, clock)
    else:
        dispatched: Dispatched = request.getfixturevalue("dispatched")
        target = FormTarget(
            dispatched.tokens, [*dispatched.ids, dispatched.never], dispatched.batch
        )
    tokens = {**target.tokens, "MISSING": 987_654_321, "PROPOSER": PROPOSER}
    filler = corpus.Filler(tokens=tokens)
    payload = filler.fill(case["payload"])
    assert server_errors(form, payload) == [], "the form itself must accept this payload"
    submitted = form.model_validate(payload)
    states = listing_states(engine, target.listing_ids)
    actions = action_snapshot(engine, target.listing_ids)
    before = counts(engine)

    with pytest.raises(JointcreditError) as caught:
        apply_form(case["form"], submitted, target, engine, catalogue, clock, routing)

    assert type(caught.value).__name__ == expect["error"], caught.value.message
    assert expect["message"] in caught.value.message
    assert chinese(caught.value.message)
    assert listing_states(engine, target.listing_ids) == states
    assert action_snapshot(engine, target.listing_ids) == actions
    audited = {"audit_event": 1} if expect.get("audited") else {}
    assert delta(before, counts(engine)) == audited
    assert_no_raw_ids(filler.resident_ids, caught.value.as_dict())


# --- the command line ------------------------------------------------------------------------

CLI_WORKERS = 2  # the console script is CPU-bound at start-up (~1.5 s); CI machines have 2 cores


@dataclass(frozen=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    before: dict[str, int]
    after: dict[str, int]
    resident_ids: set[str]


def sqlite_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as connection:
        return {
            name: connection.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            for name in COUNTED
        }


@pytest.fixture(scope="module")
def cli_database(
    tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue, calendar: Any
) -> tuple[Path, dict[str, Any], str]:
    """A migrated SQLite file with a dispatched batch and one awaiting confirmation."""
    from datetime import datetime

    from registry.clock import BUSINESS_TZ

    path = tmp_path_factory.mktemp("cli-template") / "template.db"
    url = f"sqlite:///{path}"
    db.upgrade(url)
    engine = db.make_engine(url)
    clock = FrozenClock(datetime(2026, 11, 27, 10, 0, tzinfo=BUSINESS_TZ))
    routing = make_routing(catalogue, calendar, clock)
    dispatched, ids = proposed_batch(engine, catalogue, clock, units=2, persons=0)
    awaiting, awaiting_ids = proposed_batch(engine, catalogue, clock, units=1, persons=0)
    with session_scope(engine) as session:
        notify_proposed(session, dispatched, routing)
        notify_proposed(session, awaiting, routing)
    serve_prior_notices(engine, ids + awaiting_ids, clock.today())
    clock.advance(timedelta(days=20))
    with session_scope(engine) as session:
        close_defence_windows(session, dispatched, routing)
        close_defence_windows(session, awaiting, routing)
        decide(session, dispatched, Decision(REVIEWER), routing)
        publish_confirmed(session, dispatched, routing)
        assert dispatch_in_force(session, dispatched, routing).actions_created
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    tokens = {
        "L1": ids[0],
        "BATCH": dispatched,
        "AWAITING": awaiting,
        "MISSING": 987_654_321,
        "reporter": "省" * 101,
    }
    return path, tokens, clock.now().isoformat()


def edited_catalogue(directory: Path, edits: Mapping[str, Sequence[str]]) -> Path:
    """A copy of the bundled catalogue with `file: [old, new]` replaced once in each file."""
    target = directory / "catalogue"
    shutil.copytree(CATALOGUE_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    for name, (old, new) in edits.items():
        path = target / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{name} has no {old!r}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


def run_cli_case(
    case: Mapping[str, Any], base: Path, template: Path, tokens: Mapping[str, Any], now: str
) -> CliRun:
    directory = base / case["id"]
    directory.mkdir()
    database = directory / "cli.db"
    shutil.copyfile(template, database)
    filler = corpus.Filler(tokens=tokens)
    files = {**corpus.load("cli")["files"], **case.get("files", {})}
    for name, spec in files.items():
        corpus_bytes = (
            bytes.fromhex(spec["hex"])
            if "hex" in spec
            else filler.text(spec["text"]).encode(spec.get("encoding", "utf-8"))
        )
        (directory / name).write_bytes(corpus_bytes)
    args = [str(filler.fill(arg)) for arg in case["args"]]
    env = {
        "JOINTCREDIT_DATABASE_URL": f"sqlite:///{database}",
        "JOINTCREDIT_DATA_DIR": str(directory / "var"),
        "JOINTCREDIT_NOW": now,
        **{name: str(filler.fill(value)) for name, value in case.get("env", {}).items()},
    }
    if "catalogue" in case:
        env["JOINTCREDIT_CATALOGUE_DIR"] = str(edited_catalogue(directory, case["catalogue"]))
    before = sqlite_counts(database)
    result = run_cli(directory, *args, env=env)
    return CliRun(
        result.returncode,
        result.stdout,
        result.stderr,
        before,
        sqlite_counts(database),
        filler.resident_ids,
    )


@pytest.fixture(scope="module")
def cli_runs(
    cli_database: tuple[Path, dict[str, Any], str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, CliRun]:
    """Every CLI case, run once, two at a time."""
    template, tokens, now = cli_database
    base = tmp_path_factory.mktemp("cli-cases")
    cases = corpus.cases("cli")
    with ThreadPoolExecutor(max_workers=CLI_WORKERS) as pool:
        runs = pool.map(lambda c: run_cli_case(c, base, template, tokens, now), cases)
        return {case["id"]: run for case, run in zip(cases, runs, strict=True)}


@pytest.mark.parametrize("case", case_ids("cli"))
def test_cli(case: dict[str, Any], cli_runs: dict[str, CliRun]) -> None:
    expect = case["expect"]
    run = cli_runs[case["id"]]
    printed = run.stdout + run.stderr
    assert run.returncode == expect.get("exit", 2), printed
    assert "Traceback" not in printed
    flat = "".join(printed.split())  # rich wraps long lines at its own width
    assert "".join(expect["message"].split()) in flat, printed
    if not expect.get("usage"):
        assert chinese(printed)
        if run.returncode == 2 and "--json" not in case["args"]:
            assert "错误：" in run.stderr, run.stderr
    audited = {"audit_event": 1} if expect.get("audited") else {}  # a refused decision
    assert delta(run.before, run.after) == audited
    assert_no_raw_ids(run.resident_ids, printed)
