"""Chinese first for pydantic's validation errors: one table from error type to message.

Settings are read from the environment (`registry.settings.get_settings`), and an operator who
mistypes `JOINTCREDIT_IMPORT_MAX_ROWS=十万` must be told in Chinese what the variable wants —
not pydantic's "Input should be a valid integer". The English stays as the gloss in brackets,
as every error in this project has it. Types not in the table keep pydantic's message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

INPUT_SHOWN = 40
"""Characters of a refused value echoed back (a setting's value, never a secret's type)."""

_MESSAGES: dict[str, str] = {
    "missing": "必须设置",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数，不能带小数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "bool_parsing": "应为 true 或 false（也可写 1/0、yes/no、on/off）",
    "bool_type": "应为 true 或 false",
    "url_parsing": "应为有效的网址",
    "url_type": "应为有效的网址",
    "url_scheme": "网址的协议不允许，应为 {expected_schemes}",
    "literal_error": "应为以下之一：{expected}",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "datetime_parsing": "应为日期时间，如 2026-11-27T10:00:00+08:00",
    "datetime_from_date_parsing": "应为日期时间，如 2026-11-27T10:00:00+08:00",
    "datetime_type": "应为日期时间，如 2026-11-27T10:00:00+08:00",
    "string_too_short": "过短，至少 {min_length} 个字符",
    "string_too_long": "过长，至多 {max_length} 个字符",
}
_ECHOED = {"int_parsing", "int_from_float", "float_parsing", "bool_parsing", "literal_error"}
"""Types whose refused value is shown: short scalars, where seeing the typo helps."""


def validation_message(error: Mapping[str, Any]) -> str:
    """One pydantic error (an item of `ValidationError.errors()`) in Chinese, English in
    brackets; a custom validator's own message (already Chinese first) is kept as it is."""
    kind = str(error.get("type", ""))
    english = str(error.get("msg", "")).removeprefix("Value error, ")
    template = _MESSAGES.get(kind)
    if template is None:
        return english
    context = {k: str(v) for k, v in (error.get("ctx") or {}).items()}
    try:
        chinese = template.format(**context)
    except KeyError:  # a context field this pydantic version does not give
        chinese = template.split("{", 1)[0].rstrip("，：")
    if kind in _ECHOED and isinstance(error.get("input"), str | int | float):
        typed = str(error["input"])
        shown = typed if len(typed) <= INPUT_SHOWN else typed[:INPUT_SHOWN] + "…"
        chinese += f"，现为 {shown!r}"
    return f"{chinese}（{english}）"
