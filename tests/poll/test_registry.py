"""The unit registry file (.xlsx / .csv with 单位名称, 别名, 邮箱) → entries."""

from __future__ import annotations

import codecs
import io
from collections.abc import Sequence

import openpyxl
import pytest

from parsers.errors import ParseError
from parsers.registry import RegistryEntry, read_registry

ROWS: list[list[str]] = [
    ["单位名称", "别名", "邮箱"],
    ["定海路街道总工会", "定海路街道工会；定海工会", "dhjd_gh@example.cn；WF@163.example"],
    ["殷行街道总工会", "殷行街道工会、殷行工会", "yh@example.cn、yh2@example.cn yh3@example.cn"],
    ["杨浦区教育工会", "", ""],
    ["", "", ""],                                   # a blank line in the middle
    ["控江路街道总工会", "控江工会", "kjl@example.cn, kjl2@example.cn;kjl3@example.cn"],
]
EXPECTED = [
    RegistryEntry("定海路街道总工会", ("定海路街道工会", "定海工会"),
                  ("dhjd_gh@example.cn", "wf@163.example")),
    RegistryEntry("殷行街道总工会", ("殷行街道工会", "殷行工会"),
                  ("yh@example.cn", "yh2@example.cn", "yh3@example.cn")),
    RegistryEntry("杨浦区教育工会", (), ()),
    RegistryEntry("控江路街道总工会", ("控江工会",),
                  ("kjl@example.cn", "kjl2@example.cn", "kjl3@example.cn")),
]


def csv_text(rows: Sequence[Sequence[str]], sep: str = ",") -> str:
    def quote(cell: str) -> str:
        return f'"{cell}"' if sep in cell or '"' in cell else cell

    return "".join(sep.join(quote(c) for c in row) + "\r\n" for row in rows)


def xlsx_bytes(rows: Sequence[Sequence[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_xlsx() -> None:
    assert read_registry(xlsx_bytes(ROWS), "单位.xlsx") == EXPECTED


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-8-sig"),     # Excel "CSV UTF-8"
        lambda text: text.encode("utf-8"),
        lambda text: text.encode("gbk"),           # Excel "CSV" on Chinese Windows
    ],
    ids=["utf8-bom", "utf8", "gbk"],
)
def test_csv_in_the_encodings_excel_writes(encode) -> None:  # type: ignore[no-untyped-def]
    assert read_registry(encode(csv_text(ROWS)), "单位.csv") == EXPECTED


def test_excel_unicode_text_export_utf16_tabs() -> None:
    data = codecs.BOM_UTF16_LE + csv_text(ROWS, sep="\t").encode("utf-16-le")
    assert read_registry(data, "单位.txt") == EXPECTED


def test_title_rows_above_the_header_and_extra_columns() -> None:
    rows: list[list[object]] = [
        ["杨浦区基层工会名单（2018年）"],
        [],
        ["序号", "单位", "单位名称", "简称", "联系人", "电子邮箱"],
        [1, "街道", "定海路街道总工会", "定海工会", "王芳", " DHJD_GH@example.cn "],
        [2, "系统", "  杨浦区教育工会\u3000", None, "钱静", None],
    ]
    assert read_registry(xlsx_bytes(rows), "名单.xlsx") == [
        RegistryEntry("定海路街道总工会", ("定海工会",), ("dhjd_gh@example.cn",)),
        RegistryEntry("杨浦区教育工会", (), ()),
    ]


def test_email_header_in_english() -> None:
    data = csv_text([["单位名称", "Email"], ["定海路街道总工会", "A@B.cn"]]).encode()
    assert read_registry(data) == [RegistryEntry("定海路街道总工会", (), ("a@b.cn",))]


def test_a_later_row_for_the_same_unit_replaces_the_earlier() -> None:
    rows = [["单位名称", "邮箱"],
            ["定海路街道总工会", "old@x.cn"],
            ["定海路街道总工会", "new@x.cn"]]
    assert read_registry(csv_text(rows).encode()) == [
        RegistryEntry("定海路街道总工会", (), ("new@x.cn",))]


@pytest.mark.parametrize(
    "rows",
    [
        [["名字", "邮箱"], ["定海路街道总工会", "a@b.cn"]],
        [["定海路街道总工会", "a@b.cn"]],
        [],
    ],
    ids=["other-header", "no-header", "empty"],
)
def test_missing_name_column_is_a_clear_parse_error(rows: list[list[str]]) -> None:
    with pytest.raises(ParseError) as caught:
        read_registry(csv_text(rows).encode(), "名单.csv")
    assert str(caught.value) == "名单.csv：找不到“单位名称”列（需要列：单位名称、别名、邮箱）"


def test_bad_address_names_the_unit_and_the_address() -> None:
    rows = [["单位名称", "邮箱"], ["定海路街道总工会", "dhjd_gh@example.cn；王芳"]]
    with pytest.raises(ParseError) as caught:
        read_registry(csv_text(rows).encode(), "名单.csv")
    assert str(caught.value) == "名单.csv：“定海路街道总工会”的邮箱“王芳”不是有效地址"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, ".xlsx"),     # a legacy .xls
        (b"PK\x03\x04 not really a workbook", "Excel"),
    ],
)
def test_files_that_are_not_a_registry_say_what_to_do(data: bytes, words: str) -> None:
    with pytest.raises(ParseError) as caught:
        read_registry(data, "名单.xls")
    assert str(caught.value).startswith("名单.xls：")
    assert words in str(caught.value)
