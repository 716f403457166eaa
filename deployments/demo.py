"""`jointcredit demo` (`make demo`): the whole mission in one command, on embedded defaults only.

A fresh SQLite database (`var/demo.db`), the ephemeral Prefect engine, the local mail sink
(`var/mail/`) and a frozen clock that the demo moves forward like the calendar on an office
wall. Every step is the real flow an agency would run:

1. November 2023 — a batch is reported, noticed, confirmed, published and dispatched; the
   departments acknowledge and report back. Its three-year terms end in November 2026.
2. November 2026 — the main batch (black and red, units and a person, three bad rows) is
   imported; prior notices go out by e-mail to the parties who agreed to electronic service
   (同意电子送达) and are served when the mail server accepts them; the one party who did not
   agree (the person) gets his letters printed (`var/print/`) and served by post, recorded by
   an operator two working days later (行政处罚法第六十一条). When the defence windows — each
   from its own service date — have lapsed an operator confirms, rejecting one listing; the
   rest is published and dispatched to every memorandum department.
3. Some departments answer, others do not; on 27 November the SLA sweep sends reminders, the
   removal review removes the 2023 listings (lift requests to every department), the monthly
   report is written, and every queued notice is delivered into `var/mail/`.

The summary is read back from the database and the mail folder, so it can be checked against
both.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.table import Table
from sqlmodel import Session, col

from notifications.print_letters import index_html, letters_html
from notifications.sink import free_port, message_id_counts, running_sink
from registry import audit, db
from registry.clock import BUSINESS_TZ
from registry.errors import ConfigurationError
from registry.models import DepartmentAction, Listing, Notice
from registry.responses import record_responses, response_request
from registry.routing import Decision
from registry.service_of_notices import ServiceMethod
from registry.settings import Settings
from registry.vocabulary import ACTION_STATE_LABELS, LISTING_STATE_LABELS, NOTICE_KIND_LABELS, label
from service import opened_runtime, record_decision, run_query
from service.notices import letters_to_print, record_notice_service

DATA = Path(__file__).parent / "demo_data"
PROPOSER = "省应急管理厅执法总队 张伟"
REVIEWER = "省应急管理厅信用办 李娜"
Say = Callable[[Any], None]

# The office calendar the demo walks through (Asia/Shanghai, 09:00 each day).
REPORTED_2023 = "2023-11-06"
CONFIRMED_2023 = "2023-11-20"
REPORTED_2026 = "2026-11-02"
POSTED_2026 = "2026-11-04"  # the 告知书 sent by post reaches its party (2 working days)
CONFIRMED_2026 = "2026-11-16"
DECISION_POSTED_2026 = "2026-11-18"  # and the 决定书 after it
ANSWERED_2026 = "2026-11-20"
TODAY = "2026-11-27"
REPORT_MONTH = "2026-11"
DEMO_ANCHOR = "demo-audit-anchor.log"
"""The demo's own anchor file beside `demo.db`: replaced with it, never the real one's."""


def run_demo(settings: Settings, *, say: Say) -> dict[str, Any]:
    refuse_in_production(settings)  # before anything is deleted or written
    data_dir = settings.data_dir
    database = data_dir / "demo.db"
    mail = data_dir / "mail"
    printed = data_dir / "print"  # the letters for post, as `jointcredit notice print` writes
    anchor = data_dir / DEMO_ANCHOR  # the demo database's heads, not the real one's
    stale_files = ("demo.db-wal", "demo.db-shm", anchor.name)
    for stale in (database, *(database.with_name(name) for name in stale_files)):
        stale.unlink(missing_ok=True)
    shutil.rmtree(mail, ignore_errors=True)
    shutil.rmtree(printed, ignore_errors=True)
    url = f"sqlite:///{database}"
    db.upgrade(url)
    say(f"[bold]jointcredit 演示[/]  数据库 {database}  邮件目录 {mail}")
    with (
        running_sink(mail, port=free_port()) as sink,
        _environment(
            JOINTCREDIT_DATABASE_URL=url,
            JOINTCREDIT_DATA_DIR=str(data_dir),
            JOINTCREDIT_AUDIT_ANCHOR_PATH=str(anchor),
            JOINTCREDIT_SMTP_HOST=sink.host,
            JOINTCREDIT_SMTP_PORT=str(sink.port),
            JOINTCREDIT_SMTP_TLS="none",
            PREFECT_LOGGING_LEVEL="WARNING",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
        ),
    ):
        return asyncio.run(_walk(database, mail, say))


async def _walk(database: Path, mail: Path, say: Say) -> dict[str, Any]:
    # Prefect is imported here, after the environment is set, never at CLI start-up.
    from flows.deliver import deliver_notices
    from flows.intake import intake_batch
    from flows.removal import review_removals
    from flows.report import monthly_report
    from flows.responses import record_responses as record_responses_flow
    from flows.route import route_batch
    from flows.sla import sweep_sla

    _at(REPORTED_2023)
    say(f"1. {REPORTED_2023}：导入 2023 年批次并告知当事人（intake-batch）")
    old = await intake_batch(str(DATA / "batch-2023.csv"), proposed_by=PROPOSER)
    sent = [await deliver_notices()]  # served by e-mail today: the windows run from today
    _at(CONFIRMED_2023)
    say(f"2. {CONFIRMED_2023}：申辩期满，操作员确认，公开并推送各部门（route-batch）")
    await route_batch(old["batch_id"], wait_for_operator=False)
    _confirm(old["batch_id"], rejections={})
    await route_batch(old["batch_id"], wait_for_operator=False)
    sent.append(await deliver_notices())  # the decisions and push letters leave the same day
    answered_2023 = _departments_answer_everything(old["batch_id"])
    say(f"   各部门已响应并反馈 2023 年批次的 {answered_2023} 项事项")

    _at(REPORTED_2026)
    say(f"3. {REPORTED_2026}：导入 2026 年批次（含 3 行问题数据），发出告知书")
    new = await intake_batch(str(DATA / "batch-2026.csv"), proposed_by=PROPOSER)
    say(
        f"   接收 {new['accepted']} 条（其中 {new['needs_review']} 条需人工核对），"
        f"隔离 {new['rejected']} 行 → {new['quarantine_path']}"
    )
    sent.append(await deliver_notices())
    _at(POSTED_2026)
    posted = _serve_by_post(new["batch_id"], database.with_name("print"), POSTED_2026)
    say(f"   {POSTED_2026}：未同意电子送达的当事人，告知书打印邮寄，记录邮寄送达 {posted} 份")
    _at(CONFIRMED_2026)
    say(f"4. {CONFIRMED_2026}：申辩期满；操作员确认，1 条不予列入；公开并推送各部门")
    await route_batch(new["batch_id"], wait_for_operator=False)
    rejected = _listing_named(new["batch_id"], "青岛黄岛烟花爆竹有限公司")
    _confirm(new["batch_id"], rejections={rejected: "检测报告真伪尚待司法鉴定，暂不列入"})
    routed = await route_batch(new["batch_id"], wait_for_operator=False)
    sent.append(await deliver_notices())
    _at(DECISION_POSTED_2026)
    posted += _serve_by_post(new["batch_id"], database.with_name("print"), DECISION_POSTED_2026)
    say(f"   {DECISION_POSTED_2026}：决定书打印邮寄，记录邮寄送达")

    _at(ANSWERED_2026)
    say(f"5. {ANSWERED_2026}：部分部门答复（record-responses）")
    await record_responses_flow(
        department="mem", response="ack", batch_id=new["batch_id"], recorded_by="演示"
    )
    await record_responses_flow(
        department="ndrc",
        response="feedback",
        batch_id=new["batch_id"],
        feedback="已在企业信用信息公示系统标注，并列为重点监管对象。",
        recorded_by="演示",
    )
    say(f"   {ANSWERED_2026}：2023 年批次管理期限届满，移出审查（review-removals）")
    removals = await review_removals(wait_for_operator=False)
    sent.append(await deliver_notices())

    _at(TODAY)
    say(f"6. {TODAY}：SLA 巡查（sweep-sla）、月报（monthly-report）")
    swept = await sweep_sla()
    report = await monthly_report(month=REPORT_MONTH)
    say("7. 投递全部通知到本地收信服务（deliver-notices）")
    sent.append(await deliver_notices())
    delivered = {"sent": sum(run["sent"] for run in sent)}
    return _summary(database, mail, old, new, routed, swept, removals, report, delivered, say)


def refuse_in_production(settings: Settings) -> None:
    """The demo replaces `var/demo.db` and `var/mail/` and freezes the clock: never in production.

    Checked before anything on disk is touched, so a refused demo leaves the data dir as it was.
    """
    if settings.env == "production":
        raise ConfigurationError(
            "生产环境不能运行演示：演示会清空数据目录中的演示库与邮件目录"
            f"（{settings.data_dir / 'mail'}），请在开发环境中运行"
            "（the demo is refused when JOINTCREDIT_ENV=production）",
            env=settings.env,
        )


def _confirm(batch_id: int, *, rejections: dict[int, str]) -> None:
    """What `jointcredit confirm` does: the operator's decision through the same step."""
    with opened_runtime() as runtime:
        record_decision(
            runtime,
            batch_id,
            Decision(REVIEWER, rejections=rejections),
            source="demo:confirm",
        )


def _serve_by_post(batch_id: int, folder: Path, served_on: str) -> int:
    """What an operator does for a party without consent to electronic service: `jointcredit
    notice print --batch` (the printable letters and their 送达回证), then `notice served --method
    post` for each letter that reached the party. Returns how many were recorded."""
    with opened_runtime() as runtime:
        letters = [
            letter
            for letter in letters_to_print(runtime, batch=str(batch_id))
            if letter.service == "未送达"
        ]
        folder.mkdir(parents=True, exist_ok=True)
        for letter in letters:
            (folder / letter.file_name).write_text(letters_html([letter]), encoding="utf-8")
        (folder / "index.html").write_text(index_html(letters), encoding="utf-8")
        for letter in letters:
            record_notice_service(
                runtime,
                str(letter.notice_id),
                served_on=date.fromisoformat(served_on),
                method=ServiceMethod.POST,
                note=f"挂号信 演示{letter.notice_id:06d}",
                failed_reason=None,
                recorded_by="省应急管理厅信用办 王芳",
                source="demo:notice served",
            )
    return len(letters)


def _departments_answer_everything(batch_id: int) -> int:
    with opened_runtime() as runtime:

        def answer(session: Session) -> int:
            departments = session.execute(
                sa.select(col(DepartmentAction.department))
                .join(Listing, col(Listing.id) == col(DepartmentAction.listing_id))
                .where(col(Listing.batch_id) == batch_id)
                .distinct()
            ).scalars()
            responses = [
                response_request(department=d, kind=kind, batch_id=batch_id, feedback=text)
                for d in sorted(departments)
                for kind, text in (("ack", None), ("feedback", "已按备忘录实施相应措施。"))
            ]
            result = record_responses(
                session,
                responses=responses,
                catalogue=runtime.catalogue,
                clock=runtime.clock,
                recorded_by="演示：各部门",
                source="demo",
            )
            return int(result.as_dict()["recorded"]) // 2

        return run_query(runtime, answer)


def _listing_named(batch_id: int, name: str) -> int:
    with opened_runtime() as runtime:
        return run_query(
            runtime,
            lambda session: int(
                session.execute(
                    sa.text(
                        "SELECT l.id FROM listing l JOIN subject s ON s.id = l.subject_id "
                        "WHERE l.batch_id = :batch AND s.name = :name"
                    ),
                    {"batch": batch_id, "name": name},
                ).scalar_one()
            ),
        )


def _summary(
    database: Path,
    mail: Path,
    old: dict[str, Any],
    new: dict[str, Any],
    routed: dict[str, Any],
    swept: dict[str, Any],
    removals: dict[str, Any],
    report: dict[str, Any],
    delivered: dict[str, Any],
    say: Say,
) -> dict[str, Any]:
    engine = db.make_engine(f"sqlite:///{database}")
    with db.session_scope(engine) as session:
        states = {
            batch: dict(
                Counter(
                    session.execute(
                        sa.select(col(Listing.state)).where(col(Listing.batch_id) == batch)
                    ).scalars()
                )
            )
            for batch in (old["batch_id"], new["batch_id"])
        }
        actions = dict(Counter(session.execute(sa.select(col(DepartmentAction.state))).scalars()))
        notices = dict(
            Counter(
                session.execute(
                    sa.select(col(Notice.kind)).where(col(Notice.state) == "sent")
                ).scalars()
            )
        )
        # Letters for post are never e-mailed: they count as served by post, not as unsent.
        unsent = session.execute(
            sa.select(sa.func.count()).where(
                col(Notice.state) != "sent", col(Notice.channel) == "email"
            )
        ).scalar_one()
        by_post = session.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(col(Notice.listing_id)))).where(
                col(Notice.channel) == "post",
                col(Notice.service_state) == "served",
                col(Notice.service_method) == "post",
            )
        ).one()
        chain = audit.verify(session)
    engine.dispose()
    arrived = message_id_counts(mail)
    total = report["figures"]["total"]
    summary = {
        "database": str(database),
        "mail_dir": str(mail),
        "batch_2023": {"id": old["batch_id"], "states": states[old["batch_id"]]},
        "batch_2026": {
            "id": new["batch_id"],
            "accepted": new["accepted"],
            "quarantined": new["rejected"],
            "quarantine_file": new["quarantine_path"],
            "states": states[new["batch_id"]],
        },
        "department_actions": actions,
        "notices_sent": notices,
        "notices_not_sent": unsent,
        "served_by_post": {"parties": by_post[1], "letters": by_post[0]},
        "mail_files": sum(arrived.values()),
        "distinct_message_ids": len(arrived),
        "reminders": swept.get("reminded", 0),
        "escalations": swept.get("escalated", 0),
        "removed": removals["review"]["moved"],
        "report": report["files"].get("report.html"),
        "report_total": {
            "red": total["red"],
            "black": total["black"],
            "typical": total["typical"],
            "ratio": total["ratio"],
            "below_target": report["figures"]["below_target"],
        },
        "delivered": delivered["sent"],
        "audit_events": chain.checked,
        "audit_anchor": str(database.with_name(DEMO_ANCHOR)),
        "audit_chain_ok": chain.ok,
        "waiting_on": routed["waiting_label"],
    }
    table = Table(title="演示结果（summary）")
    table.add_column("项目", overflow="fold")
    table.add_column("结果", overflow="fold")
    table.add_row("2023 年批次", _counted(states[old["batch_id"]], LISTING_STATE_LABELS))
    table.add_row(
        "2026 年批次",
        f"{_counted(states[new['batch_id']], LISTING_STATE_LABELS)}；隔离 {new['rejected']} 行",
    )
    table.add_row("部门事项", _counted(actions, ACTION_STATE_LABELS))
    table.add_row("催办 / 督办", f"{swept.get('reminded', 0)} / {swept.get('escalated', 0)}")
    table.add_row("期满移出", f"{removals['review']['moved']} 条")
    ratio = "—" if total["ratio"] is None else f"{total['ratio']:.0%}"
    table.add_row(
        f"{REPORT_MONTH} 月报",
        f"报送 {total['red'] + total['black']} 条（红 {total['red']}，黑 {total['black']}），"
        f"典型案例 {total['typical']} 条（{ratio}）；"
        f"未达标：{'、'.join(report['figures']['below_target']) or '无'}",
    )
    table.add_row("已发出通知", _counted(notices, NOTICE_KIND_LABELS))
    table.add_row("邮寄送达", f"{by_post[1]}（当事人 {by_post[1]} 名，文书 {by_post[0]} 份）")
    table.add_row("收信目录", f"{sum(arrived.values())} 封，{len(arrived)} 个不同 Message-ID")
    table.add_row("审计链", f"{chain.checked} 条事件，{'完整' if chain.ok else '已损坏'}")
    say(table)
    say(f"邮件：{mail}/    月报：{summary['report']}    隔离报告：{new['quarantine_path']}")
    say(
        "核对审计记录（哈希链、链外锚点、状态重放）：JOINTCREDIT_DATABASE_URL=sqlite:///"
        f"{database} JOINTCREDIT_AUDIT_ANCHOR_PATH={database.with_name(DEMO_ANCHOR)}"
        " jointcredit audit verify"
    )
    say("在界面中查看：jointcredit up（Prefect UI http://127.0.0.1:4200）")
    return summary


def _counted(counts: dict[str, int], labels: dict[str, str]) -> str:
    """`已移出 3，生效中 6`: stored codes as the operator reads them (the --json summary keeps
    the codes)."""
    return "，".join(f"{label(labels, code)} {n}" for code, n in sorted(counts.items())) or "—"


def _at(day: str) -> None:
    moment = datetime.fromisoformat(day).replace(hour=9, tzinfo=BUSINESS_TZ)
    os.environ["JOINTCREDIT_NOW"] = moment.isoformat()


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """The demo's settings, for the flows it runs in this process; restored afterwards."""
    saved = {name: os.environ.get(name) for name in [*values, "JOINTCREDIT_NOW"]}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
