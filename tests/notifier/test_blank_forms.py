"""The blank forms go out with the bot's mail (issue 15 part 5): a reminder carries the
templates of the forms the unit still owes, a receipt asking for a missing form carries
its template; the file names read in Chinese, the bytes are the template's own."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from loguru import logger

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail, volunteer_docx
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.jobs.remind import queue_reminders
from formbot.poll import blanks
from formbot.poll.pipeline import smtp_target
from notifier.compose import Sender, compose
from notifier.outbox import drain
from parsers.builtin import builtin_forms
from parsers.mail import parse_mail
from parsers.specs import BUILTIN_PATH
from tests.conftest import PASSWORD
from tests.support.formfiles import Table, docx_bytes
from tests.support.helpers import ACTIVITY, BOT, VOLUNTEER, Bot, body_of, parse_sent, write_config

TZ = ZoneInfo("Asia/Shanghai")
TEMPLATE_NAME = "附件1-主题活动申报表（空白）.docx"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2018, 6, day, hour, 30, tzinfo=TZ)


# Each unit's own forms name it in 填报单位: a form naming another unit is that unit's.
YINHANG_TEAMS = dataclasses.replace(VOLUNTEER, unit_text="殷行街道总工会")
KONGJIANG_ACTS = dataclasses.replace(ACTIVITY, unit_text="控江路街道总工会")

def with_template(tmp_path: Path, imap: EmbeddedIMAP, smtp: EmbeddedSMTP) -> tuple[Path, bytes]:
    """Today's two forms, declared in a file beside config.yaml; only 附件1 has a blank
    form (made by python-docx from the declaration), in a folder of its own."""
    activity = next(spec for spec in builtin_forms() if spec.key == "activity")
    blank = docx_bytes([Table.of(activity)])
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank" / TEMPLATE_NAME).write_bytes(blank)
    forms = yaml.safe_load(BUILTIN_PATH.read_text(encoding="utf-8"))
    forms[0]["template"] = f"blank/{TEMPLATE_NAME}"      # relative to forms.yaml
    (tmp_path / "forms.yaml").write_text(yaml.safe_dump(forms, allow_unicode=True),
                                         encoding="utf-8")
    return write_config(tmp_path, imap, smtp, campaign__forms="forms.yaml"), blank


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[tuple[Bot, EmbeddedIMAP, EmbeddedSMTP, bytes]]:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        config, blank = with_template(tmp_path, imap, smtp)
        yield Bot.at(config), imap, smtp, blank


def files_of(message: EmailMessage) -> list[tuple[str | None, str, bytes]]:
    return [(part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
            for part in message.iter_attachments()]


def sent_to(smtp: EmbeddedSMTP, address: str, kind: str) -> list[EmailMessage]:
    mails = [parse_sent(raw) for _, _, raw in smtp.messages]
    return [m for m in mails if m["To"] == address and m["X-Formbot-Kind"] == kind]


def test_a_reminder_carries_the_blank_forms_the_unit_still_owes(
    bot: tuple[Bot, EmbeddedIMAP, EmbeddedSMTP, bytes],
) -> None:
    robot, imap, smtp, blank = bot
    # 定海路 sends both forms, 殷行 only 附件2 (owes 附件1, which has a blank form), 控江路
    # only 附件1 (owes 附件2, which has none).
    imap.append(build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject="申报", body="",
                           attachments=[("1.docx", activity_docx(ACTIVITY)),
                                        ("2.docx", volunteer_docx(VOLUNTEER))]))
    imap.append(build_mail(from_addr="yinhang_gh@example.cn", to_addr=BOT, subject="申报",
                           body="", attachments=[("2.docx", volunteer_docx(YINHANG_TEAMS))]))
    imap.append(build_mail(from_addr="kjl_gh@example.cn", to_addr=BOT, subject="申报",
                           body="", attachments=[("1.docx", activity_docx(KONGJIANG_ACTS))]))
    robot.poll(at(10))
    report = queue_reminders(robot.settings, engine=robot.engine, now=at(14))
    drain(robot.engine, smtp_target(robot.settings), now=at(14), sender=BOT)
    assert report.queued == ["殷行街道总工会", "控江路街道总工会"]   # 定海路 owes nothing

    assert sent_to(smtp, "dhjd_gh@example.cn", "reminder") == []
    [yinhang] = sent_to(smtp, "yinhang_gh@example.cn", "reminder")
    assert files_of(yinhang) == [(TEMPLATE_NAME, DOCX, blank)]      # the very file, once
    text = body_of(yinhang)
    assert f"附件为空白表格（{TEMPLATE_NAME}），填好后直接回复本邮件即可" in text
    assert "（1）主题活动申报表" in text   # owed, with its blank form attached
    # The name as our own reader (and so 126/QQ/Outlook-style parsers) decodes it.
    [(name, data)] = [(a.name, a.data) for a in parse_mail(yinhang.as_bytes()).attachments]
    assert (name, data) == (TEMPLATE_NAME, blank)

    [kongjiang] = sent_to(smtp, "kjl_gh@example.cn", "reminder")
    assert files_of(kongjiang) == [] and not kongjiang.is_multipart()
    assert "将填好的表格作为附件（.docx或.xlsx格式）发送至" in body_of(kongjiang)


def test_a_receipt_asking_for_a_missing_form_carries_its_blank_form(
    bot: tuple[Bot, EmbeddedIMAP, EmbeddedSMTP, bytes],
) -> None:
    robot, imap, smtp, blank = bot
    imap.append(build_mail(from_addr="yinhang_gh@example.cn", to_addr=BOT, subject="申报",
                           body="", attachments=[("2.docx", volunteer_docx(YINHANG_TEAMS))]))
    imap.append(build_mail(from_addr="kjl_gh@example.cn", to_addr=BOT, subject="申报",
                           body="", attachments=[("1.docx", activity_docx(KONGJIANG_ACTS))]))
    robot.poll(at(10))
    [asking] = sent_to(smtp, "yinhang_gh@example.cn", "receipt")
    assert "尚未收到：主题活动申报表" in body_of(asking)
    assert files_of(asking) == [(TEMPLATE_NAME, DOCX, blank)]
    assert f"附件为空白表格（{TEMPLATE_NAME}），填好后直接回复本邮件即可。" in body_of(asking)
    assert asking["In-Reply-To"] and asking["X-Formbot-Kind"] == "receipt"
    # 控江路 still owes 附件2, which has no blank form: the receipt is text only.
    [plain] = sent_to(smtp, "kjl_gh@example.cn", "receipt")
    assert "尚未收到：志愿者服务队登记表" in body_of(plain)
    assert not plain.is_multipart() and "空白表格" not in body_of(plain)


def test_a_blank_form_too_big_or_gone_is_left_out_with_a_log_line(
    bot: tuple[Bot, EmbeddedIMAP, EmbeddedSMTP, bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    robot, _, smtp, blank = bot
    lines: list[str] = []
    sink = logger.add(lines.append, format="{message}", level="WARNING")
    try:
        robot.poll(at(7))
        with monkeypatch.context() as patch:
            patch.setattr(blanks, "MAX_TEMPLATE_BYTES", len(blank) - 1)
            queue_reminders(robot.settings, engine=robot.engine, now=at(8))
        Path(next(s.template for s in robot.settings.forms if s.template)).unlink()  # type: ignore[arg-type]
        queue_reminders(robot.settings, engine=robot.engine, now=at(12))
        drain(robot.engine, smtp_target(robot.settings), now=at(12), sender=BOT)
    finally:
        logger.remove(sink)
    mails = sent_to(smtp, "yinhang_gh@example.cn", "reminder")
    assert len(mails) == 2 and all(files_of(m) == [] for m in mails)   # still sent, bare
    assert any("blank_form.too_big form=activity" in line for line in lines)
    assert any("blank_form.unreadable form=activity" in line for line in lines)


def test_compose_without_files_is_the_single_text_part_it_always_was() -> None:
    now = datetime(2018, 6, 10, 10, tzinfo=TZ)
    sender = Sender(BOT, "杨浦区总工会宣传教育部")
    plain = compose(kind="reminder", sender=sender, to=["a@example.cn"], subject="催报",
                    body="正文\n", now=now)
    assert b"Content-Type: text/plain" in plain.raw.split(b"\r\n\r\n")[0]
    long_name = "附件3-" + "很长的表格名称" * 20 + ".xlsx"
    raw = compose(kind="reminder", sender=sender, to=["a@example.cn"], subject="催报",
                  body="正文\n", now=now,
                  attachments=[(long_name, b"x" * 10, "application/zip")]).raw
    mail = parse_sent(raw)
    [(name, mime, data)] = files_of(mail)
    # Cut to fit one header line (RFC 5322: 998), its kind kept; RFC 2231 on the wire.
    assert name is not None and name.endswith(".xlsx") and long_name.startswith(name[:-5])
    assert (mime, data) == ("application/zip", b"x" * 10)
    assert max(len(line) for line in raw.splitlines()) < 998
    assert b"filename*=utf-8''%E9%99%84%E4%BB%B63-" in raw and b'name="=?utf-8?b?' in raw


def test_the_receipt_after_the_admin_assigns_a_mail_carries_the_missing_blank_form(
    bot: tuple[Bot, EmbeddedIMAP, EmbeddedSMTP, bytes],
) -> None:
    from dataclasses import replace

    from sqlmodel import Session, select

    from formbot.web import actions
    from store.models import Message, Unit

    robot, imap, smtp, blank = bot
    imap.append(build_mail(from_addr="clerk@qq.example", to_addr=BOT, subject="登记表",
                           body="", message_id="<stranger@example.cn>",
                           attachments=[("2.docx", volunteer_docx(
                               replace(VOLUNTEER, unit_text="某某社区")))]))
    robot.poll(at(10))
    with Session(robot.engine) as session:
        message = session.exec(select(Message)).one()
        unit = session.exec(select(Unit).where(Unit.name == "殷行街道总工会")).one()
    first = sent_to(smtp, "clerk@qq.example", "receipt")
    assert len(first) == 1 and files_of(first[0]) == []   # no unit yet: nothing asked
    actions.assign(robot.settings, engine=robot.engine, message_id=message.id,  # type: ignore[arg-type]
                   unit_id=unit.id, now=at(11), who="admin@test", remember=False)  # type: ignore[arg-type]
    drain(robot.engine, smtp_target(robot.settings), now=at(11), sender=BOT)
    assigned = sent_to(smtp, "clerk@qq.example", "receipt")[-1]
    assert "尚未收到：主题活动申报表" in body_of(assigned)
    assert files_of(assigned) == [(TEMPLATE_NAME, DOCX, blank)]
