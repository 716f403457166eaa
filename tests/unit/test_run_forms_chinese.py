"""What the Prefect UI shows an operator: every parameter of every deployment's run form and
every field of every operator form has a Chinese title (and a parameter its help), no
"str/None", and what is required stays required."""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

import pydantic
import pytest
from prefect.utilities.callables import parameter_schema

from deployments.definitions import DEFINITIONS
from flows.operator_ui import (
    CHOICES_LIMIT,
    ConfirmationForm,
    RemovalForm,
    confirmation_form,
    removal_form,
)
from flows.responses import ResponseForm, response_form

CJK = re.compile(r"[\u4e00-\u9fff]")


def _flow(entrypoint: str) -> Any:
    path, _, name = entrypoint.partition(":")
    return getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)


def _nullable(schema: dict[str, Any]) -> bool:
    return any(option.get("type") == "null" for option in schema.get("anyOf", []))


@pytest.mark.parametrize("definition", DEFINITIONS, ids=[d.name for d in DEFINITIONS])
def test_every_parameter_has_a_chinese_title_and_help(definition: Any) -> None:
    flow = _flow(definition.entrypoint)
    schema = parameter_schema(flow.fn).model_dump()
    signature = inspect.signature(flow.fn)
    for name, shown in schema["properties"].items():
        assert CJK.search(shown.get("title", "")), f"{definition.name}.{name}: {shown}"
        assert shown.get("description", "").strip(), f"{definition.name}.{name}: {shown}"
        assert not _nullable(shown), f"{definition.name}.{name} shows as X/None: {shown}"
    required = {
        name for name, p in signature.parameters.items() if p.default is inspect.Parameter.empty
    }
    assert required == set(schema.get("required", [])), definition.name


def _models(form: type[pydantic.BaseModel]) -> list[type[pydantic.BaseModel]]:
    """The form and the models of its lists (a rejection, a refusal)."""
    found = [form]
    for info in form.model_fields.values():
        for arg in getattr(info.annotation, "__args__", ()):
            if isinstance(arg, type) and issubclass(arg, pydantic.BaseModel):
                found += _models(arg)
    return found


FORMS = {
    "confirmation": (ConfirmationForm, confirmation_form("### 批次", [11, 12])),
    "removal": (RemovalForm, removal_form("### 移出", [21, 22])),
    "response": (ResponseForm, response_form({"mem": "应急管理部", "ndrc": "国家发展改革委"})),
}


@pytest.mark.parametrize("name", list(FORMS))
def test_every_form_field_has_a_chinese_title_and_required_ones_are_required(name: str) -> None:
    base, shown = FORMS[name]
    for form in (base, shown):
        for model in _models(form):
            for field, info in model.model_fields.items():
                assert CJK.search(info.title or ""), f"{model.__name__}.{field}"
    assert {f for f, i in shown.model_fields.items() if i.is_required()} == {
        f for f, i in base.model_fields.items() if i.is_required()
    }
    assert "decision_number" not in ConfirmationForm.model_fields  # numbered by the system


def test_the_form_offers_exactly_the_listings_awaiting_a_decision() -> None:
    form = confirmation_form("### 批次", [12, 11, 14])
    rejection = form.model_json_schema()["$defs"]["Rejection"]["properties"]["listing_id"]
    assert rejection["enum"] == [12, 11, 14]
    assert rejection["title"] == "名单编号"
    with pytest.raises(pydantic.ValidationError):
        form.model_validate(
            {"reviewer": "审核人", "rejections": [{"listing_id": 13, "reason": "证据不足"}]}
        )
    removal = removal_form("### 移出", [21, 22]).model_json_schema()
    assert removal["properties"]["approve"]["items"]["enum"] == [21, 22]
    assert removal["$defs"]["RemovalRefusal"]["properties"]["listing_id"]["enum"] == [21, 22]
    department = response_form({"mem": "应急管理部"}).model_json_schema()["properties"][
        "department"
    ]
    assert department["enum"] == ["mem"]
    assert "mem：应急管理部" in department["description"]


def test_above_the_limit_the_listing_number_is_a_plain_number() -> None:
    many = list(range(1, CHOICES_LIMIT + 2))
    schema = confirmation_form("### 批次", many).model_json_schema()
    listing = schema["$defs"]["Rejection"]["properties"]["listing_id"]
    assert "enum" not in listing
    assert listing["minimum"] == 1


def test_no_form_or_parameter_help_names_a_raw_field_or_a_missing_command() -> None:
    """The new operator read 'jointcredit batch list' (no such command) in the route-batch
    parameter help and 'measures_not_applicable' (a field key) in the response form."""
    import typer

    from deployments.cli import app
    from deployments.serve import load_flow
    from flows.responses import FORM_DESCRIPTION

    texts = [FORM_DESCRIPTION]
    for item in DEFINITIONS:
        schema = parameter_schema(load_flow(item).fn).model_dump()
        texts += [str(p.get("description", "")) for p in schema["properties"].values()]
    commands: set[str] = set()

    def walk(command: Any, path: str) -> None:
        commands.add(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "jointcredit")
    for text in texts:
        for named in re.findall(r"jointcredit(?: [a-z-]+)+", text):
            assert any(named.startswith(c) for c in commands if c != "jointcredit"), named
            assert named in commands or any(c.startswith(named) for c in commands), named
        assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), text
