"""Excel 97–2003 (.xls) and Kingsoft ET (.et) workbooks → lines, read directly with xlrd.

Both are BIFF records in an OLE compound file. Reading them here is ~100× faster than
starting LibreOffice and gives the same `Line`s `tables.xlsx_lines` gives for the
workbook saved as .xlsx: cells as cleaned text, whole numbers as "200", dates as ISO
text, one line per row with trailing empty cells dropped. A workbook xlrd cannot read
(encrypted, unusual records some ET versions write) raises; `convert.legacy_lines`
then falls back to converting it with LibreOffice.
"""

from __future__ import annotations

from .tables import MAX_COLUMNS, MAX_ROWS, Line, _cell_text, _joined, date_text


def _value(cell: object, book: object) -> object:
    import xlrd

    kind, value = cell.ctype, cell.value  # type: ignore[attr-defined]
    if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if kind == xlrd.XL_CELL_DATE:
        try:
            moment = xlrd.xldate.xldate_as_datetime(value, book.datemode)  # type: ignore[attr-defined]
        except (xlrd.xldate.XLDateError, ValueError, OverflowError):
            return value  # a "date" Excel itself would show as ####: keep the number
        return date_text(moment, _number_format(cell, book))
    if kind == xlrd.XL_CELL_BOOLEAN:
        return bool(value)
    if kind == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(value, "#ERR")  # as openpyxl shows "#DIV/0!"
    return value  # text, or a number (float) that _cell_text writes as "200" when whole


def xls_lines(data: bytes) -> list[Line]:
    import xlrd  # deferred, as the other readers: only a legacy workbook needs it

    # on_demand parses one sheet at a time; formulas come as their cached results,
    # as xlsx_lines reads them with data_only. formatting_info brings the merged ranges.
    book = xlrd.open_workbook(file_contents=data, on_demand=True, formatting_info=True,
                              logfile=_Discard())
    lines: list[Line] = []
    try:
        for index in range(book.nsheets):
            sheet = book.sheet_by_index(index)
            width = min(sheet.ncols, MAX_COLUMNS)
            rows = min(sheet.nrows, MAX_ROWS)
            grid = [[_cell_text(_value(c, book)) for c in sheet.row_slice(row, 0, width)]
                    for row in range(rows)]
            joined = _spread_merges(grid, sheet.merged_cells)
            for number, row_cells in enumerate(grid):
                cells = tuple(row_cells)
                while cells and not cells[-1]:
                    cells = cells[:-1]
                flags = [column in joined.get(number, ()) for column in range(width)]
                while flags and not flags[-1]:
                    flags.pop()
                lines.append(Line(cells, index, f"工作表“{sheet.name}”", _joined(flags)))
            book.unload_sheet(index)
    finally:
        book.release_resources()
    return lines


def _number_format(cell: object, book: object) -> str:
    try:
        xf = book.xf_list[cell.xf_index]  # type: ignore[attr-defined]
        return str(book.format_map[xf.format_key].format_str)  # type: ignore[attr-defined]
    except (AttributeError, IndexError, KeyError, TypeError):
        return ""


def _spread_merges(grid: list[list[str]],
                   merges: list[tuple[int, int, int, int]]) -> dict[int, set[int]]:
    """As `tables.xlsx_lines` does: a cell merged down rows is repeated in each of them,
    and the columns a merge spans to the right are marked as joined to their left one."""
    joined: dict[int, set[int]] = {}
    for top, bottom, left, right in merges:  # xlrd: half-open row and column ranges
        if top >= len(grid) or left >= len(grid[top]):
            continue
        for row in range(top + 1, min(bottom, len(grid))):
            if left < len(grid[row]):
                grid[row][left] = grid[top][left]
        for row in range(top, min(bottom, len(grid))):
            joined.setdefault(row, set()).update(range(left + 1, min(right, MAX_COLUMNS)))
    return joined


class _Discard:
    """xlrd prints warnings about odd records to stdout unless given a log file."""

    def write(self, text: str) -> int:
        return len(text)
