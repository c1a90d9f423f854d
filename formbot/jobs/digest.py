"""The admin's daily digest (汇总): what came in, who is missing, what waits for a person."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from formbot.poll.receipts import deadline_text
from formbot.reports.mailtext import own_words
from formbot.reports.sentences import error_sentence
from formbot.reports.status import auth_summary
from formbot.settings.config import Settings
from formbot.settings.declared import complete, short_name
from notifier.compose import Sender, compose, render
from notifier.office import NUMERALS, day_text, letterhead
from notifier.outbox import enqueue
from notifier.outboxadmin import KIND, outbox_state
from store.attention import cross_unit_forms, waiting_for_person
from store.models import Submission, Unit
from store.queries import failed_messages, sender_mismatches, unit_progress, unmatched_messages


def queue_digest(settings: Settings, *, engine: Engine, now: datetime,
                 force: bool = False) -> bool:
    """Queue today's digest once, if admins are configured and remind_time has passed
    (`force`: whatever the hour, as `formbot digest --send` asks)."""
    campaign = settings.campaign
    if not campaign.admin_emails:
        return False
    local = now.astimezone(campaign.zone)
    if local.time() < settings.schedule.remind_at and not force:
        return False
    with Session(engine) as session:
        subject, body = digest_text(settings, session=session, now=now)
        mail = compose(kind="digest",
                       sender=Sender(settings.smtp.from_address, settings.smtp.from_name),
                       to=list(campaign.admin_emails), subject=subject, body=body, now=now)
        queued = enqueue(session, kind="digest", dedup_key=f"digest:{local:%Y-%m-%d}",
                         message=mail, now=now)
        session.commit()
    return queued


def digest_text(settings: Settings, *, session: Session, now: datetime) -> tuple[str, str]:
    """The digest's subject and text at `now`."""
    campaign = settings.campaign
    local = now.astimezone(campaign.zone)
    since = local - timedelta(days=1)
    new = session.exec(
        select(Submission, Unit).join(Unit, Unit.id == Submission.unit_id, isouter=True)
        .where(Submission.received_at >= since).order_by(Submission.received_at)  # type: ignore[arg-type]
    ).all()
    progress = unit_progress(session=session)
    forms = settings.forms
    missing = [(p.unit.name, [s.short for s in forms if s.key not in p.forms])
               for p in progress]
    missing = [(name, forms) for name, forms in missing if forms]
    unmatched = unmatched_messages(session=session)
    failed = failed_messages(session=session)
    # The day's only, like `new`: each such mail is pointed out once, not every day.
    mismatched = sender_mismatches(session=session, since=since)
    suspect = {message.id for message, _ in mismatched}
    outbox = outbox_state(session, campaign.zone)
    units = {u.id: u.name for _, u in new if u} | {p.unit.id: p.unit.name for p in progress}
    body = render(
        "digest.txt.j2", code=campaign.code, title=campaign.title,
        deadline=deadline_text(campaign.deadline), numerals=NUMERALS,
        **letterhead(settings.smtp.from_name, campaign.contact, local.date()),
        complete=sum(1 for p in progress if complete(forms, p.forms)), total=len(progress),
        new=[(unit.name if unit else f"未确认单位（表中填报单位：{sub.unit_text or '未填'}）",
              short_name(forms, sub.form), sub.row_count, sub.message_ref in suspect)
             for sub, unit in new],
        missing=missing,
        waiting=[(units.get(m.unit_id, "未登记的发件人"), m.from_addr, m.subject,  # type: ignore[arg-type]
                  own_words(m.raw_path, limit=120))
                 for m in waiting_for_person(session=session)],
        crossed=[(short_name(forms, sub.form), unit.name, own.name, message.from_addr)
                 for sub, message, unit, own in cross_unit_forms(session=session)],
        unmatched=[(m.from_addr, m.unit_text or "", m.subject) for m in unmatched],
        failed=[(m.from_addr, m.subject, error_sentence(m.error)) for m in failed],
        mismatched=[(unit.name, m.from_addr, m.subject,
                     auth_summary(m.auth_results) if m.auth_results else "")
                    for m, unit in mismatched],
        outbox_failed=[_outgoing(item) for item in outbox["failed"]],
        outbox_retrying=[_outgoing(item) for item in outbox["retrying"]],
    )
    return f"每日汇总（{day_text(local.date())}）：{campaign.code}", body


def _outgoing(item: dict[str, object]) -> tuple[object, ...]:
    """(id, kind, recipients, subject, reason) of an outgoing mail that did not go."""
    to = "、".join(item["to"])  # type: ignore[arg-type]
    return (item["id"], KIND.get(str(item["kind"]), item["kind"]), to, item["subject"],
            item["error"])
