"""End to end on real servers: IMAP (pymap, and Dovecot in the CI tier) and SMTP (aiosmtpd)."""

from __future__ import annotations

import imaplib
import json
import os
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import imapclient
import pytest
from sqlmodel import Session, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import (
    FormFill,
    activity_docx,
    activity_xlsx,
    build_mail,
    volunteer_docx,
    volunteer_xlsx,
)
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.poll import reading
from formbot.reports.status import status_data
from store.models import MailboxCopy, Message, Outgoing, Submission
from tests.conftest import PASSWORD
from tests.support.formrows import ActivityRow, VolunteerTeamRow
from tests.support.helpers import (
    ACTIVITY,
    BOT,
    NOW,
    VOLUNTEER,
    Bot,
    body_of,
    parse_sent,
    write_config,
)

DINGHAI = "dhjd_gh@example.cn"
NAMES = {False: ("主题活动申报表", "志愿者服务队登记表"), True: ("huodong", "zhiyuanzhe")}


@pytest.fixture(params=["pymap", pytest.param("dovecot", marks=pytest.mark.dovecot)])
def imap(request: pytest.FixtureRequest) -> Iterator[object]:
    if request.param == "pymap":
        with EmbeddedIMAP(user=BOT, password=PASSWORD) as server:
            yield server
    else:
        yield request.getfixturevalue("dovecot_server")


@pytest.fixture
def smtp() -> Iterator[EmbeddedSMTP]:
    with EmbeddedSMTP(user=BOT, password=PASSWORD) as server:
        yield server


@pytest.fixture
def bot(tmp_path: Path, imap: object, smtp: EmbeddedSMTP) -> Bot:
    return Bot.at(write_config(tmp_path, imap, smtp))


def submission_mail(*, sender: str = DINGHAI, kind: str = "docx", style: str = "rfc2231",
                    encoding: str = "base64", activity: FormFill = ACTIVITY,
                    volunteer: FormFill | None = VOLUNTEER, message_id: str | None = None,
                    subject: str = "定海路街道总工会报送申报表和登记表", **extra: object) -> bytes:
    first, second = NAMES[style == "ascii"]
    files = [(f"{first}.{kind}",
              activity_docx(activity) if kind == "docx" else activity_xlsx(activity))]
    if volunteer is not None:
        files.append((f"{second}.{kind}",
                      volunteer_docx(volunteer) if kind == "docx" else volunteer_xlsx(volunteer)))
    return build_mail(from_addr=sender, to_addr=BOT, subject=subject, body="附件请查收。",
                      attachments=files, filename_style=style, transfer_encoding=encoding,
                      message_id=message_id, **extra)  # type: ignore[arg-type]


def rows(bot: Bot, table: type) -> list:
    with Session(bot.engine) as session:
        return list(session.exec(select(table).order_by(table.id)))


@pytest.mark.parametrize(("kind", "style", "encoding"), [
    ("docx", "rfc2231", "base64"),
    ("xlsx", "rfc2047-quoted", "base64"),
    ("docx", "raw-gbk", "quoted-printable"),
    ("xlsx", "ascii", "base64"),  # 8bit binary is not valid on the wire; tests/parsers/test_mail.py has it
])
def test_unit_emails_both_forms_and_gets_one_receipt(
    bot: Bot, imap: EmbeddedIMAP, smtp: EmbeddedSMTP, kind: str, style: str, encoding: str
) -> None:
    raw = submission_mail(kind=kind, style=style, encoding=encoding,
                          message_id="<dinghai-1@example.cn>")
    imap.append(raw)

    report = bot.poll()

    assert (report.new, report.processed, report.failed) == (1, 1, 0)
    activity = rows(bot, ActivityRow)
    assert [r.name for r in activity] == ["劳模先进事迹报告会", "“杨浦工匠”技能展示", "劳模进社区"]
    assert [r.participants for r in activity] == [200, 1200, 200]
    assert activity[0].raw["participants"] == "约200人"
    teams = rows(bot, VolunteerTeamRow)
    assert [(t.leader_name, t.leader_title, t.size, t.founded) for t in teams] == [
        ("张三", "主席", 30, "2016-03"), ("李四", "工会主席", 15, "2017-05-20")]
    subs = rows(bot, Submission)
    assert {s.form for s in subs} == {"activity", "volunteer_team"}
    assert all(s.current and s.contact == "王芳" and s.filled_on == "2018-06-10" for s in subs)
    expected = NAMES[style == "ascii"]
    assert sorted(s.file_name for s in subs) == sorted(f"{name}.{kind}" for name in expected)

    (mail_from, rcpts, sent), = smtp.wait_for(1)
    receipt = parse_sent(sent)
    assert rcpts == [DINGHAI] and mail_from == BOT
    assert receipt["Auto-Submitted"] == "auto-replied"
    assert receipt["X-Formbot-Kind"] == "receipt"
    assert receipt["In-Reply-To"] == receipt["References"] == "<dinghai-1@example.cn>"
    text = body_of(receipt)
    assert text.startswith("定海路街道总工会：")
    assert "主题活动申报表：已收到3行" in text and "志愿者服务队登记表：已收到2行" in text
    assert "均已收齐" in text

    unit = status_data(bot.settings, engine=bot.engine)["units"][0]
    assert unit["forms"]["activity"] == {"submitted": True, "rows": 3,
                                         "received_at": unit["forms"]["activity"]["received_at"]}
    assert unit["forms"]["volunteer_team"]["rows"] == 2


def test_a_mail_delivered_twice_into_one_fetch_batch_is_stored_once(
    bot: Bot, imap: EmbeddedIMAP, smtp: EmbeddedSMTP
) -> None:
    raw = submission_mail(message_id="<twice@example.cn>")
    imap.append(raw)
    imap.append(b"Received: from mx2.example.cn by mx.126.com; Sun, 10 Jun 2018 10:05 +0800\r\n"
                + raw)
    report = bot.poll()
    assert (report.fetched, report.new, report.duplicates) == (2, 1, 1)
    assert len(rows(bot, Message)) == 1 and len(rows(bot, Submission)) == 2
    copies = rows(bot, MailboxCopy)
    assert len(copies) == 2 and all(c.handled for c in copies)   # both flagged on the server
    assert len(rows(bot, Outgoing)) == 1 and len(smtp.wait_for(1)) == 1


def test_polling_again_and_duplicate_delivery_change_nothing(
    bot: Bot, imap: EmbeddedIMAP, smtp: EmbeddedSMTP
) -> None:
    raw = submission_mail(message_id="<same@example.cn>")
    imap.append(raw)
    bot.poll()
    # The same message delivered a second time (another Received line, same Message-ID).
    imap.append(b"Received: from mx2.example.cn by mx.126.com; Sun, 10 Jun 2018 10:05 +0800\r\n"
                + raw)
    second = bot.poll(NOW + timedelta(minutes=5))
    third = bot.poll(NOW + timedelta(minutes=10))

    assert (second.new, second.duplicates, third.fetched) == (0, 1, 0)
    assert len(rows(bot, ActivityRow)) == 3 and len(rows(bot, Submission)) == 2
    assert len(rows(bot, Outgoing)) == 1
    assert len(smtp.messages) == 1


def test_raw_mail_is_kept_privately_before_anything_else(
    bot: Bot, imap: EmbeddedIMAP, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = submission_mail()
    imap.append(raw)
    monkeypatch.setattr(reading, "parse_mail", _explode)
    bot.poll()

    message, = rows(bot, Message)
    kept = Path(message.raw_path)
    assert kept.read_bytes() == raw
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert message.status == "failed"


def _explode(raw: bytes) -> None:
    raise RuntimeError("parser bug for this mail")


def test_a_failing_message_is_recorded_retried_and_does_not_stop_the_rest(
    bot: Bot, imap: EmbeddedIMAP, smtp: EmbeddedSMTP, monkeypatch: pytest.MonkeyPatch
) -> None:
    good_before = submission_mail(message_id="<a@example.cn>")
    bad = submission_mail(sender="yinhang_gh@example.cn", message_id="<bad@example.cn>",
                          activity=FormFill("殷行街道总工会",
                                            [["活动", "讲座", "6月", "内容", "50"]]))
    good_after = submission_mail(sender="kjl_gh@example.cn", message_id="<c@example.cn>",
                                 activity=FormFill("控江路街道总工会",
                                                   [["活动", "讲座", "6月", "内容", "60"]]))
    for raw in (good_before, bad, good_after):
        imap.append(raw)
    real = reading.parse_mail

    def flaky(raw: bytes):  # a parser bug that hits one mail only
        if b"<bad@example.cn>" in raw:
            raise RuntimeError("解析器缺陷")
        return real(raw)

    monkeypatch.setattr(reading, "parse_mail", flaky)
    first = bot.poll()
    assert (first.processed, first.failed) == (2, 1)
    failed = status_data(bot.settings, engine=bot.engine)["failed"]
    assert failed == [{"message_id": "<bad@example.cn>", "error": "RuntimeError: 解析器缺陷"}]
    assert len(smtp.wait_for(2)) == 2

    # Still broken on the next poll: tried again, attempts counted, then given up on.
    bot.poll(NOW + timedelta(minutes=5))
    with Session(bot.engine) as session:
        bad_row = session.exec(select(Message).where(Message.key == "<bad@example.cn>")).one()
        assert (bad_row.status, bad_row.attempts) == ("failed", 2)

    # The parser is fixed: the kept raw mail is read again without touching IMAP history.
    monkeypatch.setattr(reading, "parse_mail", real)
    fixed = bot.poll(NOW + timedelta(minutes=10))
    assert (fixed.new, fixed.processed, fixed.failed) == (0, 1, 0)
    assert status_data(bot.settings, engine=bot.engine)["failed"] == []
    assert len(smtp.wait_for(3)) == 3
    names = {u["name"]: u["forms"]["activity"]["submitted"]
             for u in status_data(bot.settings, engine=bot.engine)["units"]}
    assert names["殷行街道总工会"] and names["控江路街道总工会"]


def test_retries_are_bounded(tmp_path: Path, imap: EmbeddedIMAP, smtp: EmbeddedSMTP,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    bot = Bot.at(write_config(tmp_path, imap, smtp, mailbox__max_attempts=2))
    imap.append(submission_mail(message_id="<bad@example.cn>"))
    monkeypatch.setattr(reading, "parse_mail", _explode)
    attempts = []
    for minutes in range(4):
        report = bot.poll(NOW + timedelta(minutes=minutes))
        attempts.append(report.failed)
    assert attempts == [1, 1, 0, 0]
    failed = status_data(bot.settings, engine=bot.engine)["failed"]
    assert failed[0]["message_id"] == "<bad@example.cn>"


def test_uidvalidity_change_rereads_the_folder_without_duplicates(
    tmp_path: Path, smtp: EmbeddedSMTP
) -> None:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap:
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        first = submission_mail(message_id="<first@example.cn>")
        imap.append(first)
        bot.poll()
        imap.reset_folder()      # the server rebuilt INBOX: every UID starts again
        imap.append(first)
        imap.append(submission_mail(sender="yinhang_gh@example.cn", message_id="<new@example.cn>",
                                    activity=FormFill("殷行街道总工会",
                                                      [["宣讲", "报告会", "6月", "x", "80"]])))
        report = bot.poll(NOW + timedelta(minutes=5))

    assert (report.new, report.duplicates) == (1, 1)
    assert [m.key for m in rows(bot, Message)] == ["<first@example.cn>", "<new@example.cn>"]
    assert len(smtp.wait_for(2)) == 2 and len(rows(bot, Outgoing)) == 2


@pytest.mark.parametrize(("headers", "sender"), [
    ({"Auto-Submitted": "auto-replied"}, "dhjd_gh@example.cn"),
    ({"Precedence": "bulk"}, "dhjd_gh@example.cn"),
    ({"List-Id": "<news.gonghui.example>"}, "dhjd_gh@example.cn"),
    ({}, "MAILER-DAEMON@mx.126.com"),
    ({}, BOT),
])
def test_no_receipt_to_auto_replies_bounces_lists_or_ourselves(
    bot: Bot, imap: EmbeddedIMAP, smtp: EmbeddedSMTP, headers: dict[str, str], sender: str
) -> None:
    imap.append(submission_mail(sender=sender, extra_headers=headers))
    report = bot.poll()
    message, = rows(bot, Message)
    assert message.status == "processed" and message.outcome.startswith("no-reply:")
    assert report.delivery.sent == 0 and smtp.messages == [] and rows(bot, Outgoing) == []


def test_mail_without_forms_is_asked_again_only_when_it_concerns_us(
    bot: Bot, imap: EmbeddedIMAP, smtp: EmbeddedSMTP
) -> None:
    # CONTRACT.md: a unit's mail that is no submission waits for a person; one that says it
    # carries forms but has none is told so; a stranger is answered only when the mail
    # plausibly concerns the campaign.
    imap.append(build_mail(from_addr=DINGHAI, to_addr=BOT, subject="表格下周交",
                           body="我们下周发送。", attachments=[], message_id="<q@example.cn>"))
    imap.append(build_mail(from_addr=DINGHAI, to_addr=BOT, subject="报送申报表",
                           body="附件请查收。", attachments=[], message_id="<none@example.cn>"))
    imap.append(build_mail(from_addr="promo@shop.example", to_addr=BOT, subject="优惠活动",
                           body="限时优惠", attachments=[], message_id="<spam@example.cn>"))
    imap.append(build_mail(from_addr="someone@qq.example", to_addr=BOT, subject="附件1 主题活动申报表",
                           body="见附件", attachments=[("scan.pdf", b"%PDF-1.4 scan")],
                           message_id="<pdf@example.cn>"))
    imap.append(build_mail(from_addr="other@qq.example", to_addr=BOT, subject="材料",
                           body="见附件", attachments=[("scan.pdf", b"%PDF-1.4 other")],
                           message_id="<pdf2@example.cn>"))
    bot.poll()
    sent = {tuple(r): parse_sent(raw) for _, r, raw in smtp.wait_for(2)}
    assert set(sent) == {(DINGHAI,), ("someone@qq.example",)}
    asked = body_of(sent[(DINGHAI,)])
    assert "未能从中读取" in asked and "重新发送" in asked and "没有附件" in asked
    pdf = body_of(sent[("someone@qq.example",)])
    assert "scan.pdf" in pdf and "PDF" in pdf
    outcomes = {m.key: m.outcome for m in rows(bot, Message)}
    assert outcomes["<spam@example.cn>"] == "no-reply:not-about-campaign"
    assert outcomes["<pdf2@example.cn>"] == "no-reply:not-about-campaign"
    assert outcomes["<q@example.cn>"] == "waiting-for-person"


def test_receipt_names_each_problem_and_the_missing_form(
    bot: Bot, imap: EmbeddedIMAP, smtp: EmbeddedSMTP
) -> None:
    long_text = "组织职工学习劳模事迹" * 12
    fill = FormFill("定海路街道总工会", [["宣讲会", "报告会", "6月", "内容", "100"],
                                        ["读书会", "座谈", "7月", long_text, "100-200人"]])
    imap.append(submission_mail(activity=fill, volunteer=None))
    bot.poll()
    text = body_of(parse_sent(smtp.wait_for(1)[0][2]))
    assert "主题活动申报表：已收到2行" in text
    assert "第2行“主要内容和形式”：超过100字（120字），已完整保留" in text
    assert "第2行“参与人数”：人数写成了范围“100-200人”" in text
    assert "尚未收到：志愿者服务队登记表" in text
    row = rows(bot, ActivityRow)[1]
    assert row.content == long_text and row.participants is None


def test_a_later_submission_replaces_the_current_rows_and_keeps_the_old(
    bot: Bot, imap: EmbeddedIMAP, smtp: EmbeddedSMTP
) -> None:
    imap.append(submission_mail(message_id="<v1@example.cn>",
                                date=NOW - timedelta(days=2)))  # type: ignore[arg-type]
    bot.poll()
    corrected = FormFill("定海路街道总工会", [["更正后的活动", "报告会", "6月", "内容", "300人"]])
    imap.append(submission_mail(message_id="<v2@example.cn>", activity=corrected, volunteer=None,
                                date=NOW - timedelta(days=1)))  # type: ignore[arg-type]
    bot.poll(NOW + timedelta(hours=1))

    subs = rows(bot, Submission)
    activity = [s for s in subs if s.form == "activity"]
    assert [s.current for s in activity] == [False, True]
    unit = status_data(bot.settings, engine=bot.engine)["units"][0]
    assert unit["forms"]["activity"]["rows"] == 1
    assert unit["forms"]["volunteer_team"] == {
        "submitted": True, "rows": 2, "received_at": unit["forms"]["volunteer_team"]["received_at"]}
    assert len(rows(bot, ActivityRow)) == 4  # the first version is still there


def test_a_blank_form_neither_counts_nor_wipes_the_rows_sent_before(
    bot: Bot, imap: EmbeddedIMAP, smtp: EmbeddedSMTP
) -> None:
    imap.append(submission_mail(message_id="<v1@example.cn>", volunteer=None,
                                date=NOW - timedelta(days=2)))  # type: ignore[arg-type]
    blank = FormFill("定海路街道总工会", [])   # the template sent again by mistake
    imap.append(submission_mail(message_id="<blank@example.cn>", activity=blank,
                                volunteer=blank, date=NOW - timedelta(days=1)))  # type: ignore[arg-type]
    bot.poll()

    unit = status_data(bot.settings, engine=bot.engine)["units"][0]
    assert unit["forms"]["activity"]["submitted"] is True and unit["forms"]["activity"]["rows"] == 3
    assert unit["forms"]["volunteer_team"]["submitted"] is False
    receipts = [body_of(parse_sent(raw)) for _, _, raw in smtp.wait_for(2)]
    assert any("表格是空的" in body for body in receipts)


def test_unknown_sender_is_matched_by_name_or_kept_unmatched(
    bot: Bot, imap: EmbeddedIMAP, smtp: EmbeddedSMTP
) -> None:
    by_alias = FormFill("杨浦区教育工会", [["教师讲堂", "讲座", "6月", "x", "40"]])
    imap.append(submission_mail(sender="teacher@qq.example", activity=by_alias, volunteer=None,
                                message_id="<edu@example.cn>"))
    by_name = FormFill("上海市杨浦区控江路街道工会", [["读书会", "座谈", "6月", "x", "20"]])
    imap.append(submission_mail(sender="clerk@163.example", activity=by_name, volunteer=None,
                                message_id="<kjl@example.cn>"))
    stranger = FormFill("某某科技公司工会", [["读书会", "座谈", "6月", "x", "10"]])
    imap.append(submission_mail(sender="hr@corp.example", activity=stranger, volunteer=None,
                                message_id="<corp@example.cn>"))
    bot.poll()
    data = status_data(bot.settings, engine=bot.engine)
    education = next(u for u in data["units"] if u["name"] == "区教育工会")
    assert education["forms"]["activity"]["submitted"]
    assert data["unmatched"] == [{"message_id": "<corp@example.cn>", "from": "hr@corp.example",
                                  "unit_text": "某某科技公司工会"}]
    kongjiang = next(u for u in data["units"] if u["name"] == "控江路街道总工会")
    assert kongjiang["forms"]["activity"]["submitted"]
    receipts = {tuple(r): body_of(parse_sent(raw)) for _, r, raw in smtp.wait_for(3)}
    assert "未能确认贵单位" in receipts[("hr@corp.example",)]
    assert "某某科技公司工会" in receipts[("hr@corp.example",)]
    # A registered unit written from an address it never registered: said so, not hidden.
    assert "本邮件地址不在“控江路街道总工会”的登记邮箱中" in receipts[("clerk@163.example",)]
    assert receipts[("teacher@qq.example",)].startswith("区教育工会：")


def _count_imap_commands(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    sent: list[str] = []
    original = imaplib.IMAP4._command

    def counting(self: imaplib.IMAP4, name: str, *args: object) -> object:
        sent.append(name)
        return original(self, name, *args)

    monkeypatch.setattr(imaplib.IMAP4, "_command", counting)
    return sent


def test_an_idle_poll_costs_the_same_few_commands_whatever_the_mailbox_size(
    bot: Bot, imap: EmbeddedIMAP, smtp: EmbeddedSMTP, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap.append(submission_mail(message_id="<one@example.cn>"))
    bot.poll()
    commands = _count_imap_commands(monkeypatch)
    bot.poll(NOW + timedelta(minutes=5))
    small = list(commands)
    for n in range(25):
        imap.append(build_mail(from_addr="x@example.cn", to_addr=BOT, subject=f"n{n}", body="",
                               attachments=[], message_id=f"<n{n}@example.cn>"))
    bot.poll(NOW + timedelta(minutes=10))
    commands.clear()
    bot.poll(NOW + timedelta(minutes=15))
    assert commands == small
    assert "SEARCH" not in small and "FETCH" not in small and "UID" not in small


def test_each_poll_opens_one_connection_and_closes_it(
    bot: Bot, imap: EmbeddedIMAP, smtp: EmbeddedSMTP
) -> None:
    before = imap.connections_opened()
    for minutes in range(3):
        bot.poll(NOW + timedelta(minutes=minutes))
    assert imap.connections_opened() - before == 3


def test_handled_mail_is_flagged_after_commit_not_marked_read(
    bot: Bot, imap: EmbeddedIMAP, smtp: EmbeddedSMTP
) -> None:
    imap.append(submission_mail(message_id="<flag@example.cn>"))
    bot.poll()
    with imapclient.IMAPClient(imap.host, port=imap.port, ssl=False) as client:
        client.login(BOT, PASSWORD)
        info = client.select_folder("INBOX")  # EXAMINE would report no PERMANENTFLAGS
        flags = client.get_flags(client.search("ALL"))
    (only,) = flags.values()
    # The clerk's "unread" stays as it was: our mark is a keyword, where the server allows one.
    assert b"\\Seen" not in only
    keywords_allowed = b"\\*" in info[b"PERMANENTFLAGS"]
    assert (b"$FormbotDone" in only) == keywords_allowed


def test_processed_folder_receives_handled_mail(
    tmp_path: Path, imap: EmbeddedIMAP, smtp: EmbeddedSMTP
) -> None:
    bot = Bot.at(write_config(tmp_path, imap, smtp, mailbox__processed_folder="已处理"))
    imap.append(submission_mail(message_id="<move@example.cn>"))
    bot.poll()
    with imapclient.IMAPClient(imap.host, port=imap.port, ssl=False) as client:
        client.login(BOT, PASSWORD)
        inbox = client.select_folder("INBOX", readonly=True)[b"EXISTS"]
        moved = client.select_folder("已处理", readonly=True)[b"EXISTS"]
    assert (inbox, moved) == (0, 1)
    assert len(rows(bot, ActivityRow)) == 3


def test_status_json_has_the_contract_shape(bot: Bot, imap: EmbeddedIMAP,
                                            smtp: EmbeddedSMTP) -> None:
    imap.append(submission_mail())
    bot.poll()
    data = json.loads(json.dumps(status_data(bot.settings, engine=bot.engine)))
    assert set(data) == {"campaign", "deadline", "units_total", "units_complete", "units",
                         "unmatched", "failed", "outbox", "waiting"}
    assert (data["campaign"], data["deadline"]) == ("杨工〔2018〕14号", "2018-06-15")
    assert (data["units_total"], data["units_complete"]) == (4, 1)
    unit = data["units"][0]
    assert set(unit) == {"name", "forms", "reminders_sent"}
    assert set(unit["forms"]) == {"activity", "volunteer_team"}
    form = unit["forms"]["activity"]
    assert set(form) == {"submitted", "rows", "received_at"}
    assert form["received_at"].endswith("+08:00")
    assert data["units"][1]["forms"]["activity"] == {"submitted": False, "rows": 0,
                                                     "received_at": None}


def test_wrong_password_is_a_sentence_not_a_traceback(tmp_path: Path, imap: EmbeddedIMAP,
                                                       smtp: EmbeddedSMTP) -> None:
    bot = Bot.at(write_config(tmp_path, imap, smtp))
    os.environ["FORMBOT_IMAP_PASSWORD"] = "wrong"
    with pytest.raises(Exception) as caught:
        bot.poll()
    assert "登录被拒绝" in str(caught.value) and "wrong" not in str(caught.value)
