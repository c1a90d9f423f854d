"""The database: WAL, private file, and a schema that upgrades instead of being recreated."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlmodel import Session, select

from store import repo
from store.db import HEAD, MIGRATIONS, current_revision, open_database
from store.models import FolderState, MailboxCopy, Message, Unit
from tests.support.helpers import database_url

# RFC 3501: UIDVALIDITY and UID are unsigned 32-bit; servers use the top half too.
TOP_UID = 2**32 - 1


def test_new_database_is_private_in_wal_mode_and_stamped_at_head(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'db' / 'formbot.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert current_revision(engine) == HEAD
    assert stat.S_IMODE((tmp_path / "db" / "formbot.db").stat().st_mode) == 0o600


def test_head_constant_is_the_newest_migration() -> None:
    script = ScriptDirectory(str(MIGRATIONS))
    assert script.get_current_head() == HEAD


def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'formbot.db'}"
    with Session(open_database(url)) as session:
        session.add(Unit(name="定海路街道总工会", aliases=["定海路街道工会"], emails=[]))
        session.commit()
    with Session(open_database(url)) as session:
        (unit,) = session.exec(select(Unit)).all()
        assert unit.aliases == ["定海路街道工会"]


def test_an_unstamped_database_from_an_older_release_is_upgraded_not_recreated(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'formbot.db'}"
    engine = open_database(url)
    with Session(engine) as session:
        session.add(Unit(name="殷行街道总工会", aliases=[], emails=[]))
        session.commit()
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    engine = open_database(url)
    assert current_revision(engine) == HEAD
    with Session(engine) as session:
        assert [u.name for u in session.exec(select(Unit)).all()] == ["殷行街道总工会"]


def _store_top_uids(engine: object) -> tuple[int, int]:
    with Session(engine) as session:  # type: ignore[arg-type]
        repo.save_folder_state(session=session, account="a", folder="INBOX",
                               uidvalidity=TOP_UID, last_uid=TOP_UID)
        message = Message(key="<m@x>", sha256="0" * 64, raw_path="raw/m.eml", size=1,
                          received_at=datetime(2018, 6, 1, tzinfo=UTC))
        session.add(message)
        session.flush()
        session.add(MailboxCopy(message_ref=message.id, account="a", folder="INBOX",
                                uidvalidity=TOP_UID, uid=TOP_UID))
        session.commit()
        state = session.exec(select(FolderState)).one()
        copy = session.exec(select(MailboxCopy)).one()
        return state.uidvalidity + state.last_uid, copy.uidvalidity + copy.uid


def test_uids_and_uidvalidity_take_the_whole_unsigned_32_bit_range(tmp_path: Path) -> None:
    # pymap's UIDVALIDITY passes 2**31 about half of the time; PostgreSQL's INTEGER refused it.
    engine = open_database(database_url(tmp_path))
    assert _store_top_uids(engine) == (2 * TOP_UID, 2 * TOP_UID)


def test_a_database_from_revision_0001_is_upgraded_to_64_bit_uids(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    engine = open_database(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:  # the columns as release 0001 made them
            for table, column in [("folderstate", "uidvalidity"), ("folderstate", "last_uid"),
                                  ("mailboxcopy", "uidvalidity"), ("mailboxcopy", "uid")]:
                conn.execute(text(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE INTEGER"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    engine.dispose()
    engine = open_database(url)
    assert current_revision(engine) == HEAD
    assert _store_top_uids(engine) == (2 * TOP_UID, 2 * TOP_UID)


def test_a_database_from_revision_0002_gains_the_known_senders_table(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    engine = open_database(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE knownsender"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0002'"))
    engine.dispose()
    engine = open_database(url)
    assert current_revision(engine) == HEAD
    with Session(engine) as session:
        session.add(Unit(name="殷行街道总工会", aliases=[], emails=[]))
        session.flush()
        repo.remember_sender(session=session, address="Clerk@QQ.example", unit_id=1,
                             when=datetime(2018, 6, 1, tzinfo=UTC), who="admin",
                             message_ref=None)
        session.commit()
        assert [k.address for k in repo.known_senders(session=session)] == ["clerk@qq.example"]
