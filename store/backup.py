"""A consistent copy of the SQLite database while the worker keeps writing to it."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from parsers.errors import FormbotError


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
