"""The mail formbot writes, as a strict reader sees it: headers within RFC 5322/2047's
limits, CRLF line ends, Chinese text that decodes back exactly."""

from __future__ import annotations

import re

import pytest

from notifier.compose import Sender, compose
from tests.support.helpers import NOW, parse_sent

LONG_NAME = "上海市杨浦区总工会宣传教育部职工志愿者服务工作领导小组办公室"
LONG_SUBJECT = "回执（已收到）：" + "定海路街道总工会报送主题活动申报表及志愿者服务队登记表" * 3


@pytest.mark.parametrize("name", ["杨浦区总工会宣传教育部", LONG_NAME, "Yangpu Union", ""])
def test_headers_stay_within_the_limits_and_decode_back(name: str) -> None:
    mail = compose(kind="receipt", sender=Sender("qzxjb2008@126.com", name),
                   to=["dhjd_gh@example.cn"], subject=LONG_SUBJECT, body="您好！\n已收到。\n",
                   now=NOW, in_reply_to="<m1@example.cn>")
    head, _, body = mail.raw.partition(b"\r\n\r\n")
    assert b"\n" not in head.replace(b"\r\n", b"") and b"\r" not in body.replace(b"\r\n", b"")
    assert max(len(line) for line in head.split(b"\r\n")) <= 998          # RFC 5322 2.1.1
    for word in re.findall(rb"=\?[^?]+\?[bBqQ]\?[^?]*\?=", head):
        assert len(word) <= 75                                              # RFC 2047 2
    sent = parse_sent(mail.raw)
    (address,) = sent["From"].addresses
    assert address.addr_spec == "qzxjb2008@126.com"
    shown = address.display_name
    # Python's reader puts a space between adjacent encoded words of a name; mail clients
    # (and RFC 2047 6.2) do not.
    assert (shown if name.isascii() else shown.replace(" ", "")) == name
    assert str(sent["Subject"]) == LONG_SUBJECT == mail.subject
    assert sent.get_body(preferencelist=("plain",)).get_content() == "您好！\n已收到。\n"
    assert mail.recipients == ["dhjd_gh@example.cn"]


@pytest.mark.parametrize("subject", ["Re: x\r\nBcc: victim@example.org", "回执：x\nBcc: v@e.org"])
def test_a_line_break_in_a_quoted_subject_never_becomes_a_header(subject: str) -> None:
    mail = compose(kind="receipt", sender=Sender("qzxjb2008@126.com", "区总工会"),
                   to=["dhjd_gh@example.cn"], subject=subject, body="x\n", now=NOW,
                   in_reply_to="<m1@example.cn>\r\nCc: other@example.org")
    sent = parse_sent(mail.raw)
    assert sent["Bcc"] is None and "Bcc" in str(sent["Subject"])
    assert sent["Cc"] is None and sent["In-Reply-To"].startswith("<m1@example.cn>")
