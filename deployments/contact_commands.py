"""`jointcredit contact set`: correct a subject's or a department's mailbox.

A notice whose address could not be delivered to waits (`bad_address`, or `failed` after a
5xx refusal); correcting the contact stores the new mailbox, writes it to the audit trail and
re-queues exactly that recipient's waiting notices, which the next drain sends.
"""

from __future__ import annotations

from typing import Annotated

import typer

from deployments.console import JsonFlag, emit_json, err, operator, out, reported
from registry.errors import JointcreditError
from service import correct_contact, opened_runtime

contact_app = typer.Typer(help="联系人邮箱（contacts）", no_args_is_help=True)


class ContactTargetError(JointcreditError):
    """`contact set` needs exactly one of --subject and --department."""


@contact_app.command("set")
def set_contact(
    address: Annotated[str, typer.Option("--address", help="更正后的邮箱（corrected address）")],
    subject: Annotated[
        str | None,
        typer.Option("--subject", help="主体编号或统一社会信用代码（subject id or USCC）"),
    ] = None,
    department: Annotated[
        str | None,
        typer.Option("--department", help="部门代码，如 ndrc（department code）"),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """更正主体或部门的联系邮箱，并重新排队该收件人被搁置的通知（correct a mailbox, requeue）。"""
    with reported(as_json):
        if (subject is None) == (department is None):
            raise ContactTargetError(
                "请指定 --subject 或 --department 之一（give exactly one of them）"
            )
        with opened_runtime() as runtime:
            result = correct_contact(
                runtime,
                address,
                subject=subject,
                department=department,
                actor=operator(),
                source="cli:contact set",
            )
    if as_json:
        emit_json(result.as_dict())
        return
    change = result.change
    whose = "主体" if change.entity_type == "subject" else "部门"
    out.print(
        f"已更正{whose} {change.name}（{change.entity_id}）的邮箱："
        f"{change.before or '（无）'} → {change.after}"
    )
    if change.cleared_flags:
        out.print(f"已清除退信标记（refusal flags cleared）：{'、'.join(change.cleared_flags)}")
    if result.requeued:
        out.print(
            f"已重新排队 {len(result.requeued)} 封通知（requeued）："
            f"{', '.join(map(str, result.requeued))}；下次投递时发出（jointcredit outbox drain）。"
        )
    else:
        err.print("[yellow]该收件人没有被搁置的通知（nothing parked for this recipient）[/]")
