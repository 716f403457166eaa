"""`jointcredit demo`: the foundation at work, on embedded defaults only.

It builds a fresh SQLite database at `var/demo.db` (so it can run any number of times and
never touches the operator's database), then walks a black-list and a red-list batch through
the lifecycle with a frozen clock — prior notice, the defence window, a refused
self-confirmation, confirmation, publication — prints the department deadlines the dispatch
will carry, and verifies the audit chain. Every figure it prints is read back from the database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from rich.table import Table
from sqlmodel import Session, col

from memoranda.loader import Catalogue
from registry import audit, db
from registry.calendar import WorkingCalendar
from registry.clock import BUSINESS_TZ, FrozenClock, clock_from_settings
from registry.errors import CatalogueError, CatalogueProblem, TransitionRefused
from registry.identifiers import check_resident_id, check_uscc
from registry.lifecycle import Event, apply_transition
from registry.models import Listing, ListType, SubjectKind
from registry.repository import add_batch, add_listings, add_subject, listing_states
from registry.settings import Settings
from registry.sla import action_deadlines

Unit = tuple[str, str, str, str, list[str]]
"""name, USCC, region code, industry, ground codes"""

PROPOSER = "省应急管理厅执法总队 张伟"
REVIEWER = "省应急管理厅信用办 李娜"

# Fictitious parties. The second code is an early pilot code whose check character does not
# match: accepted, flagged for an operator's review.
BLACK_UNITS: list[Unit] = [
    ("四川蜀安化工有限公司", "91512081MA62K0260E", "510100", "危险化学品", ["A2"]),
    ("福建闽侯矿业有限公司", "91350100M0001TGQXM", "350100", "非煤矿山", ["B1"]),
]
BLACK_PERSON = ("王建国", "11010519491231002X", "法定代表人", ["A2"])
RED_UNIT: Unit = ("浙江安泰机械制造有限公司", "91330100MA27XK5T35", "330100", "机械制造", ["R"])

Say = Callable[[Any], None]


def run_demo(
    settings: Settings, catalogue: Catalogue, calendar: WorkingCalendar, *, say: Say
) -> dict[str, Any]:
    clock = FrozenClock(clock_from_settings(settings).now())
    path = settings.data_dir / "demo.db"
    for stale in (path, path.with_name("demo.db-wal"), path.with_name("demo.db-shm")):
        stale.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    db.upgrade(url)
    engine = db.make_engine(url)
    say(f"[bold]jointcredit 演示[/]  时钟（clock）{clock.now().isoformat()}  数据库 {path}")
    say(
        f"1. 目录校验通过：{len(catalogue.memoranda)} 份备忘录，"
        f"{len(catalogue.departments)} 个部门，哈希 {catalogue.content_hash[:12]}"
    )
    examples = _deadline_examples(calendar, say)
    usccs = _uscc_examples(say)
    transitions = {"refused": 0, "applied": 0}

    def move(ids: list[int], event: Event, actor: str, **kw: Any) -> None:
        with db.session_scope(engine) as session:
            result = apply_transition(
                session,
                ids,
                event,
                actor=actor,
                source="demo",
                clock=clock,
                catalogue=catalogue,
                calendar=calendar,
                **kw,
            )
        transitions["applied"] += len(result.applied)

    today = clock.today()
    black_rule = catalogue.rule_set_for(ListType.BLACK, today)
    red_rule = catalogue.rule_set_for(ListType.RED, today)
    if black_rule is None or red_rule is None:
        raise CatalogueError([CatalogueProblem("rulesets.yml", "rule_sets", f"{today} 无适用规则")])
    with db.session_scope(engine) as session:
        black_batch, black_ids = _black_batch(session, settings, catalogue, clock, black_rule.id)
        red_batch, red_ids = _red_batch(session, catalogue, clock, red_rule.id)
    say(
        f"3. 批次已录入：黑名单 {len(black_ids)} 条（规则 {black_rule.id}），"
        f"红名单 {len(red_ids)} 条"
    )

    move(black_ids, Event.NOTIFY, PROPOSER)
    with db.session_scope(engine) as session:
        due = session.execute(
            sa.select(col(Listing.defence_due)).where(col(Listing.id) == black_ids[0])
        ).scalar_one()
    say(f"4. 已告知当事人，陈述申辩期限 {due}（{catalogue.time_limits.defence_wd} 个工作日）")
    try:
        move(black_ids, Event.AWAIT_CONFIRMATION, PROPOSER)
    except TransitionRefused as exc:
        transitions["refused"] += 1
        say(f"   [yellow]拒绝（预期）[/]：{next(iter(exc.refusals.values()))[0]}")
    clock.set(_morning_after(due))
    say(f"   时钟拨至 {clock.today()}，申辩期届满")
    move(black_ids, Event.AWAIT_CONFIRMATION, PROPOSER)
    try:
        move(black_ids, Event.CONFIRM, PROPOSER, decision_number="川应急信认〔2026〕1号")
    except TransitionRefused as exc:
        transitions["refused"] += 1
        say(f"   [yellow]拒绝（预期）[/]：{next(iter(exc.refusals.values()))[0]}")
    move(black_ids, Event.CONFIRM, REVIEWER, decision_number="川应急信认〔2026〕1号")
    move(black_ids, Event.PUBLISH, REVIEWER)
    move(red_ids, Event.AWAIT_CONFIRMATION, PROPOSER)
    move(red_ids, Event.CONFIRM, REVIEWER)
    move(red_ids, Event.PUBLISH, REVIEWER)
    with db.session_scope(engine) as session:
        expiry = session.execute(
            sa.select(col(Listing.expires_on)).where(col(Listing.id) == black_ids[0])
        ).scalar_one()
        states = {
            "black": listing_states(session, batch_id=black_batch),
            "red": listing_states(session, batch_id=red_batch),
        }
    say(f"5. 审核人 {REVIEWER} 认定并公开；黑名单有效期至 {expiry}")
    dispatch = _dispatch_preview(catalogue, calendar, black_rule.id, clock.today(), say)
    with db.session_scope(engine) as session:
        chain = audit.verify(session)
    engine.dispose()
    mark = "[green]完整[/]" if chain.ok else f"[red]断裂于 {chain.first_bad_seq}[/]"
    say(f"7. 审计链校验（audit chain）：{chain.checked} 条事件，{mark}")
    summary = Table(title="演示结果（summary）")
    summary.add_column("项目")
    summary.add_column("结果")
    summary.add_row("名单状态（黑）", _fmt(states["black"]))
    summary.add_row("名单状态（红）", _fmt(states["red"]))
    summary.add_row(
        "状态变更", f"{transitions['applied']} 次成功，{transitions['refused']} 次按规则拒绝"
    )
    summary.add_row("待推送部门", f"{len(dispatch)} 个（{black_rule.id} 适用的备忘录）")
    summary.add_row("审计事件", f"{chain.checked} 条，哈希链{'完整' if chain.ok else '断裂'}")
    summary.add_row("数据库", str(path))
    say(summary)
    say("下一步：`make test` 运行全部测试；`jointcredit --help` 查看命令。")
    return {
        "database": str(path),
        "deadline_examples": examples,
        "uscc_examples": usccs,
        "listing_states": states,
        "transitions": transitions,
        "expires_on": expiry,
        "dispatch_preview": dispatch,
        "audit": {"ok": chain.ok, "events": chain.checked},
    }


def _deadline_examples(calendar: WorkingCalendar, say: Say) -> list[dict[str, Any]]:
    rows = []
    for start in (date(2026, 9, 30), date(2026, 12, 28)):
        result = calendar.add_working_days(start, 5)
        rows.append(
            {"from": start, "working_days": 5, "due": result.due, "provisional": result.provisional}
        )
        say(f"2. {start} 起 5 个工作日 → {result.label}")
        if result.warning:
            say(f"   [yellow]警告[/]：{result.warning}")
    return rows


def _uscc_examples(say: Say) -> list[dict[str, str]]:
    rows = []
    for code in ("91512081MA62K0260E", "91350100M0001TGQXM", "12345"):
        check = check_uscc(code)
        rows.append({"code": code, "status": check.status.value})
        say(f"   代码 {code}：{check.message}")
    return rows


def _demo_batch(
    session: Session, catalogue: Catalogue, clock: FrozenClock, rule_set: str, reporter: str
) -> int:
    list_type = catalogue.rule_sets[rule_set].list_type
    return add_batch(
        session,
        reference=f"DEMO-{str(list_type).upper()}-{clock.today():%Y%m%d}",
        list_type=list_type,
        rule_set=rule_set,
        source_kind="demo",
        source_name="演示数据",
        reporter=reporter,
        proposed_by=PROPOSER,
        catalogue_hash=catalogue.content_hash,
        created_at=clock.now(),
    )


def _unit_listing(
    session: Session,
    catalogue: Catalogue,
    clock: FrozenClock,
    batch: int,
    rule_set: str,
    unit: Unit,
) -> tuple[int, dict[str, Any]]:
    """Register a unit by its USCC and draft its listing; returns (subject id, listing row)."""
    name, code, region, industry, grounds = unit
    check = check_uscc(code)
    subject = add_subject(
        session,
        kind=SubjectKind.UNIT,
        name=name,
        uscc=check.code,
        uscc_status=check.status.value,
        region_code=region,
        industry=industry,
        created_at=clock.now(),
    )
    row = _listing(batch, subject, rule_set, grounds, catalogue, clock.now(), check.needs_review)
    return subject, row


def _black_batch(
    session: Session, settings: Settings, catalogue: Catalogue, clock: FrozenClock, rule_set: str
) -> tuple[int, list[int]]:
    batch = _demo_batch(session, catalogue, clock, rule_set, "四川省应急管理厅")
    units = [_unit_listing(session, catalogue, clock, batch, rule_set, u) for u in BLACK_UNITS]
    name, number, role, grounds = BLACK_PERSON
    person_id = check_resident_id(number, settings.id_hash_key.get_secret_value())
    person = add_subject(
        session,
        kind=SubjectKind.PERSON,
        name=f"{name}（{role}）",
        id_hash=person_id.lookup_hash,
        id_masked=person_id.masked,
        unit_id=units[0][0],
        created_at=clock.now(),
    )
    rows = [row for _, row in units]
    rows.append(_listing(batch, person, rule_set, grounds, catalogue, clock.now(), False))
    return batch, add_listings(session, rows=rows)


def _red_batch(
    session: Session, catalogue: Catalogue, clock: FrozenClock, rule_set: str
) -> tuple[int, list[int]]:
    batch = _demo_batch(session, catalogue, clock, rule_set, "浙江省应急管理厅")
    _, row = _unit_listing(session, catalogue, clock, batch, rule_set, RED_UNIT)
    return batch, add_listings(session, rows=[row])


def _listing(
    batch: int,
    subject: int,
    rule_set: str,
    grounds: list[str],
    catalogue: Catalogue,
    now: Any,
    needs_review: bool,
) -> dict[str, Any]:
    list_type = catalogue.rule_sets[rule_set].list_type
    return {
        "subject_id": subject,
        "batch_id": batch,
        "list_type": list_type,
        "rule_set": rule_set,
        "grounds": grounds,
        "typical_case": list_type == "black",
        "needs_review": needs_review,
        "warnings": ["统一社会信用代码校验位不符，需人工确认"] if needs_review else [],
        "proposed_at": now,
        "proposed_by": PROPOSER,
        "catalogue_hash": catalogue.content_hash,
        "updated_at": now,
    }


def _morning_after(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), BUSINESS_TZ).replace(
        hour=9
    )


def _dispatch_preview(
    catalogue: Catalogue, calendar: WorkingCalendar, rule_set: str, today: date, say: Say
) -> list[dict[str, Any]]:
    table = Table(title=f"6. 推送预览（dispatch preview）：{today} 推送时各部门期限")
    for column in ("部门", "备忘录", "措施数", "响应期限", "反馈期限"):
        table.add_column(column)
    rows: list[dict[str, Any]] = []
    unknown_years: set[int] = set()
    for memo in catalogue.memoranda_for(rule_set):
        for department in catalogue.departments_of(memo.id):
            due = action_deadlines(calendar, catalogue.sla_for(department), today)
            measures = catalogue.measures_for(memo.id, department)
            name = catalogue.departments[department].short_name
            table.add_row(
                name, memo.document_number, str(len(measures)), due.ack.label, due.feedback.label
            )
            rows.append(
                {
                    "department": department,
                    "memorandum": memo.id,
                    "ack_due": due.ack.due,
                    "feedback_due": due.feedback.due,
                    "provisional": due.feedback.provisional,
                }
            )
            unknown_years.update(due.feedback.unknown_years)
    say(table)
    if unknown_years:
        say(f"   [yellow]警告[/]：{calendar.warning_for(unknown_years)}")
    return rows


def _fmt(states: dict[str, int]) -> str:
    return "，".join(f"{state} {count}" for state, count in sorted(states.items()))
