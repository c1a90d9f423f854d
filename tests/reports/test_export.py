"""The summary workbook: the contract's sheets and headers; text is never a formula."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import FormFill, activity_xlsx, build_mail, volunteer_docx
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.reports.export import write_export
from tests.conftest import PASSWORD
from tests.support.helpers import BOT, NOW, Bot, sheet_table, write_config

HEADER_ROW = 3   # a title and a count line stand above the header

ACTIVITY_HEADERS = ["填报单位", "序号", "活动名称", "活动形式", "时间安排", "主要内容和形式",
                    "参与人数", "联系人", "联系电话", "填报日期", "提交时间", "问题"]
VOLUNTEER_HEADERS = ["填报单位", "序号", "登记服务队名称", "负责人姓名", "负责人职务", "服务队人数",
                     "服务队组建时间", "服务内容", "服务成效简介", "联系人", "联系电话", "填报日期",
                     "提交时间", "问题"]
SUMMARY_HEADERS = ["单位", "主题活动申报表", "志愿者服务队登记表", "最近提交时间", "提醒次数"]


@pytest.fixture
def workbook(tmp_path: Path) -> Iterator[openpyxl.Workbook]:
    hostile = FormFill("定海路街道总工会", [
        ["=HYPERLINK(\"http://evil.example\",\"点我\")", "+报告会", "-6月", "@内容", "约200人"],
        ["劳模宣讲", "报告会", "2018年6月", "宣讲", "100-200人"],
    ])
    teams = FormFill("定海路街道总工会", [
        ["助老服务队", "张三，副主席", "30", "2016.3", "助老", ""],
                                         ["新队", "李四", "二十人", "2018年", "法律", ""]])
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        imap.append(build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject="申报",
                               body="", attachments=[("a.xlsx", activity_xlsx(hostile)),
                                                     ("b.docx", volunteer_docx(teams))]))
        bot.poll()
        out = tmp_path / "汇总.xlsx"
        counts = write_export(bot.settings, engine=bot.engine, out=out, now=NOW)
    assert counts == {"主题活动申报表": 2, "志愿者服务队登记表": 2, "提交情况": 4}
    book = openpyxl.load_workbook(out)
    yield book
    book.close()


def values(sheet: object) -> list[list[object]]:
    """The sheet from its header row down (a title and a count line stand above it)."""
    return sheet_table(sheet)


def test_sheets_and_headers_follow_the_contract(workbook: openpyxl.Workbook) -> None:
    assert workbook.sheetnames == ["主题活动申报表", "志愿者服务队登记表", "提交情况"]
    assert values(workbook["主题活动申报表"])[0] == ACTIVITY_HEADERS
    assert values(workbook["志愿者服务队登记表"])[0] == VOLUNTEER_HEADERS
    assert values(workbook["提交情况"])[0] == SUMMARY_HEADERS


def test_text_from_mail_is_never_a_formula(workbook: openpyxl.Workbook) -> None:
    row = next(workbook["主题活动申报表"].iter_rows(min_row=HEADER_ROW + 1, max_row=HEADER_ROW + 1))
    by_header = dict(zip(ACTIVITY_HEADERS, row, strict=True))
    for header, text in [("活动名称", "=HYPERLINK(\"http://evil.example\",\"点我\")"),
                         ("活动形式", "+报告会"), ("时间安排", "-6月"),
                         ("主要内容和形式", "@内容")]:
        cell = by_header[header]
        assert cell.value == text and cell.data_type == "s", header


def test_numbers_are_number_cells_and_dates_are_text(workbook: openpyxl.Workbook) -> None:
    activity = values(workbook["主题活动申报表"])
    assert activity[1][0] == "定海路街道总工会" and activity[1][1] == 1
    assert activity[1][6] == 200 and activity[2][6] is None
    assert "人数写成了范围" in activity[2][11]
    teams = values(workbook["志愿者服务队登记表"])
    assert [r[3:7] for r in teams[1:]] == [["张三", "副主席", 30, "2016-03"],
                                           ["李四", None, 20, "2018"]]
    cell = workbook["志愿者服务队登记表"][f"G{HEADER_ROW + 1}"]
    assert cell.data_type == "s"


def test_summary_sheet_says_who_has_submitted(workbook: openpyxl.Workbook) -> None:
    summary = values(workbook["提交情况"])[1:]
    assert summary[0][:3] == ["定海路街道总工会", "已提交", "已提交"]
    assert summary[0][3] is not None and summary[0][4] == 0
    assert [r[1:3] for r in summary[1:]] == [["未提交", "未提交"]] * 3


def test_a_title_and_a_count_line_stand_above_the_header(workbook: openpyxl.Workbook) -> None:
    sheet = workbook["主题活动申报表"]
    assert "杨工〔2018〕14号" in sheet["A1"].value and "主题活动申报表" in sheet["A1"].value
    assert "导出时间：2018-06-10 10:00" in sheet["A2"].value
    assert "已交齐 1/4 个单位" in sheet["A2"].value and "本表 1 个单位 2 行" in sheet["A2"].value
    assert "主题活动申报表 1/4" in workbook["提交情况"]["A2"].value


def test_the_header_is_bold_frozen_filtered_and_printed_on_every_page(
        workbook: openpyxl.Workbook) -> None:
    for sheet in workbook.worksheets:
        header = sheet[HEADER_ROW]
        assert all(cell.font.bold for cell in header if cell.value)
        assert sheet.freeze_panes == f"B{HEADER_ROW + 1}"
        assert sheet.auto_filter.ref.startswith(f"A{HEADER_ROW}:")
        assert sheet.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}"
        assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.paperSize == 9
        assert sheet.page_setup.fitToWidth == 1 and sheet.page_setup.fitToHeight == 0
        assert sheet.sheet_properties.pageSetUpPr.fitToPage


def test_widths_fit_names_and_long_text_wraps(workbook: openpyxl.Workbook) -> None:
    sheet = workbook["志愿者服务队登记表"]
    # 定海路街道总工会: 8 Chinese characters, 16 units, never cut off
    assert sheet.column_dimensions["A"].width >= 16
    # 服务队组建时间 is a short value under a long header: the header wraps instead
    assert sheet.column_dimensions["G"].width < 14
    assert all(cell.alignment.wrap_text for row in sheet.iter_rows(min_row=HEADER_ROW + 1)
               for cell in row)


def test_missing_forms_stand_out_and_no_cell_is_a_formula(workbook: openpyxl.Workbook) -> None:
    summary = workbook["提交情况"]
    missing = [c for row in summary.iter_rows(min_row=HEADER_ROW + 1) for c in row
               if c.value == "未提交"]
    assert len(missing) == 6
    assert all(c.font.bold and c.font.color.rgb.endswith("C00000") for c in missing)
    assert not [c.coordinate for sheet in workbook.worksheets for row in sheet.iter_rows()
                for c in row if c.data_type == "f"]


def test_a_value_that_could_not_be_read_keeps_its_raw_text_in_problems(
        tmp_path: Path) -> None:
    fill = FormFill("定海路街道总工会", [["劳模宣讲", "报告会", "6月", "宣讲", "若干"]])
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        imap.append(build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject="申报",
                               body="", attachments=[("a.xlsx", activity_xlsx(fill))]))
        bot.poll()
        out = tmp_path / "汇总.xlsx"
        write_export(bot.settings, engine=bot.engine, out=out)
    row = values(openpyxl.load_workbook(out)["主题活动申报表"])[1]
    assert row[6] is None and "若干" in row[11]
