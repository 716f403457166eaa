"""Every catalogue file loads; the loader names the file and key of every problem."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from memoranda.loader import Catalogue, content_hash, load_catalogue
from registry.errors import CatalogueError
from tests.conftest import CATALOGUE_DIR, year_file_text


def test_every_bundled_file_loads(catalogue: Catalogue) -> None:
    files = sorted(p.name for p in (CATALOGUE_DIR / "catalogue").glob("*.yml"))
    assert sorted(f"{m}.yml" for m in catalogue.memoranda) == files
    assert set(catalogue.rule_sets) == {
        "saws-2017-sanction",
        "saws-2017-incentive",
        "mem-2023-serious",
        "ndrc-2023-repair",
        "ndrc-2026-repair",
    }


def test_the_2016_memorandum_has_its_18_signatories(catalogue: Catalogue) -> None:
    memo = catalogue.memoranda["fgcj-2016-1001"]
    assert memo.document_number == "发改财金〔2016〕1001号"
    assert len(memo.signatories) == 18
    signed = {s.as_signed for s in memo.signatories}
    assert {"安全监管总局", "工商总局", "质检总局", "银监会", "保监会"} <= signed
    # merged in 2018: 工商+质检 → 市场监管总局, 银监会+保监会 → 金融监管总局
    assert len(catalogue.departments_of("fgcj-2016-1001")) == 16
    names = {catalogue.departments[s.department].short_name for s in memo.signatories}
    assert {"应急管理部", "市场监管总局", "金融监管总局", "自然资源部", "生态环境部"} <= names


def test_every_measure_cites_a_basis_and_a_status(catalogue: Catalogue) -> None:
    for memo in catalogue.memoranda.values():
        for measure in memo.measures:
            assert measure.basis.document
            assert measure.status in {"confirmed", "unverified"}
    regulator = catalogue.measures_for("fgcj-2016-1001", "mem")
    assert len(regulator) == 6
    assert all(m.status == "confirmed" for m in regulator)


def test_the_red_memorandum_is_marked_unverified(catalogue: Catalogue) -> None:
    memo = catalogue.memoranda["fgcj-2017-2219"]
    assert len(memo.signatories) == 26
    assert memo.status == "unverified"
    assert all(s.status == "unverified" for s in memo.signatories)


def test_rule_set_by_decision_date(catalogue: Catalogue) -> None:
    black_old = catalogue.rule_set_for("black", date(2020, 5, 1))
    black_new = catalogue.rule_set_for("black", date(2023, 10, 1))
    red = catalogue.rule_set_for("red", date(2026, 1, 1))
    assert black_old is not None
    assert black_old.id == "saws-2017-sanction"
    assert black_new is not None
    assert black_new.id == "mem-2023-serious"
    assert red is not None
    assert red.id == "saws-2017-incentive"
    assert catalogue.rule_set_for("black", date(2010, 1, 1)) is None


def test_default_sla_is_5_20_5(catalogue: Catalogue) -> None:
    sla = catalogue.sla_for("ndrc")
    assert (sla.ack_wd, sla.feedback_wd, sla.lift_wd) == (5, 20, 5)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "memoranda"
    shutil.copytree(CATALOGUE_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _problems(directory: Path) -> list[dict[str, str]]:
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(directory)
    return [p.as_dict() for p in caught.value.problems]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_duplicate_department_code_is_named(copy: Path) -> None:
    _edit(copy / "departments.yml", "  - code: pbc", "  - code: ndrc")
    problems = _problems(copy)
    assert {
        "file": "departments.yml",
        "key": "departments[1]",
        "reason": "编号重复：ndrc（duplicate id）",
    } in problems


def test_unknown_department_is_named(copy: Path) -> None:
    _edit(copy / "catalogue/fgcj-2016-1001.yml", "department: gacc}", "department: nowhere}")
    problems = _problems(copy)
    assert any(
        p["file"] == "catalogue/fgcj-2016-1001.yml"
        and p["key"] == "signatories[11].department"
        and "nowhere" in p["reason"]
        for p in problems
    )


def test_empty_measures_are_refused(copy: Path) -> None:
    path = copy / "catalogue/mem-2023-art78.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("measures:")] + "measures: []\n", encoding="utf-8")
    problems = _problems(copy)
    assert any(
        p["file"] == "catalogue/mem-2023-art78.yml" and p["key"] == "measures" for p in problems
    )


def test_a_signatory_without_measures_is_named(copy: Path) -> None:
    path = copy / "catalogue/mem-2023-art78.yml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  - id: miit-market-ban")
    path.write_text(text[:start], encoding="utf-8")
    problems = _problems(copy)
    assert any("miit" in p["reason"] and p["key"] == "measures" for p in problems)


def test_a_repeated_yaml_key_is_refused(copy: Path) -> None:
    _edit(copy / "rulesets.yml", "  defence_wd: 5", "  defence_wd: 5\n  defence_wd: 7")
    problems = _problems(copy)
    assert any(p["file"] == "rulesets.yml" and "重复的键" in p["reason"] for p in problems)


def test_an_unknown_key_is_refused(copy: Path) -> None:
    _edit(
        copy / "departments.yml",
        "    short_name: 人民银行",
        "    short_name: 人民银行\n    shortname: x",
    )
    problems = _problems(copy)
    assert any(p["key"] == "departments[1].shortname" for p in problems)


def test_a_calendar_file_must_be_named_for_its_year(copy: Path) -> None:
    (copy / "calendar/2028.yml").write_text(year_file_text(2027), encoding="utf-8")
    problems = _problems(copy)
    assert any(p["file"] == "calendar/2028.yml" and "2027.yml" in p["reason"] for p in problems)


def test_a_make_up_day_must_be_a_weekend(copy: Path) -> None:
    text = year_file_text(2027, workdays="{date: 2027-01-05, name: 调休}")
    (copy / "calendar/2027.yml").write_text(text, encoding="utf-8")
    problems = _problems(copy)
    assert any(p["file"] == "calendar/2027.yml" and "不是周末" in p["reason"] for p in problems)


def test_the_content_hash_follows_the_files(copy: Path) -> None:
    before = content_hash(copy)
    assert before == content_hash(CATALOGUE_DIR)
    _edit(copy / "departments.yml", "ndrc@example.org", "ndrc2@example.org")
    assert content_hash(copy) != before


def test_a_rule_set_without_a_list_name_loads_and_letters_use_its_title(copy: Path) -> None:
    """`list_name` came with rule-sets as data; a catalogue written before it still loads."""
    _edit(copy / "rulesets.yml", "    list_name: 安全生产领域守信联合激励对象名单\n", "")
    red = load_catalogue(copy).rule_sets["saws-2017-incentive"]
    assert red.list_name is None
    assert red.title


@pytest.mark.parametrize("name", ["严重失信\n名单", "名单|甲", "<script>名单"])
def test_a_list_name_that_would_break_a_letter_is_refused(copy: Path, name: str) -> None:
    _edit(
        copy / "rulesets.yml",
        "    list_name: 安全生产领域守信联合激励对象名单\n",
        f"    list_name: {name!r}\n".replace("'", '"').replace("\\n", "\\n"),
    )
    problems = _problems(copy)
    assert any(p["file"] == "rulesets.yml" and "list_name" in p["key"] for p in problems)


@pytest.mark.parametrize("flag", ["prior_notice: true", "restore_on_fraud: true"])
def test_a_red_list_with_prior_notice_or_fraud_restore_is_refused(copy: Path, flag: str) -> None:
    """Its lifecycle is built from these flags: a red list would get a defence window."""
    text = (copy / "rulesets.yml").read_text(encoding="utf-8")
    start = text.index("id: saws-2017-incentive")
    red = text[start:]
    changed = (
        red.replace("prior_notice: false", flag, 1)
        if flag.startswith("prior")
        else red.replace("mode: expiry ", "restore_on_fraud: true\n      mode: expiry ", 1)
    )
    assert changed != red
    (copy / "rulesets.yml").write_text(text[:start] + changed, encoding="utf-8")
    assert any("红名单不经告知申辩" in p["reason"] for p in _problems(copy))


@pytest.mark.parametrize(
    ("mailbox", "reason"),
    [
        ("mee@example.org。", "末尾多了全角字符或中文标点“。”"),
        ("my_host", "应含且只含一个“@”"),
        ("mee@localhost", "域名应至少含一个“.”"),
        ("安全科@example.cn", "需要 SMTPUTF8"),
    ],
)
def test_a_department_mailbox_is_held_to_the_one_address_rule(
    copy: Path, mailbox: str, reason: str
) -> None:
    """Issue 13: `catalogue validate` used a looser pattern than import and the outbox, so a
    mailbox ending in a full-width stop passed and its department's letters were parked at
    dispatch; `my_host` was refused in English. Each is refused in Chinese, naming the code."""
    _edit(copy / "departments.yml", "mailbox: mem@example.org", f"mailbox: {mailbox}")
    problems = _problems(copy)
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem["file"] == "departments.yml"
    assert problem["key"] == "departments[2].mailbox"
    assert problem["reason"].startswith("部门 mem 的邮箱无法使用："), problem
    assert reason in problem["reason"]
    assert "String should match" not in problem["reason"]


def test_the_supervising_office_mailbox_is_held_to_the_one_address_rule(copy: Path) -> None:
    path = copy / "departments.yml"
    _edit(path, "mailbox: supervision@example.org", "mailbox: 督办室@example.org")
    problems = _problems(copy)
    assert [p["key"] for p in problems] == ["supervising_office.mailbox"]
    assert problems[0]["reason"].startswith("督办室的邮箱无法使用：")


def test_a_department_mailbox_is_kept_as_written_without_outer_spaces(copy: Path) -> None:
    _edit(copy / "departments.yml", "mailbox: mem@example.org", 'mailbox: " mem@应急.中国 "')
    assert load_catalogue(copy).departments["mem"].mailbox == "mem@应急.中国"
