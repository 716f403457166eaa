"""Validating one intake row (pure, no database): the typed row or every problem found.

- **Personal data.** Resident ID numbers are reduced to keyed hash + masked form at once
  (DOMAIN.md §5); a value shown in a problem is masked, so no raw number is stored or printed.
- **Typed text.** A valid ID number in a free-text column refuses the row (it belongs in the
  ID column); what is accepted still passes `registry.free_text`'s cleaner, as every other entry
  point's text does, so a mistyped or first-generation number is stored masked.
- **Formula injection** and invisible characters are refused by `registry.spreadsheet`'s
  `CellReader`: listings are exported to spreadsheets that partner departments open.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from memoranda.addresses import AddressProblem, check_address
from memoranda.loader import Catalogue
from memoranda.schema import RuleSet
from registry.errors import IdentifierError
from registry.free_text import clean_free_text, clean_single_line
from registry.identifiers import (
    UsccCheck,
    UsccStatus,
    check_resident_id,
    check_uscc,
    is_resident_id,
    resident_birth_date,
)
from registry.intake.reading import COLUMN_ZH
from registry.spreadsheet import (
    FORMULA_START,
    CellReader,
    RowProblem,
    calendar_date,
    is_blank,
    split_bilingual,
    yes_or_no,
)
from registry.vocabulary import LIST_TYPE_LABELS


@dataclass(frozen=True, slots=True)
class ValidRow:
    """A row that may become a listing, as stored: codes compacted, the ID number only hashed."""

    list_type: str
    kind: str
    name: str
    uscc: str | None
    uscc_status: str | None
    id_hash: str | None
    id_masked: str | None
    unit_uscc: str | None
    region: str | None
    industry: str | None
    rule_set: str
    grounds: tuple[str, ...]
    penalty_number: str | None
    decision_date: date
    typical_case: bool
    contact_email: str | None
    note: str | None
    e_service_consent: bool
    needs_review: bool
    warnings: tuple[str, ...]

    @property
    def identity(self) -> str:
        """Who the subject is: a unit by its USCC, a person by the keyed hash of their ID."""
        return f"u:{self.uscc}" if self.kind == "unit" else f"p:{self.id_hash}"


@dataclass(frozen=True)
class RowRules:
    """What validating a row needs besides the row."""

    catalogue: Catalogue
    id_hash_key: str
    today: date
    ground_codes: dict[str, frozenset[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        codes = {
            r.id: frozenset(g.code for g in r.grounds) for r in self.catalogue.rule_sets.values()
        }
        object.__setattr__(self, "ground_codes", codes)


LIST_TYPE_CHOICES = {"黑名单": "black", "black": "black", "红名单": "red", "red": "red"}


_KINDS = {"单位": "unit", "unit": "unit", "个人": "person", "person": "person"}


_REGION = re.compile(r"^[0-9]{6}$")


_LIMITS = {"name": 200, "industry": 100, "penalty_number": 100, "note": 2000, "contact_email": 254}


_CODE_FIELDS = frozenset({"id_number", "uscc", "unit_uscc"})


def validate_row(
    values: Mapping[str, object], rules: RowRules
) -> ValidRow | tuple[RowProblem, ...]:
    """Check one row against the rules; return the typed row or every problem found.

    Pure: no database. Duplicates and links to units already stored are checked by the caller.
    """
    row = CellReader(values, labels=COLUMN_ZH, limits=_LIMITS, code_fields=_CODE_FIELDS)
    list_type = row.choice(
        "list_type",
        LIST_TYPE_CHOICES,
        "名单类型应为 黑名单 或 红名单",
        "list type must be black or red",
    )
    kind = row.choice(
        "subject_kind", _KINDS, "主体类型应为 单位 或 个人", "subject kind must be unit or person"
    )
    name = row.required("name")
    uscc, uscc_status, needs_review = _subject_code(row, kind)
    id_hash, id_masked = _person_id(row, kind, rules.id_hash_key, rules.today)
    unit_uscc = _unit_code(row, kind)
    region = row.text("region")
    if region is not None and not _REGION.match(region):
        row.fail("region", "行政区划代码应为6位数字", "region must be 6 digits")
    industry = row.text("industry")
    decision_date = _decision_date(row, rules.today)
    rule_set = _rule_set(row, rules.catalogue, list_type, decision_date)
    grounds = _grounds(row, rules, rule_set)
    penalty_number = row.text("penalty_number")
    typical_text = row.text("typical_case")
    typical_case = False
    if typical_text is not None:
        parsed = yes_or_no(typical_text)
        if parsed is None:
            row.fail("typical_case", "典型案例应为 是 或 否", "typical case must be yes or no")
        typical_case = bool(parsed)
    email = _contact_email(row)
    consent = _e_service_consent(row)
    note = row.text("note", multi_line=True)
    if row.problems:
        return tuple(row.problems)
    if not (list_type and kind and name and decision_date and rule_set and grounds):
        raise AssertionError("a row without problems has every required value")
    return ValidRow(
        list_type=list_type,
        kind=kind,
        name=clean_single_line(name),
        uscc=uscc,
        uscc_status=uscc_status,
        id_hash=id_hash,
        id_masked=id_masked,
        unit_uscc=unit_uscc,
        region=region,
        industry=clean_single_line(industry),
        rule_set=rule_set.id,
        grounds=grounds,
        penalty_number=clean_single_line(penalty_number),
        decision_date=decision_date,
        typical_case=typical_case,
        contact_email=email,
        note=clean_free_text(note),
        e_service_consent=consent,
        needs_review=needs_review,
        warnings=tuple(row.warnings),
    )


def _e_service_consent(row: CellReader) -> bool:
    """同意电子送达: letters go to the party by e-mail only with its consent (行政处罚法第六十一条
    第二款); an empty cell is no consent, and a value that is neither yes nor no refuses the row."""
    text = row.text("e_service_consent")
    if text is None:
        return False
    parsed = yes_or_no(text)
    if parsed is None:
        row.fail(
            "e_service_consent",
            "同意电子送达应为 是 或 否",
            "consent to electronic service must be yes or no",
        )
    return bool(parsed)


def _contact_email(row: CellReader) -> str | None:
    """The contact mailbox, by the one address rule the outbox and the sender use
    (`memoranda.addresses`): what import accepts, delivery can send to."""
    text = row.text("contact_email")
    if text is None:
        return None
    found = check_address(text)
    if isinstance(found, AddressProblem):
        row.fail("contact_email", found.zh, found.en)
        return None
    return found.text


def _subject_code(row: CellReader, kind: str | None) -> tuple[str | None, str | None, bool]:
    """A unit's USCC: a format error rejects, a check mismatch needs review (DOMAIN.md §5)."""
    if kind == "person":
        if row.text("uscc") is not None:
            row.warnings.append(
                "个人行的统一社会信用代码已忽略，所属单位请填“所属单位信用代码”"
                "（uscc ignored on a person row; use unit_uscc）"
            )
        return None, None, False
    text = row.required("uscc") if kind == "unit" else row.text("uscc")
    if text is None:
        return None, None, False
    check = check_uscc(text)
    if _is_misplaced_id(row, "uscc", check):
        return None, None, False
    if check.status is UsccStatus.INVALID_FORMAT:
        zh, en = split_bilingual(check.message)
        row.fail("uscc", f"统一社会信用代码{zh}", en)
        return None, None, False
    if check.status is UsccStatus.CHECK_MISMATCH:
        row.warnings.append(f"统一社会信用代码 {check.code} {check.message}")
    return check.code, check.status.value, check.needs_review


def _person_id(
    row: CellReader, kind: str | None, key: str, today: date
) -> tuple[str | None, str | None]:
    raw = row.values.get("id_number")
    if kind == "unit":
        if not is_blank([raw]):
            row.warnings.append("单位行的身份证号已忽略且未保存（id_number ignored on a unit row）")
        return None, None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        row.fail(
            "id_number",
            "身份证号被存成了数字，末几位可能已丢失；请把该列设为文本后重新填写",
            "ID number stored as a number (digits may be lost); format the column as text",
        )
        return None, None
    text = row.required("id_number") if kind == "person" else row.text("id_number")
    if text is None:
        return None, None
    try:
        resident = check_resident_id(text.upper(), key)
    except IdentifierError as exc:
        zh, en = split_bilingual(str(exc.fields.get("reason", exc.message)))
        row.fail("id_number", f"身份证号无效：{zh}", f"invalid resident ID number: {en}")
        return None, None
    if resident_birth_date(text.upper()) > today:
        row.fail(
            "id_number",
            "身份证号无效：出生日期晚于今天",
            "invalid resident ID number: born after today",
        )
        return None, None
    return resident.lookup_hash, resident.masked


def _unit_code(row: CellReader, kind: str | None) -> str | None:
    text = row.text("unit_uscc")
    if text is None:
        return None
    if kind == "unit":
        row.warnings.append("单位行的所属单位信用代码已忽略（unit_uscc ignored on a unit row）")
        return None
    check = check_uscc(text)
    if _is_misplaced_id(row, "unit_uscc", check):
        return None
    if check.status is UsccStatus.INVALID_FORMAT:
        zh, en = split_bilingual(check.message)
        row.fail("unit_uscc", f"所属单位信用代码{zh}", en)
        return None
    return check.code


def _is_misplaced_id(row: CellReader, name: str, check: UsccCheck) -> bool:
    """A resident ID number in a credit-code column: refused, or it would be stored in clear
    as a code (DOMAIN.md §5). One in 31 ID numbers also passes the USCC check character, but
    none is a real code: a USCC's positions 3–8 are a region code, where an ID number has the
    rest of its region code and the first digits of a birth year."""
    if not is_resident_id(check.code):
        return False
    row.fail(
        name,
        f"{COLUMN_ZH[name]}一栏填写的是身份证号：个人的身份证号请填在“身份证号”列",
        f"{name} holds a resident ID number: put it in the id_number column",
    )
    return True


def _decision_date(row: CellReader, today: date) -> date | None:
    raw = row.values.get("decision_date")
    day: date
    if isinstance(raw, datetime):
        day = raw.date()
    elif isinstance(raw, date):
        day = raw
    else:
        text = row.required("decision_date")
        if text is None:
            return None
        try:
            found = calendar_date(text)
        except ValueError:
            row.fail("decision_date", "日期不存在", "no such date")
            return None
        if found is None:
            row.fail(
                "decision_date",
                "日期格式应为 YYYY-MM-DD 或 YYYY/MM/DD",
                "date must be YYYY-MM-DD or YYYY/MM/DD",
            )
            return None
        day = found
    if day > today:
        row.fail(
            "decision_date",
            f"处罚决定日期晚于今天（{today.isoformat()}）",
            f"decision date is in the future (today is {today.isoformat()})",
        )
        return None
    return day


def _rule_set(
    row: CellReader, catalogue: Catalogue, list_type: str | None, decision_date: date | None
) -> RuleSet | None:
    """The rule-set named in the row, or the one in force on the decision date."""
    named = row.text("rule_set")
    if named is None:
        if list_type is None or decision_date is None:
            return None
        found = catalogue.rule_set_for(list_type, decision_date)
        if found is None:
            row.fail(
                "decision_date",
                f"决定日期 {decision_date.isoformat()} 没有适用的{LIST_TYPE_LABELS[list_type]}规则",
                f"no {list_type}-list rule-set in force on {decision_date.isoformat()}",
            )
        return found
    rules = catalogue.rule_sets.get(named)
    if rules is None or rules.list_type is None:
        row.fail(
            "rule_set",
            f"未知的名单规则，可用：{'、'.join(_list_rule_sets(catalogue))}",
            "unknown list rule-set",
        )
        return None
    if list_type is not None and rules.list_type != list_type:
        row.fail(
            "rule_set",
            f"规则 {named} 适用于{LIST_TYPE_LABELS[rules.list_type]}，与名单类型不符",
            f"rule-set {named} is for the {rules.list_type} list, not {list_type}",
        )
        return None
    if decision_date is not None and not (
        rules.effective_from <= decision_date
        and (rules.effective_until is None or decision_date <= rules.effective_until)
    ):
        row.fail(
            "rule_set",
            f"规则 {named} 在决定日期 {decision_date.isoformat()} 不适用"
            f"（施行 {rules.effective_from}–{rules.effective_until or '至今'}）",
            f"rule-set {named} is not in force on {decision_date.isoformat()}",
        )
        return None
    return rules


def _list_rule_sets(catalogue: Catalogue) -> list[str]:
    return [r.id for r in catalogue.rule_sets.values() if r.list_type is not None]


def _grounds_text(row: CellReader) -> str | None:
    """The grounds cell as text; a JSON list of codes is joined (a formula in one is refused)."""
    raw = row.values.get("grounds")
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        if any(item.strip()[:1] in FORMULA_START for item in raw):
            row.fail("grounds", "认定依据含公式符号", "ground starts with a formula character")
            return None
        return ";".join(raw)
    return row.required("grounds")


def _grounds(row: CellReader, rules: RowRules, rule_set: RuleSet | None) -> tuple[str, ...]:
    """Ground codes, bare (`A4`) or canonical (`mem-2023-serious:A4`), `;`/`；` separated."""
    text = _grounds_text(row)
    if text is None:
        return ()
    codes: list[str] = []
    foreign: list[str] = []
    unknown: list[str] = []
    for item in re.split(r"[;；]", text):
        item = item.strip()
        if not item:
            continue
        prefix, _, code = item.replace("：", ":").rpartition(":")
        code = code.strip().upper()
        if rule_set is not None and prefix and prefix.strip() != rule_set.id:
            foreign.append(item)
        elif rule_set is not None and code not in rules.ground_codes[rule_set.id]:
            unknown.append(code)
        elif code not in codes:
            codes.append(code)
    if not codes and not foreign and not unknown:
        row.fail("grounds", "认定依据为必填项", "grounds are required")
    if rule_set is None:
        return ()
    if foreign:
        row.fail(
            "grounds",
            f"认定依据 {'、'.join(foreign)} 不属于本行适用的规则 {rule_set.id}",
            f"grounds {', '.join(foreign)} are not of rule-set {rule_set.id}",
        )
    if unknown:
        elsewhere = [
            f"{code}（属于 {other}）"
            for code in unknown
            for other, codes in rules.ground_codes.items()
            if other != rule_set.id and code in codes
        ]
        hint = f"；{'、'.join(elsewhere)}" if elsewhere else ""
        row.fail(
            "grounds",
            f"规则 {rule_set.id} 中没有认定依据 {'、'.join(unknown)}{hint}",
            f"unknown ground {', '.join(unknown)} in rule-set {rule_set.id}",
        )
    return tuple(codes) if not foreign and not unknown else ()
