"""IMAP IDLE over a link that splits the server's lines: nothing aborts, mail is noticed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from loguru import logger

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.jobs.worker import Worker
from ingest.errors import MailboxError
from ingest.imap import ImapTarget, Mailbox
from tests.conftest import PASSWORD
from tests.support.helpers import ACTIVITY, BOT, Bot, parse_sent, write_config
from tests.support.relay import Relay

TZ = ZoneInfo("Asia/Shanghai")


def _mail(n: int) -> bytes:
    return build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject=f"申报{n}", body="",
                      attachments=[("a.docx", activity_docx(ACTIVITY))],
                      message_id=f"<idle{n}@example.cn>")


def test_idle_wait_reads_lines_that_arrive_a_byte_at_a_time(
    servers: tuple[EmbeddedIMAP, EmbeddedSMTP],
) -> None:
    imap, _ = servers
    with Relay(imap.host, imap.port, trickle=True) as link, \
            Mailbox(ImapTarget(link.host, link.port, "plain", BOT, PASSWORD, timeout=10)) as box:
        box.idle_start()
        assert box.idle_wait(timeout=0) is False      # nothing has arrived
        imap.append(_mail(1))
        # pymap may send other news first (a flag change); each wait returns at its first
        # whole line, so a few waits at most reach the EXISTS.
        assert any(box.idle_wait(timeout=10) for _ in range(5))
        box.idle_done()
        assert len(box.new_uids(0)) == 1              # the connection is still in step


def test_the_worker_idles_through_a_link_that_splits_lines(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    outages: list[str] = []
    sink = logger.add(lambda m: outages.append(m.record["message"]), level="WARNING",
                      diagnose=False, backtrace=False)
    with Relay(imap.host, imap.port, trickle=True) as link:
        bot = Bot.at(write_config(tmp_path, link, smtp, schedule={"poll_minutes": 600,
                                                                  "remind_time": "09:00"}))
        worker = Worker(bot.settings, engine=bot.engine,
                        clock=lambda: datetime(2018, 6, 1, 10, 0, tzinfo=TZ))
        worker.start(idle=True)
        try:
            assert worker.wait_for_polls(1)
            for n in (1, 2):      # the second proves the IDLE session outlived the first
                imap.append(_mail(n))
                (_, rcpts, raw), = smtp.wait_for(n, timeout=60)[n - 1:]
                assert rcpts == ["dhjd_gh@example.cn"]
                assert parse_sent(raw)["X-Formbot-Kind"] == "receipt"
        finally:
            worker.stop()
            logger.remove(sink)
    assert not [line for line in outages if "imap-idle" in line]


def test_idle_wait_reports_a_server_that_hung_up() -> None:
    imap = EmbeddedIMAP(user=BOT, password=PASSWORD).start()
    box = Mailbox(ImapTarget(imap.host, imap.port, "plain", BOT, PASSWORD, timeout=10))
    box.open()
    try:
        box.idle_start()
        imap.stop()            # pymap says BYE and closes: the wait must not spin on EOF
        with pytest.raises(MailboxError, match="连接被服务器关闭"):
            for _ in range(5):
                box.idle_wait(timeout=10)
    finally:
        box.close()
