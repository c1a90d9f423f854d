"""Recognition follows the declarations passed in: forms with similar headers are told
apart by the columns they name, then by the title above the table (title_words)."""

from __future__ import annotations

import pytest

from parsers.builtin import FORMS
from parsers.files import read_file
from parsers.specs import FieldSpec, FormSpec
from tests.support.formfiles import Table, docx_bytes, xlsx_bytes

SEQ = FieldSpec("seq", "序号", kind="seq")
COMMON = (FieldSpec("name", "名称", required=True), FieldSpec("leader_name", "负责人"),
          FieldSpec("size", "人数", kind="count"), FieldSpec("deeds", "主要事迹", max_len=200))
PERSON = FormSpec("person", "2019年度先进个人推荐表", "个人推荐表", ("个人推荐表", "先进个人"),
                  (SEQ, *COMMON), attachment="附件1")
GROUP = FormSpec("group", "2019年度先进集体推荐表", "集体推荐表", ("集体推荐表", "先进集体"),
                 (SEQ, *COMMON), attachment="附件2")
# the same columns plus one: a table with that column is this form, whatever its title
BUDGET = FormSpec("budget", "活动经费预算表", "经费预算表", ("预算表",),
                  (SEQ, *COMMON, FieldSpec("money", "经费", kind="money", unit="万元")))
ROW = ["1", "甲", "张三", "30", "事迹"]


@pytest.mark.parametrize("writer", [docx_bytes, xlsx_bytes])
def test_identical_headers_told_apart_by_the_title(writer: object) -> None:
    tables = [Table(GROUP.title, ["序号", "名称", "负责人", "人数", "主要事迹（200字内）"], [ROW],
                    unit="定海路街道总工会"),
              Table(PERSON.title, ["序号", "名称", "负责人", "人数", "主要事迹（200字内）"], [ROW],
                    unit="定海路街道总工会")]
    for forms in ([PERSON, GROUP], [GROUP, PERSON]):
        found = read_file("f", writer(tables), forms=forms).forms  # type: ignore[operator]
        assert [f.spec.key for f in found] == ["group", "person"]
        assert all(f.rows[0].values["size"] == 30 for f in found)


def test_the_attachment_label_alone_tells_them_apart() -> None:
    tables = [Table("推荐表", ["序号", "名称", "负责人", "人数", "主要事迹"], [ROW],
                    attachment=label, unit="某单位") for label in ("附件2", "附件1")]
    found = read_file("f", docx_bytes(tables), forms=[PERSON, GROUP]).forms
    assert [f.spec.key for f in found] == ["group", "person"]


def test_more_columns_named_wins_over_the_title() -> None:
    table = Table(PERSON.title, ["序号", "名称", "负责人", "人数", "主要事迹", "经费（万元）"],
                  [[*ROW, "1.5"]], unit="某单位")
    (form,) = read_file("f", docx_bytes([table]), forms=[PERSON, BUDGET]).forms
    assert form.spec is BUDGET and form.rows[0].values["money"] == 1.5


def test_without_a_title_the_form_missing_fewest_fields_then_the_first() -> None:
    table = Table("", ["序号", "名称", "负责人", "人数", "主要事迹"], [ROW], unit="某单位")
    (form,) = read_file("f", docx_bytes([table]), forms=[BUDGET, PERSON]).forms
    assert form.spec is PERSON
    (form,) = read_file("f", docx_bytes([table]), forms=[GROUP, PERSON]).forms
    assert form.spec is GROUP


def test_only_the_declared_forms_are_found() -> None:
    table = Table(PERSON.title, ["序号", "名称", "负责人", "人数", "主要事迹"], [ROW], unit="某单位")
    result = read_file("f", docx_bytes([table]), forms=FORMS)
    assert result.forms == [] and result.problem
    assert read_file("f", docx_bytes([table])).forms == []          # default: the built-in
    assert [f.spec.key for f in read_file("f", docx_bytes([table]), forms=[GROUP]).forms] == [
        "group"]
