"""pydantic's English validation errors as Chinese sentences naming the key and the fix.

`deadline: 2018-06-31` once ended in a traceback (PyYAML built the date itself and
raised); now the YAML keeps dates as text and this says `campaign.deadline：2018年6月
没有31日`. Our own validators already raise Chinese text (`Value error, …`), kept as is.
"""

from __future__ import annotations

import calendar
import re
from typing import Any

import yaml

_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")
_EXAMPLE_DATE = "请写成 年-月-日，例如 2018-06-15"


class ConfigLoader(yaml.SafeLoader):
    """SafeLoader without timestamps: `2018-06-31` stays text for pydantic to refuse with
    a sentence, instead of PyYAML raising ValueError while it reads the file."""


ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _date_problem(value: object) -> str:
    """What is wrong with a date as written, in words."""
    text = str(value)
    found = _DATE.match(text)
    if not found:
        return f"不是日期，{_EXAMPLE_DATE}"
    year, month, day = (int(g) for g in found.groups())
    if not 1 <= month <= 12:
        return f"没有{month}月，{_EXAMPLE_DATE}"
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        return f"{year}年{month}月没有{day}日（这个月只有{last}天）"
    return f"不是有效的日期，{_EXAMPLE_DATE}"


def _expected(ctx: dict[str, Any]) -> str:
    return str(ctx.get("expected", "")).replace("' or '", "、").replace("', '", "、").strip("'")


def _message(kind: str, message: str, value: object, ctx: dict[str, Any]) -> str:
    simple = {
        "int_parsing": "应为整数",
        "int_type": "应为整数",
        "int_from_float": "应为整数，不能带小数",
        "float_parsing": "应为数字",
        "float_type": "应为数字",
        "bool_parsing": "应为 true 或 false",
        "bool_type": "应为 true 或 false",
        "string_type": "应为文字（可加引号）",
        "list_type": "应为列表，例如 [a, b] 或每行一项“- ”",
        "dict_type": "应为键值对（下一级缩进的 键: 值）",
        "model_type": "应为键值对（下一级缩进的 键: 值）",
        "time_parsing": "应为时间，例如 \"09:00\"",
        "date_from_datetime_inexact": f"只写日期，不写时刻，{_EXAMPLE_DATE}",
        "string_too_short": "不能为空",
        "too_short": "不能为空",
    }
    if kind in simple:
        return simple[kind]
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_type"):
        return _date_problem(value)
    if kind == "literal_error":
        return f"只能是 {_expected(ctx)} 之一"
    if kind == "enum":
        return f"只能是 {_expected(ctx)} 之一"
    if kind == "greater_than_equal":
        return f"应不小于 {ctx.get('ge')}"
    if kind == "greater_than":
        return f"应大于 {ctx.get('gt')}"
    if kind == "less_than_equal":
        return f"应不大于 {ctx.get('le')}"
    if kind == "less_than":
        return f"应小于 {ctx.get('lt')}"
    if kind == "string_pattern_mismatch":
        return "格式不对（例如邮件地址应为 名字@域名，环境变量名只能用字母、数字和下划线）"
    if kind == "string_too_long":
        return f"太长（最多 {ctx.get('max_length')} 个字符）"
    if kind == "value_error":
        return message.removeprefix("Value error, ")   # our validators speak Chinese
    return f"取值无效（{message}）"


def describe(error: dict[str, Any]) -> str:
    """One pydantic error as `key：what is wrong（当前值 …）`."""
    key = ".".join(str(p) for p in error["loc"]) or "(整个文件)"
    kind = str(error["type"])
    if kind == "missing":
        return f"{key}：缺少这个配置项"
    if kind == "extra_forbidden":
        return f"{key}：未知的配置项（是否拼写错误？）"
    value = error.get("input")
    message = _message(kind, str(error.get("msg", "")), value, error.get("ctx") or {})
    if isinstance(value, dict | list):
        return f"{key}：{message}"  # a whole section would drown the sentence
    return f"{key}：{message}（当前值 {value!r}）"
