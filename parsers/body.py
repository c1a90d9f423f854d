"""A form pasted into the mail itself: an HTML table (Word → web mail keeps it one), or
tab-separated lines in a plain-text mail. Both become the same `Line`s a .docx gives,
so `forms.read_forms` reads them like an attached file.
"""

from __future__ import annotations

import re

from .tables import MAX_COLUMNS, MAX_ROWS, Line
from .values import clean_text

MAX_HTML = 4 * 1024 * 1024    # a pasted form is a few dozen KB of HTML
MAX_SPAN = 50                 # a colspan/rowspan beyond this is not a form's layout
_TABLE = re.compile(r"<table", re.IGNORECASE)
_BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section",
           "article", "blockquote", "pre", "center", "hr"}


def _span(value: str | None) -> int:
    try:
        return max(1, min(int(str(value).strip() or 1), MAX_SPAN))
    except ValueError:
        return 1


class _Reader:
    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.tables = 0
        self.text: list[str] = []

    def flush(self) -> None:
        for piece in clean_text("".join(self.text)).split("\n"):
            if piece:
                self.lines.append(Line((piece,), None))
        self.text = []

    def walk(self, root) -> None:  # type: ignore[no-untyped-def]
        from lxml import etree

        events = etree.iterwalk(root, events=("start", "end"))
        for event, element in events:
            if len(self.lines) > MAX_ROWS:
                return
            tag = element.tag.lower() if isinstance(element.tag, str) else ""
            if event == "start":
                if tag == "table":
                    self.flush()
                    self.table(element)
                    events.skip_subtree()
                    continue
                if tag in _BLOCKS:
                    self.flush()
                if tag not in ("script", "style", "head", "title") and element.text:
                    self.text.append(element.text)
                elif tag in ("script", "style", "head", "title"):
                    events.skip_subtree()
            else:
                if tag in _BLOCKS:
                    self.flush()
                if element.tail and element is not root:
                    self.text.append(element.tail)
        self.flush()

    def table(self, table) -> None:  # type: ignore[no-untyped-def]
        index = self.tables
        self.tables += 1
        nested = []
        carried: dict[int, tuple[int, str]] = {}   # column → (rows left, text) of a rowspan
        rows = table.xpath("./tr|./thead/tr|./tbody/tr|./tfoot/tr")
        for row in rows[:MAX_ROWS]:
            cells: list[str] = []
            for cell in row.xpath("./td|./th"):
                while len(cells) in carried:
                    cells.append(self._carry(carried, len(cells)))
                text, inner = _cell_text(cell)
                nested += inner
                column = len(cells)
                cells.append(text)
                cells += [""] * (_span(cell.get("colspan")) - 1)
                if _span(cell.get("rowspan")) > 1:
                    carried[column] = (_span(cell.get("rowspan")) - 1, text)
                if len(cells) >= MAX_COLUMNS:
                    break
            while len(cells) in carried:
                cells.append(self._carry(carried, len(cells)))
            self.lines.append(Line(tuple(cells[:MAX_COLUMNS]), index, f"表{index + 1}"))
        for inner in nested:
            self.table(inner)

    @staticmethod
    def _carry(carried: dict[int, tuple[int, str]], column: int) -> str:
        left, text = carried.pop(column)
        if left > 1:
            carried[column] = (left - 1, text)
        return text


def _cell_text(cell) -> tuple[str, list]:  # type: ignore[no-untyped-def]
    """A cell's text (line breaks kept) and the tables nested in it, read separately."""
    from lxml import etree

    parts: list[str] = []
    nested = []
    events = etree.iterwalk(cell, events=("start", "end"))
    for event, element in events:
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if event == "start":
            if tag == "table" and element is not cell:
                nested.append(element)
                events.skip_subtree()
                continue
            if tag in _BLOCKS and element is not cell:
                parts.append("\n")
            if element.text:
                parts.append(element.text)
        elif element is not cell and element.tail:
            parts.append(element.tail)
    return clean_text("".join(parts)), nested


def html_lines(html: str) -> list[Line]:
    """The paragraphs and table rows of an HTML body, in order; [] without a table."""
    if not html or not _TABLE.search(html):
        return []
    from lxml import etree
    from lxml import html as lxml_html

    parser = lxml_html.HTMLParser(encoding="utf-8", no_network=True, remove_comments=True,
                                  remove_pis=True, huge_tree=False)
    try:
        root = lxml_html.document_fromstring(html[:MAX_HTML].encode("utf-8", "replace"),
                                             parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return []
    reader = _Reader()
    reader.walk(root)
    return reader.lines[:MAX_ROWS]


def text_lines(text: str) -> list[Line]:
    """A plain-text body: lines with two or more tabs are table rows (what pasting a
    table into a plain-text editor gives); runs of them are one table."""
    lines: list[Line] = []
    table, in_table = -1, False
    for raw in text[:MAX_HTML].splitlines()[:MAX_ROWS]:
        if raw.count("\t") >= 2:
            if not in_table:
                table, in_table = table + 1, True
            cells = tuple(clean_text(c) for c in raw.split("\t")[:MAX_COLUMNS])
            lines.append(Line(cells, table, f"表{table + 1}"))
            continue
        in_table = False
        cleaned = clean_text(raw)
        if cleaned:
            lines.append(Line((cleaned,), None))
    return lines if table >= 0 else []
