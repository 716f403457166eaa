"""Turn the bad-input manifests (`*.yml` beside this file) into real files and payloads.

The manifests are the corpus: every case is data — its input, written so a person can read it,
and the outcome it must have. Files are not committed: `tests/integration/test_bad_input_corpus.py`
materialises each case into a temporary folder with fresh identifiers (the test database lives
for the whole session, so two cases must never name the same subject).

To look at the files as an operator would receive them (open the XLSX in Excel, the GBK CSV
in a text editor), write them all to a folder:

    .venv/bin/python tests/corpus/bad_input/make_corpus.py /tmp/bad-input

Placeholders in string values, `{name}` or `{name:label}` (the label shares one value within a
case, e.g. the same USCC in two rows of a duplicate case):

| placeholder | becomes |
|---|---|
| `{n}` | a number unique in the session (keeps names apart) |
| `{uscc}` | a valid unified social credit code |
| `{uscc_mismatch}` | a well-formed USCC whose check character is wrong (warning, DOMAIN.md §5) |
| `{rid}` | a valid resident ID number |
| `{rid_badcheck}` | a resident ID number with a wrong check digit |
| `{L1}` `{BATCH}` … | ids of the database the case runs against (responses, CLI, forms) |

A string that is exactly one id placeholder becomes a number (as Excel or a JSON form sends it);
`{$text: "{L1}"}` keeps it a string. A mapping `{$repeat: 深, times: 10240}` is a long string.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import json
import re
import sys
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import yaml
from stdnum.cn import ric, uscc

HERE = Path(__file__).resolve().parent
SURFACES = ("import", "responses", "cli", "forms")
ROW = "row"
"""The `field` of a problem with the whole row; its column is shown as `（整行）`."""
ROW_LABEL = "（整行）"

IMPORT_ZH = {
    "list_type": "名单类型",
    "subject_kind": "主体类型",
    "name": "名称",
    "uscc": "统一社会信用代码",
    "id_number": "身份证号",
    "unit_uscc": "所属单位信用代码",
    "region": "行政区划代码",
    "industry": "行业",
    "grounds": "认定依据",
    "penalty_number": "处罚决定书文号",
    "decision_date": "处罚决定日期",
    "typical_case": "典型案例",
    "contact_email": "联系邮箱",
    "e_service_consent": "同意电子送达",
    "note": "备注",
    "rule_set": "规则",
}
RESPONSE_ZH = {
    "department": "部门代码",
    "listing_id": "名单编号",
    "ack": "响应",
    "feedback": "反馈",
    "outcome": "措施实施情况",
    "lifted": "解除确认",
}

_PLACEHOLDER = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*)(?::([A-Za-z0-9_]+))?\}")
_ID_LIKE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")


@functools.cache
def load(surface: str) -> dict[str, Any]:
    """One manifest, parsed once (with libyaml when it is there); callers must not mutate it."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with (HERE / f"{surface}.yml").open(encoding="utf-8") as handle:
        manifest: dict[str, Any] = yaml.load(handle, Loader=loader)
    return manifest


def cases(surface: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = load(surface)["cases"]
    return found


# --- fresh values ---------------------------------------------------------------------------

_serial = itertools.count(1)


def valid_uscc(n: int) -> str:
    """Suzhou Huqiu (320505), organisation codes `ME…`: apart from every other test's codes."""
    body = f"91320505ME{n:07d}"
    return body + uscc.calc_check_digit(body)


def resident_id(n: int, *, valid: bool = True) -> str:
    """Shanghai Huangpu (310101), born 1970 + n days: apart from the other tests' numbers."""
    born = date.fromordinal(date(1970, 1, 1).toordinal() + n % 15_000)
    body = f"310101{born:%Y%m%d}{n % 1000:03d}"
    check = ric.calc_check_digit(body + "0")  # stdnum ignores the last character
    if not valid:
        check = "0" if check != "0" else "1"
    return body + check


_RID_DISGUISES = {
    "rid_fullwidth": lambda number: number.translate(_FULL_WIDTH),
    "rid_ideographic_spaces": lambda number: f"{number[:6]}\u3000{number[6:14]}\u3000{number[14:]}",
    "rid_nbsp_dashes": lambda number: f"{number[:6]}\u00a0－{number[6:14]}_/{number[14:]}",
    "rid_glued": lambda number: f"ID{number}",
}
"""`{rid_fullwidth}` …: a valid number typed as an attacker would (issue 13, fix 1 of the
masking hardening); the ASCII number is what `resident_ids` collects."""
_FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@dataclass
class Filler:
    """Fills placeholders for one case: fresh values per occurrence, shared per label."""

    tokens: Mapping[str, Any] = field(default_factory=dict)
    shared: dict[tuple[str, str], Any] = field(default_factory=dict)
    resident_ids: set[str] = field(default_factory=set)

    def value(self, name: str, label: str | None) -> Any:
        if name in self.tokens:
            return self.tokens[name]
        if label is not None and (name, label) in self.shared:
            return self.shared[(name, label)]
        made = self._make(name)
        if label is not None:
            self.shared[(name, label)] = made
        return made

    def _make(self, name: str) -> Any:
        n = next(_serial)
        if name == "n":
            return n
        if name == "uscc":
            return valid_uscc(n)
        if name == "uscc_mismatch":
            code = valid_uscc(n)
            return code[:-1] + ("0" if code[-1] != "0" else "1")
        if name in ("rid", "rid_badcheck"):
            number = resident_id(n, valid=name == "rid")
            self.resident_ids.add(number)
            return number
        if name in _RID_DISGUISES:
            number = resident_id(n)
            self.resident_ids.add(number)  # a leak is found in any of these forms
            return _RID_DISGUISES[name](number)
        raise KeyError(f"unknown placeholder {{{name}}} in the manifest")

    def text(self, value: str) -> str:
        text = _PLACEHOLDER.sub(lambda m: str(self.value(m[1], m[2])), value)
        self.resident_ids.update(_ID_LIKE.findall(text))
        return text

    def fill(self, value: Any) -> Any:
        """Placeholders replaced, `$repeat` expanded, recursively through lists and mappings."""
        if isinstance(value, str):
            whole = _PLACEHOLDER.fullmatch(value)
            if whole and whole[1] in self.tokens and isinstance(self.tokens[whole[1]], int):
                return self.tokens[whole[1]]
            return self.text(value)
        if isinstance(value, list):
            return [self.fill(item) for item in value]
        if isinstance(value, dict):
            if "$repeat" in value:
                return str(value["$repeat"]) * int(value["times"])
            if "$text" in value:  # placeholders filled, and a string even if it is one id
                return self.text(str(value["$text"]))
            return {key: self.fill(item) for key, item in value.items()}
        if isinstance(value, int) and not isinstance(value, bool):
            self.resident_ids.update(_ID_LIKE.findall(str(value)))
        return value


# --- intake files ---------------------------------------------------------------------------


@dataclass
class ImportFile:
    """A materialised intake case: the file, and what each data row became (by file row)."""

    path: Path
    rows: dict[int, dict[str, Any]]
    labels: dict[str, str]
    """canonical field → the header text as written (how quarantine lines name the column)."""
    resident_ids: set[str]


def import_templates() -> dict[str, dict[str, Any]]:
    templates: dict[str, dict[str, Any]] = load("import")["templates"]
    return templates


def _row_values(row: Any, templates: Mapping[str, Mapping[str, Any]]) -> Any:
    if not isinstance(row, dict) or "template" not in row:
        return row
    merged = dict(templates[row["template"]])
    merged.update({k: v for k, v in row.items() if k != "template"})
    return merged


def _write_special(
    case: Mapping[str, Any], spec: dict[str, Any], path: Path, filler: Filler
) -> bool:
    """Files that are not a table of rows (missing, a folder, raw bytes, a JSON document);
    True when one was written."""
    fmt = spec["format"]
    if spec.get("missing"):
        return True
    if spec.get("directory"):
        path.mkdir(parents=True)
        return True
    if fmt == "raw":
        path.write_bytes(raw_bytes(spec["parts"], filler))
        return True
    if fmt == "json" and "json" in case:
        document = filler.fill(case["json"])
        text = json.dumps(document, ensure_ascii=False, default=str)
        path.write_bytes(text.encode(spec.get("encoding", "utf-8")))
        return True

    return False


def _write_table(
    path: Path,
    fmt: str,
    spec: dict[str, Any],
    shown: list[str],
    labels: dict[str, str],
    rows: list[Any],
    cells: Callable[[Any], list[Any]],
) -> None:
    """The rows as a CSV, XLSX or JSON file, with the header as the case names it."""
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, delimiter=spec.get("delimiter", ","))
        writer.writerow(shown)
        for row in rows:
            writer.writerow(["" if c is None else c for c in cells(row)])
        text = buffer.getvalue()
        if not spec.get("crlf", True):
            text = text.replace("\r\n", "\n")
        path.write_bytes(spec.get("prefix_bytes", b"") + text.encode(spec.get("encoding", "utf-8")))
    elif fmt == "xlsx":
        write_xlsx(path, shown, [cells(r) for r in rows], spec)
    else:  # json rows: list of objects keyed by the header labels
        items = [
            {labels[k]: v for k, v in row.items() if k in labels} if isinstance(row, dict) else row
            for row in rows
        ]
        payload: Any = {"rows": items} if spec.get("wrap") else items
        path.write_text(json.dumps(payload, ensure_ascii=False, default=str), encoding="utf-8")


def import_file(case: Mapping[str, Any], directory: Path, filler: Filler) -> ImportFile:
    """Write one intake case to `directory`; the sandwich (a good row before and after the case
    rows) is on unless the case says `sandwich: false`."""
    spec: dict[str, Any] = {"format": "csv", **case.get("file", {})}
    fmt = spec["format"]
    suffix = {"csv": ".csv", "xlsx": ".xlsx", "json": ".json", "raw": ".csv"}[fmt]
    path = directory / spec.get("name", f"{case['id']}{suffix}")
    if _write_special(case, spec, path, filler):
        return ImportFile(path, {}, {}, filler.resident_ids)

    templates = import_templates()
    good = [
        {"template": "unit", "name": "前置好行{n}"},
        {"template": "unit", "name": "后置好行{n}"},
    ]
    raw_rows = list(case.get("rows", []))
    if case.get("sandwich", True):
        raw_rows = [good[0], *raw_rows, good[1]]
    rows = [filler.fill(_row_values(row, templates)) for row in raw_rows]
    style = spec.get("headers", "en" if fmt == "json" else "zh")
    header = case.get("header") or [n for n in IMPORT_ZH if any(n in r for r in rows if r)]
    labels = {
        entry: (IMPORT_ZH[entry] if style == "zh" else entry) if entry in IMPORT_ZH else entry
        for entry in header
    }
    shown = [labels[entry] for entry in header]

    def cells(row: Any) -> list[Any]:
        if isinstance(row, list):
            return row
        return [row.get(entry) for entry in header]

    numbered: dict[int, dict[str, Any]] = {}
    first = 1 if fmt == "json" else 2
    for number, row in enumerate(rows, start=first):
        if isinstance(row, dict):
            numbered[number] = row
        elif isinstance(row, list) and any(c not in (None, "") for c in row):
            numbered[number] = {e: c for e, c in zip(header, row, strict=False) if e in IMPORT_ZH}
    _write_table(path, fmt, spec, shown, labels, rows, cells)
    return ImportFile(path, numbered, labels, filler.resident_ids)


def write_xlsx(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]], spec: Any) -> None:
    workbook = openpyxl.Workbook()
    data = workbook.active
    for extra in spec.get("leading_sheets", []):
        sheet = workbook.create_sheet(extra["title"], 0)
        for line in extra.get("rows", []):
            sheet.append(line)
    data.title = spec.get("sheet", "名单")
    data.append(list(header))
    for row in rows:
        data.append(list(row))
    for extra in spec.get("trailing_sheets", []):
        sheet = workbook.create_sheet(extra["title"])
        for line in extra.get("rows", []):
            sheet.append(line)
    stamp = datetime(2026, 11, 27, 12, 0)
    workbook.properties.created = workbook.properties.modified = stamp
    workbook.save(path)
    if "shared_strings" in spec:
        add_shared_strings(path, **spec["shared_strings"])
    if "long_text" in spec:
        lengthen_text(path, **spec["long_text"])


def lengthen_text(path: Path, *, marker: str, text: str, times: int) -> None:
    """Replace `marker` in the worksheets by `text` × `times`: a cell longer than openpyxl
    (which cuts a cell at Excel's 32,767 characters) would ever write."""
    original = path.read_bytes()
    long = (text * times).encode()
    with (
        zipfile.ZipFile(io.BytesIO(original)) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.startswith("xl/worksheets/"):
                data = data.replace(marker.encode(), long)
            out.writestr(info.filename, data)


SHARED_STRINGS_TYPE = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)


WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


def add_shared_strings(
    path: Path, *, count: int, text: str, declared_again_as_worksheet: bool = False
) -> None:
    """Give a saved workbook a shared-strings part of `count` entries of `text` (openpyxl
    writes inline strings itself): an XLSX bomb, small on disk, huge unpacked. Declared a
    second time as a worksheet, it is the bomb that once slipped past the check (openpyxl
    takes the first declaration, the check took the last)."""
    original = path.read_bytes()
    override = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SHARED_STRINGS_TYPE}"/>'
    if declared_again_as_worksheet:
        override += f'<Override PartName="/xl/sharedStrings.xml" ContentType="{WORKSHEET_TYPE}"/>'
    entry = f"<si><t>{text}</t></si>".encode()
    with (
        zipfile.ZipFile(io.BytesIO(original)) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", override.encode() + b"</Types>")
            out.writestr(info.filename, data)
        with out.open("xl/sharedStrings.xml", "w") as part:
            part.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            for _ in range(count):
                part.write(entry)
            part.write(b"</sst>")


def raw_bytes(parts: Sequence[Mapping[str, Any]], filler: Filler) -> bytes:
    """`text` (+ `encoding`), `hex`, or `repeat` + `times` pieces, concatenated."""
    out = bytearray()
    for part in parts:
        if "hex" in part:
            out += bytes.fromhex(part["hex"])
        elif "repeat" in part:
            out += str(part["repeat"]).encode(part.get("encoding", "utf-8")) * int(part["times"])
        else:
            out += str(filler.fill(part["text"])).encode(part.get("encoding", "utf-8"))
    return bytes(out)


# --- returned department sheets -------------------------------------------------------------


def response_file(
    case: Mapping[str, Any], directory: Path, filler: Filler
) -> tuple[Path, dict[str, str]]:
    """Write one returned-sheet case; returns the path and canonical field → header as written."""
    spec: dict[str, Any] = {"format": "csv", **case.get("file", {})}
    fmt = spec["format"]
    path = directory / spec.get("name", f"{case['id']}.{'xlsx' if fmt == 'xlsx' else 'csv'}")
    if spec.get("missing"):
        return path, {}
    if fmt == "raw":
        path.write_bytes(raw_bytes(spec["parts"], filler))
        return path, {}
    style = spec.get("headers", "zh")
    header = case.get("header", ["department", "listing_id", "ack"])
    labels = {
        e: (RESPONSE_ZH[e] if style == "zh" else e) if e in RESPONSE_ZH else e for e in header
    }
    shown = [labels[e] for e in header]
    rows = [filler.fill(row) for row in case.get("rows", [])]
    if fmt == "xlsx":
        write_xlsx(path, shown, rows, spec)
    else:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, delimiter=spec.get("delimiter", ","))
        writer.writerow(shown)
        for row in rows:
            writer.writerow(["" if c is None else c for c in row])
        path.write_bytes(buffer.getvalue().encode(spec.get("encoding", "utf-8")))
    return path, labels


# --- browsing -------------------------------------------------------------------------------

SAMPLE_TOKENS: dict[str, Any] = {
    "L1": 101,
    "L2": 102,
    "L3": 103,
    "NEVER": 201,
    "MISSING": 987_654_321,
    "BATCH": 11,
    "OTHER_BATCH": 12,
    "REF": "IMP-20261127-A1B2C3",
    "REF1": "IMP-20261127-A1B2C3-101",
    "WRONGREF1": "IMP-20200101-000000-101",
    "PROPOSER": "提出人 张伟",
}


def write_all(
    target: Path, writers: Mapping[str, Callable[..., Any]] | None = None
) -> Iterator[Path]:
    """Every intake and returned-sheet case, as files, under `target/<surface>/`."""
    chosen = writers or {"import": import_file, "responses": response_file}
    for surface, write in chosen.items():
        folder = target / surface
        folder.mkdir(parents=True, exist_ok=True)
        for case in cases(surface):
            scratch = folder / case["id"]
            scratch.mkdir(exist_ok=True)
            result = write(case, scratch, Filler(tokens=SAMPLE_TOKENS))
            yield result.path if isinstance(result, ImportFile) else result[0]


def main(argv: Sequence[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: make_corpus.py OUTPUT_DIR")
    for path in write_all(Path(argv[0])):
        print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
