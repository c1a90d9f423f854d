"""The admin console's log: who did what, and when. Rows are only ever added.

The console moves rows between units, sends receipts and answers ad-hoc SQL; when a
unit asks "why was our form counted under someone else?", this table answers.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, Session, SQLModel, col, select

from .models import _when


class AuditEntry(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(nullable=False, index=True)  # type: ignore[assignment]
    who: str = Field(index=True)       # "admin" and the client's address
    action: str = Field(index=True)    # login | assign | dismiss | retry | export | sql …
    detail: str = ""                   # what, in words a person reads (message key, unit, SQL)


def record(session: Session, *, at: datetime, who: str, action: str, detail: str = "") -> None:
    """Add one entry in the caller's transaction, so an action and its record commit together."""
    session.add(AuditEntry(at=at, who=who[:200], action=action[:50], detail=detail[:4000]))


def recent(session: Session, *, limit: int = 200) -> list[AuditEntry]:
    return list(session.exec(
        select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)))
