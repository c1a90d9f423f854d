"""Raw 8-bit header bytes read by what they are; mail-parser's chatter kept off stderr."""

from __future__ import annotations

import pytest

from formbot.demo.samples import build_mail
from parsers.headertext import decode_raw_bytes, decode_words
from parsers.mail import parse_mail
from tests.support.wildmail import wild_mail


@pytest.mark.parametrize(("raw", "text"), [
    ("申报表.docx".encode("gbk"), "申报表.docx"),
    ("朱镕基的主题活动申报表.doc".encode("gbk"), "朱镕基的主题活动申报表.doc"),  # a GBK-only 镕
    ("杨浦区总工会".encode("gb18030"), "杨浦区总工会"),
    ("志愿者 登记表.xlsx".encode(), "志愿者 登记表.xlsx"),
    ("Domače".encode("iso-8859-2"), "Domače"),
    ("café au lait".encode("latin-1"), "café au lait"),
])
def test_raw_bytes_are_decoded_by_what_they_are(raw: bytes, text: str) -> None:
    assert decode_raw_bytes(raw) == text


def test_an_encoded_word_with_a_language_tag_is_read_in_its_charset() -> None:
    # RFC 2231 §5: `*sl` is the language; the UTF-8 character split over two words joins.
    subject = "=?iso-8859-2*sl?Q?Doma=e8e?= =?utf-8*sl?Q?_omre=C5?=  =?Utf-8*SL?q?=BEje?="
    assert decode_words(subject) == "Domače omrežje"


def test_an_unknown_charset_label_falls_back_to_detection() -> None:
    assert decode_words("=?x-unknown?B?5oql6YCB?= 申报表") == "报送 申报表"


def test_a_latin2_subject_in_raw_bytes_is_not_read_as_gbk() -> None:
    raw = build_mail(from_addr="a@b.si", to_addr="qzxjb2008@126.com", subject="x", body="hi",
                     attachments=[])
    raw = raw.replace(b"Subject: x", b"Subject: " + "Domače omrežje".encode("iso-8859-2"))
    subject = parse_mail(raw).subject
    assert "鑕" not in subject and subject.startswith("Doma")


@pytest.mark.wild
def test_the_wild_latin2_subject_comes_out_right() -> None:
    envelope = parse_mail(wild_mail("sa_nice/t_data_nice_unicode1.eml"))
    assert envelope.subject == "Domače omrežje"


@pytest.mark.wild
def test_mail_parser_chatter_goes_to_the_debug_log_not_stderr(
        capfd: pytest.CaptureFixture[str]) -> None:
    parse_mail(wild_mail("cpython/Lib_test_test_email_data_msg_16.txt.eml"))
    parse_mail(wild_mail("cpython/Lib_test_test_email_data_msg_38.txt.eml"))
    out, err = capfd.readouterr()
    assert "not handled" not in out + err
