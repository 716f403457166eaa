"""One home per word: every code a user can see has its Chinese label, and only one home.

- Every notice kind has its three templates, a context model and a label.
- Every listing, action and notice state, removal reason, route step and response kind (and
  list type and subject kind) has a Chinese label in its one table.
- No label table names a code that is not a member of its enum (a typo, or a member removed).
- No module outside the homes defines its own enum of these codes (as `NoticeKindName` and
  `SlaClock` once did): a subset is a `Literal` of the members, not a second enum.
- No module outside `registry/vocabulary.py` keeps its own label table for these codes: it
  imports the one there (`registry/responses/requests.py` keeps the outcomes of feedback).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from enum import StrEnum

import pytest

from notifications.render import TEMPLATE_DIR, context_model
from registry import vocabulary
from registry.models import ActionState, ListingState, ListType, NoticeState, SubjectKind
from registry.responses.requests import OUTCOME_LABELS, Outcome
from registry.vocabulary import NoticeKind, RemovalReason, ResponseKind, Step
from tests.conftest import REPO

CHINESE = re.compile(r"[\u4e00-\u9fff]")

COMPLETE: dict[str, tuple[type[StrEnum], Mapping[str, str]]] = {
    "LIST_TYPE_LABELS": (ListType, vocabulary.LIST_TYPE_LABELS),
    "SUBJECT_KIND_LABELS": (SubjectKind, vocabulary.SUBJECT_KIND_LABELS),
    "LISTING_STATE_LABELS": (ListingState, vocabulary.LISTING_STATE_LABELS),
    "ACTION_STATE_LABELS": (ActionState, vocabulary.ACTION_STATE_LABELS),
    "NOTICE_STATE_LABELS": (NoticeState, vocabulary.NOTICE_STATE_LABELS),
    "NOTICE_KIND_LABELS": (NoticeKind, vocabulary.NOTICE_KIND_LABELS),
    "REMOVAL_REASON_LABELS": (RemovalReason, vocabulary.REMOVAL_REASON_LABELS),
    "REMOVAL_REASON_STATEMENTS": (RemovalReason, vocabulary.REMOVAL_REASON_STATEMENTS),
    "STEP_LABELS": (Step, vocabulary.STEP_LABELS),
    "RESPONSE_KIND_LABELS": (ResponseKind, vocabulary.RESPONSE_KIND_LABELS),
    "OUTCOME_LABELS": (Outcome, OUTCOME_LABELS),
}
"""Tables that must label every member of their enum."""

PARTIAL: dict[str, tuple[type[StrEnum], Mapping[str, str]]] = {
    "REMOVAL_REVIEW_REASON_LABELS": (RemovalReason, vocabulary.REMOVAL_REVIEW_REASON_LABELS),
}
"""Tables that label only some members (only some reasons wait for an operator)."""

HOMES = {"registry/vocabulary.py", "registry/responses/requests.py"}
ENUM_HOMES = {*HOMES, "registry/models.py"}
PROJECT = ("memoranda", "registry", "notifications", "service", "tasks", "flows", "deployments")


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_every_notice_kind_has_templates_a_context_and_a_label(kind: NoticeKind) -> None:
    missing = [
        f"{kind}{suffix}"
        for suffix in (".subject", ".txt", ".html")
        if not (TEMPLATE_DIR / f"{kind}{suffix}").is_file()
    ]
    assert missing == [], f"templates missing for {kind}"
    try:
        context_model(kind)
    except KeyError:
        pytest.fail(f"{kind} has no context model in notifications.render")
    assert CHINESE.search(vocabulary.NOTICE_KIND_LABELS.get(kind, "")), f"{kind} has no label"


@pytest.mark.parametrize("table", sorted(COMPLETE))
def test_every_member_has_a_chinese_label(table: str) -> None:
    enum, labels = COMPLETE[table]
    unlabelled = [m.value for m in enum if not CHINESE.search(labels.get(m, ""))]
    assert unlabelled == [], f"{table} has no Chinese label for {unlabelled}"


@pytest.mark.parametrize("table", sorted({**COMPLETE, **PARTIAL}))
def test_no_table_labels_a_code_that_is_not_a_member(table: str) -> None:
    enum, labels = {**COMPLETE, **PARTIAL}[table]
    members = {m.value for m in enum}
    strays = sorted(str(code) for code in labels if code not in members)
    assert strays == [], f"{table} labels codes that are not {enum.__name__} members: {strays}"
    assert all(isinstance(code, enum) for code in labels), f"{table} keys are not enum members"


GUARDED: dict[str, type[StrEnum]] = {
    enum.__name__: enum for enum, _ in (*COMPLETE.values(), *PARTIAL.values())
}


def _key_code(key: ast.expr | None) -> str | None:
    """The stored code a dict key spells: `"expiry"`, `Step.NOTIFY` or `Step.NOTIFY.value`."""
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        return key.value
    if isinstance(key, ast.Attribute) and key.attr == "value":
        key = key.value
    if isinstance(key, ast.Attribute) and isinstance(key.value, ast.Name):
        enum = GUARDED.get(key.value.id)
        if enum is not None and key.attr in enum.__members__:
            return enum[key.attr].value
    return None


def label_copies(source: str) -> set[str]:
    """The dict literals in `source` that label codes of one guarded enum in Chinese, by the
    name they are assigned to (or their line)."""
    guarded = [frozenset(m.value for m in enum) for enum in GUARDED.values()]
    tree = ast.parse(source)
    names: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Dict):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            named = [t.id for t in targets if isinstance(t, ast.Name)]
            if named:
                names[id(node.value)] = named[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict) or len(node.keys) < 2:
            continue
        codes = [_key_code(k) for k in node.keys]
        if None in codes or not any(
            isinstance(v, ast.Constant) and CHINESE.search(str(v.value)) for v in node.values
        ):
            continue
        if any(set(codes) <= members for members in guarded):
            found.add(names.get(id(node), f"line {node.lineno}"))
    return found


def test_no_module_keeps_its_own_copy_of_a_label_table() -> None:
    copies = {
        rel: names
        for top in PROJECT
        for path in sorted(REPO.joinpath(top).rglob("*.py"))
        if (rel := str(path.relative_to(REPO))) not in HOMES
        if (names := label_copies(path.read_text(encoding="utf-8")))
    }
    assert copies == {}, "import these labels from registry.vocabulary instead"


def test_the_copy_finder_finds_copies_however_their_keys_are_spelt() -> None:
    source = """
STATE_LABELS = {"queued": "待发送", "sent": "已发出"}
ORDER = {Step.NOTIFY: "告知", Step.DECIDE.value: "操作员决定"}
def label(self) -> str:
    return {"ack": "响应", "feedback": "反馈", "lift": "解除确认"}[self.value]
NOT_LABELS = {"queued": 1, "sent": 2}
OTHER_CODES = {"listing": "名单", "audit": "操作记录"}
"""
    assert label_copies(source) == {"STATE_LABELS", "ORDER", "line 5"}


def enum_copies(source: str) -> set[str]:
    """Enum classes in `source` whose values are all codes of one guarded enum."""
    guarded = [frozenset(m.value for m in enum) for enum in GUARDED.values()]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        if not any(isinstance(b, ast.Name) and b.id.endswith("Enum") for b in node.bases):
            continue
        values = {
            item.value.value
            for item in node.body
            if isinstance(item, ast.Assign)
            and isinstance(item.value, ast.Constant)
            and isinstance(item.value.value, str)
        }
        if len(values) >= 2 and any(values <= members for members in guarded):
            found.add(node.name)
    return found


def test_no_module_defines_its_own_enum_of_these_codes() -> None:
    copies = {
        rel: names
        for top in PROJECT
        for path in sorted(REPO.joinpath(top).rglob("*.py"))
        if (rel := str(path.relative_to(REPO))) not in ENUM_HOMES
        if (names := enum_copies(path.read_text(encoding="utf-8")))
    }
    assert copies == {}, "use the enum in registry.vocabulary (a Literal of it for a subset)"


def test_the_enum_finder_finds_a_subset_copy() -> None:
    source = """
class SlaNoticeKind(StrEnum):
    REMINDER = "reminder"
    ESCALATION = "escalation"
class Waiting(StrEnum):
    OPERATOR = "operator"
    NOTHING = "nothing"
"""
    assert enum_copies(source) == {"SlaNoticeKind"}
