"""A consistent copy of the database while the worker keeps writing to it: SQLite's online
backup API, or PostgreSQL's pg_dump (one snapshot in one transaction)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from errors import FormbotError


def backup_database(url: str, out: Path) -> int:
    """`formbot backup FILE` for whichever database `url` names; returns the copy's size."""
    if url.startswith("postgresql"):
        return backup_postgres(url, out)
    return backup_sqlite(url, out)


def backup_sqlite(url: str, out: Path) -> int:
    """Copy the database at `url` to `out` with SQLite's online backup; returns its size."""
    if not url.startswith("sqlite:///"):
        raise FormbotError("formbot backup 只支持 SQLite；PostgreSQL 请用 pg_dump")
    source_path = Path(url.removeprefix("sqlite:///"))
    if not source_path.is_file():
        raise FormbotError(f"数据库文件不存在：{source_path}")
    out = Path(out)
    if out.resolve() == source_path.resolve():
        raise FormbotError("备份文件不能是数据库本身")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_CREAT | os.O_WRONLY, 0o600))  # private before any byte
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(partial)
    try:
        # The backup API copies page by page and restarts if a writer changes a page
        # mid-copy, so the result is one consistent snapshot, WAL included.
        source.backup(target, pages=1024)
        check = target.execute("PRAGMA integrity_check").fetchone()[0]
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        target.close()
        source.close()
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise FormbotError(f"备份校验未通过：{check}")
    partial.replace(out)
    return out.stat().st_size


def backup_postgres(url: str, out: Path) -> int:
    """pg_dump's custom format (restore with pg_restore); the password goes through the
    environment, never the command line where `ps` would show it."""
    from sqlalchemy.engine import make_url

    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise FormbotError("找不到 pg_dump：请安装 PostgreSQL 客户端（Debian：apt-get install "
                           "postgresql-client）")
    parts = make_url(url)
    env = {**os.environ}
    if parts.password:
        env["PGPASSWORD"] = str(parts.password)
    command = [pg_dump, "--format=custom", "--no-owner", "--dbname", parts.database or ""]
    if parts.host:
        command += ["--host", parts.host]
    if parts.port:
        command += ["--port", str(parts.port)]
    if parts.username:
        command += ["--username", parts.username]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_CREAT | os.O_WRONLY, 0o600))  # private before any byte
    result = subprocess.run([*command, "--file", str(partial)], env=env, capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        reason = (result.stderr.strip().splitlines() or ["未知错误"])[-1]
        raise FormbotError(f"pg_dump 备份失败：{reason}")
    partial.replace(out)
    return out.stat().st_size
