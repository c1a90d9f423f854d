"""Reminders (催报) by slot, driven by an injected clock, each (unit, slot) once ever."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail, volunteer_docx
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.jobs.remind import queue_reminders
from formbot.poll.pipeline import smtp_target
from notifier.outbox import drain
from notifier.reminders import due_slot
from store import repo
from store.models import Unit
from tests.conftest import PASSWORD
from tests.support.helpers import ACTIVITY, BOT, VOLUNTEER, Bot, body_of, parse_sent, write_config

TZ = ZoneInfo("Asia/Shanghai")
DEADLINE = datetime(2018, 6, 15).date()


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2018, 6, day, hour, minute, tzinfo=TZ)


@pytest.mark.parametrize(("now", "slot"), [
    (at(8, 8, 59), None),   # 7 days before, not yet 09:00
    (at(8), -7),
    (at(11, 12), -7),
    (at(12), -3),
    (at(14, 9, 1), -1),
    (at(15, 23), -1),       # the deadline day itself still counts as before
    (at(16), 1),
    (at(30), 1),
])
def test_the_latest_due_slot(now: datetime, slot: int | None) -> None:
    assert due_slot(DEADLINE, [-7, -3, -1, 1], time(9, 0), TZ, now) == slot


@pytest.fixture
def campaign(tmp_path: Path) -> Iterator[tuple[Bot, EmbeddedIMAP, EmbeddedSMTP]]:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        yield Bot.at(write_config(tmp_path, imap, smtp)), imap, smtp


def remind(bot: Bot, now: datetime) -> tuple[list[str], list[str]]:
    report = queue_reminders(bot.settings, engine=bot.engine, now=now)
    drain(bot.engine, smtp_target(bot.settings), now=now, sender=BOT)
    return report.queued, report.no_address


def test_a_campaign_of_reminders(campaign: tuple[Bot, EmbeddedIMAP, EmbeddedSMTP]) -> None:
    bot, imap, smtp = campaign
    bot.poll(at(7))  # registers the units; nothing in the mailbox yet
    queued, no_address = remind(bot, at(8, 9, 5))
    assert queued == ["定海路街道总工会", "殷行街道总工会", "控江路街道总工会"]
    assert no_address == ["区教育工会"]  # listed, not silently skipped

    again, _ = remind(bot, at(8, 15))  # same slot later that day: nothing more
    assert again == []

    # 定海路 sends both forms, 殷行 only one.
    imap.append(build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject="申报", body="",
                           attachments=[("1.docx", activity_docx(ACTIVITY)),
                                        ("2.docx", volunteer_docx(VOLUNTEER))]))
    # (Its own form: a form naming 定海路 would be 定海路's, whoever sends it.)
    imap.append(build_mail(from_addr="yinhang_gh@example.cn", to_addr=BOT, subject="申报",
                           body="", attachments=[("1.docx", activity_docx(
                               dataclasses.replace(ACTIVITY, unit_text="殷行街道总工会")))]))
    bot.poll(at(10))
    receipts = len(smtp.messages)

    # The bot was down over the -3 and -1 slots: only the latest is sent, once.
    queued, _ = remind(bot, at(14, 10))
    assert queued == ["殷行街道总工会", "控江路街道总工会"]
    reminders = [parse_sent(raw) for _, _, raw in smtp.messages[receipts:]]
    assert {m["X-Formbot-Kind"] for m in reminders} == {"reminder"}
    assert {m["Auto-Submitted"] for m in reminders} == {"auto-generated"}
    yinhang = next(m for m in reminders if m["To"] == "yinhang_gh@example.cn")
    text = body_of(yinhang)
    assert "殷行街道总工会" in text and "2018年6月15日" in text
    assert "志愿者服务队登记表" in text and "主题活动申报表" not in text

    overdue, _ = remind(bot, at(16, 9))
    assert overdue == ["殷行街道总工会", "控江路街道总工会"]
    assert "已过" in body_of(parse_sent(smtp.messages[-1][2]))
    assert remind(bot, at(20))[0] == []


def test_remind_command_with_an_injected_clock(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    from tests.cli.test_cli import run

    imap, smtp = servers
    config = write_config(tmp_path, imap, smtp)
    early = run("remind", "--config", str(config), "--now", "2018-06-01T09:00:00+08:00",
                cwd=tmp_path)
    assert early.returncode == 0 and "没有到期的催报节点" in early.stdout
    due = run("remind", "--config", str(config), "--now", "2018-06-08T09:30:00+08:00",
              cwd=tmp_path)
    assert due.returncode == 0, due.stderr
    assert "截止前7天" in due.stdout and "本次催报 3 个单位" in due.stdout
    assert "区教育工会" in due.stdout  # no address: listed, not skipped silently
    again = run("remind", "--config", str(config), "--now", "2018-06-08T18:00:00+08:00",
                cwd=tmp_path)
    assert "本次催报 0 个单位" in again.stdout and "此前已催报 3 个" in again.stdout
    assert len(smtp.wait_for(3)) == 3
    bad = run("remind", "--config", str(config), "--now", "next tuesday", cwd=tmp_path)
    assert bad.returncode == 1 and "ISO-8601" in bad.stderr


def test_reminders_also_go_to_the_addresses_the_admin_confirmed(
    campaign: tuple[Bot, EmbeddedIMAP, EmbeddedSMTP],
) -> None:
    bot, _, smtp = campaign
    bot.poll(at(7))
    with Session(bot.engine) as session:
        units = {u.name: u for u in session.exec(select(Unit))}
        for address, name in (("jy_clerk@qq.example", "区教育工会"),     # no registered one
                              ("kjl_clerk@qq.example", "控江路街道总工会"),
                              ("KJL_GH@example.cn", "控江路街道总工会"),   # its registered one
                              # registered to 殷行 since: 殷行's, whatever was remembered
                              ("yinhang_gh@example.cn", "控江路街道总工会")):
            repo.remember_sender(session=session, address=address, when=at(7), who="admin",
                                 unit_id=units[name].id, message_ref=None)  # type: ignore[arg-type]
        session.commit()
    queued, no_address = remind(bot, at(8, 9, 5))
    assert "区教育工会" in queued and no_address == []
    recipients = [rcpts for _, rcpts, _ in smtp.wait_for(len(queued))]
    assert ["jy_clerk@qq.example"] in recipients
    assert ["kjl_gh@example.cn", "kjl_clerk@qq.example"] in recipients   # each address once
