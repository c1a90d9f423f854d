import email
import email.policy
import re
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage, Message
from io import BytesIO

import openpyxl
import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH

from formbot.demo.mailbox import DEMO_UNITS, demo_mailbox
from formbot.demo.samples import (
    ACTIVITY_HEADERS,
    ACTIVITY_TITLE,
    FILENAME_STYLES,
    NOTE,
    TRANSFER_ENCODINGS,
    VOLUNTEER_HEADERS,
    VOLUNTEER_TITLE,
    FormFill,
    activity_docx,
    activity_xlsx,
    both_docx,
    both_xlsx,
    build_mail,
    content_type_for,
    volunteer_docx,
    volunteer_xlsx,
)

ACT = FormFill(
    "定海路街道总工会",
    [
        ["劳模先进事迹报告会", "报告会", "2018年6月—7月", "邀请劳模讲述成长经历。", "200"],
        ["=HYPERLINK(\"x\")", "座谈会", "2018年7月", "+交流体会", "约150人"],
    ],
    blank_rows=2,
)
VOL = FormFill(
    "殷行街道工会",
    [
        ["殷行街道职工志愿者服务队", "王志强，副主席", "30", "2016.3", "助老助残", "服务500人次"],
        ["新组建服务队", "李秀英（工会主席）", "12人", "2018年5月", "义务维修", ""],
    ],
    contact="刘洋",
    phone="55210011",
    filled_on="2018年6月8日",
)
FOOTER = "联系人：王芳        联系电话：65430000        填报日期：2018年6月10日"


def docx_texts(data: bytes) -> tuple[list[str], list[list[list[str]]]]:
    doc = Document(BytesIO(data))
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]
    assert all(t.style is not None and t.style.name == "Table Grid" for t in doc.tables)
    return [p.text for p in doc.paragraphs], tables


def test_activity_docx_looks_like_the_template() -> None:
    doc = Document(BytesIO(activity_docx(ACT)))
    paras = doc.paragraphs
    assert [p.text for p in paras] == [
        "附件1", ACTIVITY_TITLE, "填报单位：定海路街道总工会", NOTE, FOOTER,
    ]
    assert paras[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT
    _, [table] = docx_texts(activity_docx(ACT))
    assert tuple(table[0]) == ACTIVITY_HEADERS
    assert table[1] == ["1", *ACT.rows[0]]
    assert table[2] == ["2", *ACT.rows[1]]
    assert table[3:] == [[""] * 6, [""] * 6]


def test_volunteer_docx_keeps_header_line_breaks_and_footer_fields() -> None:
    paras, [table] = docx_texts(volunteer_docx(VOL))
    assert tuple(table[0]) == VOLUNTEER_HEADERS
    assert table[0][2] == "负责人\n姓名及职务"
    assert [r[0] for r in table[1:]] == ["1", "2", ""]
    assert table[2][1:] == VOL.rows[1]
    assert paras[1:3] == [VOLUNTEER_TITLE, "填报单位：殷行街道工会"]
    assert paras[-1] == "联系人：刘洋        联系电话：55210011        填报日期：2018年6月8日"


def test_both_docx_has_two_forms_in_order() -> None:
    data = both_docx(ACT, VOL)
    paras, tables = docx_texts(data)
    assert len(tables) == 2
    assert tuple(tables[0][0]) == ACTIVITY_HEADERS
    assert tuple(tables[1][0]) == VOLUNTEER_HEADERS
    assert paras.count(NOTE) == 2
    assert paras.index(ACTIVITY_TITLE) < paras.index("附件2") < paras.index(VOLUNTEER_TITLE)
    second = Document(BytesIO(data)).paragraphs[paras.index("附件2")]
    assert second.paragraph_format.page_break_before is True


def test_rows_must_fit_the_form() -> None:
    with pytest.raises(ValueError, match="expected 5 cells"):
        activity_docx(FormFill("x", [["only", "three", "cells"]]))
    with pytest.raises(ValueError, match="expected 6 cells"):
        volunteer_xlsx(FormFill("x", [["a"] * 5]))


def test_activity_xlsx_layout_and_cell_types() -> None:
    ws = openpyxl.load_workbook(BytesIO(activity_xlsx(ACT))).active
    assert ws is not None
    assert ws["A1"].value == ACTIVITY_TITLE
    assert ws["A2"].value == "填报单位：定海路街道总工会"
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert {"A1:F1", "A2:F2"} <= merged
    header = [c.value for c in ws[3]]
    assert tuple(header) == ACTIVITY_HEADERS
    assert all(c.alignment.wrap_text for c in ws[3])
    row4, row5 = ([c.value for c in ws[r]] for r in (4, 5))
    assert row4 == [1, *ACT.rows[0][:4], 200]  # digits-only head count becomes a number
    assert row5 == [2, *ACT.rows[1]]
    # A clerk's "=..." stays text, never a formula.
    assert ws["B5"].data_type == "s"
    assert [c.value for c in ws[6]] == [None] * 6
    assert [c.value for c in ws[7]] == [None] * 6
    assert ws["A8"].value == NOTE
    assert ws["A9"].value == FOOTER
    assert ws.max_row == 9


def test_formula_lookalikes_are_stored_as_strings_in_the_file() -> None:
    with zipfile.ZipFile(BytesIO(activity_xlsx(ACT))) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet


def test_volunteer_and_both_xlsx() -> None:
    ws = openpyxl.load_workbook(BytesIO(volunteer_xlsx(VOL))).active
    assert ws is not None
    assert tuple(c.value for c in ws[3]) == VOLUNTEER_HEADERS
    assert [c.value for c in ws[4]] == [1, "殷行街道职工志愿者服务队", "王志强，副主席", 30,
                                        "2016.3", "助老助残", "服务500人次"]
    assert ws["D5"].value == "12人"
    assert ws["G5"].value in ("", None)

    wb = openpyxl.load_workbook(BytesIO(both_xlsx(ACT, VOL)))
    assert len(wb.worksheets) == 2
    first, second = wb.worksheets
    assert first["A1"].value == ACTIVITY_TITLE and second["A1"].value == VOLUNTEER_TITLE
    assert tuple(c.value for c in second[3]) == VOLUNTEER_HEADERS
    assert second["A2"].value == "填报单位：殷行街道工会"


# Every byte value, CR/LF in odd places, "=" and trailing blanks: what QP and 8bit must survive.
AWKWARD = bytes(range(256)) + b"line\r\nlone\rcr\nlf \t\r\n=3D=\r\n--boundary\r\n" + b"\r"


@pytest.mark.parametrize("style", FILENAME_STYLES)
@pytest.mark.parametrize("encoding", TRANSFER_ENCODINGS)
def test_build_mail_round_trip(style: str, encoding: str) -> None:
    real = activity_docx(ACT)
    names = (["form1.docx", "raw.bin"] if style == "ascii"
             else ["附件1：主题活动申报表（定海路街道）.docx", "杨浦 登记表.bin"])
    when = datetime(2018, 6, 10, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    raw = build_mail(
        from_addr="dhjd_gh@example.cn", to_addr="qzxjb2008@example.cn",
        subject="定海路街道总工会报送申报表", body="区总工会：\n附件请查收。—王芳",
        attachments=list(zip(names, [real, AWKWARD], strict=True)),
        filename_style=style, transfer_encoding=encoding,
        message_id="<t-1@example.cn>", date=when, from_name="定海路街道总工会",
        extra_headers={"X-Mailer": "Foxmail 7.2"},
    )
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["Message-ID"] == "<t-1@example.cn>"
    assert msg["Subject"] == "定海路街道总工会报送申报表"
    assert msg["From"].addresses[0].display_name == "定海路街道总工会"
    assert msg["From"].addresses[0].addr_spec == "dhjd_gh@example.cn"
    assert msg["Date"].datetime == when
    assert msg["X-Mailer"] == "Foxmail 7.2"
    assert msg.get_content_type() == "multipart/mixed"
    body = msg.get_body(("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == "区总工会：\n附件请查收。—王芳"
    parts = list(msg.iter_attachments())
    assert [p["Content-Transfer-Encoding"] for p in parts] == [encoding, encoding]
    assert [p.get_content() for p in parts] == [real, AWKWARD]
    assert [p.get_content_type() for p in parts] == [
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/octet-stream",
    ]
    headers = raw.decode("latin-1")  # byte-transparent view for the checks on raw headers
    if style == "raw-gbk":
        assert 'charset="gbk"' in headers
        # Parsers only see U+FFFD here; the real name is in the header's raw bytes.
        found = re.findall(rb'\tfilename="([^"]*)"', raw)
        assert [n.decode("gb18030") for n in found] == names
        with pytest.raises(UnicodeDecodeError):
            found[0].decode("utf-8")
        assert re.findall(rb'\tname="([^"]*)"', raw) == found
    else:
        assert [p.get_filename() for p in parts] == names
    if style == "rfc2231":
        assert "filename*=utf-8''%E9%99%84%E4%BB%B61" in headers
    if style == "rfc2047-quoted":
        assert re.search(r'\tfilename="=\?gb18030\?B\?[A-Za-z0-9+/=]+\?="', headers)
        assert re.search(r'\tname="=\?gb18030\?B\?[A-Za-z0-9+/=]+\?="', headers)
    if encoding == "8bit":
        assert real in raw  # really unencoded
    if encoding != "8bit" and style != "raw-gbk":
        assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"") or encoding == "8bit"


def test_build_mail_defaults_and_errors() -> None:
    raw = build_mail(from_addr="a@example.cn", to_addr="b@example.cn", subject="hi", body="x",
                     attachments=[])
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Message-ID"].endswith("@example.cn>")
    assert abs(msg["Date"].datetime - datetime.now(UTC)) < timedelta(minutes=5)
    assert list(msg.iter_attachments()) == []
    with pytest.raises(ValueError, match="ASCII"):
        build_mail(from_addr="a@example.cn", to_addr="b@example.cn", subject="s", body="b",
                   attachments=[("表.docx", b"x")], filename_style="ascii")
    with pytest.raises(ValueError, match="filename_style"):
        build_mail(from_addr="a@example.cn", to_addr="b@example.cn", subject="s", body="b",
                   attachments=[], filename_style="utf7")
    with pytest.raises(ValueError, match="transfer_encoding"):
        build_mail(from_addr="a@example.cn", to_addr="b@example.cn", subject="s", body="b",
                   attachments=[], transfer_encoding="uuencode")


def test_build_mail_is_deterministic_for_fixed_inputs() -> None:
    kw = dict(from_addr="a@example.cn", to_addr="b@example.cn", subject="主题", body="正文",
              attachments=[("a.xlsx", b"PK\x03\x04")], message_id="<x@example.cn>",
              date=datetime(2018, 6, 1, tzinfo=UTC))
    assert build_mail(**kw) == build_mail(**kw)  # type: ignore[arg-type]


def test_content_types() -> None:
    assert content_type_for("A.DOC") == "application/msword"
    assert content_type_for("b.xls") == "application/vnd.ms-excel"
    assert content_type_for("c.zip") == "application/zip"
    assert content_type_for("d.wps") == "application/octet-stream"
    assert content_type_for("e.xlsx").endswith("spreadsheetml.sheet")


def test_demo_units_are_safe_and_distinct() -> None:
    assert len(DEMO_UNITS) >= 8
    assert len({u.name for u in DEMO_UNITS}) == len(DEMO_UNITS)
    assert len({u.email for u in DEMO_UNITS}) == len(DEMO_UNITS)
    for unit in DEMO_UNITS:
        assert unit.email.rsplit("@", 1)[1].split(".")[0] in {"example", "qq", "126", "163"}
        assert unit.email.endswith((".example", "example.cn"))
    dh = next(u for u in DEMO_UNITS if u.name == "定海路街道总工会")
    assert dh.aliases == ("定海路街道工会",) and dh.email == "dhjd_gh@example.cn"


def _forms_in(part: Message) -> list[tuple[str, ...]]:
    """The header rows of every form in one attachment."""
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    if data[:2] != b"PK":
        return []
    with zipfile.ZipFile(BytesIO(data)) as zf:
        is_word = "word/document.xml" in zf.namelist()
    if is_word:
        return [tuple(c.text for c in t.rows[0].cells) for t in Document(BytesIO(data)).tables]
    wb = openpyxl.load_workbook(BytesIO(data))
    return [tuple(c.value for c in ws[3]) for ws in wb.worksheets]


def test_demo_mailbox() -> None:
    base = datetime(2018, 6, 10, 9, tzinfo=timezone(timedelta(hours=8)))
    mails = demo_mailbox(to_addr="qzxjb2008@example.cn", base=base)
    assert mails == demo_mailbox(to_addr="qzxjb2008@example.cn", base=base)
    msgs = [email.message_from_bytes(m, policy=email.policy.default) for m in mails]
    ids = [m["Message-ID"] for m in msgs]
    assert len(set(ids)) == len(ids) >= 10
    dates = [m["Date"].datetime for m in msgs]
    assert dates == sorted(dates) and dates[0] == base
    assert all(m["To"] == "qzxjb2008@example.cn" for m in msgs)

    registered = {u.email: u.name for u in DEMO_UNITS}
    forms_by_unit: dict[str, list[tuple[str, ...]]] = {}
    encodings = set()
    for msg in msgs:
        sender = msg["From"].addresses[0].addr_spec
        for part in msg.iter_attachments():
            encodings.add(part["Content-Transfer-Encoding"])
            forms_by_unit.setdefault(registered.get(sender, sender), []).extend(_forms_in(part))
    both = [u for u, forms in forms_by_unit.items()
            if ACTIVITY_HEADERS in forms and VOLUNTEER_HEADERS in forms]
    assert len(both) >= 6
    assert forms_by_unit["杨浦区教育工会"] == [ACTIVITY_HEADERS]
    assert {"base64", "quoted-printable"} <= encodings
    # Someone writes from an address not in the registry and signs with a unit's alias.
    [stranger] = [u for u in forms_by_unit if u not in registered.values()]
    [mail] = [m for m in msgs if m["From"].addresses[0].addr_spec == stranger]
    signed = {Document(BytesIO(p.get_content())).paragraphs[2].text
              for p in mail.iter_attachments()}
    aliases = {a for u in DEMO_UNITS for a in u.aliases}
    assert len(signed) == 1 and signed.pop().removeprefix("填报单位：") in aliases
    # The same unit sends its activity form twice (a correction).
    assert forms_by_unit["定海路街道总工会"].count(ACTIVITY_HEADERS) == 2

    no_attachment = [m for m in msgs if not list(m.iter_attachments())]
    auto = [m for m in no_attachment if m["Auto-Submitted"] == "auto-replied"]
    bulk = [m for m in no_attachment if m["Precedence"] == "bulk" and m["List-Unsubscribe"]]
    question = [m for m in no_attachment if m not in auto and m not in bulk]
    assert len(auto) == len(bulk) == len(question) == 1
    assert auto[0]["Subject"].startswith("自动回复: ")
    assert "？" in question[0].get_body(("plain",)).get_content()

    raw_gbk = [m for m in mails if b'filename="' in m and not m.isascii()]
    assert raw_gbk, "one mail carries raw GBK attachment names"
    assert any(b"filename*=utf-8''" in m for m in mails)
    assert any(b'filename="=?gb18030?B?' in m for m in mails)
