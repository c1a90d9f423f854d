"""UIDs and UIDVALIDITY as 64-bit columns.

RFC 3501 makes them unsigned 32-bit numbers, so a server may hand out values above
2**31 - 1 (pymap does, about half the time); PostgreSQL's INTEGER refused them.
SQLite's INTEGER is already 64-bit, so nothing changes there.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_COLUMNS = {"folderstate": ("uidvalidity", "last_uid"), "mailboxcopy": ("uidvalidity", "uid")}


def _retype(new: sa.types.TypeEngine, old: sa.types.TypeEngine) -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, columns in _COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=new, existing_type=old,
                            existing_nullable=False)


def upgrade() -> None:
    _retype(sa.BigInteger(), sa.Integer())


def downgrade() -> None:
    _retype(sa.Integer(), sa.BigInteger())
