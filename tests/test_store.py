"""The database: WAL, private file, and a schema that upgrades instead of being recreated."""

from __future__ import annotations

import stat
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlmodel import Session, select

from store.db import HEAD, MIGRATIONS, current_revision, open_database
from store.models import Unit


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
