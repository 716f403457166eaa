"""What a deliverable mail address is: the one rule for every address we hold or send to.

Import, the outbox, the SMTP sender, `contact set`, the settings (sender, authority and report
recipients) and the catalogue's department mailboxes all ask this module. It lives in the lowest
layer so that the catalogue (`memoranda.schema`) can use it without importing `registry`.

An address that import accepts must be one the outbox can enqueue and the relay can be handed,
or one bad cell blocks a whole routing step (issue 13). The rule is RFC 5321's mailbox, narrowed
to what a Chinese regulator's mail actually needs (docs/reliability.md, "Contact addresses"):

- **One address per cell**, no spaces, no display name, no `;` or `,` lists.
- **Half-width only.** A full-width or CJK punctuation mark (`。` `；` `＠` `．`) is refused with
  the character named: an input method slipped, and guessing what was meant is not our call.
- **Local part** (before `@`): ASCII dot-atom, at most 64 characters. A Chinese local part would
  need SMTPUTF8 (RFC 6531) all the way to the recipient's mailbox, which most relays and
  government mail systems do not offer: refused at import, with that reason.
- **Domain**: at least two labels, no trailing dot (a DNS root dot is not part of a mailbox),
  letters, digits and hyphens (no `_`), no address literal. An internationalised domain
  (`江岸冶金.中国`) is accepted and sent properly: it is kept as written and converted to its
  IDNA 2008 A-labels (`xn--…`) when the message is built.

Pure: no database, no I/O, nothing of ours imported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import idna

MAX_ADDRESS = 254
MAX_LOCAL = 64
MAX_DOMAIN = 253

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*$")
_LDH_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")


@dataclass(frozen=True)
class MailAddress:
    """A deliverable address: `text` as stored and shown, `ascii` as put on the wire."""

    text: str
    ascii: str

    @property
    def domain(self) -> str:
        return self.text.rpartition("@")[2]


@dataclass(frozen=True)
class AddressProblem:
    """Why an address cannot be delivered to, in Chinese and in English."""

    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh}（{self.en}）"


def _full_width(text: str) -> str | None:
    """The first full-width form or CJK punctuation mark in `text` (U+3000–303F, U+FF00–FFEF)."""
    for char in text:
        if "\u3000" <= char <= "\u303f" or "\uff00" <= char <= "\uffef":
            return char
    return None


def check_address(raw: str) -> MailAddress | AddressProblem:
    """The deliverable address `raw` names (outer spaces stripped), or why there is none."""
    text = raw.strip()
    if not text:
        return AddressProblem("邮箱为空", "empty address")
    if len(text) > MAX_ADDRESS:
        return AddressProblem(
            f"邮箱格式无效：超过 {MAX_ADDRESS} 个字符", f"longer than {MAX_ADDRESS} characters"
        )
    wide = _full_width(text)
    if wide is not None:
        where = "末尾多了" if text.endswith(wide) else "含有"
        return AddressProblem(
            f"邮箱格式无效：{where}全角字符或中文标点“{wide}”，请改用半角字符",
            f"full-width character {wide!r} (U+{ord(wide):04X})",
        )
    if _SPACE_OR_CONTROL.search(text):
        return AddressProblem("邮箱格式无效：含空格或不可见字符", "contains a space or control")
    if ";" in text or "," in text:
        return AddressProblem(
            "邮箱格式无效：一格只能填写一个邮箱，不能含“;”或“,”", "one address per cell"
        )
    local, at, domain = text.rpartition("@")
    if not at or "@" in local:
        return AddressProblem("邮箱格式无效：应含且只含一个“@”", "needs exactly one @")
    problem = _local_problem(local)
    if problem is not None:
        return problem
    ascii_domain = _ascii_domain(domain)
    if isinstance(ascii_domain, AddressProblem):
        return ascii_domain
    ascii_text = f"{local}@{ascii_domain}"
    if len(ascii_text) > MAX_ADDRESS:
        return AddressProblem(
            f"邮箱格式无效：转换为发送格式后超过 {MAX_ADDRESS} 个字符",
            f"longer than {MAX_ADDRESS} characters once encoded",
        )
    return MailAddress(text=text, ascii=ascii_text)


def _local_problem(local: str) -> AddressProblem | None:
    if not local:
        return AddressProblem("邮箱格式无效：“@”之前缺少用户名", "missing local part")
    if not local.isascii():
        return AddressProblem(
            "邮箱格式无效：“@”之前的用户名含中文或其他非 ASCII 字符，多数邮件服务器无法投递"
            "（需要 SMTPUTF8），请填写英文用户名的邮箱",
            "non-ASCII local part needs SMTPUTF8",
        )
    if len(local) > MAX_LOCAL or not _DOT_ATOM.match(local):
        return AddressProblem(
            "邮箱格式无效：“@”之前的用户名含不允许的字符或多余的“.”",
            "invalid local part",
        )
    return None


def _ascii_domain(domain: str) -> str | AddressProblem:
    """The domain in A-labels, lower case; or why it cannot be a mail domain."""
    if not domain:
        return AddressProblem("邮箱格式无效：“@”之后缺少域名", "missing domain")
    if domain.startswith("["):
        return AddressProblem("邮箱格式无效：不接受 IP 地址形式的域名", "address literal")
    if domain.endswith("."):
        return AddressProblem("邮箱格式无效：域名末尾多了“.”，请删除", "trailing dot in domain")
    labels = domain.split(".")
    if len(labels) < 2:
        return AddressProblem(
            "邮箱格式无效：域名应至少含一个“.”（如 example.org）", "domain needs a dot"
        )
    encoded = []
    for label in labels:
        found = _ascii_label(label)
        if isinstance(found, AddressProblem):
            return found
        encoded.append(found)
    if encoded[-1].isdigit():
        return AddressProblem("邮箱格式无效：域名最后一段不能全是数字", "numeric top-level label")
    ascii_domain = ".".join(encoded)
    if len(ascii_domain) > MAX_DOMAIN:
        return AddressProblem("邮箱格式无效：域名过长", "domain too long")
    return ascii_domain


def _ascii_label(label: str) -> str | AddressProblem:
    if not label:
        return AddressProblem("邮箱格式无效：域名中有连续的“.”", "empty domain label")
    if "_" in label:
        return AddressProblem("邮箱格式无效：域名不能含下划线“_”", "underscore in domain")
    if label.isascii():
        lowered = label.lower()
        if not _LDH_LABEL.match(lowered):
            return AddressProblem(
                f"邮箱格式无效：域名中的“{label}”只能含字母、数字和中间的“-”",
                f"invalid domain label {label!r}",
            )
        if lowered.startswith("xn--") and not _valid_a_label(lowered):
            return AddressProblem(
                f"邮箱格式无效：域名中的“{label}”不是有效的国际化域名编码",
                f"invalid A-label {label!r}",
            )
        return lowered
    try:
        # IDNA 2008 proper, not UTS-46's mapping: a label UTS-46 would rewrite (ⓐ → a, ① → 1,
        # ﬁ → fi, an invisible soft hyphen dropped) is refused, not silently sent elsewhere.
        return idna.encode(label.lower(), uts46=False).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return AddressProblem(
            f"邮箱格式无效：域名中的“{label}”不是有效的国际化域名",
            f"invalid internationalised label {label!r}",
        )


def _valid_a_label(label: str) -> bool:
    """An `xn--` label that decodes to a valid U-label and encodes back to itself."""
    try:
        return bool(idna.encode(idna.decode(label), uts46=False).decode("ascii") == label)
    except (idna.IDNAError, UnicodeError):
        return False


def checked_mailbox(value: str, whose: str = "") -> str:
    """`value` as stored (outer spaces stripped), or a ValueError whose text says in Chinese
    why it cannot be used: how the catalogue's and the settings' pydantic models apply the rule
    (`whose` names the holder, e.g. "部门 mem 的")."""
    found = check_address(value)
    if isinstance(found, AddressProblem):
        raise ValueError(f"{whose}邮箱无法使用：{found}")
    return found.text


def deliverable(raw: str) -> MailAddress | None:
    """The address to send to, or None when `raw` cannot be delivered to."""
    found = check_address(raw)
    return found if isinstance(found, MailAddress) else None
