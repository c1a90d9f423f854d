"""Lines of a file → the forms it holds, as typed rows with their problems.

Pure: no I/O, no database. Everything a form is comes from its declaration (`specs.py`),
and each cell is read by its field's kind (`kinds.py`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from .headers import Header, find_headers
from .kinds import check, read_value
from .specs import FieldSpec, FormSpec
from .tables import PAGE_FOOTER, PAGE_HEADER, Line
from .values import Leader, parse_date, parse_leader


@dataclass(frozen=True)
class Problem:
    message: str
    row: int | None = None       # 1-based data row within the form
    field: str | None = None     # the header label as the notice prints it

    def describe(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"第{self.row}行")
        if self.field:
            where.append(f"“{self.field}”")
        return ("".join(where) + "：" if where else "") + self.message


@dataclass
class FormRow:
    seq: int
    values: dict[str, object]        # store column → normalised value
    raw: dict[str, str]              # field key → text as typed
    problems: list[Problem] = field(default_factory=list)


@dataclass
class FormData:
    spec: FormSpec
    unit_text: str | None = None
    contact: str | None = None
    phone: str | None = None
    filled_on: str | None = None
    filled_on_raw: str | None = None
    rows: list[FormRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    found_fields: list[str] = field(default_factory=list)   # keys of the fields with a column

    @property
    def all_problems(self) -> list[Problem]:
        return self.problems + [p for r in self.rows for p in r.problems]


EMPTY_FORM = "表格是空的，没有填写任何一行"
NO_UNIT = "未填写“填报单位”"

_LABELS = r"(?=填报单位|联\s*系\s*人|联系电话|电\s*话|填报日期|日\s*期\s*[:：]|$)"
# `填报单位（盖章）：…` is how many templates print it; the bracket is not the unit.
_UNIT = re.compile(r"填报单位(?:名称)?\s*(?:[（(][^）)]*[）)])?\s*[:：]?\s*(.*?)\s*" + _LABELS)
# A label split from its value over two cells often has no colon (`联系人 | 张三`): the
# cells' gap (two spaces in `Line.text`) stands for it.
_GAP = r"(?:\s*[:：]|\s{2,}(?=\S))"
_CONTACT = re.compile(r"联\s*系\s*人" + _GAP + r"\s*(.*?)\s*" + _LABELS)
_PHONE = re.compile(r"(?:联系电话|电\s*话)" + _GAP + r"\s*(.*?)\s*" + _LABELS)
_DATE = re.compile(r"填报日期\s*[:：]?\s*(.*?)\s*" + _LABELS)
_TEMPLATE_DATE = re.compile(r"^年?\s*月?\s*日?$")


# The template's blank to write on (`填报单位：________`): clerks type over it and leave
# the rest of the line standing around what they wrote.
_UNDERLINE = " ：:_＿\u3000"


def _first(pattern: re.Pattern[str], lines: list[Line]) -> str | None:
    for line in lines:
        for match in pattern.finditer(line.text.replace("\n", " ")):
            value = match.group(1).strip(_UNDERLINE)
            if value:
                return value
    return None


def _is_footer(line: Line) -> bool:
    """A line that closes the table: the note, the footer, or the unit's line written
    below the table (`填报单位（盖章）| 某某工会` as the sheet's last rows)."""
    text = line.text
    return text.startswith(("注", "备注", "填报单位", "联系人", "联 系 人")) or bool(
        re.search(r"联\s*系\s*人\s*[:：]|填报日期", text)
    )


_TOTAL = re.compile(r"^(合|总|小)\s*计\s*[:：]?$")
# What clerks write in the template's spare rows so that nothing can be added to them:
# `/`, `无`, `——`, `以下空白`. A row holding nothing else is no activity or team.
_SPARE_MARK = re.compile(
    r"^[（(]?\s*(?:以下(?:空白|无|空)|空白|空|无|[/／\\]+|[—\-－–_＿]+)\s*[）)]?$"
)


def _is_spare(texts: list[str]) -> bool:
    filled = [t for t in texts if t]
    return bool(filled) and all(_SPARE_MARK.match(t) for t in filled)


def _read_row(cells: tuple[str, ...], header: Header, seq: int) -> FormRow | None:
    raw: dict[str, str] = {}
    split: dict[str, dict[str, str]] = {}
    for index, spec_field in header.columns.items():
        text = cells[index] if index < len(cells) else ""
        if index in header.parts:
            split.setdefault(spec_field.key, {})[header.parts[index]] = text
        else:
            raw[spec_field.key] = text
    for key, texts in split.items():
        # as typed, in the one-column form (`张三 主席`): raw keeps a field's text whole
        raw[key] = " ".join(texts[p] for p, _ in header.spec.field(key).parts if texts[p])
    extra = {
        f"其他:{name}": cells[index]
        for index, name in header.unknown.items()
        if index < len(cells) and cells[index]
    }
    # cell by cell: a split leader struck out is `/` twice, not the `/ /` of its raw text
    data = [cells[i] if i < len(cells) else "" for i, f in header.columns.items()
            if f.kind != "seq"]
    if not any(data) or _is_spare(data):
        return None  # an empty or struck-out template row, perhaps with its 序号 prefilled
    if _TOTAL.match(next((c for c in cells if c), "")):
        return None  # a 合计 row sums the rows above; it is not one more activity or team
    row = FormRow(seq=seq, values={}, raw={**raw, **extra})
    for spec_field in header.spec.data_fields:
        text = raw.get(spec_field.key, "")
        _read_value(spec_field, text, row, split.get(spec_field.key))
    return row


def _read_leader(text: str, split: dict[str, str] | None) -> tuple[Leader, str | None]:
    """A leader from one cell, or from a name column and a title column. A title column
    left empty may mean both were written in the name column (`张三 主席`)."""
    if not split or not split.get("title"):
        return parse_leader(split.get("name", "") if split else text)
    name, title = split.get("name") or None, split["title"]
    return Leader(name, title), None if name else "负责人未写姓名"


def _blank_mark(spec_field: FieldSpec, text: str) -> bool:
    """`/` or `无` in a number, date or leader cell of a real row says "none": nothing to
    read there, which is not the same as a value written unreadably. (In a text cell it
    is what the clerk wrote, and stays; in a yes/no or choice cell 无 may be the answer.)"""
    if spec_field.kind == "text" or not _SPARE_MARK.match(text):
        return False
    return not (spec_field.kind in ("yesno", "choice") and read_value(spec_field, text)[0])


def _read_value(spec_field: FieldSpec, text: str, row: FormRow,
                split: dict[str, str] | None = None) -> None:
    def problem(message: str) -> None:
        row.problems.append(Problem(message, row=row.seq, field=spec_field.label))

    # The raw text keeps what was typed either way.
    text = "" if _blank_mark(spec_field, text) else text
    if split:
        split = {part: "" if _blank_mark(spec_field, v) else v for part, v in split.items()}

    if spec_field.kind == "leader":
        leader, issue = _read_leader(text, split)
        name_col, title_col = spec_field.columns
        row.values[name_col] = leader.name
        row.values[title_col] = leader.title
    else:
        # A date is kept only normalised (the export promises YYYY / YYYY-MM /
        # YYYY-MM-DD): what was typed stays in `raw`, and the problem quotes it.
        row.values[spec_field.key], issue = read_value(spec_field, text)
    if issue:
        problem(issue)
    for message in check(spec_field, text):
        problem(message)


def read_forms(lines: list[Line], forms: Sequence[FormSpec] | None = None) -> list[FormData]:
    """Every form found in the file's lines, in file order; `forms` are the campaign's
    declarations (default: the built-in forms of 杨工〔2018〕14号)."""
    headers = find_headers(lines, forms)
    forms: list[FormData] = []
    previous_end = 0
    claimed: set[int] = set()    # lines around or in some form's table
    for position, (start, header) in enumerate(headers):
        next_start = headers[position + 1][0] if position + 1 < len(headers) else len(lines)
        table = lines[start].table
        end = start + header.rows
        while end < next_start and lines[end].table == table and not _is_footer(lines[end]):
            end += 1
        body = lines[start + header.rows:end]
        end = _continuation(lines, end, next_start, width=len(lines[start].cells), into=body)
        # The footer (联系人/电话/日期, 注) follows the table. When another form follows,
        # its `填报单位` line opens that form's preamble: stop there, so that neither
        # form takes the other's unit or contact when its own is left blank.
        after_end = end
        while after_end < next_start and after_end - end < 9:
            line = lines[after_end]
            if next_start < len(lines) and _UNIT.search(line.text):
                break
            if line.table == table and not (_is_footer(line) or line.is_empty):
                break
            after_end += 1
        before = lines[previous_end:start]
        after = lines[end:after_end]
        claimed.update(range(previous_end, after_end))
        form = _build_form(header, body, before, after)
        if forms and forms[-1].spec is form.spec and form.unit_text is None:
            # The same form again with no 填报单位 of its own: the table went on in
            # another table or sheet (the notice says 表格不够可另附). One form, not two.
            _continue_form(forms[-1], form)
        else:
            forms.append(form)
        previous_end = after_end
    _fill_from_file(forms, [line for index, line in enumerate(lines)
                            if index not in claimed or line.where in (PAGE_HEADER, PAGE_FOOTER)])
    for form in forms:
        if not form.unit_text:
            form.problems.append(Problem(NO_UNIT))
        if not form.rows:
            form.problems.append(Problem(EMPTY_FORM))
        _check_dates_against_filled_on(form)
    return forms


def _check_dates_against_filled_on(form: FormData) -> None:
    """A founding date after the day the form was filled in is a slip (`2019年`, or a
    two-digit year read into the wrong century): say so rather than store it unremarked.
    Dates are compared at the precision both have (`2016` against `2018-06-10`)."""
    if not form.filled_on:
        return
    for row in form.rows:
        for spec_field in form.spec.data_fields:
            value = row.values.get(spec_field.key) if spec_field.kind == "date" else None
            if not isinstance(value, str):
                continue
            width = min(len(value), len(form.filled_on))
            if value[:width] > form.filled_on[:width]:
                row.problems.append(Problem(
                    f"{value} 晚于填报日期 {form.filled_on}，请核对",
                    row=row.seq, field=spec_field.label))


_CONTINUED = re.compile(r"^(续表|[（(]续[）)]|续)")


def _continuation(lines: list[Line], end: int, limit: int, *, width: int,
                  into: list[Line]) -> int:
    """Tables right after a form's table, as wide and with no header of their own, carry on
    its rows ("表格不够可另附"). Adds their lines to `into`; returns where they stop."""
    while end < limit:
        nxt = end
        while nxt < limit and lines[nxt].table is None and (
            lines[nxt].is_empty or _CONTINUED.match(lines[nxt].text)
        ):
            nxt += 1
        if nxt >= limit or lines[nxt].table is None or _UNIT.search(lines[nxt].text):
            return end
        if abs(len(lines[nxt].cells) - width) > 1 or _is_footer(lines[nxt]):
            return end
        table, stop = lines[nxt].table, nxt
        while stop < limit and lines[stop].table == table and not _is_footer(lines[stop]):
            stop += 1
        into.extend(lines[nxt:stop])
        end = stop
    return end


def _continue_form(form: FormData, part: FormData) -> None:
    """Append a continuation table's rows (renumbered) and fill footer fields left blank."""
    offset = len(form.rows)
    for row in part.rows:
        row.seq += offset
        row.problems = [replace(p, row=row.seq) for p in row.problems]
        form.rows.append(row)
    form.contact = form.contact or part.contact
    form.phone = form.phone or part.phone
    if not form.filled_on_raw:
        form.filled_on, form.filled_on_raw = part.filled_on, part.filled_on_raw
    form.problems.extend(p for p in part.problems if p not in form.problems)
    form.extra_columns.extend(c for c in part.extra_columns if c not in form.extra_columns)


def _build_form(
    header: Header, body: list[Line], before: list[Line], after: list[Line]
) -> FormData:
    form = FormData(spec=header.spec)
    context = list(reversed(before)) + after
    form.unit_text = _first(_UNIT, context)
    form.contact = _first(_CONTACT, after + list(reversed(before)))
    form.phone = _first(_PHONE, after + list(reversed(before)))
    _set_filled_on(form, _first(_DATE, after + list(reversed(before))))
    form.extra_columns = list(header.unknown.values())
    form.found_fields = list(dict.fromkeys(f.key for f in header.columns.values()))
    last: tuple[FormRow, int | None] | None = None   # the row just read, and its table
    for line in body:
        carried = _carried_on(line.cells, header) if last and last[1] == line.table else None
        if last and carried:
            _extend_row(last[0], header.spec, carried)
            continue
        row = None if line.is_empty else _read_row(line.cells, header, len(form.rows) + 1)
        if row:
            form.rows.append(row)
        last = (row, line.table) if row else None
    return form


def _set_filled_on(form: FormData, date_text: str | None) -> None:
    if date_text:
        # `2018年__6__月__10__日`: the figures typed into the template's blanks.
        date_text = re.sub(r"[_＿]+", "", date_text)
    if date_text and not _TEMPLATE_DATE.match(date_text.replace(" ", "")):
        form.filled_on_raw = date_text
        form.filled_on, issue = parse_date(date_text)
        if issue:
            form.problems.append(Problem(f"填报日期：{issue}"))


def _only(pattern: re.Pattern[str], lines: list[Line]) -> str | None:
    """The one value the whole file gives for a label, or None when it gives none or
    several (two units' forms in one file: neither takes the other's)."""
    found = {value for line in lines if (value := _first(pattern, [line]))}
    return found.pop() if len(found) == 1 else None


def _fill_from_file(forms: list[FormData], lines: list[Line]) -> None:
    """What no form found around its own table, from the file's lines that belong to no
    form: the page header or footer of a .docx (every page's), a sheet or a line further
    away. Never from another form's own lines: one form's blank is not the other's."""
    if not forms or all(f.unit_text and f.contact and f.phone and f.filled_on_raw
                        for f in forms):
        return
    unit, contact, phone = (_only(p, lines) for p in (_UNIT, _CONTACT, _PHONE))
    filled_on = _only(_DATE, lines)
    for form in forms:
        form.unit_text = form.unit_text or unit
        form.contact = form.contact or contact
        form.phone = form.phone or phone
        if not form.filled_on_raw:
            _set_filled_on(form, filled_on)


def _carried_on(cells: tuple[str, ...], header: Header) -> dict[str, str] | None:
    """The long texts of a row that holds nothing else: the clerk ran out of room in the
    cell above (主要内容, 服务内容, 服务成效简介) and went on in the next row, leaving 序号,
    name and the rest empty. None for any other row."""
    texts: dict[str, str] = {}
    for index, text in enumerate(cells):
        if not text:
            continue
        spec_field = header.columns.get(index)
        if spec_field is None or not spec_field.max_len or index in header.parts:
            return None
        texts[spec_field.key] = text
    if not texts or _is_spare(list(texts.values())):
        return None
    return texts


def _extend_row(row: FormRow, spec: FormSpec, texts: dict[str, str]) -> None:
    """Append carried-on text to `row`'s fields and read them again (the length limit
    applies to the whole text)."""
    for key, text in texts.items():
        spec_field = spec.field(key)
        before = row.raw.get(key, "")
        whole = f"{before}\n{text}" if before else text
        row.raw[key] = whole
        row.problems = [p for p in row.problems if p.field != spec_field.label]
        _read_value(spec_field, whole, row)


def correct_value(form: FormData, seq: int, field_key: str, text: str) -> bool:
    """Put a person's correction into row `seq`'s field, read by the field's kind as if
    typed so (its problems are those of the new text). False when no such row or field."""
    row = next((r for r in form.rows if r.seq == seq), None)
    spec_field = next((f for f in form.spec.data_fields if f.key == field_key), None)
    if row is None or spec_field is None:
        return False
    row.raw[field_key] = text
    row.problems = [p for p in row.problems if p.field != spec_field.label]
    _read_value(spec_field, text, row)
    return True
