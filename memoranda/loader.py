"""Load and cross-check the catalogue directory; every problem names its file and key.

Like opensanctions' zavod: YAML in, strict models out, duplicates and unknown references
rejected. PyYAML silently keeps the last of two equal mapping keys, so the loader uses a
SafeLoader that refuses them. The content hash (SHA-256 over every file's path and bytes) is
stored on what used the catalogue, so a listing says which version of the rules it followed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from memoranda.errors import CatalogueError, CatalogueProblem
from memoranda.schema import (
    CalendarYear,
    Department,
    DepartmentsFile,
    Measure,
    Memorandum,
    Office,
    RuleSet,
    RuleSetsFile,
    Sla,
    TimeLimits,
)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"重复的键 {key!r}（duplicate key）", key_node.start_mark
            )
        seen.add(key)
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node))


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True)
class Catalogue:
    """Everything the dispatcher, the lifecycle and the SLA clock read."""

    directory: Path
    departments: dict[str, Department]
    default_sla: Sla
    supervising_office: Office
    memoranda: dict[str, Memorandum]
    rule_sets: dict[str, RuleSet]
    time_limits: TimeLimits
    calendar_years: dict[int, CalendarYear]
    content_hash: str

    def sla_for(self, department: str) -> Sla:
        return self.departments[department].sla or self.default_sla

    def memoranda_for(self, rule_set: str) -> list[Memorandum]:
        return [m for m in self.memoranda.values() if rule_set in m.rule_sets]

    def measures_for(self, memorandum: str, department: str) -> list[Measure]:
        return [m for m in self.memoranda[memorandum].measures if m.department == department]

    def departments_of(self, memorandum: str) -> list[str]:
        """Present-day departments that receive dispatches under a memorandum, signing order."""
        return list(dict.fromkeys(s.department for s in self.memoranda[memorandum].signatories))

    def rule_set_for(self, list_type: str, decision_date: date) -> RuleSet | None:
        """The list rule-set in force on a decision date (every listing records it)."""
        for rule_set in self.rule_sets.values():
            if rule_set.list_type != list_type or rule_set.kind == "repair":
                continue
            if _in_force(rule_set, decision_date):
                return rule_set
        return None

    def repair_rule_for(self, decision_date: date) -> RuleSet | None:
        """The credit-repair rule in force on a listing's decision date, or None before any:
        a rule is never applied to a decision dated before it took effect (令第58号 until
        2026-03-31, 令第36号 from 2026-04-01)."""
        for rule_set in self.rule_sets.values():
            if rule_set.kind == "repair" and _in_force(rule_set, decision_date):
                return rule_set
        return None

    def unverified_entries(self) -> list[str]:
        """Every entry still tagged unverified, named for `catalogue validate` (DOMAIN.md §9:
        such entries are never stated in letters as fact)."""
        out: list[str] = []
        for rule_set in self.rule_sets.values():
            out.extend(
                f"rulesets.yml {rule_set.id} 认定依据 {g.code}：{g.article}"
                for g in rule_set.grounds
                if g.status == "unverified"
            )
        for memorandum in self.memoranda.values():
            out.extend(
                f"catalogue/{memorandum.id}.yml 签署部门 {s.department}（{s.as_signed}）"
                for s in memorandum.signatories
                if s.status == "unverified"
            )
            out.extend(
                f"catalogue/{memorandum.id}.yml 措施 {m.id}（{m.department}）：{m.text}"
                for m in memorandum.measures
                if m.status == "unverified" or m.basis.status == "unverified"
            )
        return out


def _in_force(rule_set: RuleSet, day: date) -> bool:
    return rule_set.effective_from <= day and (
        rule_set.effective_until is None or day <= rule_set.effective_until
    )


def load_catalogue(directory: Path) -> Catalogue:
    """Load every file under `directory`; raise one `CatalogueError` listing all problems."""
    problems: list[CatalogueProblem] = []
    if not directory.is_dir():
        raise CatalogueError(
            [CatalogueProblem(str(directory), "", "目录不存在（catalogue directory not found）")]
        )
    departments_file = _load(directory, directory / "departments.yml", DepartmentsFile, problems)
    rule_sets_file = _load(directory, directory / "rulesets.yml", RuleSetsFile, problems)
    memoranda = [
        (m, path)
        for path in sorted((directory / "catalogue").glob("*.yml"))
        if (m := _load(directory, path, Memorandum, problems)) is not None
    ]
    calendar_years = load_calendar_years(directory / "calendar", problems, base=directory)
    if not memoranda and not problems:
        problems.append(
            CatalogueProblem("catalogue/", "", "没有任何备忘录文件（no memorandum files）")
        )
    if departments_file is None or rule_sets_file is None or problems:
        raise CatalogueError(problems)

    departments = _unique(
        directory / "departments.yml",
        "departments",
        departments_file.departments,
        lambda d: d.code,
        problems,
        directory,
    )
    rule_sets = _unique(
        directory / "rulesets.yml",
        "rule_sets",
        rule_sets_file.rule_sets,
        lambda r: r.id,
        problems,
        directory,
    )
    for index, rule_set in enumerate(rule_sets_file.rule_sets):
        _unique(
            directory / "rulesets.yml",
            f"rule_sets[{index}].grounds",
            rule_set.grounds,
            lambda g: g.code,
            problems,
            directory,
        )
    by_id: dict[str, Memorandum] = {}
    for memorandum, path in memoranda:
        _check_memorandum(memorandum, _rel(path, directory), departments, rule_sets, problems)
        if memorandum.id in by_id:
            problems.append(
                CatalogueProblem(_rel(path, directory), "id", f"备忘录编号重复：{memorandum.id}")
            )
        by_id[memorandum.id] = memorandum
    if problems:
        raise CatalogueError(problems)
    return Catalogue(
        directory=directory,
        departments=departments,
        default_sla=departments_file.default_sla,
        supervising_office=departments_file.supervising_office,
        memoranda=by_id,
        rule_sets=rule_sets,
        time_limits=rule_sets_file.time_limits,
        calendar_years=calendar_years,
        content_hash=content_hash(directory),
    )


def load_calendar_years(
    directory: Path, problems: list[CatalogueProblem] | None = None, *, base: Path | None = None
) -> dict[int, CalendarYear]:
    """Operator-maintained holiday years; the file name must be the year (`2027.yml`)."""
    own = problems is None
    found: list[CatalogueProblem] = [] if problems is None else problems
    years: dict[int, CalendarYear] = {}
    for path in sorted(directory.glob("*.yml")) if directory.is_dir() else []:
        year = _load(base or directory.parent, path, CalendarYear, found)
        if year is None:
            continue
        if path.stem != str(year.year):
            found.append(
                CatalogueProblem(
                    _rel(path, base or directory.parent),
                    "year",
                    f"文件名应为 {year.year}.yml（file name must match the year）",
                )
            )
            continue
        years[year.year] = year
    if own and found:
        raise CatalogueError(found)
    return years


def content_hash(directory: Path) -> str:
    """SHA-256 over every YAML file's relative path and bytes, in path order."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*.yml")):
        digest.update(_rel(path, directory).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _rel(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def _load(base: Path, path: Path, model: type[M], problems: list[CatalogueProblem]) -> M | None:
    name = _rel(path, base)
    if not path.is_file():
        problems.append(CatalogueProblem(name, "", "文件不存在（file not found）"))
        return None
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except UnicodeDecodeError:
        problems.append(CatalogueProblem(name, "", "不是 UTF-8 编码（not UTF-8）"))
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行" if mark is not None else ""
        problems.append(CatalogueProblem(name, where, f"YAML 无法解析：{exc}"))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            reason = err["msg"].removeprefix("Value error, ")  # our own Chinese reasons
            problems.append(CatalogueProblem(name, _key_path(err["loc"]), reason))
        return None


def _key_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _unique(
    path: Path,
    key: str,
    items: Iterable[T],
    key_of: Callable[[T], str],
    problems: list[CatalogueProblem],
    base: Path,
) -> dict[str, T]:
    """Index items by id, reporting every repeated id with its position."""
    out: dict[str, T] = {}
    for index, item in enumerate(items):
        ident = key_of(item)
        if ident in out:
            problems.append(
                CatalogueProblem(
                    _rel(path, base), f"{key}[{index}]", f"编号重复：{ident}（duplicate id）"
                )
            )
        out[ident] = item
    return out


def _check_memorandum(
    memorandum: Memorandum,
    name: str,
    departments: dict[str, Department],
    rule_sets: dict[str, RuleSet],
    problems: list[CatalogueProblem],
) -> None:
    for index, rule_set in enumerate(memorandum.rule_sets):
        if rule_set not in rule_sets:
            problems.append(
                CatalogueProblem(
                    name, f"rule_sets[{index}]", f"未知规则：{rule_set}（unknown rule-set）"
                )
            )
    for index, signatory in enumerate(memorandum.signatories):
        if signatory.department not in departments:
            problems.append(
                CatalogueProblem(
                    name,
                    f"signatories[{index}].department",
                    f"未知部门：{signatory.department}（unknown department）",
                )
            )
    signed = {s.department for s in memorandum.signatories}
    seen: set[str] = set()
    for index, measure in enumerate(memorandum.measures):
        if measure.id in seen:
            problems.append(
                CatalogueProblem(name, f"measures[{index}].id", f"措施编号重复：{measure.id}")
            )
        seen.add(measure.id)
        if measure.department not in departments:
            problems.append(
                CatalogueProblem(
                    name,
                    f"measures[{index}].department",
                    f"未知部门：{measure.department}（unknown department）",
                )
            )
        elif measure.department not in signed:
            problems.append(
                CatalogueProblem(
                    name,
                    f"measures[{index}].department",
                    f"部门 {measure.department} 未签署本备忘录（not a signatory）",
                )
            )
    for department in sorted(signed - {m.department for m in memorandum.measures}):
        problems.append(
            CatalogueProblem(
                name,
                "measures",
                f"签署部门 {department} 没有任何措施（empty measures for a signatory）",
            )
        )
