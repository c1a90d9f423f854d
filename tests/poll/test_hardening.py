"""The ways peers' mail bots lost, skipped or duplicated mail, each pinned by a test."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import FormFill, activity_docx, build_mail
from formbot.demo.smtp_server import EmbeddedSMTP
from store.leases import acquire, release
from store.models import FolderState, Message, Outgoing
from tests.conftest import PASSWORD
from tests.support.formrows import ActivityRow
from tests.support.helpers import BOT, NOW, Bot, write_config

UNITS = ["dhjd_gh@example.cn", "yinhang_gh@example.cn", "kjl_gh@example.cn"]


def form_mail(n: int, sender: str = "dhjd_gh@example.cn") -> bytes:
    fill = FormFill("定海路街道总工会", [[f"活动{n}", "讲座", "6月", "x", str(n)]])
    return build_mail(from_addr=sender, to_addr=BOT, subject=f"申报{n}", body="",
                      attachments=[("a.docx", activity_docx(fill))],
                      message_id=f"<h{n}@example.cn>")


def count(bot: Bot, table: type) -> int:
    with Session(bot.engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()



@pytest.fixture
def bot(tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]) -> Bot:
    return Bot.at(write_config(tmp_path, *servers))


def test_mail_without_forms_is_fetched_once_not_every_poll(  # paperless-ngx #13175
    bot: Bot, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, _ = servers
    imap.append(build_mail(from_addr="news@example.org", to_addr=BOT, subject="周刊", body="x",
                           attachments=[], extra_headers={"List-Id": "<news.example.org>"}))
    fetched = [bot.poll(NOW + timedelta(minutes=m)).fetched for m in range(3)]
    assert fetched == [1, 0, 0]


def test_uids_restarting_under_the_same_uidvalidity_do_not_hide_new_mail(  # paperless #10080
    bot: Bot, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    first = form_mail(1)      # built once: the same mail twice (a rebuild has a later Date)
    imap.append(first)
    bot.poll()
    new_validity = imap.reset_folder()
    with Session(bot.engine) as session:   # the server kept its UIDVALIDITY, as broken ones do
        (state,) = session.exec(select(FolderState)).all()
        state.uidvalidity, state.last_uid = new_validity, 5000
        session.add(state)
        session.commit()
    imap.append(first)
    imap.append(form_mail(2, sender="yinhang_gh@example.cn"))
    report = bot.poll(NOW + timedelta(minutes=5))
    assert (report.new, report.duplicates) == (1, 1)
    assert len(smtp.wait_for(2)) == 2


def test_a_second_poll_while_one_holds_the_lease_does_not_import(  # paperless #4471
    bot: Bot, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, _ = servers
    imap.append(form_mail(1))
    lease = f"poll:{BOT}@{imap.host}/INBOX"
    assert acquire(bot.engine, lease, "other-worker", now=datetime.now(UTC),
                   ttl=timedelta(minutes=5))
    busy = bot.poll()
    assert busy.busy and busy.fetched == 0 and count(bot, Message) == 0
    release(bot.engine, lease, "other-worker")
    assert bot.poll().new == 1


def test_two_workers_on_one_database_never_import_a_mail_twice(  # paperless #13336, docspell #1755
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    config = write_config(tmp_path, imap, smtp)
    for n in range(30):
        imap.append(form_mail(n, sender=UNITS[n % 3]))
    env = {**os.environ, "FORMBOT_IMAP_PASSWORD": PASSWORD, "FORMBOT_SMTP_PASSWORD": PASSWORD}
    command = [str(Path(sys.executable).with_name("formbot")), "poll", "--config", str(config),
               "--now", "2018-06-10T10:00:00+08:00"]
    workers = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for _ in range(3)]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()
    again = subprocess.run(command, env=env, capture_output=True, timeout=120, check=False)
    assert again.returncode == 0
    bot = Bot.at(config)
    assert count(bot, Message) == 30 and count(bot, ActivityRow) == 30
    assert count(bot, Outgoing) == 30
    assert len(smtp.wait_for(30)) == 30
    assert len({raw for _, _, raw in smtp.messages}) == 30


def test_mail_another_client_already_read_is_still_processed(  # Odoo fetchmail and \\Seen
    bot: Bot, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    imap.append(form_mail(1), flags=("\\Seen",))
    assert bot.poll().new == 1
    assert len(smtp.wait_for(1)) == 1


def test_receipts_per_sender_are_capped_per_day(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    bot = Bot.at(write_config(tmp_path, imap, smtp, limits={"receipts_per_sender_per_day": 2}))
    for n in range(4):
        imap.append(form_mail(n))
    bot.poll()
    assert count(bot, ActivityRow) == 4             # everything is still read and kept
    assert len(smtp.wait_for(2)) == 2
    with Session(bot.engine) as session:
        outcomes = sorted(m.outcome for m in session.exec(select(Message)))
    assert outcomes == ["no-reply:rate-limited"] * 2 + ["receipt"] * 2
    imap.append(form_mail(9))
    bot.poll(NOW + timedelta(days=1, minutes=1))    # the next day: answered again
    assert len(smtp.wait_for(3)) == 3


def test_passwords_never_reach_logs_database_or_raw_store(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    config = write_config(tmp_path, imap, smtp)
    imap.append(form_mail(1))
    env = {**os.environ, "FORMBOT_IMAP_PASSWORD": PASSWORD, "FORMBOT_SMTP_PASSWORD": PASSWORD}
    formbot = str(Path(sys.executable).with_name("formbot"))
    for args in (["poll", "-v"], ["doctor"], ["status"]):
        subprocess.run([formbot, *args, "--config", str(config)], env=env, capture_output=True,
                       timeout=120, check=False)
    wrong = subprocess.run([formbot, "poll", "--config", str(config)], capture_output=True,
                           env={**env, "FORMBOT_IMAP_PASSWORD": "s3cret-wrong-code"},
                           timeout=120, check=False)
    assert b"s3cret-wrong-code" not in wrong.stderr + wrong.stdout
    files = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert any(p.suffix == ".log" for p in files) and any(p.suffix == ".eml" for p in files)
    for path in files:
        content = path.read_bytes()
        assert PASSWORD.encode() not in content, path
        assert b"s3cret-wrong-code" not in content, path
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"


@pytest.mark.sqlite  # SQLite's online backup; PostgreSQL's backup: test_postgres.py
def test_backup_is_consistent_while_the_database_is_in_use(
    bot: Bot, servers: tuple[EmbeddedIMAP, EmbeddedSMTP], tmp_path: Path
) -> None:
    imap, _ = servers
    for n in range(5):
        imap.append(form_mail(n))
    bot.poll()
    held_open = sqlite3.connect(str(tmp_path / "data" / "formbot.db"))
    held_open.execute("BEGIN")                       # a reader in the middle of a transaction
    out = tmp_path / "backups" / "formbot-备份.db"
    env = {**os.environ, "FORMBOT_IMAP_PASSWORD": PASSWORD, "FORMBOT_SMTP_PASSWORD": PASSWORD}
    result = subprocess.run([str(Path(sys.executable).with_name("formbot")), "backup", str(out),
                             "--config", str(tmp_path / "config.yaml")], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    held_open.rollback()
    held_open.close()
    assert result.returncode == 0, result.stderr
    copy = sqlite3.connect(out)
    assert copy.execute("SELECT count(*) FROM message").fetchone()[0] == 5
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert out.stat().st_mode & 0o077 == 0
