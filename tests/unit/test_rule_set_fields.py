"""Every field of `rulesets.yml` is read by code, or says here why not (issue 12: rules as data).

Method: walk the schema from `RuleSetsFile` down through every nested model (`RuleSet`,
`Removal`, `Ground`, `TimeLimits`) and, for each field, search the text of the modules that use
the catalogue — `registry/`, `notifications/`, `memoranda/loader.py`, `service/`, `tasks/`,
`flows/`, `deployments/` (never `memoranda/schema.py`, which only declares the field) — for the
field read as an attribute of a name the code gives objects of that model (`OWNERS`:
`rule_set.term_months`, `removal.mode`, `limits.defence_wd`, `known[code].article` …). A bare
`.status` or `"note"` would also match other objects' fields (a notice's status, a listing's
note, a context's `list_name`), so the owner is part of the pattern. The search is textual: it
proves a reader exists, not that it runs — the routing and lifecycle tests prove that. A reader
that names its object otherwise is a reason to add the name to `OWNERS`, not to weaken it.

A field no code reads is either put to use where the behaviour already needs it, removed from
the YAML and the schema, or listed in `NOT_READ_BY_CODE` with the honest reason it stays.
"""

from __future__ import annotations

import re
import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from memoranda.schema import RuleSetsFile
from tests.conftest import REPO

READERS = [
    REPO / "registry",
    REPO / "notifications",
    REPO / "memoranda" / "loader.py",
    REPO / "service",
    REPO / "tasks",
    REPO / "flows",
    REPO / "deployments",
]

OWNERS: dict[str, str] = {
    "RuleSetsFile": r"rule_sets_file",
    "TimeLimits": r"limits|time_limits",
    "RuleSet": r"rule_set|rules|repair_rules|r|rule_sets\[[^\]]*\]",
    "Removal": r"removal",
    "Ground": r"g|ground|known\[code\]",
}
"""Per model, the names (regular expressions) under which the code reads its objects."""

_SOURCE_ONLY = (
    "a legal source or its verification tag (DESIGN.md §8: every figure carries its source or "
    "the tag of our default); no code shows it — its only reader is the content hash, stored "
    "on every listing as catalogue_hash, so a changed citation is a new version of the rules"
)
_NOT_ENFORCED = (
    "a DOMAIN.md §4 time limit no code enforces yet — a gap to close, not documentation; kept "
    "unchanged (issue 12 changes no time limit)"
)
NOT_READ_BY_CODE: dict[str, str] = {
    "RuleSetsFile.version": "the file format's version: the schema itself refuses any but 1",
    "RuleSet.status": _SOURCE_ONLY,
    "RuleSet.max_published_months": (
        "信用修复管理办法's upper bound for the 严重 tier (published <= 3 years) [S]; repair terms "
        "in letters state only the minimum, so " + _SOURCE_ONLY
    ),
    "TimeLimits.decision_wd": _NOT_ENFORCED,
    "TimeLimits.publication_wd": _NOT_ENFORCED,
    "TimeLimits.removal_push_wd": _NOT_ENFORCED,
    "TimeLimits.early_removal_accept_wd": _NOT_ENFORCED,
}
"""Fields kept although no code reads them, each with the reason."""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (list, Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in _models_in(arg)]
    return []


def schema_fields(root: type[BaseModel] = RuleSetsFile) -> list[tuple[str, str]]:
    """(model, field) for every field of `root` and of every model nested in it."""
    seen: list[type[BaseModel]] = []
    pending = [root]
    out: list[tuple[str, str]] = []
    while pending:
        model = pending.pop(0)
        if model in seen:
            continue
        seen.append(model)
        for name, info in model.model_fields.items():
            out.append((model.__name__, name))
            pending.extend(_models_in(info.annotation))
    return out


def _reader_text() -> str:
    files = [p for r in READERS for p in ([r] if r.is_file() else sorted(r.rglob("*.py")))]
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


def test_the_walk_reaches_every_nested_model() -> None:
    models = {model for model, _ in schema_fields()}
    assert models == {"RuleSetsFile", "TimeLimits", "RuleSet", "Removal", "Ground"} == set(OWNERS)


def _unread_fields() -> list[str]:
    text = _reader_text()
    return [
        f"{model}.{name}"
        for model, name in schema_fields()
        if not re.search(rf"(?<![A-Za-z0-9_])(?:{OWNERS[model]})\.{name}\b", text)
    ]


def test_every_rule_set_field_is_read_by_code() -> None:
    unread = [path for path in _unread_fields() if path not in NOT_READ_BY_CODE]
    assert unread == [], (
        f"no code reads {unread}: use it where the behaviour needs it, remove it from "
        "rulesets.yml and memoranda/schema.py, or say in NOT_READ_BY_CODE why it stays"
    )


def test_every_exception_is_still_unread() -> None:
    """A field code has come to read, or that is gone, leaves `NOT_READ_BY_CODE`."""
    assert set(NOT_READ_BY_CODE) - set(_unread_fields()) == set()
