"""`formbot run`: IDLE delivery, outages survived, no overlap, clean stop, daily round."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from loguru import logger
from sqlmodel import Session, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail, volunteer_docx
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.jobs.remind import queue_reminders
from formbot.jobs.worker import Worker
from store.models import Outgoing
from tests.conftest import PASSWORD
from tests.support.helpers import ACTIVITY, BOT, VOLUNTEER, Bot, body_of, parse_sent, write_config

TZ = ZoneInfo("Asia/Shanghai")


def submission(sender: str = "dhjd_gh@example.cn", n: int = 0) -> bytes:
    return build_mail(from_addr=sender, to_addr=BOT, subject=f"申报{n}", body="",
                      attachments=[("a.docx", activity_docx(ACTIVITY)),
                                   ("b.docx", volunteer_docx(VOLUNTEER))],
                      message_id=f"<w{n}@example.cn>")



@pytest.fixture
def warnings() -> Iterator[list[str]]:
    seen: list[str] = []
    sink = logger.add(lambda m: seen.append(m.record["message"]), level="WARNING",
                      diagnose=False, backtrace=False)
    yield seen
    logger.remove(sink)


def test_idle_delivers_a_receipt_without_waiting_for_the_timed_poll(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    bot = Bot.at(write_config(tmp_path, imap, smtp, schedule={"poll_minutes": 600,
                                                              "remind_time": "09:00"}))
    before_any_slot = datetime(2018, 6, 1, 10, 0, tzinfo=TZ)
    worker = Worker(bot.settings, engine=bot.engine, clock=lambda: before_any_slot)
    worker.start(idle=True)
    try:
        assert worker.wait_for_polls(1)          # the start-up poll
        imap.append(submission())
        (_, rcpts, raw), = smtp.wait_for(1, timeout=60)   # the timed poll is 10 hours away
        assert rcpts == ["dhjd_gh@example.cn"]
        assert parse_sent(raw)["X-Formbot-Kind"] == "receipt"
    finally:
        worker.stop()


def test_worker_survives_its_servers_going_away_and_coming_back(
    tmp_path: Path, warnings: list[str]
) -> None:
    imap = EmbeddedIMAP(user=BOT, password=PASSWORD).start()
    smtp = EmbeddedSMTP(user=BOT, password=PASSWORD).start()
    bot = Bot.at(write_config(tmp_path, imap, smtp))
    worker = Worker(bot.settings, engine=bot.engine)
    try:
        first = submission(n=1)
        imap.append(first)
        smtp.stop()                                   # SMTP goes away
        assert worker.poll()                          # the mail is read; the receipt waits
        assert worker.poll()
        imap.stop()                                   # now IMAP goes away too
        assert not worker.poll() and not worker.poll() and not worker.poll()
        assert sum("imap.down" in w for w in warnings) == 1      # one line per outage
        assert sum("smtp.down" in w for w in warnings) == 1

        smtp.start()                                  # SMTP is back on the same port
        assert not worker.poll()                      # IMAP still down, but the outbox drains
        assert len(smtp.wait_for(1)) == 1
        imap.start()                                  # IMAP back (rebuilt: new UIDVALIDITY)
        imap.append(submission(sender="yinhang_gh@example.cn", n=2))
        imap.append(first)                            # the old mail is still there too
        assert worker.poll()
        assert len(smtp.wait_for(2)) == 2
        worker.poll()
        assert len(smtp.messages) == 2               # nothing sent twice
        assert any("imap.recovered" in w for w in warnings)
        assert any("smtp.recovered" in w for w in warnings)
    finally:
        imap.stop()
        smtp.stop()


def test_a_poll_asked_for_while_one_runs_is_not_run_twice_at_once(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    bot = Bot.at(write_config(tmp_path, imap, smtp))
    worker = Worker(bot.settings, engine=bot.engine)
    with worker._lock:                 # a poll is running
        assert worker.poll() is False  # the second one does not start beside it
        assert worker._again.is_set()  # it is remembered, so new mail is not left waiting
    assert worker.poll() is True


def test_a_reminder_recorded_before_a_crash_is_sent_once_after_restart(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    now = datetime(2018, 6, 12, 9, 30, tzinfo=TZ)
    config = write_config(tmp_path, imap, smtp)
    bot = Bot.at(config)
    bot.poll(now)
    queue_reminders(bot.settings, engine=bot.engine, now=now)   # then the process died
    assert len(smtp.messages) == 0

    restarted = Bot.at(config)
    worker = Worker(restarted.settings, engine=restarted.engine, clock=lambda: now)
    worker.daily()
    worker.daily()
    assert len(smtp.wait_for(3)) == 3      # 定海路, 殷行, 控江路 (区教育工会 has no address)
    assert sorted(r[0] for _, r, _ in smtp.messages) == [
        "dhjd_gh@example.cn", "kjl_gh@example.cn", "yinhang_gh@example.cn"]


def test_the_admin_gets_one_digest_a_day(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    config = write_config(tmp_path, imap, smtp)
    import yaml
    data = yaml.safe_load(config.read_text("utf-8"))
    data["campaign"]["admin_emails"] = ["admin@yp.example"]
    data["campaign"]["reminders"] = []
    config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    bot = Bot.at(config)
    imap.append(submission())
    bot.poll(datetime(2018, 6, 10, 15, 0, tzinfo=TZ))
    clock = [datetime(2018, 6, 11, 8, 0, tzinfo=TZ)]
    worker = Worker(bot.settings, engine=bot.engine, clock=lambda: clock[0])
    worker.daily()                                   # before remind_time: not yet
    clock[0] += timedelta(hours=1, minutes=1)
    worker.daily()
    worker.daily()
    digests = [parse_sent(raw) for _, rcpts, raw in smtp.messages if rcpts == ["admin@yp.example"]]
    assert len(digests) == 1
    assert digests[0]["X-Formbot-Kind"] == "digest"
    assert digests[0]["Auto-Submitted"] == "auto-generated"
    text = body_of(digests[0])
    assert "定海路街道总工会：主题活动申报表3行" in text
    assert "殷行街道总工会：缺主题活动申报表、志愿者服务队登记表" in text
    assert "已交齐：1/4" in text
    with Session(bot.engine) as session:
        assert len(session.exec(select(Outgoing).where(Outgoing.kind == "digest")).all()) == 1


def test_run_stops_cleanly_on_sigterm(tmp_path: Path,
                                      servers: tuple[EmbeddedIMAP, EmbeddedSMTP]) -> None:
    imap, smtp = servers
    config = write_config(tmp_path, imap, smtp)
    imap.append(submission())
    env = {**os.environ, "FORMBOT_IMAP_PASSWORD": PASSWORD, "FORMBOT_SMTP_PASSWORD": PASSWORD}
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("formbot")), "run", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert "formbot 已启动" in process.stdout.readline()  # type: ignore[union-attr]
        smtp.wait_for(1, timeout=30)   # its start-up poll answered the waiting mail
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "formbot 已停止" in out and "Traceback" not in err
