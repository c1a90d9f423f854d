"""Ad-hoc questions in SQL that can never change anything.

Belt and braces, because one of them may be misconfigured some day. On SQLite:
1. the file is opened read-only (`mode=ro`): SQLite refuses every write itself;
2. `PRAGMA query_only` refuses writes even if the open mode were wrong;
3. an authorizer allows reading and selecting only (no ATTACH, PRAGMA, DDL, DML).
On PostgreSQL:
1. the query runs in a `READ ONLY` transaction that is always rolled back;
2. it is sent as one prepared statement, so `COMMIT; DELETE …` cannot step out of that
   transaction (the server refuses several commands in a prepared statement).
Both have a time limit and a row limit, so a runaway join cannot stall the worker.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine

from formbot.settings.declared import view_plans
from parsers.specs import FormSpec
from store.views import quoted

MAX_ROWS = 500
TIME_LIMIT = 5.0  # seconds
MAX_CELL = 300    # characters shown per cell

_ALLOWED = {sqlite3.SQLITE_READ, sqlite3.SQLITE_SELECT, sqlite3.SQLITE_FUNCTION,
            getattr(sqlite3, "SQLITE_RECURSIVE", 33)}
# Functions that reach outside the database or change the connection.
_FUNCTIONS_DENIED = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}

# Not about any one form; each form's own examples come first (`examples`).
EXAMPLES: list[tuple[str, str]] = [
    ("最近收到的 20 封邮件",
     "SELECT received_at AS 收到时间, from_addr AS 发件人, subject AS 主题, status AS 状态\n"
     "FROM message ORDER BY received_at DESC LIMIT 20"),
    ("发出的回执和催报",
     "SELECT kind AS 类型, subject AS 主题, status AS 状态, created_at AS 时间\n"
     "FROM outgoing ORDER BY id DESC LIMIT 50"),
]


def examples(forms: Sequence[FormSpec]) -> list[tuple[str, str]]:
    """The SQL page's examples: each form read through its view (named by its short name,
    columns by the export headers; current rows only), then the general ones."""
    found: list[tuple[str, str]] = []
    for plan in view_plans(tuple(forms)):
        view = quoted(plan.name)
        found.append((f"{plan.name}（当前版本，每个单位最新一次提交）",
                      f"SELECT * FROM {view}\nORDER BY 填报单位, 序号"))
        numbers = [c.header for c in plan.columns if c.numeric]
        sums = "".join(f", SUM({quoted(h)}) AS {quoted(h + '合计')}" for h in numbers[:2])
        found.append((f"{plan.name}：各单位行数" + ("和合计" if sums else ""),
                      f"SELECT 填报单位, COUNT(*) AS 行数{sums}\nFROM {view}\n"
                      "GROUP BY 填报单位 ORDER BY 行数 DESC"))
    return found + EXAMPLES


class QueryRefused(Exception):
    """The query is not a read, or failed; the message is for the admin."""


@dataclass
class QueryResult:
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    truncated: bool = False
    seconds: float = 0.0


def database_path(engine: Engine) -> Path:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        raise QueryRefused("SQL 查询页只支持 SQLite 数据库文件和 PostgreSQL")
    return Path(database)


def _authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None,
               _trigger: str | None) -> int:
    if action not in _ALLOWED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _FUNCTIONS_DENIED:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def connect_read_only(path: Path) -> sqlite3.Connection:
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=TIME_LIMIT, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    conn.set_authorizer(_authorize)  # last: the PRAGMA above would be refused by it
    return conn


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return f"（{len(value)} 字节的二进制数据）"
    text = str(value)
    return text if len(text) <= MAX_CELL else text[:MAX_CELL] + "…"


def run_query(engine: Engine, sql: str) -> QueryResult:
    sql = sql.strip()
    if not sql:
        raise QueryRefused("请输入一条 SELECT 查询")
    started = time.monotonic()
    if engine.dialect.name == "postgresql":
        names, rows = _run_on_postgres(engine, sql)
    else:
        names, rows = _run_on_sqlite(engine, sql, started)
    return QueryResult(
        columns=names,
        rows=[[_cell(v) for v in row] for row in rows[:MAX_ROWS]],
        truncated=len(rows) > MAX_ROWS, seconds=time.monotonic() - started)


def _run_on_sqlite(engine: Engine, sql: str, started: float) -> tuple[list[str], list[Any]]:
    conn = connect_read_only(database_path(engine))
    # Asked every few thousand SQLite steps; a non-zero answer interrupts the query.
    conn.set_progress_handler(lambda: int(time.monotonic() - started > TIME_LIMIT), 5000)
    try:
        cursor = conn.execute(sql)
        if cursor.description is None:
            raise QueryRefused(NOT_A_QUERY)
        return [d[0] for d in cursor.description], cursor.fetchmany(MAX_ROWS + 1)
    except sqlite3.DatabaseError as exc:
        raise QueryRefused(_explain(str(exc))) from None
    except sqlite3.ProgrammingError as exc:
        raise QueryRefused(f"无法运行：{exc}（一次只能运行一条语句）") from None
    except sqlite3.Warning as exc:  # "You can only execute one statement at a time."
        raise QueryRefused(f"一次只能运行一条语句（{exc}）") from None
    finally:
        conn.close()


def _run_on_postgres(engine: Engine, sql: str) -> tuple[list[str], list[Any]]:
    import psycopg

    pooled = engine.raw_connection()
    conn = pooled.driver_connection
    try:
        with conn.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute(f"SET LOCAL statement_timeout = {int(TIME_LIMIT * 1000)}")
            cursor.execute(sql, prepare=True)
            if cursor.description is None:
                raise QueryRefused(NOT_A_QUERY)
            return [d.name for d in cursor.description], cursor.fetchmany(MAX_ROWS + 1)
    except psycopg.errors.SyntaxError as exc:
        if "multiple commands" in str(exc):
            raise QueryRefused("一次只能运行一条语句") from None
        raise QueryRefused(_explain(str(exc))) from None
    except psycopg.Error as exc:
        raise QueryRefused(_explain(str(exc))) from None
    finally:
        conn.rollback()  # type: ignore[union-attr]
        pooled.close()


NOT_A_QUERY = "只能运行查询（SELECT），这条语句不返回结果"


def _explain(text: str) -> str:
    text = text.strip().splitlines()[0] if text.strip() else text
    if any(word in text for word in ("not authorized", "readonly", "read-only")):
        return "只读查询：这个页面不能修改、删除或新建任何数据，只能用 SELECT 查看。"
    if "interrupted" in text or "statement timeout" in text:
        return f"查询超过 {TIME_LIMIT:.0f} 秒被中止，请缩小范围（例如加上 WHERE 或 LIMIT）。"
    return f"SQL 有误：{text}"
