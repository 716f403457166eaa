"""`jointcredit`: the operator's command line (Typer). Chinese first, English in brackets.

Every command takes `--json` for scripts and other departments' systems. Errors from the core
are printed as one clear message (and as JSON with `--json`) with exit code 2; nothing here
holds business rules — commands read settings, call the core, commit, and print.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.engine import make_url

from deployments.audit_commands import audit_app
from deployments.console import (
    JointcreditApp,
    JsonFlag,
    emit_json,
    err,
    operator,
    out,
    reported,
)
from deployments.contact_commands import contact_app
from deployments.import_commands import import_file_command
from deployments.inbox_commands import inbox
from deployments.notice_commands import notice_app
from deployments.ops_commands import serve_command, up_command
from deployments.outbox_commands import mail_sink, outbox_app
from deployments.removal_commands import objection_app, removal_app, screen_command
from deployments.report_commands import report_app
from deployments.respond_commands import respond
from deployments.route_commands import confirm, route
from deployments.sla_commands import sla_app
from deployments.view_commands import archive, batch_app, listing_app
from memoranda.loader import Catalogue, load_catalogue
from registry import db
from registry.calendar import WorkingCalendar
from registry.clock import clock_from_settings
from registry.errors import CalendarError
from registry.identifiers import UsccStatus, check_uscc
from registry.repository import recompute_provisional_deadlines
from registry.settings import Settings, get_settings
from service import opened_runtime, run_query

app = JointcreditApp(
    help="安全生产守信联合激励与失信联合惩戒（joint reward and sanction in work safety）",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="数据库（database）", no_args_is_help=True)
catalogue_app = typer.Typer(help="备忘录目录（memoranda catalogue）", no_args_is_help=True)
uscc_app = typer.Typer(help="统一社会信用代码（unified social credit code）", no_args_is_help=True)
calendar_app = typer.Typer(help="工作日日历（working-day calendar）", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(uscc_app, name="uscc")
app.add_typer(calendar_app, name="calendar")
app.add_typer(outbox_app, name="outbox")
app.add_typer(contact_app, name="contact")
app.add_typer(notice_app, name="notice")
app.command("mail-sink")(mail_sink)
app.command("import")(import_file_command)
app.command("route")(route)
app.command("confirm")(confirm)
app.add_typer(batch_app, name="batch")
app.add_typer(listing_app, name="listing")
app.command("archive")(archive)
app.command("inbox")(inbox)
app.add_typer(removal_app, name="removal")
app.add_typer(objection_app, name="objection")
app.command("screen")(screen_command)
app.add_typer(report_app, name="report")
app.command("respond")(respond)
app.add_typer(sla_app, name="sla")
app.add_typer(audit_app, name="audit")
app.command("serve")(serve_command)
app.command("up")(up_command)


def load_context() -> tuple[Settings, Catalogue, WorkingCalendar]:
    settings = get_settings()
    catalogue = load_catalogue(settings.catalogue_dir)
    calendar = WorkingCalendar(catalogue.calendar_years, settings.calendar_dir)
    return settings, catalogue, calendar


# --- db ----------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(as_json: JsonFlag = False) -> None:
    """升级数据库结构到最新版本（migrate the schema to the latest revision）。"""
    with reported(as_json):
        settings = get_settings()
        engine = db.make_engine(settings.database_url)
        before = db.current_revision(engine)
        db.upgrade(settings.database_url)
        revision = db.current_revision(engine)
        engine.dispose()
    url = _safe_url(settings.database_url)
    if as_json:
        emit_json({"database": url, "revision": revision, "previous": before})
    elif before == revision:
        out.print(f"数据库已是最新版本，无需升级（schema already at {revision}）：{url}")
    elif before is None:
        out.print(f"已创建数据库结构，版本 {revision}（schema created）：{url}")
    else:
        out.print(
            f"数据库结构已从版本 {before} 升级到 {revision}"
            f"（schema upgraded from {before} to {revision}）：{url}"
        )


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


# --- catalogue ---------------------------------------------------------------------------


@catalogue_app.command("validate")
def catalogue_validate(as_json: JsonFlag = False) -> None:
    """校验备忘录、部门、规则与日历文件（validate every catalogue file）。"""
    with reported(as_json):
        settings = get_settings()
        catalogue = load_catalogue(settings.catalogue_dir)
    summary = catalogue_summary(catalogue)
    if as_json:
        emit_json(summary)
        return
    table = Table(title=f"备忘录目录有效（catalogue valid） 哈希 {catalogue.content_hash[:12]}")
    for column in ("备忘录", "文号", "名单", "签署部门", "现部门", "措施", "待核实"):
        table.add_column(column, overflow="fold")
    for memo in summary["memoranda"]:
        table.add_row(
            memo["title"][:24] + "…",
            memo["document_number"] or memo["article"] or "—",
            memo["list_type"],
            str(memo["department_count"]),
            str(memo["current_department_count"]),
            str(memo["measure_count"]),
            str(memo["unverified_measure_count"]),
        )
    out.print(table)
    out.print(
        f"部门 {len(catalogue.departments)} 个；规则 {', '.join(catalogue.rule_sets)}；"
        f"补充日历年份 {sorted(catalogue.calendar_years) or '无'}"
    )
    unverified = catalogue.unverified_entries()
    out.print(f"待核实条目 {len(unverified)} 项（不作为事实写入文书）：")
    for entry in unverified:
        out.print(f"  - {entry}", markup=False)


def catalogue_summary(catalogue: Catalogue) -> dict[str, Any]:
    return {
        "directory": str(catalogue.directory),
        "content_hash": catalogue.content_hash,
        "department_count": len(catalogue.departments),
        "rule_sets": [
            {"id": r.id, "kind": r.kind, "list_type": r.list_type, "term_months": r.term_months}
            for r in catalogue.rule_sets.values()
        ],
        "calendar_years": sorted(catalogue.calendar_years),
        "unverified": catalogue.unverified_entries(),
        "memoranda": [
            {
                "id": m.id,
                "title": m.title,
                "document_number": m.document_number,
                "article": m.article,
                "list_type": m.list_type,
                "rule_sets": m.rule_sets,
                "status": m.status,
                "department_count": len(m.signatories),
                "current_department_count": len(catalogue.departments_of(m.id)),
                "departments": [
                    {
                        "as_signed": s.as_signed,
                        "department": s.department,
                        "current_name": catalogue.departments[s.department].short_name,
                        "status": s.status,
                    }
                    for s in m.signatories
                ],
                "measure_count": len(m.measures),
                "unverified_measure_count": sum(x.status == "unverified" for x in m.measures),
            }
            for m in catalogue.memoranda.values()
        ],
    }


# --- uscc --------------------------------------------------------------------------------


@uscc_app.command("check")
def uscc_check(
    code: Annotated[str, typer.Argument(help="18位统一社会信用代码（the USCC）")],
    as_json: JsonFlag = False,
) -> None:
    """校验统一社会信用代码：有效 / 校验位不符（警告） / 格式错误（check a USCC）。"""
    result = check_uscc(code)
    if as_json:
        emit_json(
            {
                "code": result.code,
                "status": result.status.value,
                "accepted": result.accepted,
                "needs_review": result.needs_review,
                "expected_check": result.expected_check,
                "message": result.message,
            }
        )
    else:
        style = {
            UsccStatus.VALID: "[green]有效[/]",
            UsccStatus.CHECK_MISMATCH: "[yellow]警告[/]",
            UsccStatus.INVALID_FORMAT: "[red]无效[/]",
        }[result.status]
        out.print(f"{style} {result.code}：{result.message}")
    if result.status is UsccStatus.INVALID_FORMAT:
        raise typer.Exit(1)


# --- deadlines and the calendar ---------------------------------------------------------


@app.command("deadline")
def deadline(
    start: Annotated[
        str, typer.Option("--from", help="起算日 YYYY-MM-DD（start date, not counted）")
    ],
    working_days: Annotated[int, typer.Option("--working-days", help="工作日数（working days）")],
    as_json: JsonFlag = False,
) -> None:
    """计算 N 个工作日后的期限（the date N working days after a date）。"""
    with reported(as_json):
        start_day = _parse_date(start, "--from")
        _, _, calendar = load_context()
        result = calendar.add_working_days(start_day, working_days)
    if as_json:
        emit_json(
            {
                "from": start_day.isoformat(),
                "working_days": working_days,
                "due": result.due.isoformat(),
                "provisional": result.provisional,
                "unknown_years": list(result.unknown_years),
                "warning": result.warning,
            }
        )
        return
    out.print(result.due.isoformat() + ("（暂定 provisional）" if result.provisional else ""))
    if result.warning:
        err.print(f"[yellow]警告：[/]{result.warning}")


def _parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CalendarError(
            f"{option} 的日期无效：{text!r}，应为 YYYY-MM-DD（invalid date for {option}）",
            option=option,
            value=text,
        ) from exc


@calendar_app.command("status")
def calendar_status(as_json: JsonFlag = False) -> None:
    """列出已知的节假日年份（which holiday years are known）。"""
    with reported(as_json):
        settings, catalogue, calendar = load_context()
    payload = {
        "known_years": calendar.known_years,
        "operator_years": sorted(catalogue.calendar_years),
        "calendar_dir": str(settings.calendar_dir),
        "next_year_known": calendar.knows(clock_from_settings(settings).today().year + 1),
    }
    if as_json:
        emit_json(payload)
        return
    years = calendar.known_years
    out.print(f"已知年份（known years）：{years[0]}–{years[-1]}")
    out.print(f"操作员补充的年份（operator files）：{payload['operator_years'] or '无'}")
    next_year = clock_from_settings(settings).today().year + 1
    if not calendar.knows(next_year):
        err.print(f"[yellow]警告：[/]{calendar.warning_for([next_year])}")


@calendar_app.command("reload")
def calendar_reload(as_json: JsonFlag = False) -> None:
    """按最新日历重算所有暂定期限（recompute every provisional deadline）。"""
    with reported(as_json), opened_runtime() as runtime:
        calendar = runtime.calendar
        report = run_query(
            runtime,
            lambda session: recompute_provisional_deadlines(
                session,
                calendar=runtime.calendar,
                limits=runtime.catalogue.time_limits,
                actor=operator(),
                now=runtime.clock.now(),
            ),
        )
    rows = [r.__dict__ for r in report]
    if as_json:
        emit_json({"known_years": calendar.known_years, "deadlines": rows})
        return
    table = Table(title="暂定期限重算（provisional deadlines recomputed）")
    for column in ("期限", "暂定的", "已确定", "仍暂定"):
        table.add_column(column, overflow="fold")
    for r in report:
        table.add_row(r.label, str(r.checked), str(r.settled), str(r.still_provisional))
    out.print(table)


# --- demo --------------------------------------------------------------------------------


@app.command("demo")
def demo(as_json: JsonFlag = False) -> None:
    """演示：导入、告知、确认、推送、投递、答复、巡查、移出、月报，一条命令走完（the demo）。"""
    from deployments.demo import run_demo

    with reported(as_json):
        report = run_demo(get_settings(), say=_say(as_json))
    if as_json:
        emit_json(report)


def _say(as_json: bool) -> Callable[[Any], None]:
    def say(renderable: Any) -> None:
        if not as_json:
            out.print(renderable, soft_wrap=isinstance(renderable, str))

    return say


def main() -> None:  # pragma: no cover - console script wrapper
    app()
