"""`jointcredit notice served` / `notice print`: service (送达) of letters by post or in person.

A letter to a party who has not agreed to electronic service (行政处罚法第六十一条) is stored
for post; `notice print` writes it as a printable page, and once it reached the party the
operator records the date and method with `notice served` (audited; a 告知书's defence window
then runs from that date). `--failed --reason` records a failed attempt (退回、拒收).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from deployments.console import JsonFlag, emit_json, err, operator, out, reported
from notifications.print_letters import index_html, letters_html
from registry.errors import JointcreditError
from registry.service_of_notices import ServiceMethod, service_label
from registry.vocabulary import NOTICE_KIND_LABELS, label
from service.notices import letters_to_print, record_notice_service
from service.runtime import opened_runtime

notice_app = typer.Typer(help="文书送达（service of letters）", no_args_is_help=True)

_METHODS = {"post": ServiceMethod.POST, "in_person": ServiceMethod.IN_PERSON}


class NoticeCommandError(JointcreditError):
    """Bad arguments to a `notice` command."""


def _service_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise NoticeCommandError(
            f"送达日期应为 YYYY-MM-DD（--on must be a date）：{text}", field="on"
        ) from None


def _method(text: str | None) -> ServiceMethod | None:
    if text is None:
        return None
    found = _METHODS.get(text.strip())
    if found is None:
        raise NoticeCommandError(
            f"送达方式应为 post（邮寄）或 in_person（直接送达）（--method）：{text}",
            field="method",
        )
    return found


@notice_app.command("served")
def served(
    reference: Annotated[str, typer.Argument(help="通知编号或发文字号（notice id or number）")],
    on: Annotated[str | None, typer.Option("--on", help="送达日期 YYYY-MM-DD")] = None,
    method: Annotated[
        str | None, typer.Option("--method", help="post（邮寄）或 in_person（直接送达）")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="挂号信单号、签收人等（note）")] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="记录送达失败（record a failed service）")
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="送达失败原因")] = None,
    by: Annotated[str | None, typer.Option("--by", help="记录人（operator）")] = None,
    as_json: JsonFlag = False,
) -> None:
    """记录文书已邮寄或直接送达，或送达失败（record service of a letter）。"""
    with reported(as_json):
        if failed and (on is not None or method is not None):
            raise NoticeCommandError("--failed 不能与 --on/--method 同用（use one or the other）")
        if failed and not (reason and reason.strip()):
            raise NoticeCommandError("须说明送达失败的原因（--reason）", field="reason")
        served_on, how = _service_date(on), _method(method)
        if not failed and (served_on is None or how is None):
            raise NoticeCommandError(
                "须给出 --on 送达日期 和 --method post|in_person（或 --failed --reason）",
                field="on",
            )
        with opened_runtime() as runtime:
            outcome = record_notice_service(
                runtime,
                reference,
                served_on=served_on,
                method=how,
                note=note,
                failed_reason=reason if failed else None,
                recorded_by=by or operator(),
                source="cli:notice served",
            )
    if as_json:
        emit_json(outcome.as_dict())
        return
    what = f"通知 {outcome.notice_id}（{label(NOTICE_KIND_LABELS, outcome.kind)}）"
    out.print(f"{what}：{service_label(outcome.state, outcome.served_on, outcome.method)}")
    if outcome.defence_due is not None and outcome.defence_opened:
        out.print(f"名单 {outcome.listing_id} 陈述申辩期至 {outcome.defence_due.isoformat()}")


@notice_app.command("print")
def print_letters(
    out_dir: Annotated[Path, typer.Option("--out", help="输出目录（output folder）")],
    batch: Annotated[str | None, typer.Option("--batch", help="批次编号或批次号")] = None,
    notice: Annotated[str | None, typer.Option("--notice", help="通知编号或发文字号")] = None,
    as_json: JsonFlag = False,
) -> None:
    """打印须邮寄或直接送达的文书（HTML，A4 版式）及待送达清单（print letters for post）。"""
    with reported(as_json):
        if batch is not None and notice is not None:
            raise NoticeCommandError("--batch 与 --notice 只能给出一个（give one of them）")
        with opened_runtime() as runtime:
            letters = letters_to_print(runtime, batch=batch, notice=notice)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            for done, letter in enumerate(letters, start=1):
                (out_dir / letter.file_name).write_text(letters_html([letter]), encoding="utf-8")
                if not as_json and (done % 100 == 0 or done == len(letters)):
                    err.print(f"已写出 {done}/{len(letters)} 份文书")
            (out_dir / "all.html").write_text(letters_html(letters), encoding="utf-8")
            (out_dir / "index.html").write_text(index_html(letters), encoding="utf-8")
        except OSError as error:
            raise NoticeCommandError(
                f"无法写入输出目录 {out_dir}（cannot write）：{error.strerror}", field="out"
            ) from None
    if as_json:
        emit_json({"letters": len(letters), "out": str(out_dir)})
        return
    if not letters:
        err.print("[yellow]没有须邮寄或直接送达的文书（nothing to print）[/]")
    out.print(f"已写出 {len(letters)} 份文书及清单：{escape(str(out_dir / 'index.html'))}")
