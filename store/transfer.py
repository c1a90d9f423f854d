"""Moving the data to another database (SQLite → PostgreSQL, as the README describes):
every table copied row for row, ids kept, so raw-mail paths, receipts' dedup keys and the
Alembic revision carry over. The target must be new (empty); the source stays untouched."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, func, inspect, select, text
from sqlmodel import SQLModel

from errors import FormbotError

from .db import current_revision, prepare

BATCH = 1000
# Leases belong to the processes of the old database; copied, they would make the first
# worker on the new one wait out a lease nobody holds.
# form_view: the target builds its own views (and their record) when it is first opened.
NOT_COPIED = {"lease", "form_view"}
Progress = Callable[[str, int], None]


def copy_database(source: Engine, target: Engine,
                  progress: Progress | None = None) -> dict[str, int]:
    """Copy every table of `source` into the empty database `target`; rows per table."""
    if current_revision(source) is None:
        raise FormbotError("源数据库还没有 formbot 的表（是否写错了地址？）")
    prepare(source)  # the source at the newest schema, so both sides have the same columns
    prepare(target)
    with target.connect() as conn:
        if conn.execute(select(func.count()).select_from(
                SQLModel.metadata.tables["message"])).scalar():
            raise FormbotError("目标数据库已有邮件记录：只能复制到一个新的空数据库")
    copied: dict[str, int] = {}
    names = set(inspect(source).get_table_names())
    with source.connect() as reading, target.begin() as writing:
        for table in SQLModel.metadata.sorted_tables:  # parents before children (foreign keys)
            if table.name not in names or table.name in NOT_COPIED:
                continue
            writing.execute(table.delete())  # rows `prepare` may have made (none today)
            count = 0
            rows = reading.execution_options(yield_per=BATCH).execute(select(table))
            for chunk in rows.partitions(BATCH):
                writing.execute(table.insert(), [dict(row._mapping) for row in chunk])
                count += len(chunk)
            copied[table.name] = count
            if progress:
                progress(table.name, count)
        if target.dialect.name == "postgresql":
            _advance_sequences(writing, names)
    return copied


def _advance_sequences(conn, names: set[str]) -> None:  # type: ignore[no-untyped-def]
    """Rows came with their ids: move each id sequence past them, or the next insert of
    the worker would collide."""
    for table in SQLModel.metadata.sorted_tables:
        column = table.columns.get("id")
        if table.name not in names or column is None or not column.autoincrement:
            continue
        sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"),
                                {"t": table.name}).scalar()
        if sequence:
            conn.execute(text(f'SELECT setval(:s, COALESCE((SELECT max(id) FROM "{table.name}"), '
                              "0) + 1, false)"), {"s": sequence})
