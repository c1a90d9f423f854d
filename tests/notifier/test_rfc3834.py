"""Whom the bot must never answer (RFC 3834 and Pigeonhole's vacation rules)."""

from __future__ import annotations

import email
from datetime import datetime, timedelta, timezone

import pytest

from formbot.demo.mailbox import demo_mailbox
from formbot.demo.samples import build_mail
from notifier.rfc3834 import reason_not_to_answer
from parsers.mail import parse_mail

OWN = ("qzxjb2008@126.com",)
CLERK = "dhjd_gh@example.cn"
# What a clerk's Foxmail/126 message carries: nothing here may stop the receipt.
CLERK_HEADERS = {
    "from": "定海路街道总工会 <dhjd_gh@example.cn>",
    "to": "qzxjb2008@126.com",
    "subject": "回复：关于广泛开展主题活动的通知",
    "x-mailer": "Foxmail 7.2.9.156[cn]",
    "content-type": "multipart/mixed; boundary=\"----=_Part_1\"",
    "in-reply-to": "<notice-2018-14@example.cn>",
    "return-path": "<dhjd_gh@example.cn>",
}


def reason(extra: dict[str, str] | None = None, sender: str = CLERK) -> str | None:
    return reason_not_to_answer({**CLERK_HEADERS, **(extra or {})}, sender, OWN)


def test_a_clerks_mail_gets_an_answer() -> None:
    assert reason() is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"auto-submitted": "auto-replied"}, "auto-submitted"),
        ({"auto-submitted": "auto-generated"}, "auto-submitted"),
        ({"auto-submitted": "Auto-Replied; owner-email=\"a@b.cn\""}, "auto-submitted"),
        ({"auto-submitted": "auto-notified"}, "auto-submitted"),
        # a made-up keyword is not "no" (a prefix test used to let this through)
        ({"auto-submitted": "notification"}, "auto-submitted"),
        ({"precedence": "bulk"}, "precedence-bulk"),
        ({"precedence": "Junk"}, "precedence-bulk"),
        ({"precedence": " list "}, "precedence-bulk"),
        ({"list-id": "<weekly.gonghui-news.example>"}, "mailing-list"),
        ({"list-unsubscribe": "<mailto:unsubscribe@gonghui-news.example>"}, "mailing-list"),
        ({"return-path": "<>"}, "null-return-path"),
        ({"x-auto-response-suppress": "All"}, "auto-response-suppressed"),
        ({"x-autoreply": "yes"}, "auto-submitted"),
        ({"content-type": "multipart/report; report-type=delivery-status"}, "delivery-report"),
        ({"subject": "自动回复: 关于广泛开展主题活动的通知"}, "auto-reply-subject"),
        ({"subject": "自动答复：休假中"}, "auto-reply-subject"),
        ({"subject": "Out of Office: 休假"}, "auto-reply-subject"),
        ({"subject": "系统退信"}, "auto-reply-subject"),
    ],
)
def test_automatic_mail_is_not_answered(headers: dict[str, str], expected: str) -> None:
    assert reason(headers) == expected


@pytest.mark.parametrize("value", ["no", "No", " no ", "no; comment"])
def test_auto_submitted_no_is_a_person(value: str) -> None:
    assert reason({"auto-submitted": value}) is None


@pytest.mark.parametrize("precedence", ["normal", "first-class", ""])
def test_other_precedence_values_are_answered(precedence: str) -> None:
    assert reason({"precedence": precedence}) is None


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("MAILER-DAEMON@126.com", "system-sender"),
        ("mailer-daemon@qq.com", "system-sender"),
        ("postmaster@example.cn", "system-sender"),
        ("owner-gonghui@lists.example.cn", "system-sender"),
        ("gonghui-request@lists.example.cn", "system-sender"),
        ("noreply@example.cn", "system-sender"),
        ("", "no-sender"),
        ("   ", "no-sender"),
        ("qzxjb2008@126.com", "own-address"),
        ("QZXJB2008@126.COM", "own-address"),
    ],
)
def test_senders_never_answered(sender: str, expected: str) -> None:
    assert reason(sender=sender) == expected


@pytest.mark.parametrize("sender", ["owner@example.cn", "request-info@example.cn",
                                    "daemon.wang@example.cn", "listwang@example.cn"])
def test_ordinary_addresses_that_only_look_similar(sender: str) -> None:
    assert reason(sender=sender) is None


def test_subject_merely_mentioning_auto_reply_is_answered() -> None:
    assert reason({"subject": "关于关闭自动回复的申报表"}) is None


def test_header_names_in_any_case() -> None:
    # An email.message.Message (or a dict with wire spelling) works as well.
    message = email.message_from_string("List-Id: <x.example>\nSubject: hi\n\nbody")
    assert reason_not_to_answer(message, CLERK, OWN) == "mailing-list"
    assert reason_not_to_answer({"Auto-Submitted": "auto-replied"}, CLERK, OWN) == (
        "auto-submitted")
    assert reason_not_to_answer({"Precedence": "bulk"}, CLERK, OWN) == "precedence-bulk"


def test_own_addresses_may_be_several_and_any_case() -> None:
    own = ["Bot@Example.cn", "qzxjb2008@126.com"]
    assert reason_not_to_answer({}, "bot@example.CN", own) == "own-address"
    assert reason_not_to_answer({}, CLERK, iter(own)) is None


def test_parsed_mail_from_the_demo_mailbox() -> None:
    # The envelope's headers are what the pipeline passes: real mail end to end.
    base = datetime(2018, 6, 8, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    envelopes = [parse_mail(raw) for raw in demo_mailbox(to_addr=OWN[0], base=base)]
    reasons = {e.subject: reason_not_to_answer(e.headers, e.from_addr, OWN) for e in envelopes}
    assert reasons["《工会信息》电子周刊 2018年第23期"] == "precedence-bulk"
    auto = next(s for s in reasons if s.startswith("自动回复"))
    assert reasons[auto] == "auto-submitted"
    answered = [s for s, r in reasons.items() if r is None]
    assert len(answered) == len(envelopes) - 2


def test_bot_mail_coming_back_is_not_answered() -> None:
    raw = build_mail(from_addr=OWN[0], to_addr=CLERK, subject="回执", body="已收到",
                     attachments=[], extra_headers={"Auto-Submitted": "auto-replied"})
    envelope = parse_mail(raw)
    assert reason_not_to_answer(envelope.headers, envelope.from_addr, OWN) == "own-address"
