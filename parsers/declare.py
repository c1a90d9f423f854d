"""Form declarations (YAML, CONTRACT.md `campaign.forms`) → checked `FormSpec`s.

A declaration is refused whole, with one sentence per mistake naming the file, the
form, the field and what is expected: a campaign never runs on half its forms.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .errors import DeclarationError
from .specs import KINDS, SEQ, FieldSpec, FormSpec

Key = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_]*$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# What Excel refuses in a sheet name (and `short` names the export's sheet).
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\：]")
SUMMARY_SHEET = "提交情况"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PartsDeclaration(_Strict):
    name: list[Text] = Field(min_length=1)
    title: list[Text] = Field(min_length=1)


class FieldDeclaration(_Strict):
    key: Key
    label: Text
    kind: Literal["text", "count", "number", "money", "date", "leader", "phone", "idcard",
                  "choice", "yesno"] = "text"
    required: bool = False
    aliases: list[Text] = Field(default_factory=list)
    max_len: int | None = Field(default=None, gt=0, le=100000)
    export: list[Text] | None = None
    options: list[Text] | None = None
    unit: Literal["元", "万元"] | None = None
    parts: PartsDeclaration | None = None


class FormDeclaration(_Strict):
    key: Key
    title: Text
    short: Text
    attachment: Text | None = None
    template: Text | None = None
    title_words: list[Text] = Field(default_factory=list)
    fields: list[FieldDeclaration] = Field(min_length=1)


_KIND_LIST = "、".join(KINDS)
_MESSAGES = {
    "missing": "缺少这一项",
    "extra_forbidden": "未知的项（是否拼写错误？）",
    "string_pattern_mismatch": "应为小写英文字母开头、只含小写字母、数字和下划线，例如 team_name",
    "string_too_short": "不能为空",
    "too_short": "不能为空",
    "list_type": "应为列表，例如 [甲, 乙]",
    "bool_type": "应为 true 或 false",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "greater_than": "应大于 0",
    "string_type": "应为文字",
    "dict_type": "应为键值对",
    "model_type": "应为键值对（key:、label: …）",
}


def _what(error: dict[str, object]) -> str:
    loc = error["loc"]
    kind = str(error["type"])
    if kind == "literal_error" and loc and loc[-1] == "kind":  # type: ignore[index]
        return f"应为 {_KIND_LIST} 之一（当前值 {error.get('input')!r}）"
    if kind == "literal_error" and loc and loc[-1] == "unit":  # type: ignore[index]
        return f"应为 元 或 万元（当前值 {error.get('input')!r}）"
    message = _MESSAGES.get(kind, str(error["msg"]))
    return message


def _name(entry: object, *keys: str) -> str | None:
    if isinstance(entry, dict):
        for key in keys:
            if isinstance(entry.get(key), str) and entry[key].strip():
                return entry[key].strip()
    return None


def _where(raw: list[object], loc: tuple[object, ...]) -> str:
    """`第2张表“volunteer_team”的字段“服务队人数”的 kind` from a pydantic location."""
    if not loc or not isinstance(loc[0], int):
        return ""
    form = raw[loc[0]] if loc[0] < len(raw) else None
    text = f"第{loc[0] + 1}张表“{_name(form, 'key', 'short', 'title') or '?'}”"
    rest = list(loc[1:])
    if len(rest) >= 2 and rest[0] == "fields" and isinstance(rest[1], int):
        fields = form.get("fields") if isinstance(form, dict) else None
        entry = fields[rest[1]] if isinstance(fields, list) and rest[1] < len(fields) else None
        text += f"的字段“{_name(entry, 'label', 'key') or f'第{rest[1] + 1}个'}”"
        rest = rest[2:]
    item = ".".join(str(p) for p in rest if not isinstance(p, int))
    return text + (f"的 {item}" if item else "")


def parse_declarations(raw: object, *, source: Path, base: Path | None = None,
                       where: str = "") -> tuple[FormSpec, ...]:
    """A YAML list of form declarations → FormSpecs. `source` is the file named in the
    errors; `base` the folder `template` paths are relative to (default: the source's);
    `where` what leads to the list inside that file (`campaign.forms`)."""
    lead = f"{source}：{where + '：' if where else ''}"
    if not isinstance(raw, list) or not raw:
        raise DeclarationError(f"{lead}表格声明应为一个列表，每项是一张表（key:、title:、short:、"
                               f"fields: …），且至少一张表")
    declared: list[FormDeclaration] = []
    errors: list[str] = []
    for index, entry in enumerate(raw):
        # one by one, so that each error carries its form's position in the raw list
        try:
            declared.append(FormDeclaration.model_validate(entry))
        except ValidationError as exc:
            errors += [f"{_where(raw, (index, *e['loc']))}：{_what(e)}"  # type: ignore[arg-type]
                       for e in exc.errors()]
    if errors:
        raise DeclarationError(f"{lead}{'；'.join(errors)}")
    problems = _cross_checks(declared)
    if problems:
        raise DeclarationError(f"{lead}{'；'.join(problems)}")
    folder = base or source.parent
    return tuple(_spec(d, folder) for d in declared)


def read_declarations(path: Path) -> tuple[FormSpec, ...]:
    """The declarations in a YAML file of their own (`campaign.forms: forms.yaml`)."""
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeclarationError(f"找不到表格声明文件 {path}") from None
    except UnicodeDecodeError:
        raise DeclarationError(f"{path}：文件不是 UTF-8 编码，请用 UTF-8 保存") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"第{mark.line + 1}行第{mark.column + 1}列：" if mark is not None else ""
        detail = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise DeclarationError(f"{path}：不是有效的 YAML（{at}{detail}）") from None
    return parse_declarations(raw, source=path)


def sheet_name_problem(name: str) -> str | None:
    """Why Excel would refuse `name` as a sheet name, or None."""
    if len(name) > 31:
        return f"不能超过 31 个字（现在 {len(name)} 个字），Excel 的工作表名有此限制"
    if _SHEET_FORBIDDEN.search(name):
        return "不能含有 [ ] : * ? / \\ 这些字符，Excel 的工作表名不允许"
    if name.startswith("'") or name.endswith("'"):
        return "不能以单引号开头或结尾"
    if name.lower() == "history" or name == SUMMARY_SHEET:
        return f"不能叫“{name}”（导出工作簿已有这个工作表）"
    return None


def _cross_checks(declared: list[FormDeclaration]) -> list[str]:
    problems: list[str] = []
    keys = [d.key for d in declared]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(f"表格的 key “{key}” 重复：每张表的 key 应不同")
    shorts = [d.short.lower() for d in declared]
    for form in declared:
        at = f"表“{form.key}”"
        if shorts.count(form.short.lower()) > 1:
            problems.append(f"{at}的 short “{form.short}” 与另一张表相同：导出的工作表名应不同")
        if (issue := sheet_name_problem(form.short)):
            problems.append(f"{at}的 short “{form.short}”{issue}")
        problems.extend(_field_checks(form, at))
    return problems


def _field_checks(form: FormDeclaration, at: str) -> list[str]:
    problems: list[str] = []
    columns: dict[str, str] = {}
    headers: dict[str, str] = {}
    for entry in form.fields:
        here = f"{at}的字段“{entry.label}”"
        spec_columns = ([f"{entry.key}_name", f"{entry.key}_title"] if entry.kind == "leader"
                        else [entry.key])
        for column in spec_columns:
            if column == "seq" or column in columns:
                other = "序号列" if column == "seq" else f"字段“{columns[column]}”"
                problems.append(f"{here}的 key “{entry.key}” 与{other}重复：每个字段的 key 应不同")
            columns[column] = entry.label
        for header in dict.fromkeys((entry.label, *entry.aliases)):
            if header in ("序号", "编号"):
                problems.append(f"{here}：表头“{header}”是每张表都有的序号列，不用声明")
            elif header in headers and headers[header] != entry.label:
                problems.append(f"{here}：表头“{header}”也属于字段“{headers[header]}”，"
                                f"无法判断是哪一列")
            headers.setdefault(header, entry.label)
        if entry.kind == "choice" and not entry.options:
            problems.append(f"{here}：kind 为 choice 时应写 options（可选的值），例如 [男, 女]")
        if entry.options is not None and entry.kind != "choice":
            problems.append(f"{here}：options 只用于 kind: choice")
        if entry.options and len(set(entry.options)) != len(entry.options):
            problems.append(f"{here}：options 中有重复的值")
        if entry.unit is not None and entry.kind != "money":
            problems.append(f"{here}：unit 只用于 kind: money（元 或 万元）")
        if entry.parts is not None and entry.kind != "leader":
            problems.append(f"{here}：parts 只用于 kind: leader")
        wanted = 2 if entry.kind == "leader" else 1
        if entry.export is not None and len(entry.export) != wanted:
            problems.append(f"{here}：export 应写 {wanted} 个列名"
                            f"{'（姓名列和职务列）' if wanted == 2 else ''}")
    return problems


def _leader_parts(label: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`负责人姓名及职务` → name: 负责人姓名, 负责人; title: 负责人职务, 负责人职位, 职务, 职位."""
    stem = re.split(r"姓名|及|和|、|职务", label, maxsplit=1)[0]
    names = (f"{stem}姓名", stem) if stem else ("姓名",)
    titles = (*(f"{stem}{t}" for t in ("职务", "职位") if stem), "职务", "职位")
    return (("name", names), ("title", titles))


def _leader_export(label: str) -> tuple[str, str]:
    stem = re.split(r"姓名|及|和|、|职务", label, maxsplit=1)[0]
    return (f"{stem}姓名", f"{stem}职务")


def _spec(form: FormDeclaration, folder: Path) -> FormSpec:
    fields = [SEQ]
    for entry in form.fields:
        leader = entry.kind == "leader"
        parts: tuple[tuple[str, tuple[str, ...]], ...] = ()
        if leader:
            parts = ((("name", tuple(entry.parts.name)), ("title", tuple(entry.parts.title)))
                     if entry.parts else _leader_parts(entry.label))
        export = tuple(entry.export) if entry.export else (
            _leader_export(entry.label) if leader else ())
        fields.append(FieldSpec(
            key=entry.key, label=entry.label, kind=entry.kind, aliases=tuple(entry.aliases),
            max_len=entry.max_len, required=entry.required, parts=parts, export=export,
            options=tuple(entry.options or ()),
            unit=(entry.unit or "元") if entry.kind == "money" else None))
    template = None
    if form.template:
        path = Path(form.template)
        template = str(path if path.is_absolute() else folder / path)
    return FormSpec(key=form.key, title=form.title, short=form.short,
                    title_words=tuple(form.title_words), fields=tuple(fields),
                    attachment=form.attachment, template=template)
