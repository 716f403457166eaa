"""Numbers the authority puts on what it issues: a letter's 发文字号 and a listing decision's 文号.

A number reads `{prefix}{word}〔{year}〕{n}号` — 机关代字, the kind's word, the year in 六角括号 and
a sequence number without 第 or leading zeros (GB/T 9704-2012《党政机关公文格式》7.2.4 发文字号).
The sequence is per authority, kind and year (`number_sequence`), and the year is the business
year (Asia/Shanghai) of the letter's or the decision's date, so numbering restarts each year.

Numbers are reserved set-based: one `INSERT … ON CONFLICT DO UPDATE SET last = last + :count
RETURNING last` per (authority, kind, year) hands out `count` consecutive numbers at once, in the
caller's transaction. The upsert takes PostgreSQL's row lock (SQLite's write lock), so two
transactions never get the same number, and a rolled-back transaction frees what it took.

A listing decision's number comes from the sequence of the letter that carries it (black:
the 决定书, red: the 红名单告知), shown as that letter's 发文字号: one decision, one number.
The 处罚决定书文号 the listing rests on is another authority's number and is never drawn here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from registry.errors import JointcreditError
from registry.models import ListType, NumberSequence
from registry.vocabulary import NOTICE_NUMBER_WORDS, NoticeKind

SEQUENCE = cast(sa.Table, sa.inspect(NumberSequence).local_table)

DEFAULT_WORDS: Mapping[str, str] = NOTICE_NUMBER_WORDS
"""The word after the prefix, per notice kind (`JOINTCREDIT_NUMBER_WORDS` overrides any of them).
Every kind has one: `tests/unit/test_numbering.py` fails on a kind without a word."""

DECISION_KINDS: Mapping[str, NoticeKind] = {
    ListType.BLACK: NoticeKind.LISTING_DECISION,
    ListType.RED: NoticeKind.RED_AWARD,
}
"""Whose sequence a listing decision takes its number from, by list type."""

_AUTHORITY_SUFFIXES = ("管理局", "管理厅", "管理部", "局", "厅", "部", "委员会", "委")
_FORBIDDEN = set("〔〕[]()（）号") | {" ", "\u3000"}
WORD_MAX = 8
PREFIX_MAX = 20


class NumberingError(JointcreditError):
    """A number cannot be formed: a kind without a word, or a prefix or word that is not one."""


def default_prefix(authority: str) -> str:
    """机关代字 derived from the authority's name: 应急管理局 → 应急. Operators who use a short
    form (川应急) set `JOINTCREDIT_NUMBER_PREFIX`."""
    name = authority.strip()
    for suffix in _AUTHORITY_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def check_part(value: str, what: str, limit: int) -> str:
    """A prefix or word: one short run of characters, no brackets, spaces or 号 of its own."""
    text = value.strip()
    bad = sorted(set(text) & _FORBIDDEN)
    if not text or len(text) > limit or bad or not text.isprintable():
        raise NumberingError(
            f"{what}「{value}」无效：应为 1–{limit} 个字符，不含空格、括号或“号”"
            f"（invalid number {what}）",
            value=value,
        )
    return text


def checked_words(overrides: Mapping[str, str]) -> dict[str, str]:
    """The default words with `overrides` applied; an unknown kind or a bad word is refused."""
    known = {kind.value for kind in NoticeKind}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise NumberingError(
            f"发文字号用字中有未知的文书类型：{'、'.join(unknown)}；可用：{'、'.join(sorted(known))}"
            "（unknown notice kind in number words）",
            kinds=unknown,
        )
    words = {str(kind): word for kind, word in DEFAULT_WORDS.items()}
    for kind, word in overrides.items():
        words[kind] = check_part(word, f"文书类型 {kind} 的代字", WORD_MAX)
    # Two kinds with one word would print the same numbers from two sequences.
    shared = sorted({w for w in words.values() if list(words.values()).count(w) > 1})
    if shared:
        raise NumberingError(
            f"发文字号用字重复：{'、'.join(shared)}，各类文书的代字须互不相同"
            "（two notice kinds share a number word）",
            words=shared,
        )
    return words


@dataclass(frozen=True)
class Numbering:
    """One authority's numbers: its sequences and how a number is written."""

    authority: str
    prefix: str
    words: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_WORDS))

    @classmethod
    def for_authority(
        cls, authority: str, prefix: str | None = None, words: Mapping[str, str] | None = None
    ) -> Numbering:
        return cls(
            authority=authority,
            prefix=prefix if prefix is not None else default_prefix(authority),
            words=checked_words(words or {}),
        )

    def render(self, kind: str, year: int, n: int) -> str:
        word = self.words.get(kind)
        if word is None:
            raise NumberingError(
                f"文书类型 {kind} 没有发文字号代字（no number word for this kind）", kind=kind
            )
        return f"{self.prefix}{word}〔{year}〕{n}号"

    def issue(self, session: Session, kind: str, year: int, count: int) -> list[str]:
        """`count` new numbers of `kind` for `year`, in order; one statement; never commits."""
        self.render(kind, year, 0)  # a kind without a word takes no number from its sequence
        # The sequence belongs to the prefix the numbers print, not to the authority's name: a
        # renamed office, or two offices printing one prefix, go on counting and never repeat.
        first = reserve(session, authority=self.prefix, kind=kind, year=year, count=count)
        return [self.render(kind, year, n) for n in range(first, first + count)]


def reserve(session: Session, *, authority: str, kind: str, year: int, count: int) -> int:
    """Take the next `count` numbers of one sequence; returns the first (1 in a new year)."""
    if count <= 0:
        return 1
    insert: Any = (
        postgresql.insert(SEQUENCE)
        if session.get_bind().dialect.name == "postgresql"
        else sqlite.insert(SEQUENCE)
    )
    statement = (
        insert.values(authority=authority, kind=kind, year=year, last=count)
        .on_conflict_do_update(
            index_elements=[SEQUENCE.c.authority, SEQUENCE.c.kind, SEQUENCE.c.year],
            set_={"last": SEQUENCE.c.last + count},
        )
        .returning(SEQUENCE.c.last)
    )
    last = int(session.execute(statement).scalar_one())
    return last - count + 1
