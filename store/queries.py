"""Read-only questions the admin asks: who sent what, what waits, what failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from .models import Message, Outgoing, RowRecord, Submission, Unit


@dataclass(frozen=True)
class UnitProgress:
    unit: Unit
    forms: dict[str, Submission]          # form key → current submission
    reminders_sent: int

    @property
    def last_received(self) -> datetime | None:
        return max((s.received_at for s in self.forms.values()), default=None)


def unit_progress(*, session: Session) -> list[UnitProgress]:
    units = list(session.exec(
        select(Unit).where(Unit.active == True).order_by(Unit.id)))  # type: ignore[arg-type]  # noqa: E712
    current: dict[int, dict[str, Submission]] = {}
    for sub in session.exec(select(Submission).where(Submission.current == True)):  # noqa: E712
        current.setdefault(sub.unit_id, {})[sub.form] = sub  # type: ignore[index]
    reminders = dict(session.exec(
        select(Outgoing.unit_id, func.count()).where(
            Outgoing.kind == "reminder", col(Outgoing.status).not_in(("failed", "dropped"))
        ).group_by(Outgoing.unit_id)
    ).all())
    return [UnitProgress(u, current.get(u.id, {}), reminders.get(u.id, 0))  # type: ignore[arg-type]
            for u in units]


def unmatched_messages(*, session: Session) -> list[Message]:
    """Messages that carried a form but could not be tied to a registered unit."""
    with_forms = select(Submission.message_ref).distinct()
    return list(session.exec(
        select(Message).where(Message.unit_id == None, col(Message.id).in_(with_forms),  # noqa: E711
                              Message.outcome != "dismissed")
        .order_by(Message.id)  # type: ignore[arg-type]
    ))


def sender_mismatches(*, session: Session, current_only: bool = False,
                      since: datetime | None = None) -> list[tuple[Message, Unit]]:
    """Mail filed under a unit by the 填报单位 it names although its From address is not one
    of that unit's registered addresses: anyone can write a unit's name, so a person should
    look. `current_only` keeps those whose forms still count; `since` those received since.

    Uses `Message.sender_matches_unit`, set when the mail is read (and again on reprocess);
    a unit without registered addresses leaves it unset, since there is nothing to compare.
    """
    forms = select(Submission.message_ref)
    if current_only:
        forms = forms.where(Submission.current == True)  # noqa: E712
    if since is not None:
        forms = forms.where(Submission.received_at >= since)  # type: ignore[arg-type]
    return list(session.exec(
        select(Message, Unit).join(Unit, Unit.id == Message.unit_id)  # type: ignore[arg-type]
        .where(Message.sender_matches_unit == False,  # noqa: E712
               col(Message.id).in_(forms.distinct()),
               # An admin who filed the mail under the unit has already looked at it.
               or_(col(Message.match_method).is_(None), Message.match_method != "admin"),
               Message.outcome != "dismissed")
        .order_by(Message.id)  # type: ignore[arg-type]
    ).all())


def failed_messages(*, session: Session) -> list[Message]:
    return list(session.exec(
        select(Message).where(Message.status == "failed").order_by(Message.id)  # type: ignore[arg-type]
    ))


def current_rows(*, session: Session, form: str) -> list[tuple[Unit, Submission, RowRecord]]:
    """Current rows of one form, with their unit and submission, by unit then row order."""
    statement = (
        select(Unit, Submission, RowRecord)
        .join(Submission, Submission.unit_id == Unit.id)  # type: ignore[arg-type]
        .join(RowRecord, RowRecord.submission_id == Submission.id)  # type: ignore[arg-type]
        .where(Submission.current == True, Submission.form == form)  # noqa: E712
        .order_by(Unit.id, RowRecord.seq, RowRecord.id)  # type: ignore[arg-type]
    )
    return list(session.exec(statement).all())  # type: ignore[arg-type]


def submission_rows(*, session: Session, submission_id: int) -> list[RowRecord]:
    """One submission's rows, in row order."""
    return list(session.exec(select(RowRecord).where(RowRecord.submission_id == submission_id)
                             .order_by(RowRecord.seq, RowRecord.id)))  # type: ignore[arg-type]
