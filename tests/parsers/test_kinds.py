"""Field kinds (CONTRACT.md `campaign.forms`): each reads what people write, or says why
not; and read through a declaration, problems come back in the shape receipts use."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.files import read_file
from parsers.kinds import (
    check,
    idcard_checksum,
    parse_choice,
    parse_idcard,
    parse_money,
    parse_number,
    parse_phone_number,
    parse_yesno,
    read_value,
)
from parsers.specs import FieldSpec, FormSpec
from tests.support.formfiles import Table, docx_bytes, xlsx_bytes

QUICK = settings(max_examples=200, deadline=None, derandomize=True)


@pytest.mark.parametrize(("text", "value"), [
    ("3.5", 3.5), ("三点五", 3.5), ("约3.5小时", 3.5), ("1,200.5", 1200.5), ("12", 12),
    ("０.５", 0.5), ("二十", 20), ("", None),
])
def test_number(text: str, value: float | None) -> None:
    assert parse_number(text) == (value, None)


@pytest.mark.parametrize("text", ["abc", "3.5-4", "3.5或4", "很多"])
def test_number_unreadable(text: str) -> None:
    value, problem = parse_number(text)
    assert value is None and problem and text in problem


@pytest.mark.parametrize(("text", "yuan", "wan"), [
    ("1.2万元", 12000, 1.2), ("12,000元", 12000, 1.2), ("壹万贰仟元整", 12000, 1.2),
    ("￥12,000.00", 12000, 12000), ("12000", 12000, 12000), ("3万", 30000, 3),
    ("0.5万元", 5000, 0.5), ("人民币伍仟元", 5000, 0.5), ("约2000元", 2000, 0.2),
    ("1500.50元", 1500.5, 0.15005),
])
def test_money_in_the_declared_unit(text: str, yuan: float, wan: float) -> None:
    assert parse_money(text, "元") == (yuan, None)
    assert parse_money(text, "万元") == (wan, None)


@pytest.mark.parametrize("text", ["两三千元", "1000-2000元", "若干", "1万2千万元"])
def test_money_unreadable(text: str) -> None:
    value, problem = parse_money(text)
    assert value is None and problem == f"无法识别金额“{text}”"


@pytest.mark.parametrize(("text", "value"), [
    ("021-25032216", "021-25032216"), ("25032216", "25032216"),
    ("138 1234 5678", "13812345678"), ("138-1234-5678", "13812345678"),
    ("+86 13812345678", "13812345678"), ("(021)25032216", "021-25032216"),
    ("021 2503 2216", "021-25032216"), ("0571-88886666", "0571-88886666"),
    ("010-65123456", "010-65123456"), ("021-25032216转801", "021-25032216转801"),
    ("25032216/13812345678", "25032216、13812345678"), ("１３８１２３４５６７８", "13812345678"),
])
def test_phone(text: str, value: str) -> None:
    assert parse_phone_number(text) == (value, None)


@pytest.mark.parametrize("text", ["12345", "1381234567", "不详", "23812345678"])
def test_phone_unreadable_never_quoted(text: str) -> None:
    value, problem = parse_phone_number(text)
    assert value is None and problem and text not in problem


@given(st.text("0123456789", min_size=17, max_size=17))
@QUICK
def test_idcard_checksum_property(first17: str) -> None:
    first17 = "110105" + "19800101" + first17[14:]
    whole = first17 + idcard_checksum(first17)
    assert parse_idcard(whole) == (whole, None)
    assert parse_idcard(whole.lower() if whole.endswith("X") else whole) == (whole, None)
    wrong = first17 + next(c for c in "0123456789X" if c != whole[-1])
    value, problem = parse_idcard(wrong)
    assert value == wrong and problem == "身份证号校验位不对，可能抄错了一位，请核对"


@pytest.mark.parametrize(("text", "problem"), [
    ("11010519491231002X", None), ("110105 19491231 002x", None),
    ("110105491231002", "身份证号是旧的15位号码，请填写18位身份证号"),
    ("11010519491331002X", "身份证号中的出生日期不存在，请核对"),
    ("1101051949123100", "身份证号应为18位（17位数字加1位数字或X），现在是16位"),
])
def test_idcard(text: str, problem: str | None) -> None:
    value, issue = parse_idcard(text)
    assert issue == problem
    assert value and " " not in value
    assert "1101" not in (issue or "")     # personal data never in a problem


@pytest.mark.parametrize(("text", "value"), [
    ("男", "男"), ("男性", "男"), (" 女 ", "女"), ("中共党员", "中共党员"), ("党员", "中共党员"),
    ("中工党员", "中共党员"), ("共青团员", "共青团员"), ("群众", "群众"),
])
def test_choice_close_spellings(text: str, value: str) -> None:
    options = ("男", "女") if text.strip() in ("男", "男性", "女") else ("中共党员", "共青团员", "群众")
    assert parse_choice(text, options) == (value, None)


def test_choice_never_guesses_between_two() -> None:
    assert parse_choice("员", ("中共党员", "共青团员"))[0] is None
    value, problem = parse_choice("未知", ("男", "女"))
    assert value is None and problem == "“未知”不是可选的值（可选：男、女）"


@pytest.mark.parametrize(("text", "value"), [
    ("是", "是"), ("否", "否"), ("有", "是"), ("无", "否"), ("√", "是"), ("×", "否"),
    ("Y", "是"), ("n", "否"), ("不是", "否"), ("yes", "是"), ("", None),
])
def test_yesno(text: str, value: str | None) -> None:
    assert parse_yesno(text) == (value, None)


def test_read_value_dispatches_by_kind_and_check_applies_limits() -> None:
    assert read_value(FieldSpec("a", "经费", kind="money", unit="万元"), "5000元") == (0.5, None)
    assert read_value(FieldSpec("a", "人数", kind="count"), "约200人") == (200, None)
    assert read_value(FieldSpec("a", "日期", kind="date"), "2016.3") == ("2016-03", None)
    assert read_value(FieldSpec("a", "事迹"), "文字") == ("文字", None)
    limited = FieldSpec("a", "事迹", max_len=3, required=True)
    assert check(limited, "") == ["未填写"]
    assert check(limited, "四个汉字") == ["超过3字（4字），已完整保留"]


NOMINEE = FormSpec("nominee", "先进个人推荐表", "推荐表", ("推荐表",), (
    FieldSpec("seq", "序号", kind="seq"),
    FieldSpec("name", "姓名", required=True),
    FieldSpec("gender", "性别", kind="choice", options=("男", "女")),
    FieldSpec("idcard", "身份证号", kind="idcard"),
    FieldSpec("member", "是否党员", kind="yesno"),
    FieldSpec("budget", "经费", kind="money", unit="万元"),
    FieldSpec("phone", "手机", kind="phone"),
    FieldSpec("deeds", "主要事迹", max_len=10),
))


@pytest.mark.parametrize("writer", [docx_bytes, xlsx_bytes])
def test_a_declared_form_read_by_kind(writer: object) -> None:
    rows = [["1", "张三", "男性", "11010519491231002x", "√", "1.2万元", "138 1234 5678", "好"],
            ["2", "", "未知", "110105194912310021", "无", "5000元", "021-25032216",
             "事迹很多很多很多很多很多"]]
    data = writer([Table.of(NOMINEE, rows, unit="定海路街道总工会")])  # type: ignore[operator]
    (form,) = read_file("推荐表", data, forms=[NOMINEE]).forms
    first, second = form.rows
    assert first.values == {"name": "张三", "gender": "男", "idcard": "11010519491231002X",
                            "member": "是", "budget": 1.2, "phone": "13812345678",
                            "deeds": "好"}
    assert first.problems == []
    assert second.values["member"] == "否" and second.values["budget"] == 0.5
    assert [p.describe() for p in second.problems] == [
        "第2行“姓名”：未填写",
        "第2行“性别”：“未知”不是可选的值（可选：男、女）",
        "第2行“身份证号”：身份证号校验位不对，可能抄错了一位，请核对",
        "第2行“主要事迹”：超过10字（12字），已完整保留",
    ]


KINDS = [FieldSpec("f", "字段", kind=k, options=("男", "女") if k == "choice" else (),
                   unit="万元" if k == "money" else None)
         for k in ("text", "count", "number", "money", "date", "leader", "phone", "idcard",
                   "choice", "yesno")]


@given(st.text(alphabet=st.sampled_from("0123456789.,，万元千百十一二三点约人年月日-/XYN是否有无√× 男女（）"),
               max_size=14))
@QUICK
def test_any_text_gives_a_value_or_a_problem_never_an_exception(text: str) -> None:
    for spec in KINDS:
        value, problem = read_value(spec, text)
        if not text.strip():
            assert problem is None
        if spec.kind in ("number", "money") and value is not None:
            assert isinstance(value, int | float)
        if spec.kind == "yesno":
            assert value in ("是", "否", None)
        if spec.kind == "choice":
            assert value in ("男", "女", None)
        if problem is None and value is None:
            assert spec.kind == "leader" or not text.strip() or spec.kind == "date" \
                or spec.kind == "count"
