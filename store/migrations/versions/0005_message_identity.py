"""A message's identity is its Message-ID and its content (column message.digest).

Two different mails that share a Message-ID are two messages now; two deliveries of
one mail (trace headers aside) stay one. Rows recorded before have no digest: it is
computed from the kept raw mail the first time a mail with the same Message-ID arrives
(formbot/recording.py), so upgrading reads no file.

Revision ID: 0005_message_identity
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_message_identity"
down_revision = "0004_outbox_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("message")}
    indexes = {i["name"] for i in inspector.get_indexes("message")}
    if "digest" not in columns:
        op.add_column("message", sa.Column("digest", sa.String(), nullable=True))
    if "ix_message_digest" not in indexes:
        op.create_index("ix_message_digest", "message", ["digest"])
    if "ix_message_message_id" not in indexes:
        op.create_index("ix_message_message_id", "message", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_message_message_id", table_name="message")
    op.drop_index("ix_message_digest", table_name="message")
    # Not a copy-and-move of the table: other tables' foreign keys point at `message`, and
    # SQLite (3.35+) drops a column in place.
    with op.batch_alter_table("message", recreate="never") as batch:
        batch.drop_column("digest")
