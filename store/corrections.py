"""Cells the admin corrected in the console, kept apart from the rows.

A value read from a picture can be wrong; the admin puts it right beside the page image.
The correction is keyed by what stays the same when the mail is read again — the mail's
key, the form, the row's 序号 and the field — and applied to the form's rows each time
the mail is stored (`formbot/poll/paperwork.py`), so it survives `formbot reprocess` and
does not depend on how the row tables are laid out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from .models import _when


class CellCorrection(SQLModel, table=True):
    __tablename__ = "cell_correction"
    __table_args__ = (UniqueConstraint("message_key", "form", "seq", "field"),)
    id: int | None = Field(default=None, primary_key=True)
    message_key: str = Field(index=True)
    form: str                        # FormSpec key
    seq: int                         # the row's 序号 in the form as read
    field: str                       # FieldSpec key
    value: str                       # the text the admin typed, read by the field's kind
    was: str = ""                    # the text as read, for the audit and the page
    at: datetime = _when(nullable=False)  # type: ignore[assignment]
    who: str = ""


def corrections_for(session: Session, message_key: str) -> list[CellCorrection]:
    return list(session.exec(select(CellCorrection).where(
        CellCorrection.message_key == message_key).order_by(col(CellCorrection.id))))


def put_correction(session: Session, *, message_key: str, form: str, seq: int, field: str,
                   value: str, was: str, at: datetime, who: str) -> CellCorrection:
    """Add or replace the correction of one cell (the caller commits)."""
    found = session.exec(select(CellCorrection).where(
        CellCorrection.message_key == message_key, CellCorrection.form == form,
        CellCorrection.seq == seq, CellCorrection.field == field)).first()
    if found is None:
        found = CellCorrection(message_key=message_key, form=form, seq=seq, field=field,
                               value=value, was=was, at=at, who=who)
    else:
        found.value, found.at, found.who = value, at, who
    session.add(found)
    return found


def unapplicable(session: Session, declared: dict[str, set[str]],
                 message_keys: list[str] | None = None) -> list[CellCorrection]:
    """The corrections a re-read cannot apply: their form or field key is no longer in
    the declaration (`declared`: form key → field keys), e.g. after a key was renamed.
    They stay stored, so putting the key back brings them back."""
    query = select(CellCorrection).order_by(col(CellCorrection.id))
    if message_keys is not None:
        query = query.where(col(CellCorrection.message_key).in_(message_keys))
    return [fix for fix in session.exec(query) if fix.field not in declared.get(fix.form, ())]
