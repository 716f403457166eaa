"""Security checks (issue 7): personal ID numbers never shown, secrets never printed, the audit
chain catches tampering, the Prefect server under `jointcredit up` requires its auth string.

1. **Masked IDs everywhere.** One case goes the real way: a batch file with two persons (raw,
   valid resident ID numbers), a mistyped number and a number hidden in a note is imported —
   every logger at DEBUG, SQLAlchemy's statements with their parameters included — routed (one
   person refused), dispatched, reminded, escalated and reported on, all in our core without
   Prefect. Then every notice kind is composed from the database rows the import left, and the
   outbox, the report files, the run artifacts' Markdown, the views, the quarantine, the captured
   logs, the database files and the CLI's output are searched for the numbers, their birth
   dates and any run of 15+ digits. The case has its own SQLite file, so the file itself can be
   searched and the sweep and the report see only this case.
2. **Secrets.** The SMTP password and the ID hash key are absent from the settings' repr, str and
   dumps, from a bad setting's error with its whole traceback, from the SMTP configuration's repr
   and from what a failed SMTP login leaves in the CLI output and the outbox (a real aiosmtpd
   that refuses the login); the database password from the settings' repr and str.
3. **Audit chain.** What `test_audit.py` does not cover — a changed hash, a changed time, a
   reordered pair, a forged event inserted in the middle or appended at the end — and
   `jointcredit audit verify` naming the broken event in Chinese with exit code 1.
4. **Prefect server auth.** `jointcredit up` with the auth string in `.env`: the API answers 401
   without it, Prefect's client with it works, `serve` registered its deployments through it, and
   the string is printed nowhere.
"""

from __future__ import annotations

import base64
import csv
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from pydantic import ValidationError
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from notifications.artifacts import (
    batch_report,
    intake_report,
    markdown_cell,
    monthly_markdown,
    removal_review_markdown,
    review_markdown,
    sweep_markdown,
)
from notifications.compose import Issuer, compose, notice_enqueuer
from notifications.outbox import NoticeDraft, NoticeKey, Recipient, enqueue_notices
from notifications.party_deadline_notices import party_notice_enqueuer
from notifications.render import render_notice
from notifications.report_html import report_html
from notifications.report_mail import report_context
from notifications.sink import MailSink, free_port
from notifications.sla_notices import sla_notice_enqueuer
from notifications.smtp import SmtpConfig
from registry import db
from registry.audit import EventDraft, append_events, event_hash, verify
from registry.audit_anchor import anchor_from_settings, install
from registry.calendar import WorkingCalendar
from registry.clock import BUSINESS_TZ, FrozenClock
from registry.db import session_scope
from registry.errors import ConfigurationError
from registry.free_text import clean_free_text
from registry.identifiers import check_resident_id, mask_resident_id
from registry.intake import ImportResult, import_batch
from registry.models import (
    AuditEvent,
    AuditHead,
    DepartmentAction,
    Listing,
    Notice,
    Objection,
    RemovalApplication,
    Subject,
)
from registry.party_deadlines import sweep_party_deadlines
from registry.reporting import ReportMonth, monthly_report, report_csvs
from registry.routing import (
    Decision,
    NoticeRequest,
    RoutedNoticeKind,
    Routing,
    StepResult,
    awaiting_review,
    batch_position,
    close_defence_windows,
    decide,
    dispatch_in_force,
    notify_proposed,
    publish_confirmed,
)
from registry.screening import screen
from registry.settings import Settings, get_settings
from registry.sla_sweep import Sweep, sweep_overdue
from registry.views import batch_view, credit_archive, credit_archive_by_identifier, listing_view
from registry.views.removal_review import PendingRemoval
from registry.vocabulary import NoticeKind
from tests.factories.identities import KEY, leaks, new_resident_id
from tests.factories.import_files import valid_uscc
from tests.factories.listings import serve_prior_notices
from tests.factories.notices import unnumbered
from tests.factories.routing import NUMBERING
from tests.integration.cli_runner import run

PROPOSER = "省应急管理厅执法总队 张伟"
REVIEWER = "省应急管理厅信用办 李娜"
ISSUER = Issuer(name="四川省应急管理厅", office="信用管理处", email="xinyong@example.org")
IMPORTED = datetime(2026, 11, 2, 9, 0, tzinfo=BUSINESS_TZ)  # Monday
DECIDED = datetime(2026, 11, 16, 9, 0, tzinfo=BUSINESS_TZ)  # defence window over
REMINDED = datetime(2026, 11, 25, 9, 0, tzinfo=BUSINESS_TZ)  # acknowledgements overdue
ESCALATED = datetime(2026, 12, 3, 9, 0, tzinfo=BUSINESS_TZ)  # reminders unanswered
HEADER = [
    "名单类型",
    "主体类型",
    "名称",
    "统一社会信用代码",
    "身份证号",
    "所属单位信用代码",
    "行政区划代码",
    "行业",
    "认定依据",
    "决定书文号",
    "处罚决定日期",
    "典型案例",
    "联系邮箱",
    "同意电子送达",
    "备注",
]
QUEUED_BY_THE_CASE = {
    NoticeKind.PRIOR_NOTICE,
    NoticeKind.LISTING_DECISION,
    NoticeKind.REJECTION,
    NoticeKind.DEPARTMENT_DISPATCH,
    NoticeKind.REMINDER,
    NoticeKind.ESCALATION,
}
NAMING_THE_PERSON = {
    NoticeKind.PRIOR_NOTICE,
    NoticeKind.LISTING_DECISION,
    NoticeKind.RED_AWARD,
    NoticeKind.REMOVAL_NOTICE,
    NoticeKind.REMOVAL_WINDOW,
    NoticeKind.LIFT_REQUEST,
    NoticeKind.DEPARTMENT_DISPATCH,
}


# --- 1. masked IDs everywhere --------------------------------------------------------------


@dataclass
class Case:
    workdir: Path
    url: str
    engine: sa.Engine
    raw_ids: list[str]  # every number in the file, the mistyped one included
    person: str  # the listed person's raw number
    unit_uscc: str
    batch_id: int
    imported: ImportResult
    listings: dict[str, int]  # unit, person, refused
    logs: list[str]
    rendered: dict[NoticeKind, list[tuple[str, str, str]]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # reports, artifacts, views by name

    @property
    def masked(self) -> str:
        return mask_resident_id(self.person)

    def env(self) -> dict[str, str]:
        return {
            "JOINTCREDIT_DATABASE_URL": self.url,
            "JOINTCREDIT_DATA_DIR": str(self.workdir / "var"),
            "JOINTCREDIT_ID_HASH_KEY": KEY,
            "JOINTCREDIT_NOW": ESCALATED.isoformat(),
        }


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def every_log_at_debug() -> Iterator[list[str]]:
    """Every record of every logger, SQLAlchemy's statements and their parameters included."""
    handler = _Lines()
    loggers = [logging.getLogger(), logging.getLogger("sqlalchemy.engine")]
    levels = [logger.level for logger in loggers]
    loggers[0].addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        loggers[0].removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _mistyped(raw: str) -> str:
    """One wrong check digit: no longer a valid number, still the person's."""
    return raw[:-1] + ("1" if raw[-1] != "1" else "2")


def _write_batch(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)


def _step(engine: sa.Engine, step: Any, *args: Any) -> StepResult:
    with session_scope(engine) as session:
        result: StepResult = step(session, *args)
        return result


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


@pytest.fixture(scope="module")
def case(
    tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue, calendar: WorkingCalendar
) -> Iterator[Case]:
    rng = random.Random()
    workdir = tmp_path_factory.mktemp("security")
    url = f"sqlite:///{workdir / 'jointcredit.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    person, refused, in_note = (new_resident_id(rng) for _ in range(3))
    typo = _mistyped(new_resident_id(rng))
    uscc, other_uscc = valid_uscc(rng.randint(1, 9_999_999), "510100"), valid_uscc(1, "510100")
    decision = ["川应急罚〔2026〕201号", "2026-10-13"]
    file = workdir / "batch.csv"
    _write_batch(
        file,
        [
            ["黑名单", "单位", "四川安检化工有限公司", uscc, "", "", "510100", "危险化学品", "A2",
             *decision, "是", "safety@example.org", "是", "12个月内发生2起较大生产安全事故。"],
            ["黑名单", "个人", "王某", "", person, uscc, "510100", "危险化学品", "A5",
             *decision, "否", "", "是", "法定代表人，事故后擅离职守。"],
            ["黑名单", "个人", "李某", "", refused, uscc, "510100", "危险化学品", "A5",
             *decision, "否", "", "是", "安全负责人。"],
            ["黑名单", "个人", "赵某", "", typo, uscc, "510100", "危险化学品", "A5",
             *decision, "否", "", "是", ""],
            ["黑名单", "单位", "四川另一化工有限公司", other_uscc, "", "", "510100", "危险化学品",
             "A2", *decision, "否", "", "是", f"法定代表人身份证号 {in_note}"],
        ],
    )  # fmt: skip
    clock = FrozenClock(IMPORTED)
    with every_log_at_debug() as logs, session_scope(engine) as session:
        imported = import_batch(
            session,
            file,
            catalogue=catalogue,
            id_hash_key=KEY,
            clock=clock,
            proposed_by=PROPOSER,
            quarantine_dir=workdir / "var" / "quarantine",
        )
    assert (imported.accepted, imported.rejected) == (3, 2), imported.as_dict()
    with Session(engine) as session:
        names = dict(
            session.execute(
                sa.select(col(Subject.name), col(Listing.id))
                .join(Listing, col(Listing.subject_id) == col(Subject.id))
                .where(col(Listing.batch_id) == imported.batch_id)
            ).all()
        )
    listings = {
        "unit": names["四川安检化工有限公司"],
        "person": names["王某"],
        "refused": names["李某"],
    }
    batch = imported.batch_id
    routing = Routing(
        catalogue=catalogue,
        calendar=calendar,
        clock=clock,
        actor=REVIEWER,
        source="test:security",
        enqueue=notice_enqueuer(catalogue=catalogue, issuer=ISSUER, clock=clock),
        numbering=NUMBERING,
    )
    texts: dict[str, str] = {}
    notified = _step(engine, notify_proposed, batch, routing)
    texts["intake artifact"] = intake_report(imported, notified)
    # The unit's 告知书 is e-mailed; the persons have no mailbox, theirs go by post. All served.
    serve_prior_notices(engine, list(listings.values()), clock.today())
    clock.set(DECIDED)
    _step(engine, close_defence_windows, batch, routing)
    with Session(engine) as session:
        position = batch_position(session, batch, today=clock.today())
        texts["confirmation form"] = review_markdown(
            position, awaiting_review(session, batch, catalogue)
        )
    # An operator types the refused person's number into the reason: it is masked where the
    # decision is stored (registry.free_text), so the decision and its letter go through masked.
    steps = [notified]
    steps.append(
        _step(
            engine,
            decide,
            batch,
            Decision(
                REVIEWER,
                rejections={listings["refused"]: f"经复核，其身份证号 {refused} 有误，不应列入"},
            ),
            routing,
        )
    )
    steps.append(_step(engine, publish_confirmed, batch, routing))
    steps.append(_step(engine, dispatch_in_force, batch, routing))
    with Session(engine) as session:
        texts["route artifact"] = batch_report(batch_view(session, batch), steps)

    sweep = Sweep(
        catalogue=catalogue,
        calendar=calendar,
        clock=clock,
        actor="flow:sweep-sla",
        source="test:security",
        enqueue=sla_notice_enqueuer(catalogue=catalogue, issuer=ISSUER, clock=clock),
    )
    party_enqueue = party_notice_enqueuer(catalogue=catalogue, issuer=ISSUER, clock=clock)
    with session_scope(engine) as session:  # an objection about the person we owe an answer on
        session.add(
            Objection(
                listing_id=listings["person"],
                filed_at=clock.now(),
                filed_by="王某",
                reason=clean_free_text(f"异议人身份证号 {in_note}"),
                answer_due=REMINDED.date() - timedelta(days=1),
            )
        )
    for when, moved in ((REMINDED, "reminded"), (ESCALATED, "escalated")):
        clock.set(when)
        with session_scope(engine) as session:
            swept = sweep_overdue(session, sweep)
            party = sweep_party_deadlines(session, sweep, party_enqueue)
        assert getattr(swept, moved), swept
        assert getattr(party, moved), party
        texts[f"sweep artifact ({moved})"] = sweep_markdown(swept)

    with Session(engine) as session:
        report = monthly_report(
            session, month=ReportMonth(2026, 11), catalogue=catalogue, today=clock.today()
        )
        texts |= {f"report {name}": text for name, text in report_csvs(report).items()}
        texts["report.html"] = report_html(report, issuer=ISSUER.name, generated_on=clock.today())
        texts["report artifact"] = monthly_markdown(report, location=str(workdir / "reports"))
        mail = report_context(
            report,
            issuer=ISSUER,
            addressee="厅领导",
            full_report_url="https://credit.example.org/reports/2026-11.html",
            today=clock.today(),
        )
        texts["removal form"] = _removal_form(session, list(listings.values()))
        texts |= _views(session, catalogue, clock, listings, batch, person, uscc)
        rendered = _every_kind(session, catalogue, clock, batch, listings, in_note)
    rendered.setdefault(NoticeKind.MONTHLY_REPORT, []).append(
        _parts(render_notice(NoticeKind.MONTHLY_REPORT, mail))
    )
    yield Case(
        workdir=workdir,
        url=url,
        engine=engine,
        raw_ids=[person, refused, in_note, typo],
        person=person,
        unit_uscc=uscc,
        batch_id=batch,
        imported=imported,
        listings=listings,
        logs=logs,
        rendered=rendered,
        texts=texts,
    )
    engine.dispose()


def _removal_form(session: Session, listing_ids: list[int]) -> str:
    """The removal form's table, from the rows `pending_removals` reads (as if in review)."""
    rows = session.execute(
        sa.select(
            col(Listing.id),
            col(Subject.name),
            col(Listing.rule_set),
            col(Listing.removal_reason),
            col(Listing.expires_on),
            sa.literal(None).label("application_id"),
        )
        .join(Subject, col(Subject.id) == col(Listing.subject_id))
        .where(col(Listing.id).in_(listing_ids))
    ).all()
    return removal_review_markdown([PendingRemoval(**row._mapping) for row in rows])


def _views(
    session: Session,
    catalogue: Catalogue,
    clock: FrozenClock,
    listings: dict[str, int],
    batch: int,
    raw: str,
    uscc: str,
) -> dict[str, str]:
    person = check_resident_id(raw, KEY)
    return {
        "batch view": _json(batch_view(session, batch).as_dict()),
        **{
            f"listing view ({name})": _json(listing_view(session, listing).as_dict())
            for name, listing in listings.items()
        },
        "archive (person, by number)": _json(
            credit_archive_by_identifier(session, raw, id_hash_key=KEY).as_dict()
        ),
        "archive (unit)": _json(credit_archive(session, uscc=uscc).as_dict()),
        "screening (person)": _json(
            screen(
                session,
                catalogue=catalogue,
                today=clock.today(),
                id_hash=person.lookup_hash,
                shown_as=person.masked,
            ).as_dict()
        ),
    }


def _parts(rendered: Any) -> tuple[str, str, str]:
    return rendered.subject, rendered.text, rendered.html


DIGESTS = (NoticeKind.DEPARTMENT_DISPATCH, NoticeKind.LIFT_REQUEST, NoticeKind.DEPARTMENT_RESTORE)


def _every_kind(
    session: Session,
    catalogue: Catalogue,
    clock: FrozenClock,
    batch: int,
    listings: dict[str, int],
    typed_id: str,
) -> dict[NoticeKind, list[tuple[str, str, str]]]:
    """Every kind about the person: what the outbox holds, and the composer's letters for the
    kinds this case did not reach (red award, removal, lift request, the written replies to an
    objection and an application whose reasons an operator typed with an ID number in them),
    from the same rows."""
    rendered: dict[NoticeKind, list[tuple[str, str, str]]] = {}
    for kind, subject, text, html in session.execute(
        sa.select(
            col(Notice.kind), col(Notice.subject), col(Notice.body_text), col(Notice.body_html)
        )
    ):
        rendered.setdefault(NoticeKind(kind), []).append((subject, text, html or ""))
    department, memorandum = session.execute(
        sa.select(col(DepartmentAction.department), col(DepartmentAction.memorandum))
        .where(col(DepartmentAction.listing_id) == listings["person"])
        .limit(1)
    ).one()
    person = (listings["person"],)
    # Stored as the registry stores what an operator or a party types (registry.free_text).
    typed = clean_free_text(f"经核实，身份证号 {typed_id} 的材料不实")
    objection = Objection(
        listing_id=listings["person"],
        filed_at=clock.now(),
        filed_by="王某",
        reason=clean_free_text(f"本人身份证号 {typed_id}"),
        state="dismissed",
        decision_reason=typed,
    )
    application = RemovalApplication(
        listing_id=listings["person"],
        applied_at=clock.now(),
        evidence=typed,
        state="refused",
        decision_reason=typed,
    )
    session.add_all([objection, application])
    session.flush()
    case_of = {NoticeKind.OBJECTION_REPLY: objection.id, NoticeKind.REMOVAL_REFUSAL: application.id}
    requests = [
        NoticeRequest(kind, batch, person, case_id=case_of.get(kind))
        for kind in get_args(RoutedNoticeKind)
        if kind not in DIGESTS
    ] + [
        NoticeRequest(kind, batch, (listings["unit"], listings["person"]), department, memorandum)
        for kind in DIGESTS
    ]
    composed = compose(session, requests, catalogue=catalogue, issuer=ISSUER, today=clock.today())
    assert composed.for_post == []
    for draft in composed.drafts:
        rendered.setdefault(draft.kind, []).append(_parts(render_notice(draft.kind, draft.context)))
    return rendered


def test_every_notice_kind_about_an_imported_person_shows_the_masked_id_only(case: Case) -> None:
    assert set(case.rendered) == set(NoticeKind)
    with Session(case.engine) as session:
        queued = set(session.execute(sa.select(col(Notice.kind)).distinct()).scalars())
    assert queued >= {kind.value for kind in QUEUED_BY_THE_CASE}
    for kind, letters in case.rendered.items():
        for subject, text, html in letters:
            for part, shown in (("subject", subject), ("text", text), ("html", html)):
                assert leaks(shown, case.raw_ids) == [], f"{kind.value} {part}"
    naming_the_person = [
        (kind, text)
        for kind in NAMING_THE_PERSON
        for _subject, text, _html in case.rendered[kind]
        if "王某" in text
    ]
    assert {kind for kind, _text in naming_the_person} == NAMING_THE_PERSON
    for kind, text in naming_the_person:
        assert case.masked in text, kind.value


def test_a_number_typed_into_a_reason_is_stored_and_sent_masked(case: Case) -> None:
    """Issue 13 item 9: the rejection reason is cleaned where it is stored, so the decision goes
    through and the letter, the listing and the audit trail hold the masked number only."""
    refused = case.raw_ids[1]
    with Session(case.engine) as session:
        reasons = session.execute(sa.select(col(Listing.note), col(Listing.state))).all()
        events = session.execute(sa.select(col(AuditEvent.after))).scalars().all()
        bodies = session.execute(sa.select(col(Notice.body_text))).scalars().all()
    assert leaks(_json([list(r) for r in reasons]) + _json(events), case.raw_ids) == []
    assert leaks("".join(bodies), case.raw_ids) == []
    rejection = [e for e in events if e and "经复核" in str(e.get("reason"))]
    assert len(rejection) == 1
    assert mask_resident_id(refused) in rejection[0]["reason"]
    assert any(mask_resident_id(refused) in body for body in bodies)


def test_reports_artifacts_and_views_show_persons_masked_only(case: Case) -> None:
    assert set(case.texts) >= {
        "report report.csv",
        "report.html",
        "route artifact",
        "intake artifact",
        "confirmation form",
        "removal form",
        "sweep artifact (reminded)",
        "sweep artifact (escalated)",
    }
    for name, text in case.texts.items():
        assert leaks(text, case.raw_ids) == [], name
    # Markdown shows the masked number's `*` escaped (`markdown_cell`), as stored.
    assert markdown_cell(case.masked) in case.texts["confirmation form"]
    assert markdown_cell(case.masked) in case.texts["route artifact"]  # 王某's letter for post
    for name in (
        "batch view",
        "listing view (person)",
        "archive (person, by number)",
        "archive (unit)",
        "screening (person)",
    ):
        assert case.masked in case.texts[name], name
    assert "王某" in case.texts["removal form"]


def test_the_quarantine_names_bad_numbers_masked(case: Case) -> None:
    lines = case.imported.as_dict()["quarantine"]
    assert {line["column"] for line in lines} >= {"身份证号", "备注"}, lines
    assert leaks(_json(lines), case.raw_ids) == []
    assert mask_resident_id(case.raw_ids[3]) in _json(lines)  # the mistyped one, masked
    files = list((case.workdir / "var" / "quarantine").rglob("*"))
    assert [f for f in files if f.is_file()]
    for path in files:
        if path.is_file():
            assert leaks(path.read_text(encoding="utf-8-sig"), case.raw_ids) == [], path.name


def test_the_import_logs_no_number_at_debug(case: Case) -> None:
    logged = "\n".join(case.logs)
    assert "INSERT INTO subject" in logged  # the capture saw the statements and parameters
    assert case.masked in logged
    found = leaks(logged, case.raw_ids)
    assert found == [], [line for line in case.logs if any(f in line for f in found)][:3]


def test_the_database_files_hold_no_number(case: Case) -> None:
    stored = b"".join(p.read_bytes() for p in case.workdir.glob("jointcredit.db*"))
    assert mask_resident_id(case.person).encode() in stored
    for raw in case.raw_ids:
        for piece in (raw, raw[6:14]):
            assert piece.encode() not in stored, piece


def test_the_cli_shows_persons_masked_only(case: Case) -> None:
    env = case.env()
    person = str(case.listings["person"])
    bad_rows = case.workdir / "bad-rows.csv"
    _write_batch(
        bad_rows,
        [["黑名单", "个人", "赵某", "", case.raw_ids[3], case.unit_uscc, "510100", "危险化学品",
          "A5", "川应急罚〔2026〕301号", "2026-10-20", "否", "", f"身份证号 {case.raw_ids[2]}"]],
    )  # fmt: skip
    runs = {
        "listing show --json": run(case.workdir, "listing", "show", person, "--json", env=env),
        "archive --json": run(case.workdir, "archive", case.person, "--json", env=env),
        "archive (unit)": run(case.workdir, "archive", case.unit_uscc, env=env),
        "screen --json": run(case.workdir, "screen", case.person, "--json", env=env),
        "screen": run(case.workdir, "screen", case.person, env=env),
        "screen (mistyped)": run(case.workdir, "screen", _mistyped(case.person), env=env),
        "import": run(case.workdir, "import", str(bad_rows), env=env),
    }
    for name, result in runs.items():
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
        assert (
            leaks(result.stdout + result.stderr, [*case.raw_ids, _mistyped(case.person)]) == []
        ), name
    for name in ("listing show --json", "archive --json", "archive (unit)", "screen --json"):
        assert case.masked in runs[name].stdout, name
    assert case.masked in runs["screen"].stdout
    assert json.loads(runs["screen --json"].stdout)["under_sanction"] is True
    assert mask_resident_id(_mistyped(case.person)) in runs["screen (mistyped)"].stdout


# --- 2. secrets ----------------------------------------------------------------------------

SMTP_PASSWORD = "smtp-Pa55word-never-shown"
ID_HASH_KEY = "id-hash-key-never-shown-7f3a"


def _secret_forms() -> list[str]:
    """The secrets, and the forms a login puts on the wire (base64 of AUTH PLAIN / LOGIN)."""
    plain = base64.b64encode(f"\0jointcredit\0{SMTP_PASSWORD}".encode()).decode()
    login = base64.b64encode(SMTP_PASSWORD.encode()).decode()
    return [SMTP_PASSWORD, ID_HASH_KEY, plain, login]


def _shown(text: str) -> list[str]:
    """Each secret shown whole or by either half (pydantic cuts long values to their ends)."""
    return [
        secret
        for secret in _secret_forms()
        if any(
            part in text
            for part in (secret, secret[: len(secret) // 2], secret[len(secret) // 2 :])
        )
    ]


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env
    for name in list(os.environ):
        if name.startswith("JOINTCREDIT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("JOINTCREDIT_SMTP_USERNAME", "jointcredit")
    monkeypatch.setenv("JOINTCREDIT_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("JOINTCREDIT_ID_HASH_KEY", ID_HASH_KEY)


@pytest.mark.usefixtures("secret_env")
def test_settings_never_show_their_secrets() -> None:
    settings = get_settings()
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == SMTP_PASSWORD  # the secrets are there
    for shown in (
        repr(settings),
        str(settings),
        str(settings.model_dump()),
        settings.model_dump_json(),
        repr(SmtpConfig.from_settings(settings)),
    ):
        assert _shown(shown) == []


@pytest.mark.usefixtures("secret_env")
def test_settings_show_the_database_url_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOINTCREDIT_DATABASE_URL", "postgresql+psycopg://jc:Db-Pa55@db:5432/jc")
    settings = get_settings()
    assert "Db-Pa55" in settings.database_url
    for shown in (repr(settings), str(settings)):
        assert "postgresql+psycopg://jc:***@db:5432/jc" in shown
        assert "Db-Pa55" not in shown


@pytest.mark.usefixtures("secret_env")
def test_a_bad_setting_names_the_variable_but_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model validator's error would quote every input; its traceback reaches run logs."""
    monkeypatch.setenv("JOINTCREDIT_ENV", "production")
    monkeypatch.setenv("JOINTCREDIT_NOW", "2026-12-01T09:00:00+08:00")
    with pytest.raises(ConfigurationError) as refused:
        get_settings()
    assert "JOINTCREDIT_NOW" in refused.value.message
    everything = "".join(traceback.format_exception(refused.value)) + _json(refused.value.as_dict())
    assert _shown(everything) == []
    monkeypatch.setenv("JOINTCREDIT_ENV", "development")
    monkeypatch.setenv("JOINTCREDIT_SMTP_PORT", "not-a-port")
    with pytest.raises(ValidationError) as port:
        Settings()  # the raw pydantic error too, not only get_settings' message
    assert _shown("".join(traceback.format_exception(port.value))) == []


def _refuse_every_login(
    _server: Any, _session: Any, _envelope: Any, _mechanism: str, _data: Any
) -> AuthResult:
    return AuthResult(success=False, handled=False)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_failed_smtp_login_shows_no_password(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mail.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    clock = FrozenClock(ESCALATED)
    kind = NoticeKind.REMINDER
    draft = NoticeDraft(
        kind=kind,
        recipient=Recipient("dept@example.org", "联系人"),
        context=unnumbered(kind),
        key=NoticeKey(kind, "test:smtp-login", "dept@example.org", "remind"),
    )
    with session_scope(engine) as session:
        [notice_id] = enqueue_notices(session, [draft], now=clock.now()).new_ids
    port = free_port()
    controller = Controller(
        MailSink(tmp_path / "mail"),
        hostname="127.0.0.1",
        port=port,
        authenticator=_refuse_every_login,
        auth_required=True,
        auth_require_tls=False,  # loopback test server: AUTH over plain text
    )
    controller.start()
    env = {
        "JOINTCREDIT_DATABASE_URL": url,
        "JOINTCREDIT_NOW": ESCALATED.isoformat(),
        "JOINTCREDIT_SMTP_HOST": "127.0.0.1",
        "JOINTCREDIT_SMTP_PORT": str(port),
        "JOINTCREDIT_SMTP_USERNAME": "jointcredit",
        "JOINTCREDIT_SMTP_PASSWORD": SMTP_PASSWORD,
        "JOINTCREDIT_ID_HASH_KEY": ID_HASH_KEY,
    }
    try:
        drained = run(tmp_path, "outbox", "drain", env=env)
        status = run(tmp_path, "outbox", "status", "--json", env=env)
    finally:
        controller.stop()
    with Session(engine) as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        stored = _json([notice.last_error, notice.smtp_reply, notice.state])
    engine.dispose()
    assert drained.returncode == 0, drained.stderr
    assert "535" in drained.stdout + drained.stderr + stored  # the login was refused, and said so
    for shown in (drained.stdout, drained.stderr, status.stdout, status.stderr, stored):
        assert _shown(shown) == []


# --- 3. audit chain ------------------------------------------------------------------------

AT = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
EVENTS = AuditEvent.__table__
HEAD = AuditHead.__table__


def _append(engine: sa.Engine, n: int) -> list[int]:
    drafts = [
        EventDraft(REVIEWER, "listing.confirm", "test", i, {"state": "a"}, {"state": "b"}, "test")
        for i in range(n)
    ]
    with session_scope(engine) as session:
        return append_events(session, drafts, at=AT)


@contextmanager
def tampering(engine: sa.Engine, first_seq: int) -> Iterator[None]:
    """Restore every event from `first_seq` on, and the tip, whatever the test did to them
    (the test database is shared: the chain must verify again afterwards)."""
    with session_scope(engine) as session:
        saved = [
            dict(r)
            for r in session.execute(sa.select(EVENTS).where(EVENTS.c.seq >= first_seq)).mappings()
        ]
        head = dict(session.execute(sa.select(HEAD)).mappings().one())
    try:
        yield
    finally:
        with session_scope(engine) as session:
            session.execute(sa.delete(EVENTS).where(EVENTS.c.seq >= first_seq))
            session.execute(sa.insert(EVENTS), saved)
            session.execute(sa.update(HEAD).values(**head))
        with Session(engine) as session:
            assert verify(session).ok


def _first_break(engine: sa.Engine) -> tuple[int | None, str]:
    with Session(engine) as session:
        report = verify(session)
    assert not report.ok
    return report.first_bad_seq, report.reason or ""


def test_a_changed_hash_is_found(engine: sa.Engine) -> None:
    seqs = _append(engine, 3)
    with tampering(engine, seqs[0]):
        with session_scope(engine) as session:
            session.execute(sa.update(EVENTS).where(EVENTS.c.seq == seqs[1]).values(hash="f" * 64))
        assert _first_break(engine) == (seqs[1], "内容被篡改（content hash mismatch）")


def test_a_changed_time_is_found(engine: sa.Engine) -> None:
    seqs = _append(engine, 3)
    with tampering(engine, seqs[0]):
        with session_scope(engine) as session:
            session.execute(
                sa.update(EVENTS).where(EVENTS.c.seq == seqs[1]).values(at=AT - timedelta(days=1))
            )
        assert _first_break(engine)[0] == seqs[1]


def test_a_reordered_pair_is_found(engine: sa.Engine) -> None:
    seqs = _append(engine, 3)
    with tampering(engine, seqs[0]):
        with session_scope(engine) as session:  # swap the positions of the first two
            session.execute(sa.update(EVENTS).where(EVENTS.c.seq == seqs[0]).values(seq=-1))
            session.execute(sa.update(EVENTS).where(EVENTS.c.seq == seqs[1]).values(seq=seqs[0]))
            session.execute(sa.update(EVENTS).where(EVENTS.c.seq == -1).values(seq=seqs[1]))
        assert _first_break(engine) == (seqs[0], "前序哈希不符（prev hash mismatch）")


def _forged(prev_hash: str, seq: int) -> dict[str, Any]:
    """A well-formed event whose hash is right for its own content and predecessor."""
    draft = EventDraft(
        "伪造者", "listing.remove", "listing", 1, {"state": "in_force"}, {"state": "removed"}, "x"
    )
    return {
        "seq": seq,
        "at": AT,
        "actor": draft.actor,
        "action": draft.action,
        "entity_type": draft.entity_type,
        "entity_id": str(draft.entity_id),
        "before": draft.before,
        "after": draft.after,
        "source": draft.source,
        "prev_hash": prev_hash,
        "hash": event_hash(prev_hash, seq, AT, draft),
    }


def test_a_forged_event_inserted_in_the_middle_is_found(engine: sa.Engine) -> None:
    seqs = _append(engine, 3)
    with tampering(engine, seqs[0]):
        with session_scope(engine) as session:
            prev = session.execute(
                sa.select(EVENTS.c.prev_hash).where(EVENTS.c.seq == seqs[1])
            ).scalar_one()
            last = session.execute(sa.select(sa.func.max(EVENTS.c.seq))).scalar_one()
            for seq in range(last, seqs[1] - 1, -1):  # make room: renumber from the end
                session.execute(sa.update(EVENTS).where(EVENTS.c.seq == seq).values(seq=seq + 1))
            session.execute(sa.insert(EVENTS).values(**_forged(prev, seqs[1])))
            session.execute(sa.update(HEAD).values(last_seq=last + 1))
        # The forged event verifies; the genuine one after it no longer follows it.
        assert _first_break(engine) == (seqs[1] + 1, "前序哈希不符（prev hash mismatch）")


def test_a_forged_event_appended_without_the_tip_is_found(engine: sa.Engine) -> None:
    seqs = _append(engine, 1)
    with tampering(engine, seqs[0]):
        with session_scope(engine) as session:
            tip = session.execute(
                sa.select(EVENTS.c.hash).where(EVENTS.c.seq == seqs[0])
            ).scalar_one()
            session.execute(sa.insert(EVENTS).values(**_forged(tip, seqs[0] + 1)))
        assert _first_break(engine)[1].startswith("链尾与记录不符")


def test_audit_verify_names_the_broken_event_in_chinese(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    # Anchored as the application anchors: verify fails a chain with no anchored head.
    install(engine, anchor_from_settings(Settings(database_url=url, data_dir=tmp_path / "var")))
    seqs = _append(engine, 4)
    env = {"JOINTCREDIT_DATABASE_URL": url, "JOINTCREDIT_DATA_DIR": str(tmp_path / "var")}
    intact = run(tmp_path, "audit", "verify", env=env)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "审计校验通过：审计链完整，4 条操作记录" in intact.stdout.splitlines()[-1]

    with session_scope(engine) as session:
        session.execute(sa.update(EVENTS).where(EVENTS.c.seq == seqs[2]).values(actor="别人"))
    engine.dispose()
    broken = run(tmp_path, "audit", "verify", env=env)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    message = " ".join(broken.stderr.split())
    assert (
        f"审计链已损坏（audit chain broken）：第 {seqs[2]} 号操作记录校验失败：内容被篡改"
        in message
    )
    assert "此前 2 条记录完好" in message
    assert "操作人 别人" in message
    assert "认定列入（listing.confirm）" in message
    assert "2026-11-27 10:00:00（北京时间）" in message
    report = json.loads(run(tmp_path, "audit", "verify", "--json", env=env).stdout)
    assert (report["ok"], report["first_bad_seq"], report["checked"]) == (False, seqs[2], 2)
    assert report["event"]["actor"] == "别人"


# --- 4. Prefect server auth ----------------------------------------------------------------

AUTH_STRING = "jointcredit-admin:Auth-Str1ng-never-printed"
UP_START_SECONDS = 240.0


def _api(url: str, path: str, auth: str | None = None, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url + path,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as refused:
        return refused.code, None


def test_up_requires_the_prefect_auth_string_when_configured(tmp_path: Path) -> None:
    """The string is only in `.env` (as `.env.example` suggests): the server reads it there,
    and `up` must hand it to `serve` and use it itself, or it would never get ready."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    from deployments.definitions import DEFINITIONS

    (tmp_path / ".env").write_text(f"PREFECT_SERVER_API_AUTH_STRING={AUTH_STRING}\n")
    url = f"sqlite:///{tmp_path / 'var' / 'jointcredit.db'}"
    db.upgrade(url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOINTCREDIT_", "PREFECT_"))}
    env |= {
        "DO_NOT_TRACK": "1",
        "JOINTCREDIT_DATABASE_URL": url,
        "JOINTCREDIT_DATA_DIR": str(tmp_path / "var"),
    }
    printed = tmp_path / "up.out"
    with printed.open("wb") as sink:
        up = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deployments.ops_commands",
                "up",
                "--port",
                str(port),
                "--no-sink",
            ],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    api = f"http://127.0.0.1:{port}/api"

    def everything_written() -> str:
        logs = sorted((tmp_path / "var" / "logs").glob("*.log"))
        return printed.read_text(errors="replace") + "".join(
            log.read_text(errors="replace") for log in logs
        )

    try:
        deadline = time.monotonic() + UP_START_SECONDS
        while "已就绪" not in printed.read_text(errors="replace"):
            if up.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"jointcredit up 未能就绪（did not get ready）\n{everything_written()}")
            time.sleep(0.5)
        assert "已启用基本认证" in printed.read_text()

        assert _api(api, "/health") == (200, True)  # the readiness probe stays open
        assert _api(api, "/flows/filter", body={})[0] == 401
        assert _api(api, "/flows/filter", auth="jointcredit-admin:wrong", body={})[0] == 401
        assert _api(api, "/flows/filter", auth=AUTH_STRING, body={})[0] == 200
        with (
            temporary_settings(
                updates={PREFECT_API_URL: api, PREFECT_API_AUTH_STRING: AUTH_STRING}
            ),
            get_client(sync_client=True) as client,
        ):
            served = {d.name for d in client.read_deployments()}
        assert served >= {item.name for item in DEFINITIONS}
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
        try:
            code = up.wait(timeout=150)
        except subprocess.TimeoutExpired:
            up.kill()
            raise
        finally:
            sys.stderr.write(everything_written()[-6000:])  # shown when the test fails
    assert code == 0, everything_written()
    assert AUTH_STRING not in everything_written()
    assert AUTH_STRING.split(":")[1] not in everything_written()
