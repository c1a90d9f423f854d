"""Layouts clerks produce: continuation tables, merged cells, 填报单位 inside the table, nesting."""

from __future__ import annotations

import io

import docx
import openpyxl

from formbot.demo.samples import ACTIVITY_HEADERS, VOLUNTEER_HEADERS
from parsers.files import read_file

ROWS = [["宣讲会", "报告会", "6月", "劳模宣讲", "约200人"],
        ["读书会", "座谈会", "7月", "读书分享", "80余人"],
        ["技能赛", "竞赛", "9月", "比武", "1,200人"]]


def docx_bytes(document: docx.document.Document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def fill_table(table: docx.table.Table, rows: list[list[str]], first: int = 1) -> None:
    for offset, values in enumerate(rows):
        cells = table.rows[first + offset].cells
        for column, value in enumerate([str(offset + 1), *values]):
            cells[column].text = value


def test_a_continuation_table_without_a_header_carries_on_the_form() -> None:
    document = docx.Document()
    document.add_paragraph("“弘扬劳模精神，建功‘创新杨浦’”主题活动申报表")
    document.add_paragraph("填报单位：殷行街道总工会")
    first = document.add_table(rows=3, cols=6)
    for column, header in enumerate(ACTIVITY_HEADERS):
        first.rows[0].cells[column].text = header
    fill_table(first, ROWS[:2])
    document.add_paragraph("续表")
    second = document.add_table(rows=1, cols=6)
    fill_table(second, ROWS[2:], first=0)
    document.add_paragraph("联系人：李华    联系电话：65000000    填报日期：2018年6月12日")

    (form,) = read_file("续表.docx", docx_bytes(document)).forms
    assert [r.values["name"] for r in form.rows] == ["宣讲会", "读书会", "技能赛"]
    assert [r.values["participants"] for r in form.rows] == [200, 80, 1200]
    footer = (form.unit_text, form.contact, form.filled_on)
    assert footer == ("殷行街道总工会", "李华", "2018-06-12")


def test_unit_and_title_inside_the_tables_first_rows() -> None:
    document = docx.Document()
    table = document.add_table(rows=5, cols=7)
    title = table.rows[0].cells[0].merge(table.rows[0].cells[6])
    title.text = "杨浦职工志愿者服务队登记表"
    unit = table.rows[1].cells[0].merge(table.rows[1].cells[6])
    unit.text = "填报单位：控江路街道总工会"
    for column, header in enumerate(VOLUNTEER_HEADERS):
        table.rows[2].cells[column].text = header
    for column, value in enumerate(["1", "控江助老队", "王五，副主席", "25", "2016.3", "助老",
                                    ""]):
        table.rows[3].cells[column].text = value

    (form,) = read_file("登记表.docx", docx_bytes(document)).forms
    assert form.unit_text == "控江路街道总工会"
    (row,) = form.rows
    assert (row.values["leader_name"], row.values["leader_title"]) == ("王五", "副主席")
    assert (row.values["size"], row.values["founded"]) == (25, "2016-03")


def test_a_form_nested_in_a_layout_table_is_found() -> None:
    document = docx.Document()
    outer = document.add_table(rows=1, cols=1)
    cell = outer.rows[0].cells[0]
    cell.text = "填报单位：五角场街道总工会"
    inner = cell.add_table(rows=2, cols=6)
    for column, header in enumerate(ACTIVITY_HEADERS):
        inner.rows[0].cells[column].text = header
    fill_table(inner, ROWS[:1])

    (form,) = read_file("嵌套.docx", docx_bytes(document)).forms
    assert form.unit_text == "五角场街道总工会"
    assert [r.values["name"] for r in form.rows] == ["宣讲会"]


def test_a_cell_merged_down_in_excel_belongs_to_every_row_it_spans() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["A1"] = "填报单位：长白新村街道总工会"
    sheet.merge_cells("A1:F1")
    sheet.append(list(ACTIVITY_HEADERS))
    for number, values in enumerate(ROWS, start=1):
        sheet.append([number, *values])
    sheet.merge_cells("C3:C5")            # one 活动形式 typed once for all three rows
    out = io.BytesIO()
    book.save(out)

    (form,) = read_file("合并.xlsx", out.getvalue()).forms
    assert [r.values["form"] for r in form.rows] == ["报告会"] * 3
    assert form.unit_text == "长白新村街道总工会"
    assert [r.values["participants"] for r in form.rows] == [200, 80, 1200]
