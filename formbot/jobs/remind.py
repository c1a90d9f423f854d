"""`formbot remind`: mail each unit still missing a form, once per (unit, slot), ever."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from formbot.jobs.attempts import failed_attempt
from formbot.poll.blanks import chosen, load_blanks, replies_reach_mailbox
from formbot.poll.receipts import deadline_text
from formbot.settings.config import Settings
from notifier.compose import Sender, compose, render
from notifier.office import letterhead
from notifier.outbox import enqueue
from notifier.reminders import due_slot, slot_label
from store import repo
from store.queries import unit_progress


@dataclass
class RemindReport:
    slot: int | None = None
    queued: list[str] = field(default_factory=list)        # unit names mailed now
    already: int = 0                                        # units this slot reached before
    no_address: list[str] = field(default_factory=list)    # units we cannot mail


def queue_reminders(settings: Settings, *, engine: Engine, now: datetime) -> RemindReport:
    campaign = settings.campaign
    slot = due_slot(campaign.deadline, campaign.reminders, settings.schedule.remind_at,
                    campaign.zone, now)
    report = RemindReport(slot=slot)
    if slot is None:
        return report
    sender = Sender(settings.smtp.from_address, settings.smtp.from_name)
    reply_here = replies_reach_mailbox(settings)
    templates = load_blanks(settings.forms)
    with Session(engine) as session:
        confirmed = repo.confirmed_addresses(session=session)
        progress = unit_progress(session=session)
        # An address the registry has since given to another unit is that unit's now.
        registered = {a.lower(): item.unit.id for item in progress for a in item.unit.emails}
        for item in progress:
            owed = [spec for spec in settings.forms if spec.key not in item.forms]
            missing = [spec.short for spec in owed]
            if not missing:
                continue
            # Besides the registry's addresses, the ones the admin confirmed for the unit in
            # the console: the clerk who actually sends the forms is the one to remind.
            learned = [a for a in confirmed.get(item.unit.id, [])  # type: ignore[arg-type]
                       if registered.get(a, item.unit.id) == item.unit.id]
            to = list(dict.fromkeys([*item.unit.emails, *learned]))
            if not to:
                report.no_address.append(item.unit.name)
                continue
            overdue = slot > 0
            # The blank forms it owes go with it: the unit fills them in and replies.
            blanks = chosen(templates, [spec.key for spec in owed])
            words = letterhead(settings.smtp.from_name, campaign.contact,
                               now.astimezone(campaign.zone).date())
            body = render("reminder.txt.j2", unit_name=item.unit.name, missing=missing,
                          blanks=[name for name, _, _ in blanks], reply_here=reply_here,
                          all_blank=all(spec.key in templates for spec in owed),
                          overdue=overdue, campaign_title=campaign.title,
                          campaign_code=campaign.code, deadline=deadline_text(campaign.deadline),
                          mailbox=settings.mailbox.username, **words,
                          failed_attempt=failed_attempt(session, item.unit, campaign.zone))
            subject = (f"{'逾期未报' if overdue else '催报'}提醒（{slot_label(slot)}）："
                       f"{campaign.code}，{'、'.join(missing)}")
            mail = compose(kind="reminder", sender=sender, to=to,
                           subject=subject, body=body, now=now, attachments=blanks)
            # The unique key is the once-ever guarantee, across restarts and racing workers.
            if enqueue(session, kind="reminder", dedup_key=f"reminder:{item.unit.id}:{slot}",
                       message=mail, now=now, unit_id=item.unit.id):
                report.queued.append(item.unit.name)
            else:
                report.already += 1
        session.commit()
    return report

