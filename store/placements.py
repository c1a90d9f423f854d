"""Where the admin put a mail's forms, kept apart from the submissions.

`formbot reprocess` reads a kept mail again and places its forms afresh
(`formbot/poll/placing.py`); a person's decision must outlive that. Like the cell
corrections (store/corrections.py), a decision is keyed by what stays the same when the
mail is read again — the mail's key and the form — and applied each time the mail is
stored (`formbot/poll/storing.py`). `form` is a form key, or EVERY for the whole mail;
`unit_id` None says the admin took the forms away from any unit (a ※ sender rejected):
they wait unmatched.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint, delete
from sqlmodel import Field, Session, SQLModel, col, select

from .models import _when

EVERY = "*"   # the decision is for every form of the mail


class FormPlacement(SQLModel, table=True):
    __tablename__ = "form_placement"
    __table_args__ = (UniqueConstraint("message_key", "form"),)
    id: int | None = Field(default=None, primary_key=True)
    message_key: str = Field(index=True)
    form: str                        # FormSpec key, or EVERY
    unit_id: int | None = Field(default=None, foreign_key="unit.id")   # None: no unit
    at: datetime = _when(nullable=False)  # type: ignore[assignment]
    who: str = ""


def placements_for(session: Session, message_key: str) -> dict[str, int | None]:
    """The admin's decisions for one mail: form key (or EVERY) → unit id or None."""
    return {p.form: p.unit_id for p in session.exec(select(FormPlacement).where(
        FormPlacement.message_key == message_key).order_by(col(FormPlacement.id)))}


def put_placement(session: Session, *, message_key: str, form: str, unit_id: int | None,
                  at: datetime, who: str) -> None:
    """Record a decision (the caller commits). One for the whole mail replaces the earlier
    ones for its single forms: the newest decision is the one that holds."""
    if form == EVERY:
        forget(session, message_key)
    found = session.exec(select(FormPlacement).where(
        FormPlacement.message_key == message_key, FormPlacement.form == form)).first()
    if found is None:
        found = FormPlacement(message_key=message_key, form=form)
    found.unit_id, found.at, found.who = unit_id, at, who
    session.add(found)


def forget(session: Session, message_key: str) -> None:
    """Drop every decision for a mail (a new one for the whole mail is about to be taken)."""
    session.exec(delete(FormPlacement).where(FormPlacement.message_key == message_key))  # type: ignore[call-overload, arg-type]
    session.flush()
