"""What each console page shows, gathered from the store. No HTTP here: plain data in,
plain data out, so the pages are tested without a browser and the routes stay thin."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from datetime import date, datetime
from email.parser import BytesHeaderParser
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from formbot.settings.config import Settings
from formbot.settings.declared import spec_for
from parsers.specs import FormSpec
from store import repo
from store.models import (
    AttachmentRecord,
    Message,
    Outgoing,
    RowRecord,
    Submission,
    Unit,
)
from store.queries import (
    failed_messages,
    sender_mismatches,
    submission_rows,
    unit_progress,
    unmatched_messages,
)

SEARCH_LIMIT = 200  # rows per form: enough to read, bounded for a one-letter query


def columns(spec: FormSpec) -> list[tuple[str, str]]:
    """(header, row column) for a form's rows, in the export's order."""
    pairs = [("序号", "seq")]
    for spec_field in spec.data_fields:
        pairs += list(zip(spec_field.export_headers, spec_field.columns, strict=True))
    return pairs


class ColumnsByForm(dict[str, list[tuple[str, str]]]):
    """Each declared form's columns; a form no longer declared (the declaration changed
    after it was stored) shows its row numbers rather than failing the page."""

    def __missing__(self, key: str) -> list[tuple[str, str]]:
        return [("序号", "seq")]


def columns_by_form(forms: tuple[FormSpec, ...]) -> ColumnsByForm:
    return ColumnsByForm({spec.key: columns(spec) for spec in forms})


def local(settings: Settings, moment: datetime | None) -> str:
    return moment.astimezone(settings.campaign.zone).strftime("%Y-%m-%d %H:%M") if moment else ""


def days_left(deadline: date, today: date) -> str:
    left = (deadline - today).days
    if left > 0:
        return f"还剩 {left} 天"
    return "今天截止" if left == 0 else f"已过截止日期 {-left} 天"


def open_unmatched(session: Session) -> list[Message]:
    """Unmatched mail the admin has not dismissed yet (dismissed mail keeps its rows)."""
    return [m for m in unmatched_messages(session=session) if m.outcome != "dismissed"]


def nav_counts(session: Session) -> dict[str, int]:
    return {"unmatched": len(open_unmatched(session)),
            "waiting": len(session.exec(select(Message.id).where(
                Message.outcome == "waiting-for-person")).all()),
            "failed": len(failed_messages(session=session)),
            "outbox": len(session.exec(select(Outgoing.id).where(
                Outgoing.status == "failed")).all())}


def progress(session: Session, settings: Settings, *, today: date) -> dict[str, Any]:
    items = unit_progress(session=session)
    total = len(items)
    forms_declared = settings.forms
    complete = sum(1 for p in items if all(s.key in p.forms for s in forms_declared))
    reminders: dict[int, list[Outgoing]] = {}
    for out in session.exec(select(Outgoing).where(Outgoing.kind == "reminder")
                            .order_by(col(Outgoing.id))):
        reminders.setdefault(out.unit_id or 0, []).append(out)
    units, missing = [], []
    for item in items:
        forms = {spec.key: item.forms.get(spec.key) for spec in forms_declared}
        row = {"unit": item.unit, "forms": forms, "last": local(settings, item.last_received),
               "reminders": item.reminders_sent}
        units.append(row)
        lacking = [spec.short for spec in forms_declared if forms[spec.key] is None]
        if lacking:
            latest = max(item.forms.values(), key=lambda s: s.received_at, default=None)
            missing.append({**row, "lacking": lacking,
                            "contact": latest.contact if latest else None,
                            "phone": latest.phone if latest else None,
                            "sent": [(local(settings, r.sent_at or r.created_at), r.status,
                                      r.subject) for r in reminders.get(item.unit.id or 0, [])]})
    return {
        "flagged": _flagged(session, [s for p in items for s in p.forms.values()]),
        "strangers": sorted({unit.name: unit for _, unit in
                             sender_mismatches(session=session, current_only=True)}.values(),
                            key=lambda unit: unit.id or 0),
        "total": total, "complete": complete,
        "percent": round(100 * complete / total) if total else 0,
        "by_form": [(spec.short, sum(1 for p in items if spec.key in p.forms))
                    for spec in forms_declared],
        "deadline": settings.campaign.deadline,
        "days_left": days_left(settings.campaign.deadline, today),
        "units": units, "missing": missing,
    }


def _flagged(session: Session, current: list[Submission]) -> set[int]:
    """Current submissions with a problem on the form or on any of its rows."""
    flagged = {s.id for s in current if s.problems}
    ids = [s.id for s in current if s.id not in flagged]
    if ids:
        found = session.exec(select(RowRecord.submission_id, RowRecord.problems).where(
            col(RowRecord.submission_id).in_(ids)))
        flagged |= {sub_id for sub_id, problems in found if problems}
    return flagged  # type: ignore[return-value]


def rows_of(session: Session, submission: Submission) -> list[Any]:
    return submission_rows(session=session, submission_id=submission.id)  # type: ignore[arg-type]


@dataclass
class SubmissionView:
    submission: Submission
    spec: FormSpec
    rows: list[Any]
    received: str

    @property
    def problems(self) -> list[str]:
        found = list(self.submission.problems)
        for row in self.rows:
            found += [p for p in row.problems if p not in found]
        return found


def _submission_view(session: Session, settings: Settings, sub: Submission) -> SubmissionView:
    spec = spec_for(settings.forms, sub.form)
    return SubmissionView(sub, spec, rows_of(session, sub), local(settings, sub.received_at))


def mail_body(raw: bytes) -> str:
    """The plain text of a mail we sent (receipts are base64: unreadable as stored)."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    part = parsed.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    return part.get_content() if part is not None else ""


@dataclass
class MessageView:
    message: Message
    received: str
    sent: str
    attachments: list[AttachmentRecord]
    submissions: list[SubmissionView]
    answers: list[dict[str, str]] = field(default_factory=list)
    unit: Unit | None = None
    subject: str = ""
    from_name: str = ""
    from_addr: str = ""

    @property
    def text(self) -> str:
        """The mail's own text, read from its kept copy (only where a page shows it)."""
        from formbot.reports.mailtext import mail_text

        return mail_text(self.message.raw_path)


def _headers(message: Message) -> tuple[str, str, str]:
    """(subject, name, address) of a mail never stored (it failed): read from the kept
    raw copy's headers, so the admin sees whose mail it is. Unreadable: empty."""
    try:
        with open(message.raw_path, "rb") as handle:
            headers = BytesHeaderParser(policy=email.policy.default).parse(handle)
        sender = headers["From"]
        mailbox = sender.addresses[0] if sender and sender.addresses else None
        return (str(headers["Subject"] or ""), mailbox.display_name if mailbox else "",
                mailbox.addr_spec if mailbox else "")
    except (OSError, ValueError, IndexError, AttributeError):
        return "", "", ""


def message_view(session: Session, settings: Settings, message: Message) -> MessageView:
    attachments = list(session.exec(select(AttachmentRecord).where(
        AttachmentRecord.message_ref == message.id).order_by(col(AttachmentRecord.id))))
    subs = list(session.exec(select(Submission).where(Submission.message_ref == message.id)
                             .order_by(col(Submission.id))))
    answers = [{"subject": o.subject, "status": o.status, "to": "、".join(o.recipients),
                "when": local(settings, o.sent_at or o.created_at), "body": mail_body(o.raw),
                "error": o.last_error or ""}
               for o in session.exec(select(Outgoing).where(Outgoing.message_ref == message.id)
                                     .order_by(col(Outgoing.id)))]
    subject, name, address = message.subject, message.from_name, message.from_addr
    if not address and message.status in ("new", "failed"):
        subject, name, address = _headers(message)
    return MessageView(message, local(settings, message.received_at),
                       local(settings, message.sent_at), attachments,
                       [_submission_view(session, settings, s) for s in subs], answers,
                       session.get(Unit, message.unit_id) if message.unit_id else None,
                       subject, name, address)


def unit_page(session: Session, settings: Settings, unit: Unit) -> dict[str, Any]:
    subs = list(session.exec(select(Submission).where(Submission.unit_id == unit.id)
                             .order_by(col(Submission.received_at).desc(),
                                       col(Submission.id).desc())))
    forms = []
    for spec in settings.forms:
        mine = [s for s in subs if s.form == spec.key]
        current = next((s for s in mine if s.current), None)
        forms.append({
            "spec": spec, "columns": columns(spec),
            "current": _submission_view(session, settings, current) if current else None,
            "earlier": [_submission_view(session, settings, s) for s in mine if not s.current],
        })
    messages = list(session.exec(select(Message).where(Message.unit_id == unit.id)
                                 .order_by(col(Message.received_at), col(Message.id))))
    reminders = list(session.exec(select(Outgoing).where(
        Outgoing.unit_id == unit.id, Outgoing.kind == "reminder").order_by(col(Outgoing.id))))
    known = [{"address": k.address, "learned_by": k.learned_by,
              "when": local(settings, k.learned_at)}
             for k in repo.known_senders(session=session) if k.unit_id == unit.id]
    return {
        "unit": unit, "forms": forms, "known": known,
        "messages": [message_view(session, settings, m) for m in messages],
        "reminders": [(local(settings, r.sent_at or r.created_at), r.status, r.subject)
                      for r in reminders],
    }


def unmatched_page(session: Session, settings: Settings) -> dict[str, Any]:
    units = list(session.exec(select(Unit).where(Unit.active == True)  # noqa: E712
                              .order_by(col(Unit.id))))
    return {"messages": [message_view(session, settings, m) for m in open_unmatched(session)],
            "units": units, "columns": columns_by_form(settings.forms)}


def failed_page(session: Session, settings: Settings) -> list[MessageView]:
    return [message_view(session, settings, m) for m in failed_messages(session=session)]


def search(session: Session, settings: Settings, query: str) -> list[dict[str, Any]]:
    """Rows of every version (current first) whose text, unit, contact or phone has `query`."""
    query = query.strip()
    if not query:
        return []
    results = []
    for spec in settings.forms:
        # Numbers are not searched as text (`2` would match every count).
        texts = [RowRecord.data[c].as_string() for f in spec.data_fields  # type: ignore[index]
                 if f.kind not in ("count", "number", "money") for c in f.columns]
        wanted = [c.contains(query, autoescape=True) for c in texts]
        wanted += [col(Unit.name).contains(query, autoescape=True),
                   col(Submission.unit_text).contains(query, autoescape=True),
                   col(Submission.contact).contains(query, autoescape=True),
                   col(Submission.phone).contains(query, autoescape=True)]
        statement = (
            select(RowRecord, Submission, Unit)
            .join(Submission, Submission.id == RowRecord.submission_id)  # type: ignore[arg-type]
            .outerjoin(Unit, Unit.id == Submission.unit_id)  # type: ignore[arg-type]
            .where(RowRecord.form == spec.key, or_(*wanted))
            .order_by(col(Submission.current).desc(), col(Unit.id), col(Submission.id),
                      col(RowRecord.seq), col(RowRecord.id))
            .limit(SEARCH_LIMIT + 1)
        )
        found = list(session.exec(statement).all())
        results.append({
            "spec": spec, "columns": columns(spec), "more": len(found) > SEARCH_LIMIT,
            "rows": [{"row": row, "submission": sub, "unit": unit,
                      "received": local(settings, sub.received_at)}
                     for row, sub, unit in found[:SEARCH_LIMIT]],
        })
    return results
