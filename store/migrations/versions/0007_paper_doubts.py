"""Forms read from paper: each submission's source (pdf text layer or OCR) and its
doubtful cells; the admin's cell corrections, kept apart from the rows.

Revision ID: 0007_paper_doubts
Revises: 0004_outbox_state
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_paper_doubts"
down_revision = "0006_form_rows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("submission")}
    # In place: other tables' foreign keys point at `submission` (SQLite 3.35+).
    with op.batch_alter_table("submission", recreate="never") as batch:
        if "source" not in columns:
            batch.add_column(sa.Column("source", sa.String(), nullable=True))
        if "doubts" not in columns:
            batch.add_column(sa.Column("doubts", sa.JSON(), nullable=False,
                                       server_default="[]"))
    if not inspector.has_table("cell_correction"):
        op.create_table(
            "cell_correction",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("message_key", sa.String(), nullable=False, index=True),
            sa.Column("form", sa.String(), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("field", sa.String(), nullable=False),
            sa.Column("value", sa.String(), nullable=False),
            sa.Column("was", sa.String(), nullable=False),
            sa.Column("at", sa.DateTime(), nullable=False),
            sa.Column("who", sa.String(), nullable=False),
            sa.UniqueConstraint("message_key", "form", "seq", "field"),
        )


def downgrade() -> None:
    op.drop_table("cell_correction")
    # In place: other tables' foreign keys point at `submission` (SQLite 3.35+).
    with op.batch_alter_table("submission", recreate="never") as batch:
        batch.drop_column("doubts")
        batch.drop_column("source")
