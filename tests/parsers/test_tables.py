"""Office files → lines: the text Word and Excel show, whatever the XML hides it in."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
from pathlib import Path

import docx
import openpyxl
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from parsers.tables import date_text, docx_lines, xlsx_lines
from parsers.xls import xls_lines
from tests.support.fixtures.unseen import text_box_paragraph, tracked_insertion


def saved(document: docx.document.Document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def texts(data: bytes) -> list[tuple[str, ...]]:
    return [line.cells for line in docx_lines(data)]


def test_tracked_insertions_count_and_tracked_deletions_do_not() -> None:
    document = docx.Document()
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "参与人数"
    tracked_insertion(table.cell(0, 1), "约300人")
    paragraph = document.add_paragraph("联系人：")
    paragraph._p.append(parse_xml(
        f'<w:del {nsdecls("w")} w:id="2" w:author="x" w:date="2018-06-10T09:00:00Z">'
        '<w:r><w:delText>李四</w:delText></w:r></w:del>'))
    paragraph._p.append(parse_xml(
        f'<w:ins {nsdecls("w")} w:id="3" w:author="x" w:date="2018-06-10T09:00:00Z">'
        '<w:r><w:t>王芳</w:t></w:r></w:ins>'))
    assert texts(saved(document)) == [("参与人数", "约300人"), ("联系人：王芳",)]


def test_a_text_box_is_read_once_as_lines_of_its_own() -> None:
    document = docx.Document()
    document.add_paragraph("正文")
    text_box_paragraph(document, ["杨浦职工志愿者服务队登记表", "填报单位：殷行街道总工会"])
    # Word keeps a VML copy of every text box for old readers: it must not be read twice.
    assert texts(saved(document)) == [("杨浦职工志愿者服务队登记表",),
                                      ("填报单位：殷行街道总工会",), ("正文",)]


def test_content_controls_around_paragraphs_tables_and_cell_text_are_opened() -> None:
    document = docx.Document()
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "活动名称"
    cell = table.cell(0, 1)._tc
    cell.remove(cell.find(f"{{{cell.nsmap['w']}}}p"))
    cell.append(parse_xml(
        f'<w:sdt {nsdecls("w")}><w:sdtContent><w:p><w:r><w:t>劳模进社区</w:t></w:r></w:p>'
        '</w:sdtContent></w:sdt>'))
    body = document.element.body
    wrapper = parse_xml(f'<w:sdt {nsdecls("w")}><w:sdtContent/></w:sdt>')
    content = wrapper[0]
    content.append(table._tbl)                      # the whole table inside a control
    content.append(parse_xml(f'<w:p {nsdecls("w")}><w:r><w:t>填报日期：2018年6月8日</w:t>'
                             '</w:r></w:p>'))
    body.insert(0, wrapper)
    assert texts(saved(document)) == [("活动名称", "劳模进社区"), ("填报日期：2018年6月8日",)]


def test_breaks_and_tabs_inside_a_cell_are_kept_as_clean_text() -> None:
    document = docx.Document()
    table = document.add_table(rows=1, cols=1)
    run = table.cell(0, 0).paragraphs[0].add_run("负责人")
    run.add_break()
    run.add_text("姓名及职务")
    [line] = docx_lines(saved(document))
    assert line.cells[0].replace("\n", "") == "负责人姓名及职务"


@pytest.mark.parametrize(("number_format", "shown"), [
    ('yyyy"年"m"月"', "2016-05"),
    ("yyyy-mm", "2016-05"),
    ("mmm-yy", "2016-05"),
    ('yyyy"年"', "2016"),
    ('[$-804]yyyy"年"m"月"d"日"', "2016-05-01"),
    ("yyyy-mm-dd", "2016-05-01"),
    ("m/d/yy h:mm", "2016-05-01"),
    ("General", "2016-05-01"),
])
def test_a_date_cell_is_as_precise_as_its_format(number_format: str, shown: str) -> None:
    assert date_text(dt.datetime(2016, 5, 1), number_format) == shown


def month_workbook() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["组建时间", "组建时间", "填报日期"])
    sheet.append([dt.datetime(2016, 5, 1), dt.datetime(2015, 1, 1), dt.datetime(2018, 6, 8)])
    sheet["A2"].number_format = 'yyyy"年"m"月"'
    sheet["B2"].number_format = 'yyyy"年"'
    sheet["C2"].number_format = "yyyy-mm-dd"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_xlsx_and_the_same_workbook_as_xls_keep_month_and_year_cells(tmp_path: Path) -> None:
    source = tmp_path / "month.xlsx"
    source.write_bytes(month_workbook())
    expected = ("2016-05", "2015", "2018-06-08")
    assert xlsx_lines(source.read_bytes())[1].cells == expected
    subprocess.run(["soffice", "--headless", "--norestore",
                    f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
                    "--convert-to", "xls", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=120)
    assert xls_lines((tmp_path / "month.xls").read_bytes())[1].cells == expected


def test_the_main_part_is_found_through_the_package_relationships() -> None:
    """Some writers name the main part otherwise than word/document.xml."""
    import zipfile

    document = docx.Document()
    document.add_paragraph("填报单位：殷行街道总工会")
    source = zipfile.ZipFile(io.BytesIO(saved(document)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as moved:
        for item in source.infolist():
            data = source.read(item)
            name = item.filename
            if name == "word/document.xml":
                name = "word/document2.xml"
            elif name in ("_rels/.rels", "[Content_Types].xml"):
                data = data.replace(b"word/document.xml", b"word/document2.xml")
            moved.writestr(name, data)
    assert texts(out.getvalue()) == [("填报单位：殷行街道总工会",)]
