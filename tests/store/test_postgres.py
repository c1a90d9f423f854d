"""PostgreSQL as the store: column types, schema creation raced by several processes, leases,
backup. Marked `postgres`: the CI tier (.ci/install-postgres.sh, `make postgres-test`) sets
FORMBOT_TEST_DATABASE;
the rest of the suite runs on PostgreSQL too then, each test in a database of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, text, update
from sqlmodel import Session, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail
from formbot.demo.smtp_server import EmbeddedSMTP
from store import repo
from store.backup import backup_database
from store.db import HEAD, current_revision, make_engine, open_database
from store.leases import acquire
from store.models import Message, Outgoing, Submission, Unit
from tests.conftest import PASSWORD
from tests.support.helpers import ACTIVITY, BOT, Bot, database_url, on_postgres, write_config

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _needs_postgres() -> None:
    # Selected on purpose (`-m postgres` or the PostgreSQL tier): fail, never skip, without it.
    if not on_postgres():
        pytest.fail("FORMBOT_TEST_DATABASE is not set: run .ci/install-postgres.sh and export it",
                    pytrace=False)
TZ = ZoneInfo("Asia/Shanghai")


def test_the_suite_really_runs_on_postgres(tmp_path: Path) -> None:
    engine = open_database(database_url(tmp_path))
    assert engine.dialect.name == "postgresql"
    assert current_revision(engine) == HEAD
    columns = {c["name"]: c["type"] for c in inspect(engine).get_columns("outgoing")}
    assert type(columns["raw"]).__name__ == "BYTEA"


def test_column_types_round_trip(tmp_path: Path) -> None:
    engine = open_database(database_url(tmp_path))
    when = datetime(2018, 6, 10, 10, 21, 5, tzinfo=TZ)
    raw = bytes(range(256)) * 4                      # NUL bytes and all: bytea, not text
    with Session(engine) as session:
        unit = Unit(name="定海路街道总工会", aliases=["定海路街道工会", "定海"],
                    emails=["dhjd_gh@example.cn"], active=False)
        session.add(unit)
        session.flush()
        message = Message(key="<a@b>", sha256="0" * 64, raw_path="/x", size=1,
                          received_at=when, sent_at=None, sender_matches_unit=True)
        session.add(message)
        session.add(Outgoing(kind="receipt", dedup_key="receipt:<a@b>", unit_id=unit.id,
                             recipients=["dhjd_gh@example.cn"], raw=raw, created_at=when))
        session.commit()
    with Session(engine) as session:
        session.exec(update(Outgoing).values(attempts=Outgoing.attempts + 1))  # type: ignore[call-overload]
        session.commit()
        unit = session.exec(select(Unit)).one()
        message = session.exec(select(Message)).one()
        out = session.exec(select(Outgoing)).one()
    assert unit.aliases == ["定海路街道工会", "定海"] and unit.active is False
    assert message.received_at == when and message.received_at.tzinfo is not None
    assert message.sent_at is None and message.sender_matches_unit is True
    assert out.raw == raw and out.attempts == 1 and out.recipients == ["dhjd_gh@example.cn"]


OPEN = "import sys; from store.db import open_database; open_database(sys.argv[1])"


def test_processes_racing_to_create_the_schema_make_it_once(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    racers = [subprocess.Popen([sys.executable, "-c", OPEN, url], stderr=subprocess.PIPE)
              for _ in range(4)]
    for racer in racers:
        _, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err.decode()[-2000:]
    assert current_revision(make_engine(url)) == HEAD


def test_a_lease_has_one_holder_however_many_ask_at_once(tmp_path: Path) -> None:
    engine = open_database(database_url(tmp_path))
    start, won = threading.Barrier(8), []

    def ask(k: int) -> None:
        start.wait()
        if acquire(engine, "poll:x", f"other-host:{k}:w", now=datetime.now(UTC),
                   ttl=timedelta(minutes=5)):
            won.append(k)

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1


def test_backup_is_a_pg_dump_archive_of_every_table(tmp_path: Path) -> None:
    assert shutil.which("pg_restore"), "PostgreSQL client tools missing: .ci/install-postgres.sh"
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        imap.append(build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject="申报",
                               body="", attachments=[("a.docx", activity_docx(ACTIVITY))]))
        bot.poll()
    out = tmp_path / "backups" / "formbot-备份.dump"
    size = backup_database(bot.settings.database, out)
    assert size == out.stat().st_size > 0 and out.stat().st_mode & 0o077 == 0
    listing = subprocess.run(["pg_restore", "--list", str(out)], capture_output=True, text=True,
                             check=True).stdout
    for table in ("message", "submission", "form_row", "outgoing", "alembic_version"):
        assert f"TABLE DATA public {table} " in listing, table
    password = os.environ.get("PGPASSWORD")
    assert password is None or password not in " ".join(map(str, [out, listing]))


def test_two_workers_storing_for_one_unit_leave_one_current_version(tmp_path: Path) -> None:
    """Two mailboxes' polls (or the console and the poller) storing forms of the same
    unit at once: the later mail's version is current, and only it."""
    engine = open_database(database_url(tmp_path))
    when = datetime(2018, 6, 10, 10, 0, tzinfo=TZ)

    def store(session: Session, message_ref: int) -> None:
        repo.add_submission(session=session, rows=[], submission=Submission(
            message_ref=message_ref, unit_id=unit_id, form="activity", received_at=when,
            row_count=1))
        repo.refresh_current(session=session, unit_id=unit_id, forms={"activity"})

    with Session(engine) as session:
        unit = Unit(name="定海路街道总工会", aliases=[], emails=[])
        messages = [Message(key=f"<m{i}@x>", sha256=f"{i:064x}", raw_path="/x", size=1,
                            received_at=when) for i in range(3)]
        session.add_all([unit, *messages])
        session.flush()
        unit_id, refs = unit.id, [m.id for m in messages]
        store(session, refs[0])                      # the version both workers replace
        session.commit()

    first = Session(engine)
    store(first, refs[1])                            # stored, not yet committed
    second = threading.Thread(target=lambda: _store_and_commit(engine, store, refs[2]))
    second.start()
    with engine.connect() as watch:                  # until the second waits for a lock
        waiting = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND datname = current_database()")
        for _ in range(10_000):
            if watch.execute(waiting).scalar():
                break
            watch.rollback()                         # a fresh view of the activity table
        else:
            pytest.fail("the second worker never waited for the first")
    first.commit()
    first.close()
    second.join(30)
    with Session(engine) as session:
        current = list(session.exec(select(Submission.message_ref).where(
            Submission.current == True)))  # noqa: E712
    assert current == [refs[2]]


def _store_and_commit(engine: object, store: object, message_ref: int) -> None:
    with Session(engine) as session:  # type: ignore[arg-type]
        store(session, message_ref)  # type: ignore[operator]
        session.commit()
