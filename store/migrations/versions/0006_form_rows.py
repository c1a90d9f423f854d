"""One row table for every form (`form_row`, values as JSON) and the views' bookkeeping
(`form_view`); the rows of `activityrow` and `volunteerteamrow` move into it whole
(seq, values, raw text, problems, submission), and those tables go.

Revision ID: 0006_form_rows
Revises: 0004_outbox_state
"""

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006_form_rows"
down_revision = "0005_message_identity"
branch_labels = None
depends_on = None

# The columns each old table held, in the order of the form's fields.
OLD_TABLES = {
    "activity": ("activityrow", ("name", "form", "schedule", "content", "participants")),
    "volunteer_team": ("volunteerteamrow", ("team_name", "leader_name", "leader_title", "size",
                                            "founded", "service", "results")),
}
_VALUES = sa.JSON().with_variant(JSONB(), "postgresql")
_TYPES = {"participants": sa.Integer(), "size": sa.Integer()}


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)   # stored as the text itself, not \\uXXXX


def _load(value: object) -> object:
    # SQLite hands JSON back as text; PostgreSQL's json as Python objects already.
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if not inspector.has_table("form_row"):
        op.create_table(
            "form_row",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submission.id"),
                      nullable=False),
            sa.Column("form", sa.String(), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("data", _VALUES, nullable=False),
            sa.Column("raw", _VALUES, nullable=False),
            sa.Column("problems", _VALUES, nullable=False),
        )
        op.create_index("ix_form_row_submission_id", "form_row", ["submission_id"])
        op.create_index("ix_form_row_form", "form_row", ["form"])
    if not inspector.has_table("form_view"):
        op.create_table(
            "form_view",
            sa.Column("name", sa.String(), primary_key=True),
            sa.Column("form", sa.String(), nullable=False),
            sa.Column("definition", sa.String(), nullable=False),
        )
    as_json = "CAST(:{} AS JSONB)" if bind.dialect.name == "postgresql" else ":{}"
    insert = sa.text(
        "INSERT INTO form_row (submission_id, form, seq, data, raw, problems) VALUES "
        f"(:submission_id, :form, :seq, {as_json.format('data')}, {as_json.format('raw')}, "
        f"{as_json.format('problems')})")
    for form, (table, columns) in OLD_TABLES.items():
        if not inspector.has_table(table):
            continue
        old = sa.table(table, sa.column("id"), sa.column("submission_id"), sa.column("seq"),
                       *(sa.column(c) for c in columns), sa.column("raw"),
                       sa.column("problems"))
        rows = bind.execute(sa.select(old).order_by(old.c.id)).mappings().all()
        if rows:
            bind.execute(insert, [{
                "submission_id": row["submission_id"], "form": form, "seq": row["seq"],
                "data": _dump({c: row[c] for c in columns}),
                "raw": _dump(_load(row["raw"]) or {}),
                "problems": _dump(_load(row["problems"]) or []),
            } for row in rows])
        op.drop_table(table)


def downgrade() -> None:
    bind = op.get_bind()
    for form, (table, columns) in OLD_TABLES.items():
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submission.id"),
                      nullable=False, index=True),
            sa.Column("seq", sa.Integer(), nullable=False),
            *(sa.Column(c, _TYPES.get(c, sa.String()), nullable=True) for c in columns),
            sa.Column("raw", sa.JSON(), nullable=False),
            sa.Column("problems", sa.JSON(), nullable=False),
        )
        new = sa.table("form_row", sa.column("id"), sa.column("submission_id"),
                       sa.column("form"), sa.column("seq"), sa.column("data"),
                       sa.column("raw"), sa.column("problems"))
        rows = bind.execute(sa.select(new).where(new.c.form == form)
                            .order_by(new.c.id)).mappings().all()
        target = sa.table(table, sa.column("submission_id"), sa.column("seq"),
                          *(sa.column(c) for c in columns),
                          sa.column("raw", sa.JSON()), sa.column("problems", sa.JSON()))
        if rows:
            bind.execute(sa.insert(target), [{
                "submission_id": row["submission_id"], "seq": row["seq"],
                **{c: (_load(row["data"]) or {}).get(c) for c in columns},
                "raw": _load(row["raw"]) or {}, "problems": _load(row["problems"]) or [],
            } for row in rows])
    for name in bind.execute(sa.text("SELECT name FROM form_view")).scalars().all():
        op.execute(f'DROP VIEW IF EXISTS "{name}"')
    op.drop_table("form_view")
    op.drop_table("form_row")
