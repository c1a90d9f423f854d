"""The outbox's back-off: when a temporarily refused mail is tried again.

Revision ID: 0004_outbox_state
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_outbox_state"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("outgoing")}
    if "next_attempt_at" in columns:
        return
    with op.batch_alter_table("outgoing") as batch:
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outgoing") as batch:
        batch.drop_column("next_attempt_at")
