"""Opening the database: engine settings, WAL, and schema upgrades without data loss.

A new database is created from the models and stamped with the newest
migration; an existing one is brought up to date by Alembic, so a later
release that adds a column migrates the data the admin already has.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlmodel import SQLModel, create_engine

from errors import DatabaseError

from . import audit, corrections, models, placements  # noqa: F401  (registers the tables on SQLModel.metadata)

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0008_placements"  # the newest revision in migrations/versions; checked by a test




def shown_url(url: str) -> str:
    """The URL as it may be printed: a password in it never reaches a log or a terminal."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "（无法识别的地址）"


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL, a busy timeout and foreign keys.

    PostgreSQL (`postgresql+psycopg://user@host/db`) needs none of that: its own locking
    serves several workers, and the schema lock below is an advisory lock there."""
    try:
        return _make_engine(url)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise DatabaseError(
            f"数据库地址 {shown_url(url)} 无法使用：{type(exc).__name__}"
            "（SQLite 写作 sqlite:///data/formbot.db；PostgreSQL 写作 "
            "postgresql+psycopg://用户@主机/库名，并安装 formbot[postgres]）") from None
    except OSError as exc:
        raise DatabaseError(f"无法创建数据库文件 {shown_url(url)}：{exc.strerror}"
                            "（检查 database 配置项里的文件夹是否存在、是否可写）") from None


def _json_text(value: object) -> str:
    """JSON as a person reads it: 活动名称, not \\u6d3b\\u52a8 (an admin's own SQL and
    `LIKE '%劳模%'` see the text itself)."""
    return json.dumps(value, ensure_ascii=False)


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            # Created 0600 before SQLite opens it: the database holds units' contacts.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, json_serializer=_json_text)
    else:
        # A server database can restart under a long-running worker: test each pooled
        # connection before use instead of failing the next poll on a dead one.
        engine = create_engine(url, pool_pre_ping=True, json_serializer=_json_text)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: object, _record: object) -> None:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


def _alembic_config(engine: Engine) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[None]:
    """Only one process creates or upgrades the schema; the others wait, then find it done."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        with open(f"{database}.schema-lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        return
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(727270)"))
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(727270)"))
        return
    yield


def prepare(engine: Engine) -> None:
    """Create or upgrade the schema. Cheap when it is already current (no Alembic import)."""
    if current_revision(engine) == HEAD:
        return
    with _schema_lock(engine):
        _prepare_locked(engine)


def _prepare_locked(engine: Engine) -> None:
    revision = current_revision(engine)
    if revision == HEAD:
        return  # another process did it while we waited
    from alembic import command

    config = _alembic_config(engine)
    if revision is None:
        with engine.connect() as conn:
            has_tables = inspect(conn).has_table("message")
        if not has_tables:
            SQLModel.metadata.create_all(engine)
            command.stamp(config, "head")  # type: ignore[arg-type]
            return
    command.upgrade(config, "head")  # type: ignore[arg-type]


def open_database(url: str) -> Engine:
    engine = make_engine(url)
    try:
        prepare(engine)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseError(f"无法打开数据库 {shown_url(url)}：{reason}"
                            "（检查地址、服务器是否在运行、用户名和密码）") from None
    return engine
