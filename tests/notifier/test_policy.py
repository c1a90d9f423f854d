"""Who gets an automatic answer (notifier/policy.py): the contract's rule as a table, then
the same rule through a real poll."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlmodel import Session, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail
from formbot.demo.smtp_server import EmbeddedSMTP
from notifier.policy import FOR_PERSON, MailFacts, decide
from store.models import Message
from tests.support.helpers import ACTIVITY, BOT, NOW, Bot, body_of, parse_sent, write_config

UNIT = "dhjd_gh@example.cn"
BASE = MailFacts(headers={"subject": "x"}, from_addr="someone@example.org",
                 own_addresses=(BOT,), has_forms=False, attachments=0, links=False,
                 known_sender=False, about_campaign=False, says_forms_sent=False,
                 answered_today=0, limit_known=20, limit_stranger=3)
REPLY = (True, "receipt", False)
NONE_ARRIVED = (True, "receipt", True)


def _no(reason: str) -> tuple[bool, str, bool]:
    return (False, f"no-reply:{reason}", False)


CASES = [
    # (what, changes to BASE, (answered, outcome, says none arrived))
    ("a stranger's form", {"has_forms": True}, REPLY),
    ("a unit's form", {"has_forms": True, "known_sender": True}, REPLY),
    ("spam-flagged form", {"has_forms": True, "headers": {"x-spam-flag": "YES"}}, _no("spam")),
    ("spam status", {"attachments": 1, "about_campaign": True,
                     "headers": {"x-spam-status": "Yes, score=9.1 required=5.0"}}, _no("spam")),
    ("spam status no", {"has_forms": True, "headers": {"x-spam-status": "No, score=0.1"}}, REPLY),
    ("read receipt", {"known_sender": True, "says_forms_sent": True, "headers": {
        "content-type": "multipart/report; report-type=disposition-notification"}},
     _no("delivery-report")),
    ("ezmlm list", {"attachments": 1, "about_campaign": True,
                    "headers": {"mailing-list": "contact x-help@example.org"}}, _no("mailing-list")),
    ("x-mailing-list", {"attachments": 1, "about_campaign": True,
                        "headers": {"x-mailing-list": "<l@example.org>"}}, _no("mailing-list")),
    ("list-id", {"has_forms": True, "headers": {"list-id": "<l.example.org>"}}, _no("mailing-list")),
    ("precedence bulk", {"attachments": 1, "known_sender": True,
                         "headers": {"precedence": "bulk"}}, _no("precedence-bulk")),
    ("auto-reply", {"known_sender": True, "says_forms_sent": True,
                    "headers": {"auto-submitted": "auto-replied"}}, _no("auto-submitted")),
    ("bounce", {"from_addr": "MAILER-DAEMON@126.com", "attachments": 1}, _no("system-sender")),
    ("own address", {"from_addr": BOT, "has_forms": True}, _no("own-address")),
    ("a stranger's unrelated picture", {"attachments": 1}, _no("not-about-campaign")),
    ("a stranger's file naming 附件1", {"attachments": 1, "about_campaign": True}, REPLY),
    ("a stranger's 超大附件 link about the campaign", {"links": True, "about_campaign": True}, REPLY),
    ("a stranger without attachment naming the campaign",
     {"about_campaign": True, "says_forms_sent": True}, _no("not-about-campaign")),
    ("a unit's unreadable file", {"attachments": 1, "known_sender": True}, REPLY),
    ("a unit says 请查收, nothing attached", {"known_sender": True, "says_forms_sent": True},
     NONE_ARRIVED),
    ("a unit's question or thanks", {"known_sender": True}, (False, FOR_PERSON, False)),
    ("a stranger's fourth receipt today", {"attachments": 1, "about_campaign": True,
                                           "answered_today": 3}, _no("rate-limited")),
    ("a stranger's fourth form today (a clerk's own address)",
     {"has_forms": True, "answered_today": 3}, REPLY),
    ("a unit's fourth receipt today", {"has_forms": True, "known_sender": True,
                                       "answered_today": 3}, REPLY),
    ("a unit's twentieth", {"has_forms": True, "known_sender": True, "answered_today": 20},
     _no("rate-limited")),
]


@pytest.mark.parametrize(("what", "changes", "expected"), CASES, ids=[c[0] for c in CASES])
def test_who_gets_an_answer(what: str, changes: dict[str, object],
                            expected: tuple[bool, str, bool]) -> None:
    decision = decide(replace(BASE, **changes))  # type: ignore[arg-type]
    assert (decision.answer, decision.outcome, decision.none_arrived) == expected, what


# --- The same through a poll: parts that are not attachments, words that count -------------

SIGNED = ("signature.asc", b"-----BEGIN PGP SIGNATURE-----\nx\n-----END PGP SIGNATURE-----\n")
SMIME = ("smime.p7s", b"0\x82\x01\x00" + bytes(200))
INVITE = ("invite.ics", b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n")


def _mail(sender: str, subject: str, body: str, files: list[tuple[str, bytes]],
          n: int, **headers: str) -> bytes:
    return build_mail(from_addr=sender, to_addr=BOT, subject=subject, body=body,
                      attachments=files, message_id=f"<p{n}@example.org>",
                      extra_headers=headers or None)


@pytest.fixture
def polled(tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
           ) -> tuple[dict[str, str], dict[str, str]]:
    """Each mail's outcome by subject, and each receipt's body by the subject it answers."""
    imap, smtp = servers
    bot = Bot.at(write_config(tmp_path, imap, smtp))
    mails = [
        _mail("stranger@example.org", "signed hello", "hi", [SIGNED], 1),
        _mail("stranger2@example.org", "s/mime hello", "hi", [SMIME], 2),
        _mail("stranger3@example.org", "meeting", "see invite", [INVITE], 3),
        _mail("spam@example.org", "报送主题活动申报表 spam", "附件1", [("申报表.docx", activity_docx(ACTIVITY))],
              4, **{"X-Spam-Flag": "YES"}),
        _mail("list@example.org", "digest 12", "news", [("a.txt", b"x")], 5,
              **{"Mailing-List": "contact list-help@example.org; run by ezmlm"}),
        _mail(UNIT, "请问截止日期是哪天？", "请问截止日期是哪天？谢谢", [], 6),
        _mail(UNIT, "报送主题活动申报表", "附件请查收", [], 7),
        _mail(UNIT, "Re: 回执（已收到）：报送", "收到，谢谢！\n\n> 附件 主题活动申报表", [], 8),
        *[_mail("flood@example.org", f"第{n}份 附件1 申报表", "见附件", [("x.txt", b"x")], 10 + n)
          for n in range(6)],
        *[_mail("pictures@example.org", f"photo {n}", "look", [("p.png", b"\x89PNG\r\n\x1a\n" + bytes(99))],
                30 + n) for n in range(4)],
    ]
    for raw in mails:
        imap.append(raw)
    bot.poll(NOW)
    with Session(bot.engine) as session:
        outcomes = {m.subject: m.outcome for m in session.exec(select(Message))}
    receipts = {}
    for _, _, raw in smtp.messages:
        sent = parse_sent(raw)
        receipts[str(sent["Subject"])] = body_of(sent)
    return outcomes, receipts


def test_signatures_invites_spam_and_lists_get_no_receipt(
        polled: tuple[dict[str, str], dict[str, str]]) -> None:
    outcomes, receipts = polled
    assert outcomes["signed hello"] == outcomes["s/mime hello"] == "no-reply:not-about-campaign"
    assert outcomes["meeting"] == "no-reply:not-about-campaign"
    assert outcomes["报送主题活动申报表 spam"] == "no-reply:spam"
    assert outcomes["digest 12"] == "no-reply:mailing-list"
    assert all(outcomes[f"photo {n}"] == "no-reply:not-about-campaign" for n in range(4))
    assert not any("signed" in s or "photo" in s or "digest" in s for s in receipts)


def test_a_stranger_gets_at_most_three_receipts_a_day(
        polled: tuple[dict[str, str], dict[str, str]]) -> None:
    outcomes, _ = polled
    flood = [outcomes[f"第{n}份 附件1 申报表"] for n in range(6)]
    assert flood.count("receipt") == 3 and flood.count("no-reply:rate-limited") == 3


def test_a_units_mail_without_attachment(polled: tuple[dict[str, str], dict[str, str]]) -> None:
    outcomes, receipts = polled
    assert outcomes["请问截止日期是哪天？"] == FOR_PERSON        # waits for a person
    assert outcomes["Re: 回执（已收到）：报送"] == FOR_PERSON
    assert outcomes["报送主题活动申报表"] == "receipt"
    (answer,) = [body for subject, body in receipts.items() if subject.endswith("报送主题活动申报表")]
    assert "没有附件" in answer


# --- The public test mails: strangers all, so answered only when about the campaign ----

@pytest.mark.wild
def test_no_wild_mail_is_answered_unless_it_plausibly_concerns_the_campaign(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from types import SimpleNamespace

    from formbot.poll.reading import read_message
    from formbot.poll.storing import mail_facts
    from formbot.settings.loading import load_settings
    from notifier.rfc3834 import reason_not_to_answer
    from parsers.units import UnitRef
    from tests.support.helpers import UNITS
    from tests.support.wildmail import wildmail_dir

    server = SimpleNamespace(host="127.0.0.1", port=1)
    settings = load_settings(write_config(tmp_path, server, server))
    units = [UnitRef(n, u["name"], tuple(u["aliases"]), tuple(u["emails"]))
             for n, u in enumerate(UNITS, 1)]
    mails = sorted(wildmail_dir().glob("*/*.eml"))
    answered = []
    for path in mails:
        parsed = read_message(path.read_bytes())
        facts = mail_facts(settings, parsed, units, known_sender=False, answered_today=0)
        decision = decide(facts)
        if decision.answer:
            envelope = parsed.envelope
            assert reason_not_to_answer(envelope.headers, envelope.from_addr, (BOT,)) is None
            assert facts.has_forms or facts.about_campaign, path
            answered.append(f"{path.parent.name}/{path.name}: {envelope.subject[:60]}")
    with capsys.disabled():
        print(f"\nwild mail answered: {len(answered)} of {len(mails)}", *answered, sep="\n  ")
    assert len(mails) > 400 and len(answered) <= 5
