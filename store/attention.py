"""What waits for a person beyond unmatched and failed mail: forms a mail filed under
another unit than its own (issue 14 part 1), and mail a person must answer (part 2)."""

from __future__ import annotations

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from .models import Message, Submission, Unit

FOR_PERSON = "waiting-for-person"   # notifier/policy.py: a unit's question or thanks
HANDLED = "handled"                 # the admin answered it (console, audited)


def cross_unit_forms(*, session: Session) -> list[tuple[Submission, Message, Unit, Unit]]:
    """Current forms filed under a unit other than the one their mail is filed under (one
    unit's clerk sending another unit's form): (submission, mail, form's unit, mail's unit)."""
    form_unit, mail_unit = aliased(Unit), aliased(Unit)
    return list(session.exec(  # type: ignore[call-overload]
        select(Submission, Message, form_unit, mail_unit)
        .join(Message, Message.id == Submission.message_ref)  # type: ignore[arg-type]
        .join(form_unit, form_unit.id == Submission.unit_id)  # type: ignore[arg-type]
        .join(mail_unit, mail_unit.id == Message.unit_id)  # type: ignore[arg-type]
        .where(Submission.current == True,  # noqa: E712
               col(Submission.unit_id) != col(Message.unit_id),
               col(Message.outcome) != "dismissed")
        .order_by(col(Submission.id))).all())


def waiting_for_person(*, session: Session) -> list[Message]:
    """Mail a person should answer (a question, a thank-you), oldest first."""
    return list(session.exec(select(Message).where(Message.outcome == FOR_PERSON)
                             .order_by(col(Message.id))))
