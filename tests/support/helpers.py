"""Shared test helpers: a config for the embedded servers, a bot to drive, mail to send."""

from __future__ import annotations

import email
import email.policy
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import Engine

from formbot.demo.samples import FormFill, activity_docx, build_mail
from formbot.poll import pipeline
from formbot.settings.config import Settings
from formbot.settings.loading import load_settings
from store.db import open_database

# Set to a PostgreSQL URL (`postgresql+psycopg://formbot:formbot@127.0.0.1:5432/formbot`, as
# .ci/install-postgres.sh prints) to run the whole suite on PostgreSQL: every config written by
# write_config then gets its own fresh database, created through that URL and dropped after
# the test (tests/conftest.py).
TEST_DATABASE_ENV = "FORMBOT_TEST_DATABASE"
_created: dict[Path, str] = {}   # tmp dir → its test database URL, dropped after each test

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2018, 6, 10, 10, 0, tzinfo=TZ)
BOT = "qzxjb2008@126.com"

UNITS = [
    {"name": "定海路街道总工会", "aliases": ["定海路街道工会"], "emails": ["dhjd_gh@example.cn"]},
    {"name": "殷行街道总工会", "aliases": ["殷行街道工会"], "emails": ["yinhang_gh@example.cn"]},
    {"name": "控江路街道总工会", "aliases": [], "emails": ["kjl_gh@example.cn"]},
    {"name": "区教育工会", "aliases": ["杨浦区教育工会"], "emails": []},
]

ACTIVITY = FormFill(
    unit_text="定海路街道总工会",
    rows=[["劳模先进事迹报告会", "报告会", "2018年6月—7月", "邀请全国劳模讲述成长经历", "约200人"],
          ["“杨浦工匠”技能展示", "现场展示", "2018年9月", "展示工匠绝活", "1,200人"],
          ["劳模进社区", "志愿服务", "2018年下半年", "劳模走进社区服务居民", "二百人"]],
)
VOLUNTEER = FormFill(
    unit_text="定海路街道总工会",
    rows=[["定海助老服务队", "张三 主席", "30人", "2016年3月", "为社区老人提供助餐服务",
           "服务老人500人次"],
          ["定海法律服务队", "李四（工会主席）", "约15人", "2017-05-20", "法律咨询", ""]],
)


# Three registered senders in turn, for backlogs (crash, scale-out, batching tests).
SENDERS = ["dhjd_gh@example.cn", "yinhang_gh@example.cn", "kjl_gh@example.cn"]


def numbered_mail(n: int, tag: str, to: str = BOT) -> bytes:
    """Mail number `n` of a backlog: one activity row, sender n % 3, Message-ID by tag."""
    # Each sender's own unit on the form (a form naming another unit is that unit's).
    unit = ("定海路街道总工会", "殷行街道总工会", "控江路街道总工会")[n % 3]
    fill = FormFill(unit, [[f"活动{n}", "讲座", "6月", "x", str(n)]])
    return build_mail(from_addr=SENDERS[n % 3], to_addr=to, subject=f"申报{n}", body="",
                      attachments=[("a.docx", activity_docx(fill))],
                      message_id=f"<{tag}-{n}@example.cn>")


def write_config(tmp: Path, imap: Any, smtp: Any, **overrides: Any) -> Path:
    data: dict[str, Any] = {
        "mailbox": {"host": imap.host, "port": imap.port, "security": "plain",
                    "username": BOT, "password_env": "FORMBOT_IMAP_PASSWORD",
                    "folder": "INBOX", "processed_folder": None},
        "smtp": {"host": smtp.host, "port": smtp.port, "security": "plain", "username": BOT,
                 "password_env": "FORMBOT_SMTP_PASSWORD", "from_address": BOT,
                 "from_name": "杨浦区总工会宣传教育部"},
        "database": database_url(tmp),
        "data_dir": str(tmp / "data"),
        "campaign": {"code": "杨工〔2018〕14号", "title": "弘扬劳模精神，建功“创新杨浦”主题活动",
                     "deadline": "2018-06-15", "timezone": "Asia/Shanghai",
                     "reminders": [-7, -3, -1, 1], "contact": "区总工会宣传教育部 张琳 25032216",
                     "admin_emails": []},
        "units": UNITS,
        "schedule": {"poll_minutes": 5, "remind_time": "09:00"},
    }
    for key, value in overrides.items():
        section, _, name = key.partition("__")
        if name:
            data[section][name] = value
        else:
            data[section] = value
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def on_postgres() -> bool:
    return bool(os.environ.get(TEST_DATABASE_ENV))


def database_url(tmp: Path) -> str:
    """The database URL for a config in `tmp`: SQLite in tmp by default; with
    FORMBOT_TEST_DATABASE, a PostgreSQL database of its own (the same one for the same tmp,
    so a config rewritten in a test keeps its data)."""
    admin_url = os.environ.get(TEST_DATABASE_ENV)
    if not admin_url:
        return f"sqlite:///{tmp / 'data' / 'formbot.db'}"
    key = Path(tmp).resolve()
    if key not in _created:
        from sqlalchemy.engine import make_url

        name = f"formbot_test_{uuid.uuid4().hex[:12]}"
        with _admin(admin_url) as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        _created[key] = make_url(admin_url).set(database=name).render_as_string(
            hide_password=False)
    return _created[key]


def drop_test_databases() -> None:
    """Drop every database database_url() made (called after each test)."""
    admin_url = os.environ.get(TEST_DATABASE_ENV)
    if not admin_url or not _created:
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    names = [make_url(url).database for url in _created.values()]
    _created.clear()
    failures: list[DBAPIError] = []
    with _admin(admin_url) as conn:
        for name in names:
            for attempt in range(10):
                try:
                    # Our own connections a test left open (engines, subprocesses) first;
                    # DROP itself then stops an autovacuum worker, which WITH (FORCE) may
                    # not: that process is not ours to signal.
                    conn.exec_driver_sql(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                        "datname = %(name)s AND pid <> pg_backend_pid() AND "
                        "usename = current_user", {"name": name})
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
                    break
                except DBAPIError as exc:  # a connection arriving meanwhile: try again
                    if attempt == 9:
                        failures.append(exc)
                    else:
                        time.sleep(0.2 * (attempt + 1))
    if failures:
        raise failures[0]


def _admin(url: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    return engine.connect()


@dataclass
class Bot:
    """formbot as the worker runs it, on one config and one database."""

    settings: Settings
    engine: Engine

    @classmethod
    def at(cls, config: Path) -> Bot:
        settings = load_settings(config)
        return cls(settings, open_database(settings.database))

    def poll(self, now: datetime = NOW) -> pipeline.PollReport:
        return pipeline.run_once(self.settings, engine=self.engine, now=now)


def sheet_table(sheet: Any) -> list[list[Any]]:
    """An export sheet from its header row down. CONTRACT: rows above the header (a title, a
    count line) are allowed and the header row is one of the first five."""
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    for index, row in enumerate(rows[:5]):
        if row and row[0] in ("填报单位", "单位"):
            return rows[index:]
    raise AssertionError(f"no header row in the first five rows of {sheet.title}: {rows[:5]}")


def parse_sent(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def body_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def live_readers() -> list[int]:
    """This process's reader children (formbot/poll/readworker.py) still alive or unreaped:
    what a pool that closed properly leaves is none."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, _, rest = stat.read_text().partition(" (")[2].rpartition(")")
            fields = rest.split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue    # ended meanwhile
        unreaped = fields[0] == "Z" and name.startswith("python")   # a zombie has no cmdline
        if int(fields[1]) == os.getpid() and (b"formbot.poll.readworker" in command or unreaped):
            found.append(int(stat.parent.name))
    return found
