"""A sheet a person can read and print: title lines above the header, a bold frozen header
with a filter, widths and wrapping that fit the content, A4 landscape fitted to the width
with the header repeated on every page.

The export's data is decided in reports.py; this module only lays it out. Everything is
written as values (no formula anywhere), and text from mail is always text.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from parsers.spreadsheets import openpyxl

# Column widths in Excel's units (about one Latin character; a Chinese one takes two).
MIN_WIDTH = 6
# Wider text wraps inside its column: a 100-character 简介 in one line would shrink the
# whole page to unreadable when it is fitted to the paper's width.
MAX_WIDTH = 30
# A header may wrap onto two lines rather than widen a column of short values.
HEADER_LINES = 2

Marker = Callable[[int, object], str | None]   # (column index, value) → style name or None


@dataclass
class SheetPlan:
    name: str
    title: str                      # first line: what this is
    subtitle: str                   # second line: when, and how complete
    headers: list[str]
    rows: list[list[object]]
    # style per cell, e.g. "missing" for 未提交; None for plain
    marker: Marker | None = None
    widths: dict[int, int] = field(default_factory=dict)  # fixed widths by column index


def text_width(value: object) -> int:
    """Display width of a cell's longest line: East Asian wide characters count two."""
    if value is None:
        return 0
    text = value if isinstance(value, str) else str(value)
    return max((sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
                for line in text.splitlines() or [""]), default=0)


def column_widths(plan: SheetPlan) -> list[int]:
    widths = []
    for index, header in enumerate(plan.headers):
        if index in plan.widths:
            widths.append(plan.widths[index])
            continue
        data = max((text_width(row[index]) for row in plan.rows if index < len(row)), default=0)
        header_need = -(-text_width(header) // HEADER_LINES)
        widths.append(min(MAX_WIDTH, max(MIN_WIDTH, data + 2, header_need + 2)))
    return widths


def _styles() -> dict[str, dict[str, Any]]:
    openpyxl()   # numpy hidden, before any openpyxl submodule is imported
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    thin = Side(style="thin", color="999999")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="top")
    return {
        "title": {"font": Font(bold=True, size=14)},
        "subtitle": {"font": Font(size=10, color="555555")},
        "header": {"font": Font(bold=True), "border": box,
                   "fill": PatternFill("solid", start_color="DDEBF7"),
                   "alignment": Alignment(wrap_text=True, vertical="center",
                                          horizontal="center")},
        "cell": {"border": box, "alignment": wrap},
        "missing": {"border": box, "alignment": wrap, "font": Font(bold=True, color="C00000"),
                    "fill": PatternFill("solid", start_color="FDE9E7")},
        "done": {"border": box, "alignment": wrap, "font": Font(color="2E7D32")},
    }


def _put(sheet: Any, row: int, column: int, value: object, style: dict[str, Any]) -> None:
    """A cell that is never a formula: text from mail stays text, whatever it starts with."""
    cell = sheet.cell(row=row, column=column)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # openpyxl would make "=…" a formula
        cell.quotePrefix = value[:1] in "=+-@"  # Excel keeps it text when edited
    for name, item in style.items():
        setattr(cell, name, item)


def line_count(value: object, width: int) -> int:
    """Lines a wrapped value takes in a column `width` wide (for the row's height: neither
    Excel nor LibreOffice grows a row for wrapped text the file did not size)."""
    if value is None:
        return 1
    # Rendered, a Chinese character takes about 1.7 units rather than 2: counting 2 against
    # a slightly wider room errs towards a row a little too tall, never one that cuts text.
    room = max(1.0, (width - 1) * 1.15)
    text = value if isinstance(value, str) else str(value)
    return sum(max(1, math.ceil(text_width(line) / room)) for line in text.splitlines() or [""])


LINE_HEIGHT = 15   # points per line of 11-point text


def add_sheet(workbook: Any, plan: SheetPlan) -> None:
    """Append one laid-out sheet to a workbook."""
    openpyxl()
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.properties import PageSetupProperties

    styles = _styles()
    sheet = workbook.create_sheet(plan.name)
    widths = column_widths(plan)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    header_row = 3
    last_col = get_column_letter(len(plan.headers))
    sheet.freeze_panes = f"B{header_row + 1}"
    last_row = header_row + max(len(plan.rows), 1)
    sheet.auto_filter.ref = f"A{header_row}:{last_col}{last_row}"
    sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = 9  # A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.6
    sheet.oddFooter.center.text = "&A　第 &P 页"

    _put(sheet, 1, 1, plan.title, styles["title"])
    sheet.row_dimensions[1].height = 22
    _put(sheet, 2, 1, plan.subtitle, styles["subtitle"])
    for column, header in enumerate(plan.headers, start=1):
        _put(sheet, header_row, column, header, styles["header"])
    sheet.row_dimensions[header_row].height = LINE_HEIGHT * max(
        line_count(h, w) for h, w in zip(plan.headers, widths, strict=True))
    for offset, row in enumerate(plan.rows, start=header_row + 1):
        lines = 1
        for index, value in enumerate(row):
            mark = plan.marker(index, value) if plan.marker else None
            _put(sheet, offset, index + 1, value, styles[mark or "cell"])
            lines = max(lines, line_count(value, widths[index]))
        sheet.row_dimensions[offset].height = LINE_HEIGHT * lines


def status_marker(form_columns: Sequence[int]) -> Marker:
    """未提交 stands out in the form columns of the 提交情况 sheet."""
    wanted = set(form_columns)

    def mark(index: int, value: object) -> str | None:
        if index not in wanted:
            return None
        return "missing" if value == "未提交" else "done"
    return mark
