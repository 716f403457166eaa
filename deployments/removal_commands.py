"""`jointcredit removal …`, `jointcredit objection …` and `jointcredit screen`.

Every command is one transaction through the same core the `review-removals` flow uses, and
prints what changed; refusals (too early, wrong state, no reason) are one clear message with
exit code 2 and, where the rules give one, the earliest date that would be accepted.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from deployments.console import JsonFlag, emit_json, operator, out, reported
from registry.errors import IdentifierError
from registry.identifiers import (
    check_resident_id,
    check_uscc,
    is_resident_id,
    shown_identifier,
)
from registry.references import resolve_listing
from registry.removal import (
    apply_for_removal,
    decide_objection,
    file_objection,
    restore_after_fraud,
)
from registry.routing import Routing, StepResult
from registry.screening import Screening, screen
from registry.vocabulary import LIST_TYPE_LABELS, NOTICE_KIND_LABELS, label
from service import (
    Runtime,
    opened_runtime,
    removal_decision,
    require_ready_database,
    run_core,
    run_query,
)

removal_app = typer.Typer(help="移出名单（removal）", no_args_is_help=True)
objection_app = typer.Typer(help="异议（objections）", no_args_is_help=True)

ListingArg = Annotated[
    str,
    typer.Argument(help="名单编号，或函件中的“批次号-编号”（listing id or reference）"),
]
Reviewer = Annotated[str, typer.Option("--reviewer", help="审核人（reviewer）")]


def _listing(runtime: Runtime, typed: str) -> tuple[int, str]:
    """The listing as typed — its id or the reference the letters print — or `NotFound`."""
    return run_query(runtime, lambda session: resolve_listing(session, typed))


def _report(result: StepResult, as_json: bool, done: str) -> None:
    if as_json:
        emit_json(result.as_dict())
        return
    out.print(
        f"{done}：{len(result.moved)} 条名单；解除函涉及部门事项 {result.actions_created}，"
        f"入队通知 {result.notices_queued}"
    )
    for kind, listing in result.for_post:
        out.print(
            f"  名单 {listing} 的{label(NOTICE_KIND_LABELS, kind)}须邮寄或直接送达"
            "（jointcredit notice print）"
        )


@removal_app.command("review")
def review(as_json: JsonFlag = False) -> None:
    """运行一次移出审查，不等待操作员（run review-removals once）。"""
    with reported(as_json):
        require_ready_database()
        from flows.removal import review_removals  # Prefect only for the commands that run it

        result = asyncio.run(review_removals(wait_for_operator=False))
    if as_json:
        emit_json(result)
        return
    out.print(f"期满进入审查 {result['review']['moved']} 条，等待操作员决定 {result['pending']} 条")


@removal_app.command("apply")
def apply(
    listing: ListingArg,
    evidence: Annotated[str, typer.Option("--evidence", help="证明材料说明（evidence）")],
    commitment: Annotated[
        str, typer.Option("--commitment", help="公开信用承诺（public credit commitment）")
    ],
    as_json: JsonFlag = False,
) -> None:
    """登记当事人的移出 / 提前移出申请（record an application to leave the list）。"""
    with reported(as_json), opened_runtime() as runtime:
        listing_id, reference = _listing(runtime, listing)
        application = run_core(
            runtime,
            lambda session, routing: apply_for_removal(
                session, listing_id, evidence=evidence, commitment=commitment, routing=routing
            ),
            actor=operator(),
            source="cli:removal apply",
        )
    if as_json:
        emit_json({**application.as_dict(), "listing_reference": reference})
        return
    out.print(
        f"已登记申请 #{application.id}（名单 {listing_id}，{reference}），"
        f"应于 {application.decide_due.isoformat()} 前作出决定"
    )


@removal_app.command("decide")
def decide(
    listing: ListingArg,
    reviewer: Reviewer,
    approve: Annotated[bool, typer.Option("--approve/--refuse", help="同意 / 不同意移出")],
    reason: Annotated[str | None, typer.Option("--reason", help="理由（reason）")] = None,
    as_json: JsonFlag = False,
) -> None:
    """对移出审查中的名单作出决定（decide a listing in removal review）。"""
    with reported(as_json), opened_runtime() as runtime:
        listing_id, _ = _listing(runtime, listing)
        decision = removal_decision([listing_id], approve=approve, reviewer=reviewer, reason=reason)
        result = run_core(runtime, decision, actor=reviewer, source="cli:removal decide")
    _report(result, as_json, "已移出" if approve else "维持在名单中")


@removal_app.command("restore")
def restore(
    listing: ListingArg,
    reviewer: Reviewer,
    reason: Annotated[str, typer.Option("--reason", help="认定欺诈的理由（reason）")],
    as_json: JsonFlag = False,
) -> None:
    """提前移出系以欺诈取得：恢复名单，原有效期不变（restore after fraud）。"""
    with reported(as_json), opened_runtime() as runtime:
        listing_id, _ = _listing(runtime, listing)
        result = run_core(
            runtime,
            lambda session, routing: restore_after_fraud(
                session, listing_id, reviewer=reviewer, reason=reason, routing=routing
            ),
            actor=reviewer,
            source="cli:removal restore",
        )
    _report(result, as_json, "已恢复")


@objection_app.command("file")
def objection_file(
    listing: ListingArg,
    filed_by: Annotated[str, typer.Option("--by", help="异议人（who objects）")],
    reason: Annotated[str, typer.Option("--reason", help="异议理由（grounds）")],
    as_json: JsonFlag = False,
) -> None:
    """登记异议，自动计算答复期限（file an objection）。"""

    with reported(as_json), opened_runtime() as runtime:
        listing_id, reference = _listing(runtime, listing)

        def operation(session: Any, routing: Routing) -> int:
            return file_objection(
                session, listing_id, filed_by=filed_by, reason=reason, routing=routing
            )

        objection_id = run_core(runtime, operation, actor=operator(), source="cli:objection")
    if as_json:
        emit_json(
            {"objection_id": objection_id, "listing_id": listing_id, "listing_reference": reference}
        )
        return
    out.print(f"已登记异议 #{objection_id}（名单 {listing_id}，{reference}）")


@objection_app.command("decide")
def objection_decide(
    objection: Annotated[int, typer.Argument(help="异议编号（objection id）")],
    reviewer: Reviewer,
    upheld: Annotated[bool, typer.Option("--upheld/--dismissed", help="异议成立 / 不成立")],
    reason: Annotated[str, typer.Option("--reason", help="处理理由（reason）")],
    as_json: JsonFlag = False,
) -> None:
    """处理异议：成立则撤销列入并通知各部门解除措施（decide an objection）。"""
    with reported(as_json), opened_runtime() as runtime:
        result = run_core(
            runtime,
            lambda session, routing: decide_objection(
                session, objection, upheld=upheld, reviewer=reviewer, reason=reason, routing=routing
            ),
            actor=reviewer,
            source="cli:objection decide",
        )
    _report(result, as_json, "异议成立，已撤销" if upheld else "异议不成立")


def screen_command(
    identifier: Annotated[
        str, typer.Argument(help="统一社会信用代码或身份证号（USCC or resident ID number）")
    ],
    department: Annotated[
        str | None, typer.Option("--department", help="只看本部门的措施（department code）")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """查询主体今日是否处于联合奖惩措施之下（is this subject under measures today）。"""
    with reported(as_json), opened_runtime() as runtime:
        code = identifier.strip().upper()
        uscc: str | None = code
        id_hash: str | None = None
        shown = shown_identifier(code)
        if is_resident_id(code):  # a person: looked up by the keyed hash, shown masked
            person = check_resident_id(code, runtime.settings.id_hash_key.get_secret_value())
            uscc, id_hash, shown = None, person.lookup_hash, person.masked
        elif not check_uscc(code).accepted:
            raise IdentifierError(
                f"既不是有效的统一社会信用代码，也不是有效的身份证号（not a USCC or ID）：{shown}",
                value=shown,
            )
        result = run_query(
            runtime,
            lambda session: screen(
                session,
                catalogue=runtime.catalogue,
                today=runtime.clock.today(),
                uscc=uscc,
                id_hash=id_hash,
                shown_as=shown,
                department=department,
            ),
        )
    if as_json:
        emit_json(result.as_dict())
        return
    asking = None
    if result.department is not None:
        asking = f"{runtime.catalogue.departments[result.department].name}（{result.department}）"
    _show_screening(result, asking)


def _show_screening(result: Screening, department: str | None) -> None:
    """The measures in force and every listing in force they do not cover: a department with
    no measure of its own for a subject on the black list is told it is on the black list."""
    for row in result.suspended_red:  # never sanction and incentive at once
        out.print(
            escape(f"{result.identifier}（{result.subject_name}）")
            + f"红名单 {row['listing_id']}（{row['reference']}）不在施：{escape(row['reason'])}；"
            "各部门仅适用联合惩戒措施，不得给予激励"
        )
    if not result.listings:
        out.print(f"{result.identifier}：今日（{result.checked_on}）无在施的联合奖惩措施")
        return
    if result.measures:
        table = Table(title=escape(f"{result.subject_name}（{result.identifier}）今日在施措施"))
        for column in ("名单", "部门", "措施", "起", "止"):
            table.add_column(column, overflow="fold")
        for m in result.measures:
            table.add_row(
                f"{m.listing_id}（{m.reference}，{'黑' if m.list_type == 'black' else '红'}）",
                escape(m.department_name),
                escape(m.text),
                str(m.since or ""),
                str(m.until or ""),
            )
        out.print(table)
    covered = {m.listing_id for m in result.measures}
    uncovered = sorted(
        (row for row in result.listings if row["listing_id"] not in covered),
        key=lambda row: (row["list_type"] != "black", row["listing_id"]),
    )
    for row in uncovered:
        out.print(
            escape(f"{result.identifier}（{result.subject_name}）")
            + f"今日（{result.checked_on}）在{label(LIST_TYPE_LABELS, row['list_type'])}上："
            f"名单 {row['listing_id']}（{row['reference']}），"
            f"自 {row['since'] or '—'} 起至 {row['until'] or '长期'}"
        )
    if uncovered:
        black = any(row["list_type"] == "black" for row in uncovered)
        out.print(
            f"{department or '各部门'}依适用于该主体的备忘录今日无在施措施"
            + ("；该主体仍在黑名单上，不等于无失信记录" if black else "")
        )
