"""`formbot forms check`: each declared form read from its own blank template (every
column matched, no data rows), and the forms printed as tables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from parsers.specs import FormSpec

KIND_NAMES = {"text": "文字", "count": "人数/数量", "number": "数字", "money": "金额",
              "date": "日期", "leader": "姓名及职务", "phone": "电话", "idcard": "身份证号",
              "choice": "选项", "yesno": "是/否"}


def check_template(spec: FormSpec, forms: Sequence[FormSpec], converter: Any) -> list[str]:
    """What is wrong between `spec` and its template file (empty: all well)."""
    from parsers.files import read_file

    if not spec.template:
        return []
    path = Path(spec.template)
    if not path.is_file():
        return [f"找不到模板文件 {path}"]
    result = read_file(path.name, path.read_bytes(), converter=converter, forms=forms)
    mine = [f for f in result.forms if f.spec.key == spec.key]
    if not mine:
        others = "、".join(f.spec.short for f in result.forms)
        return [f"模板 {path.name} 中没有认出这张表" + (f"（认成了：{others}）" if others else
                                                  f"（{result.problem or '表头对不上'}）")]
    problems = []
    form = mine[0]
    missing = [f.label for f in spec.data_fields if f.key not in form.found_fields]
    if missing:
        problems.append(f"模板中没有这些列：{'、'.join(missing)}（请核对 label 或 aliases）")
    if form.extra_columns:
        problems.append(f"模板中有声明里没有的列：{'、'.join(form.extra_columns)}"
                        f"（请加为字段，或加进某个字段的 aliases）")
    if form.rows:
        problems.append(f"模板中已有 {len(form.rows)} 行数据：模板应是空白表")
    return problems


def check_templates(forms: Sequence[FormSpec]) -> dict[str, list[str]]:
    from formbot.poll.converters import LazyConverter

    with LazyConverter() as converter:
        return {spec.key: check_template(spec, forms, converter) for spec in forms}


def _limits(spec_field: Any) -> str:
    parts = []
    if spec_field.max_len:
        parts.append(f"{spec_field.max_len}字以内")
    if spec_field.unit:
        parts.append(f"单位：{spec_field.unit}")
    if spec_field.options:
        parts.append("可选：" + "、".join(spec_field.options))
    if spec_field.kind == "leader":
        parts.append("导出为：" + "、".join(spec_field.export_headers))
    return "；".join(parts)


def print_forms(settings: Any, problems: dict[str, list[str]]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    campaign = settings.campaign
    console.print(escape(f"【{campaign.code}】{campaign.title}：{len(settings.forms)} 张表"))
    for spec in settings.forms:
        table = Table(title=escape(f"{spec.attachment or ''} {spec.short}（{spec.key}）".strip()),
                      title_justify="left")
        for column in ("字段", "表头", "类型", "必填", "限制", "别名"):
            table.add_column(column, overflow="fold")
        for spec_field in spec.data_fields:
            table.add_row(*(escape(t) for t in (
                          spec_field.key, spec_field.label,
                          KIND_NAMES.get(spec_field.kind, spec_field.kind),
                          "是" if spec_field.required else "", _limits(spec_field),
                          "、".join(spec_field.aliases))))
        console.print(table)
        if not spec.template:
            console.print("  模板：未声明（催报不附空白表）")
        elif problems.get(spec.key):
            for problem in problems[spec.key]:
                console.print(f"  [red]✗[/red] {escape(problem)}")
        else:
            name = escape(Path(spec.template).name)
            console.print(f"  [green]✓[/green] 模板 {name}：各列都对上，无数据行")
    bad = sum(1 for p in problems.values() if p)
    console.print("表格声明检查通过。" if not bad else f"有 {bad} 张表的模板有问题，见上。")
