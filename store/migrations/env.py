"""Alembic environment: runs on the engine formbot passes in, never on a URL from a file."""

from alembic import context
from sqlmodel import SQLModel

from store import audit, models  # noqa: F401

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
    )
    context.run_migrations()
