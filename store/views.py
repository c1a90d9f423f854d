"""A read-only SQL view per form, with the export's Chinese headers as column names, so
the console's SQL page and an admin's own SQL read a form like a table:

    SELECT 填报单位, 活动名称, 参与人数 FROM 主题活动申报表 WHERE 参与人数 > 100

The rows live in one table for every form (`form_row`, values as JSON); a view shows
one form's current rows (the latest submission per unit, as the export). Views are
built from plain descriptions (`ViewPlan`), since the store knows nothing of form
declarations; `form_view` keeps the SQL each was built from, so a changed declaration
is seen at the next start and its views are built again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, text

# Other sessions' advisory lock (store/db.py's schema lock is 727270).
_VIEWS_LOCK = 727271


@dataclass(frozen=True)
class ViewColumn:
    header: str          # the column's name in the view (an export header)
    key: str             # the value's key in form_row.data
    numeric: bool = False


@dataclass(frozen=True)
class ViewPlan:
    name: str            # the view's name: the form's short name
    form: str            # the form's key, as stored in form_row.form
    columns: tuple[ViewColumn, ...]


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _value(column: ViewColumn, dialect: str) -> str:
    key = column.key.replace("'", "''").replace('"', "")
    if dialect == "postgresql":
        value = f"(form_row.data ->> '{key}')"
        return f"CAST({value} AS NUMERIC)" if column.numeric else value
    return f"json_extract(form_row.data, '$.\"{key}\"')"


def view_sql(plan: ViewPlan, dialect: str) -> str:
    """The SELECT behind one form's view."""
    seen: set[str] = set()

    def named(header: str) -> str:
        # Two columns of one name would make the view fail; the second gets a number.
        name, number = header, 2
        while name in seen:
            name, number = f"{header}{number}", number + 1
        seen.add(name)
        return quoted(name)

    problems = "CAST(form_row.problems AS TEXT)" if dialect == "postgresql" else (
        "form_row.problems")
    parts = [f"unit.name AS {named('填报单位')}", f"form_row.seq AS {named('序号')}",
             *(f"{_value(c, dialect)} AS {named(c.header)}" for c in plan.columns),
             f"submission.contact AS {named('联系人')}",
             f"submission.phone AS {named('联系电话')}",
             f"COALESCE(submission.filled_on, submission.filled_on_raw) AS {named('填报日期')}",
             f"submission.received_at AS {named('提交时间')}",
             f"{problems} AS {named('问题')}"]
    form = plan.form.replace("'", "''")
    return ("SELECT " + ",\n       ".join(parts) + "\n"
            "FROM form_row\n"
            "JOIN submission ON submission.id = form_row.submission_id\n"
            "JOIN unit ON unit.id = submission.unit_id\n"
            f"WHERE submission.\"current\" = TRUE AND form_row.form = '{form}'\n"
            "ORDER BY unit.id, form_row.seq")


def ensure_views(engine: Engine, plans: Sequence[ViewPlan]) -> bool:
    """Make the database's form views those of `plans`; True when they had to be (re)built.
    Cheap when nothing changed: one SELECT, no write lock."""
    dialect = engine.dialect.name
    wanted = {plan.name: (plan.form, view_sql(plan, dialect)) for plan in plans}
    if _built(engine) == {name: sql for name, (_, sql) in wanted.items()}:
        return False
    with engine.begin() as conn:
        if dialect == "postgresql":   # two workers starting at once build them once
            conn.execute(text(f"SELECT pg_advisory_xact_lock({_VIEWS_LOCK})"))
        have = dict(conn.execute(text("SELECT name, definition FROM form_view")).all())
        if have == {name: sql for name, (_, sql) in wanted.items()}:
            return False
        for name in {*have, *wanted}:
            conn.execute(text(f"DROP VIEW IF EXISTS {quoted(name)}"))
        conn.execute(text("DELETE FROM form_view"))
        for name, (form, sql) in wanted.items():
            conn.execute(text(f"CREATE VIEW {quoted(name)} AS\n{sql}"))
            conn.execute(text("INSERT INTO form_view (name, form, definition) "
                              "VALUES (:name, :form, :definition)"),
                         {"name": name, "form": form, "definition": sql})
    return True


def _built(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT name, definition FROM form_view")).all())  # type: ignore[arg-type]
