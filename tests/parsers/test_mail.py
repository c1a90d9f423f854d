"""Raw mail → Envelope: decoded names, exact bytes, headers (parsers.mail)."""

from __future__ import annotations

import base64
import email
import re
from datetime import datetime, timedelta, timezone
from email import encoders
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from urllib.parse import quote

import pytest

from formbot.demo.mailbox import demo_mailbox
from formbot.demo.samples import (
    FILENAME_STYLES,
    TRANSFER_ENCODINGS,
    FormFill,
    activity_docx,
    activity_xlsx,
    build_mail,
)
from parsers.headertext import decode_words
from parsers.mail import parse_mail

SHANGHAI = timezone(timedelta(hours=8))
DOCX = activity_docx(FormFill("定海路街道总工会", [["报告会", "报告会", "6月", "宣讲", "200"]]))
XLSX = activity_xlsx(FormFill("殷行街道工会", [["座谈会", "座谈", "7月", "交流", "60"]]))
# Bytes that a careless transfer would change: CR, LF, NUL, high bytes, "=" and dots.
AWKWARD = b"PK\x03\x04" + bytes(range(256)) * 4 + b"\r\n.\r\n\n\r=\x00=3D"

CHINESE_NAMES = [
    "附件1：主题活动申报表（定海路）.docx",
    "杨工〔2018〕14号 附件2 志愿者服务队登记表.xlsx",
    "殷行街道-申报表（更正版）.bin",
]
ASCII_NAMES = ["huodong_shenbao.docx", "dengjibiao 2018.xlsx", "data.bin"]


def mail_with(attachments: list[tuple[str, bytes]], **kwargs: object) -> bytes:
    fields: dict[str, object] = dict(
        from_addr="dhjd_gh@example.cn", to_addr="qzxjb2008@126.com", subject="报送申报表",
        body="请查收。", attachments=attachments, message_id="<m1@example.cn>",
        date=datetime(2018, 6, 10, 10, 21, tzinfo=SHANGHAI),
    )
    fields.update(kwargs)
    return build_mail(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("encoding", TRANSFER_ENCODINGS)
@pytest.mark.parametrize("style", FILENAME_STYLES)
def test_attachment_names_and_bytes_survive_every_client(style: str, encoding: str) -> None:
    names = ASCII_NAMES if style == "ascii" else CHINESE_NAMES
    attachments = list(zip(names, [DOCX, XLSX, AWKWARD], strict=True))
    envelope = parse_mail(mail_with(attachments, filename_style=style,
                                    transfer_encoding=encoding))
    assert [(a.name, a.data) for a in envelope.attachments] == attachments
    assert envelope.attachments[0].content_type.endswith("wordprocessingml.document")
    assert envelope.text.strip() == "请查收。"


def _attachment_mail(disposition_params: str, data: bytes = DOCX, type_params: str = "") -> bytes:
    payload = base64.encodebytes(data).decode()
    return (
        "From: a@example.cn\r\nTo: qzxjb2008@126.com\r\nSubject: x\r\nMessage-ID: <p@x>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BB\"\r\n\r\n"
        "--BB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi\r\n"
        f"--BB\r\nContent-Type: application/octet-stream{type_params}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        f"Content-Disposition: attachment{disposition_params}\r\n\r\n{payload}\r\n--BB--\r\n"
    ).encode()


def _rfc2231_continuations(name: str, charset: str, per_segment: int = 8) -> str:
    encoded = quote(name.encode(charset), safe="")
    tokens = re.findall(r"%[0-9A-F]{2}|[^%]", encoded)   # never split a %XX
    segments = ["".join(tokens[i:i + per_segment]) for i in range(0, len(tokens), per_segment)]
    return "".join(
        f";\r\n\tfilename*{i}*={charset + chr(39) * 2 if i == 0 else ''}{segment}"
        for i, segment in enumerate(segments)
    )


# 镕 is in GBK but not in GB2312: clients label GBK text "gb2312" all the time.
NAME = "杨工〔2018〕14号附件1：主题活动申报表（朱镕基路街道）.docx"


def test_rfc2231_continuations_are_joined() -> None:
    raw = _attachment_mail(_rfc2231_continuations(NAME, "utf-8"))
    [attachment] = parse_mail(raw).attachments
    assert attachment.name == NAME
    assert attachment.data == DOCX


def test_rfc2231_plain_continuations_are_joined() -> None:
    raw = _attachment_mail(';\r\n\tfilename*0="shenbao-dinghai";\r\n\tfilename*1="lu-2018.docx"')
    assert parse_mail(raw).attachments[0].name == "shenbao-dinghailu-2018.docx"


@pytest.mark.parametrize("label", ["gb2312", "GB2312", "gbk", "cp936"])
def test_rfc2231_gb_labels_are_read_as_gb18030(label: str) -> None:
    raw = _attachment_mail(_rfc2231_continuations(NAME, "gbk").replace("gbk''", f"{label}''"))
    assert parse_mail(raw).attachments[0].name == NAME


@pytest.mark.parametrize(
    "word",
    [
        "=?gb2312?B?" + base64.b64encode(NAME.encode("gbk")).decode() + "?=",
        "=?GB2312?Q?" + "".join(f"={b:02X}" for b in NAME.encode("gbk")) + "?=",
        "=?gbk?B?" + base64.b64encode(NAME.encode("gbk")).decode() + "?=",
        # Outlook splits a long name into several words
        " ".join("=?utf-8?B?" + base64.b64encode(NAME.encode()[i:i + 24]).decode() + "?="
                 for i in range(0, len(NAME.encode()), 24)),
    ],
    ids=["gb2312-b", "gb2312-q", "gbk-b", "utf8-split"],
)
def test_rfc2047_word_inside_quotes(word: str) -> None:
    raw = _attachment_mail(f'; filename="{word}"')
    assert parse_mail(raw).attachments[0].name == NAME


def test_name_only_in_content_type() -> None:
    word = "=?gb2312?B?" + base64.b64encode(NAME.encode("gbk")).decode() + "?="
    raw = _attachment_mail("", type_params=f'; name="{word}"')
    assert parse_mail(raw).attachments[0].name == NAME


def test_decode_words_reads_gb2312_labels_as_gb18030() -> None:
    word = "=?gb2312?B?" + base64.b64encode("朱镕基".encode("gbk")).decode() + "?="
    assert decode_words(word) == "朱镕基"
    assert decode_words("plain name.docx") == "plain name.docx"


def test_nameless_attachment_gets_a_stable_name() -> None:
    # mail-parser invents a random "xxxxxxxx.txt" here; parsing twice must agree.
    raw = _attachment_mail("")
    first, second = parse_mail(raw).attachments, parse_mail(raw).attachments
    assert first[0].name == second[0].name == "未命名附件"
    assert first[0].data == DOCX


def test_same_file_attached_twice_under_two_names_keeps_both_names() -> None:
    envelope = parse_mail(mail_with([("甲.docx", DOCX), ("乙.docx", DOCX)]))
    assert [a.name for a in envelope.attachments] == ["甲.docx", "乙.docx"]


def test_forwarded_message_counts_its_attachment_once() -> None:
    original = mail_with([("附件1 申报表.docx", DOCX)], subject="定海路申报表")
    outer = MIMEMultipart()
    outer["From"] = "wangfang@163.example"
    outer["To"] = "qzxjb2008@126.com"
    outer["Subject"] = "Fw: 定海路申报表"
    outer["Message-ID"] = "<fwd@163.example>"
    outer.attach(MIMEText("转发给您，请查收。", "plain", "utf-8"))
    outer.attach(MIMEMessage(email.message_from_bytes(original)))

    envelope = parse_mail(outer.as_bytes())
    assert [(a.name, a.data) for a in envelope.attachments] == [("附件1 申报表.docx", DOCX)]
    assert envelope.message_id == "<fwd@163.example>"
    assert envelope.subject == "Fw: 定海路申报表"


def test_mail_without_attachments() -> None:
    raw = mail_with([], subject="咨询：登记表怎么填", body="新组建的服务队可以不填成效吗？",
                    transfer_encoding="8bit")
    envelope = parse_mail(raw)
    assert envelope.attachments == ()
    assert envelope.text.strip() == "新组建的服务队可以不填成效吗？"


@pytest.mark.parametrize("style", ["rfc2231", "rfc2047-quoted", "raw-gbk"])
def test_envelope_fields(style: str) -> None:
    raw = mail_with([("申报表.docx", DOCX)], filename_style=style, from_addr="DHJD_GH@Example.CN",
                    from_name="定海路街道总工会 王芳", subject="【定海路】主题活动申报表",
                    extra_headers={"X-Mailer": "Foxmail 7.2"})
    envelope = parse_mail(raw)
    assert envelope.from_addr == "dhjd_gh@example.cn"
    assert envelope.from_name == "定海路街道总工会 王芳"
    assert envelope.subject == "【定海路】主题活动申报表"
    assert envelope.message_id == "<m1@example.cn>"
    assert envelope.to == ("qzxjb2008@126.com",)
    assert envelope.date == datetime(2018, 6, 10, 10, 21, tzinfo=SHANGHAI)
    assert envelope.date is not None and envelope.date.utcoffset() == timedelta(hours=8)
    assert envelope.header("X-Mailer") == "Foxmail 7.2"
    assert envelope.header("subject") == envelope.subject


def _headers_mail(headers: str, charset: str = "utf-8") -> bytes:
    return (headers + "Content-Type: text/plain; charset=" + charset
            + "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n正文内容\r\n").encode(charset)


@pytest.mark.parametrize("charset", ["utf-8", "gbk"])
def test_raw_8bit_headers_are_read_not_replaced(charset: str) -> None:
    # Some clients put raw UTF-8 (RFC 6532) or raw GBK into Subject and From.
    raw = _headers_mail(
        "From: 王芳 <wf@example.cn>\r\nTo: qzxjb2008@126.com\r\nSubject: 定海路街道申报表\r\n"
        "Date: Sun, 10 Jun 2018 10:21:00 +0800\r\nMessage-ID: <r@x>\r\n", charset)
    envelope = parse_mail(raw)
    assert (envelope.subject, envelope.from_name, envelope.from_addr) == (
        "定海路街道申报表", "王芳", "wf@example.cn")
    assert envelope.text.strip() == "正文内容"


def test_display_name_with_comma_does_not_split_the_address() -> None:
    name = "=?utf-8?B?" + base64.b64encode("定海路街道, 王芳".encode()).decode() + "?="
    raw = _headers_mail(
        f"From: {name} <wf@example.cn>\r\nTo: {name} <a@x.cn>, b@x.cn\r\nCc: C@X.cn\r\n"
        "Subject: =?utf-8?B?" + base64.b64encode("报送".encode()).decode() + "?=\r\n")
    envelope = parse_mail(raw)
    assert (envelope.from_name, envelope.from_addr) == ("定海路街道, 王芳", "wf@example.cn")
    assert envelope.to == ("a@x.cn", "b@x.cn", "c@x.cn")
    assert envelope.subject == "报送"


def test_folded_subject_is_unfolded() -> None:
    raw = _headers_mail("From: a@x.cn\r\nSubject: a very long subject\r\n that goes on\r\n")
    assert parse_mail(raw).subject == "a very long subject that goes on"


@pytest.mark.parametrize(
    ("date", "expected"),
    [("", None), ("not a date", None), ("Sun, 10 Jun 2018 10:21:00 -0000", None),
     ("Sun, 10 Jun 2018 02:21:00 +0000",
      datetime(2018, 6, 10, 10, 21, tzinfo=SHANGHAI))],
)
def test_date_is_aware_or_none(date: str, expected: datetime | None) -> None:
    raw = _headers_mail(f"From: a@x.cn\r\nDate: {date}\r\n" if date else "From: a@x.cn\r\n")
    envelope = parse_mail(raw)
    assert envelope.date == expected
    assert envelope.message_id is None


def test_html_only_mail_gives_text() -> None:
    message = MIMEMultipart()
    message["From"] = "a@x.cn"
    message.attach(MIMEText("<p>附件是<b>申报表</b></p>", "html", "utf-8"))
    part = MIMEBase("application", "octet-stream")
    part.set_payload(DOCX)
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", "申报表.docx"))
    message.attach(part)
    envelope = parse_mail(message.as_bytes())
    assert "附件是" in envelope.text and "<b>" not in envelope.text
    assert [(a.name, a.data) for a in envelope.attachments] == [("申报表.docx", DOCX)]


@pytest.mark.parametrize("raw", [b"", b"garbage without headers", b"\xff\xfe\x00"])
def test_junk_gives_an_empty_envelope_not_an_exception(raw: bytes) -> None:
    # The pipeline records such a message as "no sender, nothing attached" and moves on.
    envelope = parse_mail(raw)
    assert (envelope.from_addr, envelope.message_id, envelope.attachments) == ("", None, ())


def test_demo_mailbox_attachments_decode() -> None:
    # The demo's mailbox mixes every client style; every attachment name is readable text.
    raws = demo_mailbox(to_addr="qzxjb2008@126.com",
                        base=datetime(2018, 6, 8, 9, 0, tzinfo=SHANGHAI))
    names = [a.name for raw in raws for a in parse_mail(raw).attachments]
    assert "附件1：主题活动申报表（定海路）.docx" in names
    assert "五角场街道总工会申报表.docx" in names          # raw GBK, quoted-printable
    assert "长白新村街道总工会-附件1附件2.xlsx" in names    # RFC 2047 inside quotes
    assert all("\ufffd" not in name for name in names)


def test_text_attachment_sent_8bit_keeps_its_name_and_content() -> None:
    # A text part's payload comes back re-encoded by mail-parser, so it cannot be
    # matched by its bytes; its name must still be the one the sender gave.
    csv = "单位名称,邮箱\r\n定海路街道总工会,dhjd_gh@example.cn\r\n".encode("gbk")
    message = MIMEMultipart()
    message["From"] = "a@x.cn"
    message.attach(MIMEText("名单见附件", "plain", "utf-8"))
    part = MIMEBase("text", "csv", charset="gbk")
    part.set_payload(csv)
    part["Content-Transfer-Encoding"] = "8bit"
    part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", "单位名单.csv"))
    message.attach(part)
    [attachment] = parse_mail(message.as_bytes()).attachments
    assert attachment.name == "单位名单.csv"
    assert attachment.data.replace(b"\r\n", b"\n") == csv.replace(b"\r\n", b"\n")
