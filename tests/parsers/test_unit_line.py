"""填报单位 and the footer (联系人, 联系电话, 填报日期) wherever clerks put them around the
table: below it, below the 注 line, in any order, split over cells or merged, in a text
box, in the page header, on another sheet. Real files from python-docx and openpyxl."""

from __future__ import annotations

import io

import docx
import openpyxl
from docx.oxml import parse_xml

from formbot.demo.samples import ACTIVITY_HEADERS, ACTIVITY_TITLE, VOLUNTEER_HEADERS
from parsers.files import read_file
from parsers.forms import NO_UNIT

ROWS = [["宣讲会", "报告会", "6月", "劳模宣讲", "约200人"],
        ["读书会", "座谈会", "7月", "读书分享", "80余人"]]
UNIT = "定海路街道总工会"
FOOTER = ("张三", "65001234", "2018-06-10")


def _docx(document: docx.document.Document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _xlsx(book: openpyxl.Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _table(document: docx.document.Document, extra_rows: int = 0) -> docx.table.Table:
    table = document.add_table(rows=1 + len(ROWS) + extra_rows, cols=6)
    for column, header in enumerate(ACTIVITY_HEADERS):
        table.rows[0].cells[column].text = header
    for offset, values in enumerate(ROWS, start=1):
        for column, value in enumerate([str(offset), *values]):
            table.rows[offset].cells[column].text = value
    return table


def _one(name: str, data: bytes):
    result = read_file(name, data)
    assert result.problem is None, result.problem
    (form,) = result.forms
    assert [r.values["name"] for r in form.rows] == ["宣讲会", "读书会"]
    return form


def _footer(form) -> tuple:
    return form.contact, form.phone, form.filled_on


def test_unit_below_the_note_line_and_the_footer_after_it() -> None:
    document = docx.Document()
    document.add_paragraph(ACTIVITY_TITLE)
    _table(document)
    document.add_paragraph("注：表格不够可另附。")
    document.add_paragraph(f"填报单位（盖章）：{UNIT}")
    document.add_paragraph("联系人：张三    联系电话：65001234    填报日期：2018年6月10日")
    form = _one("注下.docx", _docx(document))
    assert form.unit_text == UNIT
    assert _footer(form) == FOOTER
    assert NO_UNIT not in [p.message for p in form.problems]


def test_footer_in_any_order_each_on_its_own_line_below_the_unit() -> None:
    document = docx.Document()
    document.add_paragraph(ACTIVITY_TITLE)
    _table(document)
    document.add_paragraph(f"填报单位：{UNIT}")
    document.add_paragraph("填报日期：2018年6月10日")
    document.add_paragraph("联系电话：65001234")
    document.add_paragraph("联系人：张三")
    form = _one("倒序.docx", _docx(document))
    assert form.unit_text == UNIT
    assert _footer(form) == FOOTER


def test_footer_split_over_the_cells_of_a_table_row_without_colons() -> None:
    document = docx.Document()
    document.add_paragraph(ACTIVITY_TITLE)
    unit = document.add_table(rows=1, cols=2)
    unit.rows[0].cells[0].text = "填报单位"
    unit.rows[0].cells[1].text = UNIT
    _table(document)
    footer = document.add_table(rows=1, cols=6)
    for cell, text in zip(footer.rows[0].cells,
                          ["联系人", "张三", "联系电话", "65001234", "填报日期", "2018.6.10"],
                          strict=True):
        cell.text = text
    form = _one("拆格.docx", _docx(document))
    assert form.unit_text == UNIT
    assert _footer(form) == FOOTER


def test_footer_in_a_merged_last_row_of_the_table() -> None:
    document = docx.Document()
    document.add_paragraph(ACTIVITY_TITLE)
    document.add_paragraph(f"填报单位：{UNIT}")
    table = _table(document, extra_rows=1)
    last = table.rows[-1].cells[0].merge(table.rows[-1].cells[5])
    last.text = "联系电话：65001234  联系人：张三  填报日期：2018年6月10日"
    form = _one("合并行.docx", _docx(document))
    assert _footer(form) == FOOTER


_VML_BOX = (
    '<w:r xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:v="urn:schemas-microsoft-com:vml"><w:pict><v:shape style="width:300pt;height:20pt">'
    "<v:textbox><w:txbxContent><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:txbxContent>"
    "</v:textbox></v:shape></w:pict></w:r>")


def test_unit_in_a_text_box() -> None:
    document = docx.Document()
    document.add_paragraph(ACTIVITY_TITLE)
    anchor = document.add_paragraph()
    anchor._p.append(parse_xml(_VML_BOX.format(text=f"填报单位：{UNIT}")))
    _table(document)
    document.add_paragraph("联系人：张三 联系电话：65001234 填报日期：2018年6月10日")
    form = _one("文本框.docx", _docx(document))
    assert form.unit_text == UNIT
    assert _footer(form) == FOOTER


def test_unit_in_the_page_header_and_footer_in_the_page_footer() -> None:
    document = docx.Document()
    section = document.sections[0]
    section.header.paragraphs[0].text = f"填报单位：{UNIT}"
    section.footer.paragraphs[0].text = "联系人：张三  联系电话：65001234  填报日期：2018年6月10日"
    document.add_paragraph(ACTIVITY_TITLE)
    _table(document)
    form = _one("页眉.docx", _docx(document))
    assert form.unit_text == UNIT
    assert _footer(form) == FOOTER


def test_unit_in_the_page_header_counts_for_both_forms_of_the_file() -> None:
    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = f"填报单位：{UNIT}"
    document.add_paragraph(ACTIVITY_TITLE)
    _table(document)
    document.add_paragraph("杨浦职工志愿者服务队登记表")
    teams = document.add_table(rows=2, cols=7)
    for column, header in enumerate(VOLUNTEER_HEADERS):
        teams.rows[0].cells[column].text = header
    for column, value in enumerate(["1", "助老队", "王五 主席", "25", "2016.3", "助老", ""]):
        teams.rows[1].cells[column].text = value
    forms = read_file("两表.docx", _docx(document)).forms
    assert [f.spec.key for f in forms] == ["activity", "volunteer_team"]
    assert [f.unit_text for f in forms] == [UNIT, UNIT]


def _sheet_form(sheet, first_row: int = 1) -> int:
    for column, header in enumerate(ACTIVITY_HEADERS, start=1):
        sheet.cell(first_row, column, header)
    for offset, values in enumerate(ROWS, start=1):
        for column, value in enumerate([offset, *values], start=1):
            sheet.cell(first_row + offset, column, value)
    return first_row + len(ROWS)


def test_unit_on_another_sheet_of_the_workbook() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "申报表"
    _sheet_form(sheet)
    cover = book.create_sheet("封面")
    cover["A1"] = "填报单位："
    cover["B1"] = UNIT
    cover["A2"] = "联系人：张三"
    cover["A3"] = "联系电话：65001234"
    cover["A4"] = "填报日期：2018年6月10日"
    form = _one("封面.xlsx", _xlsx(book))
    assert form.unit_text == UNIT
    assert _footer(form) == FOOTER


def test_xlsx_unit_below_the_table_and_footer_in_merged_cells() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["A1"] = ACTIVITY_TITLE
    sheet.merge_cells("A1:F1")
    last = _sheet_form(sheet, first_row=2)
    sheet.cell(last + 1, 1, "注：表格不够可另附")
    sheet.cell(last + 2, 1, "填报单位（盖章）")
    sheet.cell(last + 2, 2, UNIT)
    sheet.merge_cells(start_row=last + 2, start_column=2, end_row=last + 2, end_column=6)
    sheet.cell(last + 3, 1, "填报日期：2018年6月10日")
    sheet.cell(last + 3, 3, "联系人：")
    sheet.cell(last + 3, 4, "张三")
    sheet.cell(last + 3, 5, "联系电话：")
    sheet.cell(last + 3, 6, "65001234")
    form = _one("下方.xlsx", _xlsx(book))
    assert form.unit_text == UNIT
    assert _footer(form) == FOOTER
