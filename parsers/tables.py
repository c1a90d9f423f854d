"""Office files → a flat sequence of lines: paragraphs and table rows as cell texts.

Word and Excel lay a form out differently (a paragraph above a table, or a
merged title row above the header); flattening both into lines lets one
reader in `forms.py` find the header, the rows and the text around them.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass

from .values import clean_text

MAX_COLUMNS = 60   # a sheet can claim 16,384 columns; a form never has more than a handful
MAX_ROWS = 5000
MAX_LINES = 20000  # paragraphs and rows of one Word file; a form has a few dozen
PAGE_HEADER, PAGE_FOOTER = "页眉", "页脚"   # `Line.where` of a .docx's page header/footer


@dataclass(frozen=True)
class Line:
    cells: tuple[str, ...]
    table: int | None        # which table/sheet the row belongs to; None for a paragraph
    where: str = ""          # "表1" / sheet name, for problem messages
    # joined[i]: cell i is the cell to its left merged across (its text is kept in the
    # first column only); it may run past `cells` when trailing empty cells were cut.
    # A header cell spanning two columns owns both (forms.py).
    joined: tuple[bool, ...] = ()

    @property
    def text(self) -> str:
        return "  ".join(c for c in self.cells if c)

    @property
    def is_empty(self) -> bool:
        return not any(self.cells)


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
# Subtrees whose text is not the paragraph's own: deleted revisions, field codes, the
# second (VML) copy Word keeps of every text box, and text boxes (read as lines of their
# own by `_text_boxes`).
_NOT_TEXT = {f"{_W}del", f"{_W}moveFrom", f"{_W}delText", f"{_W}instrText",
             f"{_MC}Fallback", f"{_W}txbxContent"}
_BREAKS = {f"{_W}br": "\n", f"{_W}cr": "\n", f"{_W}tab": " ", f"{_W}noBreakHyphen": "-"}


def _paragraph_text(element: object) -> str:
    """A paragraph's text as Word shows it with changes accepted: unlike python-docx's
    `Paragraph.text`, runs inside tracked insertions (修订 left on), content controls and
    smart tags count, and deleted text does not."""
    parts: list[str] = []

    def walk(node: object) -> None:
        for child in node:  # type: ignore[attr-defined]
            tag = child.tag
            if not isinstance(tag, str) or tag in _NOT_TEXT:
                continue
            if tag == f"{_W}t":
                parts.append(child.text or "")
            elif tag in _BREAKS:
                parts.append(_BREAKS[tag])
            else:
                walk(child)

    walk(element)
    return "".join(parts)


def _text_boxes(element: object) -> list[str]:
    """Paragraphs inside the text boxes anchored in a paragraph (WPS and Word put a
    form's title or 填报单位 in one), once each: the VML fallback copy is skipped."""
    found: list[str] = []
    for box in element.iter(f"{_W}txbxContent"):  # type: ignore[attr-defined]
        if any(a.tag == f"{_MC}Fallback" for a in box.iterancestors()):
            continue
        found.extend(_paragraph_text(p) for p in box.iter(f"{_W}p"))
    return found


def _blocks(container: object) -> list[object]:
    """The paragraphs and tables of a body or cell, in order, including those wrapped in
    content controls (w:sdt), which python-docx's iterators pass over."""
    blocks: list[object] = []
    for child in container:  # type: ignore[attr-defined]
        if child.tag in (f"{_W}p", f"{_W}tbl"):
            blocks.append(child)
        elif child.tag == f"{_W}sdt":
            content = child.find(f"{_W}sdtContent")
            if content is not None:
                blocks.extend(_blocks(content))
    return blocks


_RELS_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE_DOCUMENT = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
                    "officeDocument")


_PAGE_PART = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
              "{}")


def _document_body(data: bytes) -> tuple[object, list[str], list[str]]:
    """The body of the main document part, and the paragraphs of its page headers and
    page footers (some units put `填报单位：…` in the header, the footer line in the
    footer), and nothing else: `docx.Document` would load every part (styles, numbering,
    fonts, the photos a clerk pasted), ~90% of the time spent on a form, for text the
    form does not use."""
    import posixpath
    import zipfile

    from docx.oxml import parse_xml  # python-docx's parser: no external entities

    with zipfile.ZipFile(io.BytesIO(data)) as package:
        rels = parse_xml(package.read("_rels/.rels"))
        target = next((rel.get("Target") for rel in rels.iter(f"{_RELS_NS}Relationship")
                       if rel.get("Type") == _OFFICE_DOCUMENT), "word/document.xml")
        target = target.lstrip("/")
        body = parse_xml(package.read(target)).body
        folder, name = posixpath.split(target)
        texts: dict[str, list[str]] = {"header": [], "footer": []}
        try:
            part_rels = parse_xml(package.read(posixpath.join(folder, "_rels", name + ".rels")))
        except KeyError:
            return body, [], []
        for rel in part_rels.iter(f"{_RELS_NS}Relationship"):
            kind = next((k for k in texts if rel.get("Type") == _PAGE_PART.format(k)), None)
            if kind is None or rel.get("TargetMode") == "External":
                continue
            path = posixpath.normpath(posixpath.join(folder, rel.get("Target") or ""))
            try:
                part = parse_xml(package.read(path))
            except KeyError:
                continue   # a relationship to a part the package lacks
            for paragraph in part.iter(f"{_W}p"):
                text = clean_text(_paragraph_text(paragraph))
                # first page, even pages and the rest often repeat one text: once
                if text and text not in texts[kind]:
                    texts[kind].append(text)
        return body, texts["header"], texts["footer"]


def docx_lines(data: bytes) -> list[Line]:
    from docx.table import Table  # deferred: python-docx pulls in lxml

    body, page_header, page_footer = _document_body(data)
    # The page header stands above everything on the page, the page footer below.
    lines: list[Line] = [Line((text,), None, PAGE_HEADER) for text in page_header]
    counter = [0]

    def add_paragraph(element: object) -> None:
        for text in (*_text_boxes(element), _paragraph_text(element)):
            text = clean_text(text)
            if text:
                lines.append(Line((text,), None))

    def cell_text(tc: object) -> str:
        return "\n".join(_paragraph_text(p) for p in _blocks(tc) if p.tag == f"{_W}p")  # type: ignore[attr-defined]

    def add_table(table: Table) -> None:
        index = counter[0]
        counter[0] += 1
        nested: list[object] = []
        for row in table.rows:
            if len(lines) >= MAX_LINES:
                return
            seen: set[int] = set()
            cells: list[str] = []
            joined: list[bool] = []
            # python-docx repeats a horizontally merged cell once per grid column:
            # keep its text in the first column only so it is not read twice.
            for cell in row.cells:
                merged = id(cell._tc) in seen
                joined.append(merged)
                if merged:
                    cells.append("")
                    continue
                seen.add(id(cell._tc))
                cells.append(clean_text(cell_text(cell._tc)))
                nested.extend(b for b in _blocks(cell._tc) if b.tag == f"{_W}tbl")  # type: ignore[attr-defined]
            lines.append(Line(tuple(cells[:MAX_COLUMNS]), index, f"表{index + 1}",
                              _joined(joined[:MAX_COLUMNS])))
        for inner in nested:
            add_table(Table(inner, table._parent))  # type: ignore[arg-type]

    for block in _blocks(body):
        if len(lines) >= MAX_LINES:
            break
        if block.tag == f"{_W}p":  # type: ignore[attr-defined]
            add_paragraph(block)
        else:
            # No parent: only the cell structure is read, never styles or images.
            add_table(Table(block, None))  # type: ignore[arg-type]
    lines.extend(Line((text,), None, PAGE_FOOTER) for text in page_footer)
    return lines


def _joined(flags: list[bool]) -> tuple[bool, ...]:
    # Most rows merge nothing: keep them as cheap as before.
    return tuple(flags) if any(flags) else ()


_FORMAT_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')


def date_text(value: dt.datetime, number_format: str) -> str:
    """A date cell as precisely as the clerk wrote it: Excel stores `2016年5月` as
    2016-05-01 shown with a year-month format, and the 1st is not what they meant."""
    codes = _FORMAT_LITERALS.sub("", number_format or "").lower()
    if any(code in codes for code in ("d", "h", "s", "general")) or "y" not in codes:
        return _cell_text(value)
    return value.strftime("%Y-%m") if "m" in codes else value.strftime("%Y")


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        if value.hour == value.minute == value.second == 0:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return clean_text(value)


# Excel writes characters XML cannot hold (control characters) as `_xHHHH_`, and a
# literal `_x` as `_x005F_x`; openpyxl hands both over escaped.
_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _sheet_text(value: object) -> str:
    if isinstance(value, str) and "_x" in value:
        value = _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    return _cell_text(value)


def xlsx_lines(data: bytes) -> list[Line]:
    from .spreadsheets import openpyxl  # deferred for start-up time, as above

    # data_only takes the cached value of a formula rather than its text (a clerk's
    # =SUM(...) should read as its result). Not read_only: merged ranges are needed.
    workbook = openpyxl().load_workbook(io.BytesIO(data), data_only=True)
    lines: list[Line] = []
    try:
        for index, sheet in enumerate(workbook.worksheets):
            grid = [list(row) for row in sheet.iter_rows(
                max_row=min(sheet.max_row, MAX_ROWS), max_col=min(sheet.max_column, MAX_COLUMNS),
                values_only=True)]
            # A cell merged down several rows (one 活动形式 for three activities) belongs to
            # each of them, as Word repeats it; a merge across columns stays in its first.
            joined: dict[int, set[int]] = {}
            for merged in sheet.merged_cells.ranges:
                top, left = merged.min_row - 1, merged.min_col - 1
                if top >= len(grid) or left >= len(grid[top]):
                    continue
                for row in range(top + 1, min(merged.max_row, len(grid))):
                    if left < len(grid[row]):
                        grid[row][left] = grid[top][left]
                for row in range(top, min(merged.max_row, len(grid))):
                    joined.setdefault(row, set()).update(
                        range(left + 1, min(merged.max_col, MAX_COLUMNS)))
            for number, row in enumerate(grid):
                for column, value in enumerate(row):
                    if isinstance(value, dt.datetime):  # few: looked up one by one
                        fmt = sheet.cell(number + 1, column + 1).number_format
                        row[column] = date_text(value, fmt)
                cells = tuple(_sheet_text(v) for v in row)
                while cells and not cells[-1]:
                    cells = cells[:-1]
                # over the whole row: a merge at its end spans cells trimmed as empty
                flags = [column in joined.get(number, ()) for column in range(len(row))]
                while flags and not flags[-1]:
                    flags.pop()
                lines.append(Line(cells, index, f"工作表“{sheet.title}”", _joined(flags)))
    finally:
        workbook.close()
    return lines
