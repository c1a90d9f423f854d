"""A notice's blank forms → a draft declaration for the admin to review.

Pure: lines of tables and paragraphs in (`tables.py`), a structure and YAML text out.
Every guess is written down as a YAML comment beside it (keys, `short`, an ambiguous
时间, a required column): the draft never guesses silently.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .declare import sheet_name_problem
from .tables import Line
from .values import clean_text

Validations = dict[tuple[int, int], tuple[str, ...]]   # (table, column) → list options


@dataclass
class DraftField:
    label: str
    header: str                       # as printed, with its （100字内）
    kind: str = "text"
    max_len: int | None = None
    unit: str | None = None
    options: tuple[str, ...] = ()
    required: bool = False
    export: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)


@dataclass
class DraftForm:
    title: str
    fields: list[DraftField]
    attachment: str | None = None
    template: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def short(self) -> str:
        text = re.sub(r"^[“\"][^”\"]*[”\"]", "", self.title)          # the campaign's slogan
        text = re.sub(r"^\d{4}\s*年度?", "", text) or self.title
        text = re.sub(r"[\[\]:*?/\\：]", "", text)
        return text[-31:]


@dataclass
class NoticeInfo:
    code: str | None = None
    title: str | None = None
    deadline: dt.date | None = None
    contact: str | None = None
    email: str | None = None
    notes: list[str] = field(default_factory=list)


# --- the tables -----------------------------------------------------------------------

_LIMIT = re.compile(r"[（(]\s*(?:限|不超过|不多于)?\s*(\d+)\s*字(?:以内|之内|内)?[^）)]*[）)]")
_UNIT = re.compile(r"[（(]\s*(?:单位\s*[:：]\s*)?(万元|元)\s*[）)]")
_PAREN = re.compile(r"[（(][^（）()]*[）)]")
_REQUIRED = re.compile(r"必填|[*＊★]")
_OPTIONAL = re.compile(r"可不填|选填|可空")
_NOT_HEADER = re.compile(r"^(填报单位|联\s*系\s*人|注|备注|单位名称\s*[:：])")
_ATTACHMENT = re.compile(r"^附\s*件\s*(\d+)\s*[:：.．、]?\s*(.*)$")
_SEQ = {"序号", "编号", "序"}


def _label(header: str) -> str:
    text = _PAREN.sub("", header.replace("\n", ""))
    return re.sub(r"[\s*＊★:：]", "", text)


def _kind(spec: DraftField) -> None:
    """Kinds from the wording (CONTRACT.md `forms draft`); a doubt goes into a note."""
    label, header = spec.label, spec.header
    if re.search(r"(姓名|负责人|联系人).*职务|职务.*姓名", label):
        spec.kind = "leader"
        stem = re.split(r"姓名|及|和|、|职务", label, maxsplit=1)[0]
        spec.export = (f"{stem}姓名", f"{stem}职务")
    elif label.startswith("是否"):
        spec.kind = "yesno"
    elif "性别" in label:
        spec.kind, spec.options = "choice", ("男", "女")
    elif "身份证" in label:
        spec.kind = "idcard"
    elif re.search(r"电话|手机", label):
        spec.kind = "phone"
    elif re.search(r"人数|人次|名额", label):
        spec.kind = "count"
    elif (unit := _UNIT.search(header)) or re.search(r"金额|经费|预算|费用|资金", label):
        spec.kind, spec.unit = "money", unit.group(1) if unit else "元"
        if not unit:
            spec.notes.append("表头没写单位，按“元”：若按万元填写请改为 unit: 万元")
    elif re.search(r"出生年月|日期|年月", label):
        spec.kind = "date"
    elif label.endswith("时间"):
        spec.kind = "date"
        spec.notes.append("“时间”按日期读（2016年3月）；若填的是时间段或安排，请改为 kind: text")
    elif "时间" in label:
        spec.notes.append("按文字读；若这一列填的是日期，请改为 kind: date")


def _field(header: str, options: tuple[str, ...] | None) -> DraftField:
    spec = DraftField(_label(header), header.replace("\n", ""))
    if (limit := _LIMIT.search(header)):
        spec.max_len = int(limit.group(1))
    _kind(spec)
    if options:
        if set(options) <= {"是", "否"}:
            spec.kind = "yesno"
        else:
            spec.kind, spec.options, spec.unit = "choice", options, None
            spec.notes.append("可选值取自表格的下拉列表")
    if _REQUIRED.search(header):
        spec.required = True
        spec.notes.append("表头标明必填")
    elif _OPTIONAL.search(header):
        spec.notes.append("表头说明可不填")
    return spec


def _tables(lines: Sequence[Line]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for index, line in enumerate(lines):
        if line.table is not None:
            found.setdefault(line.table, []).append(index)
    return found


def _header_row(lines: Sequence[Line], rows: list[int]) -> int | None:
    for index in rows:
        filled = [c for c in lines[index].cells if c]
        if len(filled) >= 2 and not _NOT_HEADER.match(filled[0]):
            return index
    return None


def _merge_two_rows(top: Line, bottom: Line) -> list[str] | None:
    """`负责人` merged over `姓名 | 职务`: the lower row names only columns whose upper
    cell is merged or spans them. None when the lower row is no header half."""
    if not bottom.cells or not any(bottom.cells):
        return None
    labels: list[str] = []
    above = ""
    width = max(len(top.cells), len(bottom.cells))
    for index in range(width):
        upper = top.cells[index] if index < len(top.cells) else ""
        lower = bottom.cells[index] if index < len(bottom.cells) else ""
        merged = index < len(top.joined) and top.joined[index]
        spans = index + 1 < len(top.joined) and top.joined[index + 1]
        if lower and not (merged or spans or not upper or lower == upper):
            return None
        if merged:
            upper = above
        above = upper
        labels.append(upper + lower if lower and lower != upper and (merged or spans) else
                      (lower or upper))
    return labels


def _title_before(lines: Sequence[Line], start: int, rows: list[int],
                  header: int) -> tuple[str | None, str | None]:
    """(title, 附件N) from the table's own rows above its header (a sheet's merged title)
    or the paragraphs just before the table."""
    texts = [lines[i].text for i in rows if i < header and lines[i].text]
    at = start - 1
    while at >= 0 and lines[at].table is None and start - at <= 5:
        texts.insert(0, lines[at].text)
        at -= 1
    title = attachment = None
    for text in reversed(texts):
        text = clean_text(text)
        if _NOT_HEADER.match(text) or not text:
            continue
        if (match := _ATTACHMENT.match(text)):
            attachment = f"附件{match.group(1)}"
            title = title or (match.group(2).strip() or None)
            break
        if title is None:
            title = text
        elif attachment is None:
            break
    return title, attachment


def draft_forms(lines: Sequence[Line], *, template: str | None = None,
                validations: Validations | None = None) -> list[DraftForm]:
    """Every blank form (a table with a header row) in one file's lines."""
    validations = validations or {}
    forms: list[DraftForm] = []
    for table, rows in _tables(lines).items():
        header = _header_row(lines, rows)
        if header is None:
            continue
        labels = list(lines[header].cells)
        position = rows.index(header)
        body = rows[position + 1:]
        if body and (two := _merge_two_rows(lines[header], lines[body[0]])):
            labels, body = two, body[1:]
        columns = [(i, text) for i, text in enumerate(labels) if text]
        if len(columns) < 2:
            continue
        fields = [_field(text, validations.get((table, i))) for i, text in columns
                  if _label(text) not in _SEQ]
        fields = _join_leader_columns(fields)
        title, attachment = _title_before(lines, rows[0], rows, header)
        sheet = re.search(r"附\s*件\s*(\d+)", lines[header].where)   # a sheet named 附件1
        attachment = attachment or (f"附件{sheet.group(1)}" if sheet else None)
        form = DraftForm(title or f"表{table + 1}", fields, attachment, template)
        if title is None:
            form.notes.append("没找到表格标题，请填写 title")
        filled = [i for i in body if any(lines[i].cells[1:]) and not _NOT_HEADER.match(
            lines[i].text)]
        if filled:
            form.notes.append(f"表格中已有 {len(filled)} 行内容：草稿按空白表读取，请核对表头")
        forms.append(form)
    return forms


def _join_leader_columns(fields: list[DraftField]) -> list[DraftField]:
    """`负责人姓名 | 负责人职务` side by side are one leader field in two columns."""
    joined: list[DraftField] = []
    for spec in fields:
        previous = joined[-1] if joined else None
        if (previous and previous.label.endswith("姓名") and spec.label.endswith("职务")
                and previous.label[:-2] and previous.label[:-2] == spec.label[:-2]):
            stem = previous.label[:-2]
            joined[-1] = DraftField(f"{stem}姓名及职务", f"{previous.header} | {spec.header}",
                                    "leader", export=(previous.label, spec.label),
                                    notes=["姓名和职务分两列"])
            continue
        joined.append(spec)
    return joined


# --- the YAML -------------------------------------------------------------------------

def ascii_key(text: str, taken: set[str], fallback: str) -> tuple[str, bool]:
    """A key for `text` ([a-z][a-z0-9_]*): its pinyin (活动名称 → huo_dong_ming_cheng), or
    `fallback` when pypinyin is not installed. Unique within `taken`; says whether it is
    the fallback."""
    try:
        from pypinyin import lazy_pinyin
    except ImportError:
        syllables: list[str] = []
    else:
        syllables = [re.sub(r"[^a-z0-9]", "", s.lower()) for s in lazy_pinyin(_label(text))]
    key = "_".join([s for s in syllables if s][:6])
    guessed = not key or not key[0].isalpha()
    key = fallback if guessed else key
    unique, number = key, 2
    while unique in taken:
        unique, number = f"{key}_{number}", number + 1
    taken.add(unique)
    return unique, guessed


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)   # a JSON string is a YAML scalar


def _list(items: Sequence[str]) -> str:
    return "[" + ", ".join(_q(i) for i in items) + "]"


def _comment(notes: Sequence[str]) -> str:
    return f"   # {'；'.join(notes)}" if notes else ""


def render(forms: Sequence[DraftForm], notice: NoticeInfo | None = None,
           sources: Sequence[str] = ()) -> str:
    """The draft as YAML (a list of declarations, CONTRACT.md `campaign.forms`) with a
    comment on everything the admin must confirm."""
    out = [f"# formbot forms draft：由 {'、'.join(sources) or '空白表格'} 生成的表格声明草稿。",
           "# 请逐项核对（特别是带“请确认”的行），再在 config.yaml 里写",
           "# campaign: forms: 本文件名，然后运行 formbot forms check。"]
    if notice:
        out += ["#", "# 通知中的活动信息（请核对后写进 config.yaml 的 campaign:）："]
        for key, value in (("code", notice.code), ("title", notice.title),
                           ("deadline", notice.deadline.isoformat() if notice.deadline else None),
                           ("contact", notice.contact)):
            out.append(f"#   {key}: {value if value else '（没找到，请填写）'}")
        if notice.email:
            out.append(f"#   （通知要求报送到 {notice.email}：应与 mailbox.username 一致）")
        out += [f"#   注意：{n}" for n in notice.notes]
    form_keys: set[str] = set()
    for number, form in enumerate(forms, start=1):
        short = form.short
        key, guessed = ascii_key(short, form_keys, f"form{number}")
        out += ["", f"- key: {_q(key)}" + _comment(
            ["请确认：表格的标识（状态 JSON、数据库用），由拼音生成，可改为简短英文如 activity"
             if not guessed else "请改为有意义的英文标识，如 activity"]),
            f"  title: {_q(form.title)}" + _comment(form.notes),
            f"  short: {_q(short)}" + _comment(
                ["请确认：导出工作表名、回执和催报里的简称（不超过31字）"]
                + ([p] if (p := sheet_name_problem(short)) else []))]
        if form.attachment:
            out.append(f"  attachment: {_q(form.attachment)}")
        if form.template:
            shared = sum(1 for f in forms if f.template == form.template) > 1
            out.append(f"  template: {_q(form.template)}" + _comment(
                ["空白表文件，随催报发给各单位；路径相对于本文件"]
                + (["这个文件里有几张表，催报会附上整个文件：最好把这张表另存为单独的文件"]
                   if shared else [])))
        out += [f"  title_words: {_list([short])}" + _comment(
            ["邮件或文件中出现这些词即认为与此表有关，可补充"]), "  fields:"]
        field_keys: set[str] = set()
        for index, spec in enumerate(form.fields, start=1):
            stem = re.split(r"姓名|及|职务", spec.label)[0] if spec.kind == "leader" else ""
            fkey, fguessed = ascii_key(stem or spec.label, field_keys, f"field{index}")
            notes = list(spec.notes)
            if fguessed:
                notes.insert(0, f"key 请改为有意义的英文（{spec.label}）")
            required = spec.required
            if not required and index == 1 and re.search(r"名称|姓名", spec.label):
                required = True
                notes.append("第一列是名称，草稿设为必填，请确认")
            out.append(f"    - key: {_q(fkey)}" + _comment(notes))
            out.append(f"      label: {_q(spec.label)}")
            out.append(f"      kind: {spec.kind}")
            if required:
                out.append("      required: true")
            if spec.max_len:
                out.append(f"      max_len: {spec.max_len}" + _comment(
                    [f"来自表头“{spec.header}”"]))
            if spec.unit:
                out.append(f"      unit: {spec.unit}")
            if spec.options:
                out.append(f"      options: {_list(spec.options)}")
            if spec.export:
                out.append(f"      export: {_list(spec.export)}")
    return "\n".join(out) + "\n"
