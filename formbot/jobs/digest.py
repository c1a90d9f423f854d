"""The admin's daily digest (汇总): what came in, who is missing, what waits for a person."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from formbot.poll.receipts import deadline_text
from formbot.reports.status import auth_summary
from formbot.settings.config import Settings
from formbot.settings.declared import complete, short_name
from notifier.compose import Sender, compose, render
from notifier.outbox import enqueue
from notifier.outboxadmin import KIND, outbox_state
from store.models import Submission, Unit
from store.queries import failed_messages, sender_mismatches, unit_progress, unmatched_messages


def queue_digest(settings: Settings, *, engine: Engine, now: datetime) -> bool:
    """Queue today's digest once, if admins are configured and remind_time has passed."""
    campaign = settings.campaign
    if not campaign.admin_emails:
        return False
    local = now.astimezone(campaign.zone)
    if local.time() < settings.schedule.remind_at:
        return False
    since = local - timedelta(days=1)
    with Session(engine) as session:
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
        body = render(
            "digest.txt.j2",
            date=f"{local:%Y-%m-%d}", code=campaign.code, title=campaign.title,
            deadline=deadline_text(campaign.deadline),
            complete=sum(1 for p in progress if complete(forms, p.forms)), total=len(progress),
            new=[(unit.name if unit else f"（未匹配）{sub.unit_text or ''}",
                  short_name(forms, sub.form), sub.row_count, sub.message_ref in suspect)
                 for sub, unit in new],
            missing=missing,
            unmatched=[(m.from_addr, m.unit_text or "", m.subject) for m in unmatched],
            failed=[(m.from_addr, m.subject, m.error or "") for m in failed],
            mismatched=[(unit.name, m.from_addr, m.subject, auth_summary(m.auth_results))
                        for m, unit in mismatched],
            outbox_failed=[_outgoing(item) for item in outbox["failed"]],
            outbox_retrying=[_outgoing(item) for item in outbox["retrying"]],
        )
        mail = compose(kind="digest",
                       sender=Sender(settings.smtp.from_address, settings.smtp.from_name),
                       to=list(campaign.admin_emails),
                       subject=f"formbot 每日汇总 {local:%Y-%m-%d}：{campaign.code}",
                       body=body, now=now)
        queued = enqueue(session, kind="digest", dedup_key=f"digest:{local:%Y-%m-%d}",
                         message=mail, now=now)
        session.commit()
    return queued


def _outgoing(item: dict[str, object]) -> tuple[object, ...]:
    """(id, kind, recipients, subject, reason) of an outgoing mail that did not go."""
    to = "、".join(item["to"])  # type: ignore[arg-type]
    return (item["id"], KIND.get(str(item["kind"]), item["kind"]), to, item["subject"],
            item["error"])
