"""Receipts within seconds with IMAP IDLE (bench/latency.py has the figures): mail that came
while IDLE was not listening is not left to the timed poll, and on Dovecot each receipt
leaves well inside the target."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.jobs.worker import Worker
from tests.support.helpers import ACTIVITY, BOT, Bot, write_config
from tests.support.servers import MailboxServer

BEFORE_ANY_SLOT = datetime(2018, 6, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
TIMED_POLL_FAR_AWAY = {"poll_minutes": 600, "remind_time": "09:00"}


def submission(n: int) -> bytes:
    return build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject=f"申报{n}", body="",
                      attachments=[("a.docx", activity_docx(ACTIVITY))],
                      message_id=f"<lat{n}@example.cn>")


def worker_for(tmp_path: Path, imap: MailboxServer, smtp: EmbeddedSMTP) -> Worker:
    bot = Bot.at(write_config(tmp_path, imap, smtp, schedule=TIMED_POLL_FAR_AWAY))
    return Worker(bot.settings, engine=bot.engine, clock=lambda: BEFORE_ANY_SLOT)


def test_mail_that_came_before_idle_listened_is_polled_when_it_starts(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    worker = worker_for(tmp_path, imap, smtp)
    worker.start(idle=False)                     # the scheduler alone: IDLE not yet listening
    try:
        assert worker.wait_for_polls(1)
        imap.append(submission(1))               # no EXISTS will ever announce this one
        watcher = threading.Thread(target=worker._watch, args=(worker.settings.mailbox,),
                                   daemon=True)
        worker._idle_threads.append(watcher)     # joined by stop()
        watcher.start()                          # as after a reconnect
        assert len(smtp.wait_for(1, timeout=10)) == 1   # the timed poll is 10 hours away
    finally:
        worker.stop()


@pytest.mark.dovecot
def test_receipts_leave_within_seconds_of_arrival_on_dovecot(
    tmp_path: Path, dovecot_server: MailboxServer, smtp_auth_server: EmbeddedSMTP
) -> None:
    worker = worker_for(tmp_path, dovecot_server, smtp_auth_server)
    worker.start(idle=True)
    latencies = []
    try:
        assert worker.wait_for_polls(1)
        for n in range(5):
            start = time.monotonic()
            dovecot_server.append(submission(n))
            smtp_auth_server.wait_for(n + 1, timeout=30)
            latencies.append(time.monotonic() - start)
    finally:
        worker.stop()
    assert max(latencies) <= 10, latencies        # the target: p50 ≤ 5 s, p95 ≤ 10 s
