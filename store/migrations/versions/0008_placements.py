"""The admin's placement of a mail's forms (moved to a unit, or taken from a ※ sender's
unit), kept apart from the submissions so `formbot reprocess` does not undo it.

Revision ID: 0008_placements
Revises: 0007_paper_doubts
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_placements"
down_revision = "0007_paper_doubts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("form_placement"):
        return
    op.create_table(
        "form_placement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("message_key", sa.String(), nullable=False, index=True),
        sa.Column("form", sa.String(), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("who", sa.String(), nullable=False),
        sa.UniqueConstraint("message_key", "form"),
    )


def downgrade() -> None:
    op.drop_table("form_placement")
