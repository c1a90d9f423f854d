"""`formbot forms draft` / `forms check`: a declaration → blank templates made by code →
draft → the same labels, kinds and limits; the real notice of 杨工〔2018〕14号 drafted
from a .docx built from its text; `check` reading each template with its declaration."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from docx import Document

from formbot.cli.commands import main
from parsers.builtin import FORMS
from parsers.declare import parse_declarations
from parsers.draft import draft_forms, render
from parsers.notice import notice_info
from parsers.specs import FieldSpec, FormSpec
from parsers.tables import docx_lines, xlsx_lines
from tests.cli.test_config import write
from tests.support.formfiles import Table, docx_bytes, xlsx_bytes

# The notice of 杨工〔2018〕14号 as published, kept in the repository beside its contract.
NOTICE = Path(__file__).resolve().parents[2] / "docs" / "notice-2018-14.txt"

NOMINATION = (
    FormSpec("nominee", "2019年度先进个人推荐表", "先进个人推荐表", ("先进个人推荐表",), (
        FieldSpec("seq", "序号", kind="seq"),
        FieldSpec("name", "姓名"),
        FieldSpec("gender", "性别", kind="choice", options=("男", "女")),
        FieldSpec("born", "出生年月", kind="date"),
        FieldSpec("idcard", "身份证号码", kind="idcard"),
        FieldSpec("member", "是否党员", kind="yesno"),
        FieldSpec("mobile", "手机", kind="phone"),
        FieldSpec("deeds", "主要事迹", max_len=200),
    ), attachment="附件1"),
    FormSpec("budget", "活动经费预算表", "活动经费预算表", ("经费预算表",), (
        FieldSpec("seq", "序号", kind="seq"),
        FieldSpec("item", "项目名称"),
        FieldSpec("amount", "预算金额", kind="money", unit="万元"),
        FieldSpec("people", "参与人数", kind="count"),
        FieldSpec("leader", "负责人姓名及职务", kind="leader"),
    ), attachment="附件2"),
)


def _shape(forms: object) -> list[tuple[str | None, list[tuple[str, str, int | None,
                                                                    str | None, tuple]]]]:
    return [(f.attachment, [(x.label, x.kind, x.max_len, x.unit, x.options)
                            for x in f.fields if x.kind != "seq"]) for f in forms]  # type: ignore[attr-defined]


@pytest.mark.parametrize("writer", ["docx", "xlsx"])
def test_round_trip_declaration_template_draft(writer: str, tmp_path: Path) -> None:
    tables = [Table.of(spec) for spec in NOMINATION]
    data = docx_bytes(tables) if writer == "docx" else xlsx_bytes(tables)
    path = tmp_path / f"blank.{writer}"
    path.write_bytes(data)
    out = tmp_path / "forms.yaml"
    result = CliRunner().invoke(main, ["forms", "draft", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "已写入" in result.output and "2 张表" in result.output
    text = out.read_text(encoding="utf-8")
    drafted = parse_declarations(yaml.safe_load(text), source=out)
    assert _shape(drafted) == _shape(NOMINATION)
    assert [f.title for f in drafted] == [f.title for f in NOMINATION]
    assert drafted[0].template == str(tmp_path / f"blank.{writer}")
    assert drafted[0].short == "先进个人推荐表"
    assert drafted[1].data_fields[-1].key == "fu_ze_ren"
    assert drafted[1].data_fields[-1].export_headers == ("负责人姓名", "负责人职务")
    # keys from pinyin; every guess commented
    assert [f.key for f in drafted[0].data_fields][:3] == ["xing_ming", "xing_bie",
                                                            "chu_sheng_nian_yue"]
    assert "请确认" in text and "max_len: 200   # 来自表头“主要事迹（200字内）”" in text
    if writer == "xlsx":
        assert "可选值取自表格的下拉列表" in text


def test_draft_time_is_never_silent() -> None:
    table = Table("表", ["序号", "活动名称", "时间安排", "组建时间", "经费"])
    (form,) = draft_forms(docx_lines(docx_bytes([table])))
    kinds = {f.label: (f.kind, f.notes) for f in form.fields}
    assert kinds["时间安排"][0] == "text" and "kind: date" in kinds["时间安排"][1][0]
    assert kinds["组建时间"][0] == "date" and "kind: text" in kinds["组建时间"][1][0]
    assert kinds["经费"] == ("money", ["表头没写单位，按“元”：若按万元填写请改为 unit: 万元"])


def _notice_docx(text: str) -> bytes:
    """The notice's text as Word has it: paragraphs, and each table's rows as tab-led
    cells (a cell's further lines follow without a tab), rows apart by blank lines."""
    doc = Document()
    rows: list[list[str]] = []

    def flush() -> None:
        if rows:
            grid = doc.add_table(rows=len(rows), cols=max(len(r) for r in rows))
            for r, cells in enumerate(rows):
                for c, value in enumerate(cells):
                    grid.cell(r, c).text = value
            rows.clear()

    in_row = False
    for line in text.splitlines():
        if line.startswith("\t"):
            if not in_row:
                rows.append([])
                in_row = True
            rows[-1].append(line[1:].strip())
        elif in_row and line.strip():
            rows[-1][-1] += line.strip()          # the cell goes on: （100字内）
        elif in_row:
            in_row = False
        else:
            flush()
            if line.strip():
                doc.add_paragraph(line.strip())
    flush()
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def test_draft_from_the_real_notice(tmp_path: Path) -> None:
    lines = docx_lines(_notice_docx(NOTICE.read_text(encoding="utf-8")))
    info = notice_info(lines)
    assert info is not None
    assert info.code == "杨工〔2018〕14号"
    assert info.title == "弘扬劳模精神，建功“创新杨浦”主题活动"
    assert info.deadline == dt.date(2018, 6, 15)
    assert info.contact == "区总工会宣传教育部 张琳、曹理仰 25032216"
    assert info.email == "qzxjb2008@126.com"
    forms = draft_forms(lines, template="notice.docx")
    assert [(f.attachment, f.title) for f in forms] == [(s.attachment, s.title) for s in FORMS]
    # the notice's own headers: the built-in declaration's labels, kinds and limits
    assert [[(x.label, x.kind, x.max_len) for x in f.fields] for f in forms] == [
        [(x.label, x.kind, x.max_len) for x in s.data_fields] for s in FORMS]
    text = render(forms, info, ["notice.docx"])
    assert "#   code: 杨工〔2018〕14号" in text and "#   deadline: 2018-06-15" in text
    drafted = parse_declarations(yaml.safe_load(text), source=tmp_path / "forms.yaml")
    assert [f.short for f in drafted] == ["主题活动申报表", "杨浦职工志愿者服务队登记表"]


def test_draft_reads_a_zip_and_says_what_it_wrote(tmp_path: Path) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("附件1.docx", docx_bytes([Table.of(NOMINATION[0])]))
        z.writestr("附件2.xlsx", xlsx_bytes([Table.of(NOMINATION[1])]))
    path = tmp_path / "blank.zip"
    path.write_bytes(archive.getvalue())
    result = CliRunner().invoke(main, ["forms", "draft", str(path)])
    assert result.exit_code == 0, result.output
    drafted = yaml.safe_load(result.output)
    assert [d["title"] for d in drafted] == [s.title for s in NOMINATION]
    assert "请解压后写 template" in result.output
    bad = tmp_path / "x.txt"
    bad.write_text("hello", encoding="utf-8")
    result = CliRunner().invoke(main, ["forms", "draft", str(bad)])
    assert result.exit_code == 1 and "错误：x.txt：不是 Word 或 Excel 文件" in result.output


def test_check_reads_each_template_with_its_declaration(tmp_path: Path) -> None:
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank" / "附件1.docx").write_bytes(docx_bytes([Table.of(NOMINATION[0])]))
    (tmp_path / "blank" / "附件2.xlsx").write_bytes(xlsx_bytes([Table.of(NOMINATION[1])]))
    draft = CliRunner().invoke(main, ["forms", "draft", str(tmp_path / "blank" / "附件1.docx"),
                                      str(tmp_path / "blank" / "附件2.xlsx"),
                                      "--out", str(tmp_path / "forms.yaml")])
    assert draft.exit_code == 0, draft.output
    config = write(tmp_path, lambda d: d["campaign"].update(forms="forms.yaml"))
    result = CliRunner().invoke(main, ["forms", "check", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert result.output.count("各列都对上，无数据行") == 2
    assert "身份证号" in result.output and "单位：万元" in result.output
    assert "表格声明检查通过" in result.output
    # a template with a column the declaration lacks, and rows filled in
    drafted = yaml.safe_load((tmp_path / "forms.yaml").read_text(encoding="utf-8"))
    drafted[0]["fields"].pop()                      # 主要事迹 no longer declared
    (tmp_path / "forms.yaml").write_text(yaml.safe_dump(drafted, allow_unicode=True),
                                         encoding="utf-8")
    (tmp_path / "blank" / "附件2.xlsx").write_bytes(xlsx_bytes([Table.of(
        NOMINATION[1], [["1", "讲座", "1.5", "30", "张三 主席"]], unit="某单位")]))
    result = CliRunner().invoke(main, ["forms", "check", "--config", str(config)])
    assert result.exit_code == 1
    assert "模板中有声明里没有的列：主要事迹" in result.output
    assert "模板中已有 1 行数据" in result.output


def test_check_refuses_a_wrong_declaration_in_one_sentence(tmp_path: Path) -> None:
    config = write(tmp_path, lambda d: d["campaign"].update(forms=[{"key": "x", "title": "t",
                   "short": "s", "fields": [{"key": "a", "label": "性别", "kind": "choice"}]}]))
    result = CliRunner().invoke(main, ["forms", "check", "--config", str(config)])
    assert result.exit_code == 1
    assert re.search(r"错误：.*config.yaml：campaign.forms：表“x”的字段“性别”：kind 为 choice 时应写 options",
                     result.output)


def test_check_without_declaration_lists_the_builtin_forms(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["forms", "check", "--config", str(write(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "主题活动申报表" in result.output and "志愿者服务队登记表" in result.output
    assert "导出为" in result.output and "volunteer_team" in result.output
    assert xlsx_lines  # the xlsx reader is what the template check used above
