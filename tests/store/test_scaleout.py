"""Scale-out, on SQLite and (with FORMBOT_TEST_DATABASE) PostgreSQL: several mailboxes in one
config, and workers that race for the same mail without a lease to keep them apart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import Session, func, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.smtp_server import EmbeddedSMTP
from store.models import FolderState, Lease, MailboxCopy, Message, Outgoing, RowRecord
from tests.conftest import PASSWORD
from tests.support.formrows import ActivityRow
from tests.support.helpers import BOT, Bot, numbered_mail, write_config

SECOND = "second-box@126.com"
def count(bot: Bot, table: type) -> int:
    with Session(bot.engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


def test_several_mailboxes_are_polled_into_one_store(tmp_path: Path) -> None:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as first, \
            EmbeddedIMAP(user=SECOND, password=PASSWORD) as second, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        other = {"host": second.host, "port": second.port, "security": "plain",
                 "username": SECOND, "password_env": "FORMBOT_IMAP_PASSWORD"}
        bot = Bot.at(write_config(tmp_path, first, smtp, mailboxes=[other]))
        # One mail sent to both addresses: the same bytes lie in both mailboxes.
        both = numbered_mail(1, "scale", to=f"{BOT}, {SECOND}")
        top_first = max(first.append(raw) for raw in (both, numbered_mail(2, "scale")))
        second.append(numbered_mail(3, "scale", to=SECOND))
        top_second = second.append(both)  # sent to both: one record
        report = bot.poll()
        assert (report.new, report.duplicates, report.processed) == (3, 1, 3)
        assert count(bot, Message) == 3 and count(bot, ActivityRow) == 3
        assert len(smtp.wait_for(3)) == 3
        with Session(bot.engine) as session:
            states = {s.account: s.last_uid for s in session.exec(select(FolderState))}
            copies = list(session.exec(select(MailboxCopy)))
        assert states == {f"{BOT}@{first.host}": top_first, f"{SECOND}@{second.host}": top_second}
        assert len(copies) == 4 and all(c.handled for c in copies)
        second.append(numbered_mail(4, "scale", to=SECOND))
        again = bot.poll()
        assert (again.new, again.fetched) == (1, 1)       # each mailbox from where it stopped
        assert len(smtp.wait_for(4)) == 4


RACE = """
import sys
from datetime import datetime
from zoneinfo import ZoneInfo
from formbot.poll import pipeline
from formbot.settings.loading import load_settings
from formbot.poll.converters import LazyConverter
from formbot.poll.reading import Readers
from formbot.poll.storing import StoreContext
from store.db import open_database

settings = load_settings(sys.argv[1])
engine = open_database(settings.database)
now = datetime(2018, 6, 10, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
report = pipeline.PollReport()
with LazyConverter() as converter:
    readers = Readers(converter)
    context = StoreContext(settings)
    # No lease on purpose: what must hold is the message key and the claim before storing.
    pipeline.ingest_new(settings, engine=engine, now=now, report=report, readers=readers,
                        context=context)
    pipeline.retry_failed(settings, engine=engine, now=now, report=report, readers=readers,
                          context=context)
    readers.close()
print(report.processed, report.duplicates, report.failed)
"""


def test_workers_racing_without_a_lease_store_each_mail_once(tmp_path: Path) -> None:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        config = write_config(tmp_path, imap, smtp, mailbox__batch_size=5)
        Bot.at(config)                                  # the schema, before the race
        for n in range(24):
            imap.append(numbered_mail(n, "scale"))
        env = {**os.environ, "FORMBOT_IMAP_PASSWORD": PASSWORD,
               "FORMBOT_SMTP_PASSWORD": PASSWORD}
        racers = [subprocess.Popen([sys.executable, "-c", RACE, str(config)], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                  for _ in range(3)]
        processed = 0
        for racer in racers:
            out, err = racer.communicate(timeout=180)
            assert racer.returncode == 0, err.decode()[-3000:]
            done, _duplicates, failed = map(int, out.split())
            assert failed == 0
            processed += done
        bot = Bot.at(config)
        assert processed == 24                          # each mail stored by one racer
        assert count(bot, Message) == 24 and count(bot, ActivityRow) == 24
        assert count(bot, Outgoing) == 24
        bot.poll()
        assert len(smtp.wait_for(24)) == 24
        assert len({raw for _, _, raw in smtp.messages}) == 24


def formbot(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FORMBOT_IMAP_PASSWORD": PASSWORD, "FORMBOT_SMTP_PASSWORD": PASSWORD}
    command = [str(Path(sys.executable).with_name("formbot")), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_moving_to_a_new_database_keeps_everything_and_goes_on(tmp_path: Path) -> None:
    """SQLite → the test database (PostgreSQL in the PostgreSQL tier) with `formbot db copy`,
    the README's move."""
    from store.db import open_database
    from tests.support.helpers import database_url

    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        config = write_config(tmp_path, imap, smtp,
                              database=f"sqlite:///{tmp_path / 'data' / 'old.db'}")
        old = Bot.at(config)
        sent = [numbered_mail(n, "scale") for n in range(3)]
        for raw in sent:
            imap.append(raw)
        old.poll()
        target = database_url(tmp_path / "moved")
        result = formbot("db", "copy", "--config", str(config), "--to", target)
        assert result.returncode == 0, result.stderr
        assert "message：3 行" in result.stdout and "form_row：3 行" in result.stdout
        assert "outgoing：3 行" in result.stdout and "请把 config.yaml 的 database" in result.stdout
        again = formbot("db", "copy", "--config", str(config), "--to", target)
        assert again.returncode == 1 and "只能复制到一个新的空数据库" in again.stderr
        moved = Bot(old.settings.model_copy(update={"database": target}), open_database(target))
        with Session(old.engine) as before, Session(moved.engine) as after:
            for table in (Message, RowRecord, Outgoing, FolderState, MailboxCopy):
                assert [r.model_dump() for r in before.exec(select(table))] == \
                       [r.model_dump() for r in after.exec(select(table))], table
            assert after.exec(select(func.count()).select_from(Lease)).one() == 0
        imap.append(numbered_mail(3, "scale"))
        imap.append(sent[1])                                       # seen before the move: a duplicate
        report = moved.poll()
        assert (report.new, report.duplicates, report.processed) == (1, 1, 1)
        assert count(moved, Message) == 4 and count(moved, Outgoing) == 4
        assert len(smtp.wait_for(4)) == 4


def test_copying_is_refused_while_a_worker_is_polling(tmp_path: Path) -> None:
    from formbot.poll.pipeline import POLL_LEASE, poll_lease
    from store.leases import held
    from tests.support.helpers import database_url

    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        config = write_config(tmp_path, imap, smtp)
        bot = Bot.at(config)
        target = database_url(tmp_path / "moved")
        with held(bot.engine, poll_lease(bot.settings.mailbox), ttl=POLL_LEASE) as mine:
            assert mine
            result = formbot("db", "copy", "--config", str(config), "--to", target)
        assert result.returncode == 1 and "请先停止 formbot run" in result.stderr
        wrong = formbot("db", "copy", "--config", str(config), "--to", "mysql://nowhere/x")
        assert wrong.returncode == 1 and "数据库地址" in wrong.stderr
