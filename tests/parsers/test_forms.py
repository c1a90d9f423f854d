"""Word/Excel files → forms, rows and problems (parsers.tables + parsers.forms + read_file).

Files are built in the test: the notice's templates through formbot.demo.samples, odd
layouts with python-docx/openpyxl directly.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import openpyxl
import pytest
from docx import Document

from formbot.demo.samples import (
    ACTIVITY_HEADERS,
    ACTIVITY_TITLE,
    VOLUNTEER_HEADERS,
    FormFill,
    activity_docx,
    activity_xlsx,
    both_docx,
    both_xlsx,
    volunteer_docx,
    volunteer_xlsx,
)
from parsers.builtin import ACTIVITY, FORMS, VOLUNTEER_TEAM
from parsers.files import read_file, sniff
from parsers.forms import FormData, read_forms
from parsers.tables import docx_lines, xlsx_lines
from tests.support.fixtures import two_row

ACT = FormFill(
    "定海路街道总工会",
    [
        ["劳模先进事迹报告会", "报告会", "2018年6月—7月", "邀请全国劳模讲述成长经历。", "约200人"],
        ["“杨浦工匠”技能展示", "现场展示", "2018年9月", "展示工匠绝活", "1,200人"],
        ["劳模进社区", "志愿服务", "2018年下半年", "劳模走进社区服务居民", "二百人"],
    ],
    blank_rows=2,
)
VOL = FormFill(
    "殷行街道工会",
    [
        ["殷行街道职工志愿者服务队", "王志强，副主席", "30", "2016.3", "助老助残", "服务500人次"],
        ["“小巷工匠”维修服务队", "李秀英（工会主席）", "12人", "2018年5月", "义务维修", ""],
        ["法律服务队", "张三 主席", "约15人", "2017-05-20", "法律咨询", "解答咨询200余次"],
    ],
    contact="刘洋",
    phone="55210011",
    filled_on="2018年6月8日",
    blank_rows=3,
)

ACT_VALUES = [
    {"name": "劳模先进事迹报告会", "form": "报告会", "schedule": "2018年6月—7月",
     "content": "邀请全国劳模讲述成长经历。", "participants": 200},
    {"name": "“杨浦工匠”技能展示", "form": "现场展示", "schedule": "2018年9月",
     "content": "展示工匠绝活", "participants": 1200},
    {"name": "劳模进社区", "form": "志愿服务", "schedule": "2018年下半年",
     "content": "劳模走进社区服务居民", "participants": 200},
]
VOL_VALUES = [
    {"team_name": "殷行街道职工志愿者服务队", "leader_name": "王志强", "leader_title": "副主席",
     "size": 30, "founded": "2016-03", "service": "助老助残", "results": "服务500人次"},
    {"team_name": "“小巷工匠”维修服务队", "leader_name": "李秀英", "leader_title": "工会主席",
     "size": 12, "founded": "2018-05", "service": "义务维修", "results": None},
    {"team_name": "法律服务队", "leader_name": "张三", "leader_title": "主席",
     "size": 15, "founded": "2017-05-20", "service": "法律咨询", "results": "解答咨询200余次"},
]


def only_form(name: str, data: bytes) -> FormData:
    result = read_file(name, data)
    assert result.problem is None
    assert len(result.forms) == 1
    return result.forms[0]


def problems(form: FormData) -> list[str]:
    return [p.describe() for p in form.all_problems]


def xlsx_of(*sheets: Sequence[Sequence[object]]) -> bytes:
    """A workbook with one sheet per argument; every str cell written as text."""
    workbook = openpyxl.Workbook()
    for index, rows in enumerate(sheets):
        sheet = workbook.worksheets[0] if index == 0 else workbook.create_sheet()
        for r, row in enumerate(rows, 1):
            for c, value in enumerate(row, 1):
                if value is None:
                    continue
                cell = sheet.cell(r, c, value)
                if isinstance(value, str):
                    cell.data_type = "s"  # openpyxl would make "=…" a formula
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def docx_of(*blocks: str | Sequence[Sequence[str]]) -> bytes:
    """Paragraphs (str) and tables (rows of cell texts) in order."""
    document = Document()
    for block in blocks:
        if isinstance(block, str):
            document.add_paragraph(block)
            continue
        table = document.add_table(rows=len(block), cols=max(len(r) for r in block))
        for row, texts in zip(table.rows, block, strict=True):
            for cell, text in zip(row.cells, texts, strict=False):
                cell.text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# --- the notice's own templates, filled in ----------------------------------------------


@pytest.mark.parametrize("build", [activity_docx, activity_xlsx], ids=["docx", "xlsx"])
def test_activity_form_from_either_format(build) -> None:  # type: ignore[no-untyped-def]
    form = only_form("附件1.bin", build(ACT))
    assert form.spec is ACTIVITY
    assert [row.values for row in form.rows] == ACT_VALUES
    assert [row.seq for row in form.rows] == [1, 2, 3]
    assert form.rows[0].raw["participants"] == "约200人"   # what was typed is kept
    assert form.unit_text == "定海路街道总工会"
    assert (form.contact, form.phone) == ("王芳", "65430000")
    assert (form.filled_on, form.filled_on_raw) == ("2018-06-10", "2018年6月10日")
    assert form.extra_columns == []
    assert form.all_problems == []


@pytest.mark.parametrize("build", [volunteer_docx, volunteer_xlsx], ids=["docx", "xlsx"])
def test_volunteer_form_from_either_format(build) -> None:  # type: ignore[no-untyped-def]
    form = only_form("附件2.bin", build(VOL))
    assert form.spec is VOLUNTEER_TEAM
    assert [row.values for row in form.rows] == VOL_VALUES
    assert form.unit_text == "殷行街道工会"
    assert (form.contact, form.phone, form.filled_on) == ("刘洋", "55210011", "2018-06-08")
    assert form.all_problems == []


def test_volunteer_header_keeps_the_notices_line_breaks_and_limits() -> None:
    # The template breaks headers with paragraph marks and adds （50字内）/（100字内，…）.
    assert "负责人\n姓名及职务" in VOLUNTEER_HEADERS
    lines = docx_lines(volunteer_docx(VOL))
    header = next(line for line in lines if line.table is not None)
    assert "服务成效简介\n（100字内，新组队可不填）" in header.cells
    form = read_forms(lines)[0]
    assert form.extra_columns == []          # every one of them matched a field
    assert form.rows[0].raw["leader"] == "王志强，副主席"


@pytest.mark.parametrize("build", [both_docx, both_xlsx], ids=["docx", "xlsx"])
def test_both_forms_in_one_file(build) -> None:  # type: ignore[no-untyped-def]
    result = read_file("申报表.bin", build(ACT, VOL))
    assert result.problem is None
    activity, volunteer = result.forms
    assert (activity.spec, volunteer.spec) == (ACTIVITY, VOLUNTEER_TEAM)
    assert [row.values for row in activity.rows] == ACT_VALUES
    assert [row.values for row in volunteer.rows] == VOL_VALUES
    assert (activity.unit_text, activity.contact) == ("定海路街道总工会", "王芳")
    assert (volunteer.unit_text, volunteer.contact) == ("殷行街道工会", "刘洋")


@pytest.mark.parametrize("build", [both_docx, both_xlsx], ids=["docx", "xlsx"])
def test_both_forms_in_one_file_do_not_borrow_each_others_blanks(build) -> None:  # type: ignore[no-untyped-def]
    # Each form left its own header/footer blank: the other form's 填报单位 or 联系人
    # must not fill in for it (they used to, in both directions).
    act = FormFill("", ACT.rows, contact="", phone="", filled_on="    年   月   日")
    vol = FormFill("殷行街道工会", VOL.rows, contact="", phone="", filled_on="   年  月  日")
    activity, volunteer = read_file("x", build(act, vol)).forms
    assert activity.unit_text is None
    assert "未填写“填报单位”" in problems(activity)
    assert (volunteer.contact, volunteer.phone, volunteer.filled_on) == (None, None, None)
    assert volunteer.unit_text == "殷行街道工会"

    act = FormFill("定海路街道总工会", ACT.rows)
    activity, volunteer = read_file("x", build(act, vol)).forms
    assert (activity.contact, activity.phone) == ("王芳", "65430000")
    assert (volunteer.contact, volunteer.phone) == (None, None)


def test_form_recognised_by_its_headers_not_its_file_name() -> None:
    result = read_file("附件2：志愿者服务队登记表.xlsx", activity_docx(ACT))
    assert result.kind == "docx"
    assert [f.spec.key for f in result.forms] == ["activity"]


def test_unrelated_table_yields_no_form_and_a_reason() -> None:
    roster = xlsx_of([["姓名", "性别", "年龄", "部门"], ["张三", "男", "30", "办公室"]])
    result = read_file("名单.xlsx", roster)
    assert result.forms == []
    assert result.problem and "没有找到" in result.problem
    letter = docx_of("各街道工会：", "请于6月15日前报送。", [["活动", "时间"], ["座谈", "6月"]])
    assert read_file("通知.docx", letter).forms == []


# --- empty rows, required fields, limits -----------------------------------------------


def test_empty_template_rows_are_dropped_even_with_seq_prefilled() -> None:
    data = xlsx_of([
        ["序号", "活动名称", "活动形式", "时间安排", "主要内容和形式", "参与人数"],
        [1, "劳模座谈", "座谈会", "6月", "交流", 30],
        [2],                                        # only 序号
        [3, None, None, None, None, None],
        ["4", "", " ", "\u3000", "", ""],           # blanks that are only spaces
        [None, None, None, None, None, None],
        ["5", "劳模讲堂", "讲座", "7月", "宣讲", "50人"],
    ])
    form = only_form("x.xlsx", data)
    assert [r.values["name"] for r in form.rows] == ["劳模座谈", "劳模讲堂"]
    assert [r.seq for r in form.rows] == [1, 2]


def test_total_row_is_not_an_activity() -> None:
    data = xlsx_of([
        ["序号", "活动名称", "活动形式", "时间安排", "主要内容和形式", "参与人数"],
        [1, "劳模座谈", "座谈会", "6月", "交流", 30],
        [2, "劳模讲堂", "讲座", "7月", "宣讲", 50],
        ["合计", None, None, None, None, 80],
    ])
    form = only_form("x.xlsx", data)
    assert [r.values["participants"] for r in form.rows] == [30, 50]


def test_template_without_any_row_filled_says_so() -> None:
    form = only_form("x.docx", activity_docx(FormFill("定海路街道总工会", [], blank_rows=5)))
    assert form.rows == []
    assert problems(form) == ["表格是空的，没有填写任何一行"]


def test_row_without_its_name_is_kept_and_flagged() -> None:
    fill = FormFill("定海路街道总工会", [["", "座谈会", "6月", "交流", "30"]])
    form = only_form("x.docx", activity_docx(fill))
    assert form.rows[0].values["name"] is None
    assert problems(form) == ["第1行“活动名称”：未填写"]


@pytest.mark.parametrize(
    ("length", "flagged"), [(99, False), (100, False), (101, True), (230, True)]
)
def test_activity_content_over_100_characters_kept_whole_and_flagged(
    length: int, flagged: bool
) -> None:
    content = ("劳" * (length - 1)) + "。"
    fill = FormFill("定海路街道总工会", [["报告会", "报告会", "6月", content, "30"]])
    form = only_form("x.docx", activity_docx(fill))
    assert form.rows[0].values["content"] == content          # never cut
    expected = [f"第1行“主要内容和形式”：超过100字（{length}字），已完整保留"] if flagged else []
    assert problems(form) == expected


def test_volunteer_limits_are_50_and_100_characters() -> None:
    service, results = "助" * 51, "效" * 101
    fill = FormFill("殷行街道工会", [["服务队", "张三 主席", "10", "2016年", service, results]])
    form = only_form("x.xlsx", volunteer_xlsx(fill))
    assert form.rows[0].values["service"] == service
    assert form.rows[0].values["results"] == results
    assert problems(form) == [
        "第1行“服务内容”：超过50字（51字），已完整保留",
        "第1行“服务成效简介”：超过100字（101字），已完整保留",
    ]
    # spaces a clerk typed between phrases do not count as 字
    spaced = FormFill("殷行街道工会", [["服务队", "张三 主席", "10", "2016年", "助 " * 50, ""]])
    assert only_form("x.xlsx", volunteer_xlsx(spaced)).all_problems == []


def test_values_that_cannot_be_read_are_flagged_per_row_and_field() -> None:
    fill = FormFill("殷行街道工会", [
        ["服务队甲", "张三 主席", "20-30人", "2016年春", "助老", ""],
        ["服务队乙", "John Smith", "很多", "2016年3月", "助残", ""],
    ])
    form = only_form("x.docx", volunteer_docx(fill))
    first, second = form.rows
    assert first.values["size"] is None
    # Only a normalised date goes into the value (the export promises YYYY[-MM[-DD]]);
    # the text as typed stays in raw and in the problem.
    assert first.values["founded"] is None
    assert first.raw["founded"] == "2016年春"
    assert second.values["founded"] == "2016-03"
    assert problems(form) == [
        "第1行“服务队人数”：人数写成了范围“20-30人”，请填一个数",
        "第1行“服务队组建时间”：无法识别日期“2016年春”",
        "第2行“负责人姓名及职务”：无法区分负责人姓名和职务“John Smith”",
        "第2行“服务队人数”：无法识别人数“很多”",
    ]


def test_prose_punctuation_is_kept_as_written() -> None:
    content = "邀请劳模（含“杨浦工匠”）讲述经历：坚守岗位，精益求精！"
    fill = FormFill("定海路街道总工会", [["报告会", "报告会", "6月～7月", content, "30"]])
    form = only_form("x.xlsx", activity_xlsx(fill))
    assert form.rows[0].values["content"] == content
    assert form.rows[0].values["schedule"] == "6月～7月"


# --- header and footer -------------------------------------------------------------------


def test_template_footer_left_blank_gives_no_contact_and_no_date() -> None:
    fill = FormFill("定海路街道总工会", ACT.rows, contact="", phone="", filled_on="  年  月  日")
    for data in (activity_docx(fill), activity_xlsx(fill)):
        form = only_form("x", data)
        assert (form.contact, form.phone, form.filled_on, form.filled_on_raw) == (
            None, None, None, None)
        assert form.all_problems == []


def test_filled_on_that_cannot_be_read_is_a_form_problem() -> None:
    fill = FormFill("定海路街道总工会", ACT.rows, filled_on="六月中旬")
    form = only_form("x.docx", activity_docx(fill))
    assert form.filled_on is None
    assert form.filled_on_raw == "六月中旬"
    assert problems(form) == ["填报日期：无法识别日期“六月中旬”"]


def test_unit_line_with_stamp_note_and_footer_on_one_line() -> None:
    data = docx_of(
        ACTIVITY_TITLE,
        "填报单位（盖章）：控江路街道工会        填报日期：2018年6月12日",
        [list(ACTIVITY_HEADERS), ["1", "劳模事迹展", "展板", "6月", "巡展", "约500人"]],
        "联 系 人：周红    电话：13900000000",
    )
    form = only_form("x.docx", data)
    assert form.unit_text == "控江路街道工会"
    assert (form.contact, form.phone, form.filled_on) == ("周红", "13900000000", "2018-06-12")


def test_docx_form_laid_out_inside_one_table() -> None:
    # Title, 填报单位 and footer as merged rows of the same table.
    document = Document()
    table = document.add_table(rows=5, cols=6)
    title = table.cell(0, 0).merge(table.cell(0, 5))
    title.text = ACTIVITY_TITLE
    unit = table.cell(1, 0).merge(table.cell(1, 5))
    unit.text = "填报单位：五角场街道总工会"
    for cell, text in zip(table.rows[2].cells, ACTIVITY_HEADERS, strict=True):
        cell.text = text
    for cell, text in zip(
        table.rows[3].cells, ["1", "大讲堂", "讲座", "6月", "宣讲", "1,200人"], strict=True
    ):
        cell.text = text
    footer = table.cell(4, 0).merge(table.cell(4, 5))
    footer.text = "联系人：赵敏  联系电话：65241234  填报日期：2018.6.11"
    out = io.BytesIO()
    document.save(out)

    lines = docx_lines(out.getvalue())
    # a merged row is read once, not once per grid column
    assert lines[0].cells == (ACTIVITY_TITLE, "", "", "", "", "")
    form = only_form("x.docx", out.getvalue())
    assert form.unit_text == "五角场街道总工会"
    assert [r.values["participants"] for r in form.rows] == [1200]
    assert (form.contact, form.filled_on) == ("赵敏", "2018-06-11")


def test_nested_table_is_read() -> None:
    document = Document()
    document.add_paragraph("填报单位：长白新村街道总工会")
    outer = document.add_table(rows=1, cols=1)
    inner = outer.cell(0, 0).add_table(rows=2, cols=6)
    for cell, text in zip(inner.rows[0].cells, ACTIVITY_HEADERS, strict=True):
        cell.text = text
    for cell, text in zip(
        inner.rows[1].cells, ["1", "读书会", "学习会", "每月", "交流", "50余人"], strict=True
    ):
        cell.text = text
    out = io.BytesIO()
    document.save(out)
    form = only_form("x.docx", out.getvalue())
    assert [r.values["name"] for r in form.rows] == ["读书会"]
    assert form.unit_text == "长白新村街道总工会"


def test_header_aliases_extra_column_missing_seq_and_header_not_on_first_row() -> None:
    data = xlsx_of([
        [None],
        ["主题活动申报表"],
        ["填报单位：控江路街道工会"],
        [],
        # no 序号; aliases for three headers; an extra 备注 column in the middle
        ["活动主题", "形式", "备注", "活动时间", "主要内容及形式（100字以内）", "参加人数"],
        ["劳模进社区", "座谈", "与居委合办", "2018年7月", "劳模走进社区", "约50人"],
        ["劳模讲堂", "讲座", None, "2018年8月", "宣讲", 40],
        [],
        ["注：表格不够可另附。"],
        ["联系人：周红  联系电话：139  填报日期：2018年6月12日"],
    ])
    form = only_form("x.xlsx", data)
    assert form.spec is ACTIVITY
    assert form.extra_columns == ["备注"]
    assert [r.values for r in form.rows] == [
        {"name": "劳模进社区", "form": "座谈", "schedule": "2018年7月",
         "content": "劳模走进社区", "participants": 50},
        {"name": "劳模讲堂", "form": "讲座", "schedule": "2018年8月",
         "content": "宣讲", "participants": 40},
    ]
    assert form.rows[0].raw["其他:备注"] == "与居委合办"    # kept as a note
    assert "其他:备注" not in form.rows[1].raw
    assert [r.seq for r in form.rows] == [1, 2]
    assert (form.unit_text, form.contact, form.filled_on) == (
        "控江路街道工会", "周红", "2018-06-12")


@pytest.mark.parametrize(
    ("header", "field"),
    [("负责人", "leader"), ("负责人姓名", "leader"), ("组建时间", "founded"),
     ("成立时间", "founded"), ("服务队名称", "team_name"), ("队员人数", "size"),
     ("服务成效", "results"), ("服务项目", "service")],
)
def test_volunteer_header_aliases(header: str, field: str) -> None:
    headers = ["序号", "登记服务队名称", "负责人姓名及职务", "服务队人数", "服务队组建时间",
               "服务内容", "服务成效简介"]
    values = ["1", "助老队", "张三 主席", "10", "2016年", "助老", "服务百余次"]
    index = {"team_name": 1, "leader": 2, "size": 3, "founded": 4, "service": 5, "results": 6}
    headers[index[field]] = header
    form = only_form("x.xlsx", xlsx_of([headers, values]))
    assert form.spec is VOLUNTEER_TEAM
    assert form.extra_columns == []
    assert form.rows[0].raw[field] == values[index[field]]


def test_every_spec_label_is_recognised_as_its_own_field() -> None:
    # The declaration drives recognition: a header row made of exactly the labels maps
    # each column to its field, for every form.
    for spec in FORMS:
        data = xlsx_of([[f.label for f in spec.fields], ["1"] + ["x"] * (len(spec.fields) - 1)])
        form = only_form("x.xlsx", data)
        assert form.spec is spec
        assert set(form.rows[0].raw) == {f.key for f in spec.fields}


def test_form_split_over_two_sheets_is_one_form() -> None:
    header = list(ACTIVITY_HEADERS)
    data = xlsx_of(
        [["填报单位：定海路街道总工会"], header, [1, "报告会", "报告会", "6月", "宣讲", 100],
         [2, "座谈会", "座谈", "7月", "交流", "abc"]],
        [header, [3, "读书会", "学习", "8月", "读书", 30],
         ["联系人：王芳  联系电话：65430000  填报日期：2018年6月10日"]],
    )
    form = only_form("x.xlsx", data)
    assert [r.values["name"] for r in form.rows] == ["报告会", "座谈会", "读书会"]
    assert [r.seq for r in form.rows] == [1, 2, 3]
    assert form.unit_text == "定海路街道总工会"
    assert (form.contact, form.filled_on) == ("王芳", "2018-06-10")   # from the second sheet
    # one problem, for the row it is in; no "未填写填报单位" for the continuation
    assert problems(form) == ["第2行“参与人数”：无法识别人数“abc”"]


def test_two_units_forms_in_one_file_stay_apart() -> None:
    header = list(ACTIVITY_HEADERS)
    data = xlsx_of(
        [["填报单位：定海路街道总工会"], header, [1, "报告会", "报告会", "6月", "宣讲", 100]],
        [["填报单位：殷行街道工会"], header, [1, "座谈会", "座谈", "7月", "交流", 60]],
    )
    first, second = read_file("x.xlsx", data).forms
    assert (first.unit_text, len(first.rows)) == ("定海路街道总工会", 1)
    assert (second.unit_text, len(second.rows)) == ("殷行街道工会", 1)


# --- xlsx specifics ------------------------------------------------------------------------


def test_xlsx_text_starting_with_formula_characters_is_read_as_text() -> None:
    fill = FormFill("定海路街道总工会", [
        ["=HYPERLINK(\"http://x\")", "+座谈", "-7月", "@所有人 =1+1", "200"],
    ])
    form = only_form("x.xlsx", activity_xlsx(fill))
    assert form.rows[0].values == {
        "name": "=HYPERLINK(\"http://x\")", "form": "+座谈", "schedule": "-7月",
        "content": "@所有人 =1+1", "participants": 200,
    }


def test_xlsx_number_and_date_cells() -> None:
    import datetime as dt

    data = xlsx_of([
        ["序号", "登记服务队名称", "负责人姓名及职务", "服务队人数", "服务队组建时间",
         "服务内容", "服务成效简介"],
        [1.0, "助老队", "张三 主席", 45.0, dt.datetime(2016, 3, 1), "助老", ""],
        [2, "助残队", "李四 主席", 12, 2015, "助残", ""],
    ])
    form = only_form("x.xlsx", data)
    assert [(r.values["size"], r.values["founded"]) for r in form.rows] == [
        (45, "2016-03-01"), (12, "2015")]
    assert form.rows[0].raw["seq"] == "1"


def test_xlsx_lines_trim_trailing_empty_cells() -> None:
    lines = xlsx_lines(xlsx_of([["a", None, "b", None, None], [None, "  ", "\u3000"]]))
    assert [line.cells for line in lines] == [("a", "", "b"), ()]
    assert lines[0].text == "a  b"
    assert lines[1].is_empty


# --- files ---------------------------------------------------------------------------------


def test_kind_is_sniffed_from_bytes() -> None:
    assert sniff(activity_docx(ACT)) == "docx"
    assert sniff(activity_xlsx(ACT)) == "xlsx"
    assert sniff(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100) == "legacy"
    assert sniff(b"%PDF-1.4 ...") == "pdf"
    assert sniff(b"\x89PNG\r\n\x1a\n") == "image"
    assert sniff(b"PK\x03\x04 broken zip") == "unknown"
    assert sniff(b"just text") == "unknown"


@pytest.mark.parametrize(
    ("data", "kind", "words"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "legacy", ".docx"),
        (b"%PDF-1.4", "pdf", "Word 或 Excel"),
        (b"hello", "unknown", "无法识别"),
    ],
)
def test_unreadable_files_say_what_to_send_instead(data: bytes, kind: str, words: str) -> None:
    result = read_file("附件", data)
    assert (result.kind, result.forms) == (kind, [])
    assert result.problem and words in result.problem


def test_broken_docx_is_reported_not_raised() -> None:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<not really xml")
    result = read_file("坏.docx", out.getvalue())
    assert result.kind == "docx"
    assert result.forms == []
    assert result.problem and "损坏" in result.problem


# --- headers over two rows ---------------------------------------------------------------

TWO_ROW_ROWS = [["1", "殷行助老队", "王志强", "副主席", "30", "2016.3", "助老", "服务500人次"],
                ["2", "法律服务队", "张三 主席", "", "约15人", "2017", "法律咨询", ""],
                ["3", "维修队", "", "工会主席", "12", "2018年5月", "义务维修", ""]]
TWO_ROW_LEADERS = [("王志强", "副主席"), ("张三", "主席"), (None, "工会主席")]


@pytest.mark.parametrize("style", two_row.STYLES)
@pytest.mark.parametrize("make", [two_row.volunteer_docx, two_row.volunteer_xlsx],
                         ids=["docx", "xlsx"])
def test_leader_split_over_two_columns(make, style: str) -> None:
    # 负责人 merged above 姓名 | 职务, or 负责人姓名及职务 merged over two columns
    form = only_form("登记表", make("殷行街道总工会", TWO_ROW_ROWS, style=style))
    assert form.spec is VOLUNTEER_TEAM and form.extra_columns == []
    assert [(r.values["leader_name"], r.values["leader_title"]) for r in form.rows] == \
        TWO_ROW_LEADERS
    assert [r.values["size"] for r in form.rows] == [30, 15, 12]
    assert [r.values["team_name"] for r in form.rows] == ["殷行助老队", "法律服务队", "维修队"]
    assert form.rows[0].raw["leader"] == "王志强 副主席"   # one text, as one column holds it
    assert (form.unit_text, form.contact) == ("殷行街道总工会", "刘洋")
    # the only problem: row 3 gave a title and no name
    assert problems(form) == ["第3行“负责人姓名及职务”：负责人未写姓名"]


def test_a_group_title_over_two_columns_is_read_with_the_words_below() -> None:
    data = xlsx_of([["填报单位：殷行街道总工会"],
                    ["序号", "登记服务队名称", "负责人姓名及职务", "服务队情况", None, "服务内容"],
                    [None, None, None, "人数", "组建时间", None],
                    ["1", "助老队", "张三 主席", "30", "2016年3月", "助老"]])
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook.active
    for column in "ABCF":
        sheet.merge_cells(f"{column}2:{column}3")
    sheet.merge_cells("D2:E2")
    out = io.BytesIO()
    workbook.save(out)
    form = only_form("x.xlsx", out.getvalue())
    (row,) = form.rows
    assert (row.values["leader_name"], row.values["size"], row.values["founded"]) == (
        "张三", 30, "2016-03")
    assert form.extra_columns == []     # the group title is no column of its own


def test_a_header_above_its_first_data_row_is_still_one_row() -> None:
    # data below a header names no field: the two are never read as one header, even
    # when a cell of the data happens to be a header word
    headers = list(VOLUNTEER_HEADERS)
    data = xlsx_of([headers, ["1", "助老队", "负责人", "30", "2016", "服务内容", ""],
                    ["2", "法律队", "张三 主席", "12", "2017", "法律", ""]])
    form = only_form("x.xlsx", data)
    assert [r.values["team_name"] for r in form.rows] == ["助老队", "法律队"]


def test_a_lone_name_column_is_still_the_whole_leader() -> None:
    # `负责人姓名` as the only leader column holds `张三 主席`, as clerks use it
    headers = ["序号", "登记服务队名称", "负责人姓名", "服务队人数", "服务队组建时间", "服务内容"]
    form = only_form("x.xlsx", xlsx_of([headers, ["1", "助老队", "张三 主席", "30", "2016",
                                                 "助老"]]))
    (row,) = form.rows
    assert (row.values["leader_name"], row.values["leader_title"]) == ("张三", "主席")


def row_problems(form: FormData) -> list[str]:
    """The rows' problems: the sheets below leave out 填报单位, which is not their point."""
    return [p.describe() for r in form.rows for p in r.problems]


# --- bare 职务 beside the name column --------------------------------------------------


@pytest.mark.parametrize("title_header", ["职务", "职 务", "职位"])
@pytest.mark.parametrize("name_header", ["负责人姓名", "负责人"])
def test_bare_title_column_beside_a_name_column_is_the_leaders_title(
        name_header: str, title_header: str) -> None:
    headers = ["序号", "登记服务队名称", name_header, title_header, "服务队人数",
               "服务队组建时间", "服务内容"]
    form = only_form("x.xlsx", xlsx_of([headers, ["1", "助老队", "张三", "工会主席", "30",
                                                 "2016", "助老"]]))
    (row,) = form.rows
    assert (row.values["leader_name"], row.values["leader_title"]) == ("张三", "工会主席")
    assert row_problems(form) == []


def test_bare_title_column_without_a_name_column_is_not_the_leader() -> None:
    # 职务 alone says nothing of whose title it is: an extra column, kept as typed
    headers = ["序号", "登记服务队名称", "职务", "服务队人数", "服务队组建时间", "服务内容"]
    form = only_form("x.xlsx", xlsx_of([headers, ["1", "助老队", "主席", "30", "2016",
                                                 "助老"]]))
    (row,) = form.rows
    assert (row.values["leader_name"], row.values["leader_title"]) == (None, None)
    assert row.raw["其他:职务"] == "主席"
    assert form.extra_columns == ["职务"]


# --- spare rows struck out, and text carried on into the next row ------------------------


@pytest.mark.parametrize("mark", ["/", "／", "无", "——", "-", "以下空白", "（以下空白）", "(以下空白)",
                                  "空", "空白", "以下无"])
def test_spare_rows_struck_out_are_dropped(mark: str) -> None:
    data = xlsx_of([
        ["序号", "活动名称", "活动形式", "时间安排", "主要内容和形式", "参与人数"],
        [1, "劳模座谈", "座谈会", "6月", "交流", 30],
        [2, mark, mark, mark, mark, mark],            # every cell struck out
        [3, mark],                                    # or just the first one
        [None, None, None, None, mark],
    ])
    form = only_form("x.xlsx", data)
    assert [r.values["name"] for r in form.rows] == ["劳模座谈"]
    assert row_problems(form) == []


def test_a_marker_word_in_a_real_row_is_kept() -> None:
    # 无 in 服务成效简介 of a new team is what the clerk wrote, not a struck-out row
    fill = FormFill("殷行街道工会", [["服务队", "张三 主席", "10", "2018年", "助老", "无"]])
    form = only_form("x.xlsx", volunteer_xlsx(fill))
    (row,) = form.rows
    assert row.values["results"] == "无"


def test_content_carried_on_into_the_next_row_joins_the_row_above() -> None:
    data = docx_of(ACTIVITY_TITLE, "填报单位：定海路街道总工会", [
        list(ACTIVITY_HEADERS),
        ["1", "劳模宣讲会", "报告会", "6月", "邀请全国劳模讲述成长经历，", "200"],
        ["", "", "", "", "并组织青年职工现场交流。", ""],
        ["", "", "", "", "会后参观劳模工作室。", ""],
        ["2", "工匠论坛", "论坛", "7月", "技能交流", "100"],
    ])
    form = only_form("x.docx", data)
    assert [(r.seq, r.values["name"], r.values["content"]) for r in form.rows] == [
        (1, "劳模宣讲会", "邀请全国劳模讲述成长经历，\n并组织青年职工现场交流。\n会后参观劳模工作室。"),
        (2, "工匠论坛", "技能交流")]
    assert form.rows[0].raw["content"] == form.rows[0].values["content"]
    assert form.all_problems == []


def test_carried_on_text_counts_towards_the_limit() -> None:
    data = xlsx_of([
        ["序号", "活动名称", "活动形式", "时间安排", "主要内容和形式", "参与人数"],
        [1, "劳模座谈", "座谈会", "6月", "劳" * 60, 30],
        [None, None, None, None, "模" * 60],
    ])
    form = only_form("x.xlsx", data)
    (row,) = form.rows
    assert row.values["content"] == "劳" * 60 + "\n" + "模" * 60
    assert row_problems(form) == ["第1行“主要内容和形式”：超过100字（120字），已完整保留"]


def test_volunteer_long_columns_carry_on_too() -> None:
    headers = ["序号", "登记服务队名称", "负责人姓名及职务", "服务队人数", "服务队组建时间",
               "服务内容", "服务成效简介"]
    data = xlsx_of([headers,
                    ["1", "助老队", "张三 主席", "30", "2016年", "助老", "服务500人次，"],
                    [None, None, None, None, None, "助残", "获区优秀志愿服务项目。"]])
    form = only_form("x.xlsx", data)
    (row,) = form.rows
    assert (row.values["service"], row.values["results"]) == (
        "助老\n助残", "服务500人次，\n获区优秀志愿服务项目。")


def test_content_only_row_with_its_own_seq_or_first_is_a_row_of_its_own() -> None:
    # With a 序号, or with no row above, it is not carried on: a nameless row, flagged.
    data = xlsx_of([
        ["序号", "活动名称", "活动形式", "时间安排", "主要内容和形式", "参与人数"],
        [None, None, None, None, "无名的活动"],
        [2, "劳模座谈", "座谈会", "6月", "交流", 30],
        [3, None, None, None, "另一项"],
    ])
    form = only_form("x.xlsx", data)
    assert [r.values["content"] for r in form.rows] == ["无名的活动", "交流", "另一项"]
    assert row_problems(form) == ["第1行“活动名称”：未填写", "第3行“活动名称”：未填写"]


# --- values typed over the template's underline ----------------------------------------


def test_unit_contact_and_date_typed_over_the_underline() -> None:
    data = docx_of(
        ACTIVITY_TITLE,
        "填报单位：__控江路街道工会______",
        [list(ACTIVITY_HEADERS), ["1", "劳模事迹展", "展板", "6月", "巡展", "约500人"]],
        "联系人：＿＿周红＿＿   联系电话：__13900000000__   填报日期：2018年__6__月__12__日",
    )
    form = only_form("x.docx", data)
    assert form.unit_text == "控江路街道工会"
    assert (form.contact, form.phone, form.filled_on) == ("周红", "13900000000", "2018-06-12")


def test_template_underlines_left_blank_give_nothing() -> None:
    data = docx_of(
        ACTIVITY_TITLE,
        "填报单位：______________",
        [list(ACTIVITY_HEADERS), ["1", "劳模事迹展", "展板", "6月", "巡展", "约500人"]],
        "联系人：________   联系电话：________   填报日期：____年__月__日",
    )
    form = only_form("x.docx", data)
    assert (form.unit_text, form.contact, form.phone, form.filled_on_raw) == (
        None, None, None, None)


@pytest.mark.parametrize("mark", ["/", "／", "无", "——"])
def test_a_marker_in_a_number_date_or_leader_cell_of_a_real_row_reads_as_empty(
    mark: str,
) -> None:
    # The team exists; its size and founding date are struck out, not written unreadably.
    fill = FormFill("殷行街道工会", [["助老服务队", mark, mark, mark, "助老", ""]])
    form = only_form("x.xlsx", volunteer_xlsx(fill))
    (row,) = form.rows
    assert (row.values["size"], row.values["founded"]) == (None, None)
    assert (row.values["leader_name"], row.values["leader_title"]) == (None, None)
    written = "/" if mark == "／" else mark        # full-width `／` is normalised
    assert (row.raw["size"], row.raw["founded"]) == (written, written)
    assert row_problems(form) == []


@pytest.mark.parametrize(("founded", "flagged"), [
    ("2019年", True), ("49年", True), ("2018年7月", True),
    ("2018年6月", False), ("2016年", False), ("98年", False)])
def test_a_founding_date_after_the_day_the_form_was_filled_is_flagged(
    founded: str, flagged: bool,
) -> None:
    fill = FormFill("殷行街道工会", [["助老服务队", "张三 主席", "30", founded, "助老", ""]],
                    filled_on="2018年6月10日")
    form = only_form("x.xlsx", volunteer_xlsx(fill))
    later = [p for p in row_problems(form) if "晚于填报日期 2018-06-10" in p]
    assert bool(later) is flagged
