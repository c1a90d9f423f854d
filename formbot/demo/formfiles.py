"""Blank and filled forms of any declaration, written by python-docx and openpyxl as a
notice's 附件 are: 附件N, the title, 填报单位, the table, the footer (the demo's second
notice and the tests of any notice)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from docx import Document
from openpyxl import Workbook
from openpyxl.worksheet.datavalidation import DataValidation

from parsers.specs import FieldSpec, FormSpec

FOOTER = "联系人：            联系电话：            填报日期：     年   月   日"


def header_text(spec_field: FieldSpec) -> str:
    """The header cell a notice prints for a field: its label with its limit or unit."""
    if spec_field.max_len:
        return f"{spec_field.label}（{spec_field.max_len}字内）"
    if spec_field.kind == "money":
        return f"{spec_field.label}（{spec_field.unit or '元'}）"
    return spec_field.label


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    attachment: str | None = None
    unit: str = ""
    blank_rows: int = 3
    choices: dict[int, list[str]] = field(default_factory=dict)   # column → options (.xlsx)

    @classmethod
    def of(cls, spec: FormSpec, rows: list[list[str]] | None = None, unit: str = "",
           ) -> Table:
        return cls(spec.title, ["序号", *(header_text(f) for f in spec.data_fields)],
                   [list(r) for r in rows or []], spec.attachment, unit,
                   choices={i + 1: list(f.options) for i, f in enumerate(spec.data_fields)
                            if f.kind == "choice"})


def docx_bytes(tables: list[Table], preamble: list[str] = ()) -> bytes:  # type: ignore[assignment]
    doc = Document()
    for text in preamble:
        doc.add_paragraph(text)
    for table in tables:
        if table.attachment:
            doc.add_paragraph(table.attachment)
        doc.add_paragraph(table.title)
        doc.add_paragraph(f"填报单位：{table.unit}")
        grid = doc.add_table(rows=1, cols=len(table.headers))
        for cell, text in zip(grid.rows[0].cells, table.headers, strict=True):
            cell.text = text
        rows = table.rows or [[""] * len(table.headers)] * table.blank_rows
        for number, values in enumerate(rows, start=1):
            cells = grid.add_row().cells
            for index, text in enumerate(values):
                cells[index].text = text
            if table.rows and not values[0]:
                cells[0].text = str(number)
        doc.add_paragraph(FOOTER)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def xlsx_bytes(tables: list[Table]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for number, table in enumerate(tables, start=1):
        sheet = book.create_sheet(table.attachment or f"表{number}")
        width = len(table.headers)
        sheet.append([table.title])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
        sheet.append([f"填报单位：{table.unit}"])
        sheet.append(table.headers)
        for values in table.rows:
            sheet.append(values)
        for column, options in table.choices.items():
            letter = chr(ord("A") + column)
            rule = DataValidation(type="list", formula1='"' + ",".join(options) + '"')
            rule.add(f"{letter}4:{letter}20")
            sheet.add_data_validation(rule)
        sheet.append([])
        sheet.append([FOOTER])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
