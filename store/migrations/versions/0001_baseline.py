"""Baseline: the schema as first released (created from the models).

Revision ID: 0001
Revises:
"""

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database reaches 0001 only by create_all + stamp; later revisions
    # alter it from here with op.* calls (batch mode for SQLite).
    pass


def downgrade() -> None:
    pass
