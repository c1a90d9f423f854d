"""Addresses the admin confirmed for a unit in the console (table knownsender).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database stamped before 0001 existed (create_all, then stamp) may have it already.
    if sa.inspect(op.get_bind()).has_table("knownsender"):
        return
    op.create_table(
        "knownsender",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=False),
        sa.Column("learned_at", sa.DateTime(), nullable=False),
        sa.Column("learned_by", sa.String(), nullable=False),
        sa.Column("message_ref", sa.Integer(), sa.ForeignKey("message.id"), nullable=True),
    )
    op.create_index("ix_knownsender_address", "knownsender", ["address"], unique=True)
    op.create_index("ix_knownsender_unit_id", "knownsender", ["unit_id"])


def downgrade() -> None:
    op.drop_table("knownsender")
