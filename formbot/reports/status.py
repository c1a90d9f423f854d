"""The admin's view of a campaign: the status JSON of CONTRACT.md and what the status
table, the digest and the console show beside it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from formbot.reports.mailtext import own_words
from formbot.settings.config import Settings
from formbot.settings.declared import complete
from notifier.outboxadmin import outbox_state
from store.attention import cross_unit_forms, waiting_for_person
from store.models import Message, Unit
from store.queries import (
    failed_messages,
    sender_mismatches,
    unit_progress,
    unmatched_messages,
)

SUMMARY_SHEET = "提交情况"
# RFC 8601 resinfo: "method=result" opens each ";"-separated part after the authserv-id.
_RESINFO = re.compile(r"\s*([A-Za-z][\w.-]*)\s*=\s*([A-Za-z]+)")
# A header is sender-controlled text: what is shown of it stays short.
_AUTH_SHOWN = 300


def local_time(moment: datetime | None, settings: Settings) -> datetime | None:
    return moment.astimezone(settings.campaign.zone) if moment else None


def auth_summary(header: str | None) -> str:
    """`dkim=pass spf=fail` from an Authentication-Results value, for a person to read.

    The receiving server (126) puts its verdicts on each method there; the clauses after
    them (header.d=, smtp.mailfrom=, comments) matter less than the verdicts themselves.
    """
    if not header:
        return "无认证结果"
    verdicts = [f"{m.group(1).lower()}={m.group(2).lower()}"
                for part in header.split(";")[1:] if (m := _RESINFO.match(part))]
    return " ".join(verdicts) or " ".join(header.split())[:_AUTH_SHOWN]


def mismatch_entry(message: Message, unit: Unit, settings: Settings) -> dict[str, Any]:
    """One `sender_mismatch` item of the status JSON."""
    received = local_time(message.sent_at or message.received_at, settings)
    return {
        "unit": unit.name,
        "message_id": message.message_id or message.key,
        "from": message.from_addr,
        "subject": message.subject,
        "received_at": received.isoformat(timespec="seconds") if received else None,
        # The topmost Authentication-Results, as recorded: the receiving server's (126's)
        # verdict when it adds one; null when the mail had none.
        "auth": " ".join(message.auth_results.split()) if message.auth_results else None,
    }


def _contact(item: Any) -> str:
    """How to reach a unit: the contact person of its latest form, and its addresses."""
    latest = max(item.forms.values(), key=lambda s: s.received_at, default=None)
    person = " ".join(x for x in (latest.contact, latest.phone) if x) if latest else ""
    return "　".join(x for x in (person, "、".join(item.unit.emails)) if x)


def waiting_entry(message: Message, unit: Unit | None, settings: Settings) -> dict[str, Any]:
    """One `waiting` item of the status JSON: a mail a person should answer."""
    received = local_time(message.sent_at or message.received_at, settings)
    return {"message_id": message.message_id or message.key, "from": message.from_addr,
            "unit": unit.name if unit else None, "subject": message.subject,
            "received_at": received.isoformat(timespec="seconds") if received else None,
            "text": own_words(message.raw_path)}


def status_data(settings: Settings, *, engine: Engine,
                sender_check: bool = False) -> dict[str, Any]:
    """The status JSON of CONTRACT.md, exactly. With `sender_check` (the text table and the
    console), also `sender_mismatch`: current submissions filed by 填报单位 whose From is
    not a registered address of the unit. Not in the JSON: the contract fixes its keys."""
    with Session(engine) as session:
        progress = unit_progress(session=session)
        unmatched = unmatched_messages(session=session)
        failed = failed_messages(session=session)
        outbox = outbox_state(session, settings.campaign.zone)
        waiting = [waiting_entry(message, session.get(Unit, message.unit_id)
                                 if message.unit_id else None, settings)
                   for message in waiting_for_person(session=session)]
        mismatched = [mismatch_entry(message, unit, settings) for message, unit
                      in sender_mismatches(session=session, current_only=True)
                      ] if sender_check else []
        names = {spec.key: spec.short for spec in settings.forms}
        crossed = [{"unit": unit.name, "sender_unit": own.name,
                    "form": names.get(sub.form, sub.form),
                    "from": message.from_addr, "subject": message.subject,
                    "message_id": message.message_id or message.key, "message": message.id}
                   for sub, message, unit, own in cross_unit_forms(session=session)
                   ] if sender_check else []
    contacts = {item.unit.name: _contact(item) for item in progress}
    units = []
    for item in progress:
        forms = {}
        for spec in settings.forms:
            sub = item.forms.get(spec.key)
            received = local_time(sub.received_at, settings) if sub else None
            forms[spec.key] = {
                "submitted": sub is not None,
                "rows": sub.row_count if sub else 0,
                "received_at": received.isoformat(timespec="seconds") if received else None,
            }
        units.append({"name": item.unit.name, "forms": forms,
                      "reminders_sent": item.reminders_sent})
    data = {
        "campaign": settings.campaign.code,
        "deadline": settings.campaign.deadline.isoformat(),
        "units_total": len(progress),
        "units_complete": sum(1 for p in progress if complete(settings.forms, p.forms)),
        "units": units,
        "unmatched": [{"message_id": m.message_id or m.key, "from": m.from_addr,
                       "unit_text": m.unit_text} for m in unmatched],
        "failed": [{"message_id": m.message_id or m.key, "error": m.error or ""} for m in failed],
        # Additive (issue 11): outgoing mail waiting, being retried, or given up.
        "outbox": outbox,
        # Additive (issue 14): a unit's mail without a form (a question, a thank-you) that
        # the bot does not answer: a person does.
        "waiting": waiting,
    }
    if sender_check:
        data["sender_mismatch"] = mismatched
        data["crossed"] = crossed
        data["contacts"] = contacts
    return data
