"""The admin's hands on where mail belongs (issue 14 parts 1-2): move a form or a whole mail
to another unit (both units told), confirm or reject a ※ sender, add a unit to the registry
from a mail that waits, mark a person's mail handled. Each audited in its transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from errors import FormbotError
from formbot.poll.storing import ADMIN
from formbot.settings.config import Settings
from formbot.web.actions import Outcome
from notifier.compose import Sender, compose, render
from notifier.office import letterhead
from notifier.outbox import enqueue
from store import audit, repo
from store.attention import FOR_PERSON, HANDLED
from store.models import Message, Submission, Unit
from store.placements import EVERY, put_placement

CONSOLE = "console"          # Unit.source of a unit the admin added in the console


def _message(session: Session, message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise FormbotError("没有这封邮件（可能已被删除），请刷新页面")
    return message


def _unit(session: Session, unit_id: int) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None or not unit.active:
        raise FormbotError("请选择名单中的一个单位")
    return unit


def mark_handled(*, engine: Engine, message_id: int, now: datetime, who: str) -> Outcome:
    with Session(engine) as session:
        message = _message(session, message_id)
        if message.outcome != FOR_PERSON:
            raise FormbotError("这封来信已处理过，无需再标记")
        message.outcome = HANDLED
        session.add(message)
        audit.record(session, at=now, who=who, action="handled",
                     detail=f"来信 {message.key}（{message.from_addr}，{message.subject}）已处理")
        session.commit()
    return Outcome("已标记为已处理，这封来信不再出现在“来信待处理”中。")


def _tell(session: Session, settings: Settings, units: list[Unit], text: str, *,
          now: datetime, key: str, message: Message) -> int:
    """A short notice to each unit's addresses (registered and confirmed): what moved."""
    confirmed = repo.confirmed_addresses(session=session)
    to = list(dict.fromkeys(a for u in units for a in [*u.emails, *confirmed.get(u.id, [])]))  # type: ignore[arg-type]
    if not to:
        return 0
    campaign = settings.campaign
    body = render("moved.txt.j2", text=text, names="、".join(u.name for u in units),
                  campaign_title=campaign.title, campaign_code=campaign.code,
                  **letterhead(settings.smtp.from_name, campaign.contact,
                               now.astimezone(campaign.zone).date()))
    mail = compose(kind="receipt", sender=Sender(settings.smtp.from_address,
                                                 settings.smtp.from_name),
                   to=to, subject=f"表格归属调整：{campaign.code}", body=body, now=now,
                   in_reply_to=message.message_id)
    enqueue(session, kind="receipt", dedup_key=key, message=mail, now=now,
            unit_id=units[0].id, message_ref=message.id)
    return len(to)


def move(settings: Settings, *, engine: Engine, message_id: int, unit_id: int, now: datetime,
         who: str, form: str | None = None) -> Outcome:
    """Move one form (`form`) or the whole mail to another unit; the unit's current version
    is worked out again for every unit touched, and both units are told."""
    with Session(engine) as session:
        message = _message(session, message_id)
        target = _unit(session, unit_id)
        subs = list(session.exec(select(Submission).where(
            Submission.message_ref == message.id).order_by(col(Submission.id))))
        if form:
            subs = [s for s in subs if s.form == form]
        if not subs:
            raise FormbotError("这封邮件没有可移动的表格")
        before = {s.unit_id for s in subs if s.unit_id is not None} - {target.id}
        touched = {(s.unit_id, s.form) for s in subs if s.unit_id is not None}
        for sub in subs:
            sub.unit_id = target.id
            session.add(sub)
        if not form or message.unit_id is None:
            message.unit_id, message.match_method = target.id, ADMIN
            message.sender_matches_unit = None
            session.add(message)
        session.flush()
        touched |= {(target.id, s.form) for s in subs}
        # Kept apart from the rows, so `formbot reprocess` files the form here again.
        put_placement(session, message_key=message.key, form=form or EVERY,
                      unit_id=target.id, at=now, who=who)
        for unit_id_, form_key in sorted(touched):  # type: ignore[type-var]
            repo.refresh_current(session=session, unit_id=unit_id_, forms={form_key})  # type: ignore[arg-type]
        names = "、".join(s.short for s in settings.forms if s.key in {x.form for x in subs})
        others = [u for u in (session.get(Unit, i) for i in before) if u is not None]
        when = message.received_at.astimezone(settings.campaign.zone)
        text = (f"{message.from_addr}于{when.month}月{when.day}日发来的{names}，"
                f"经工作人员核对，归入“{target.name}”。")
        told = _tell(session, settings, [target, *others], text, now=now, message=message,
                     key=f"moved:{message.key}:{form or 'all'}:{target.id}:{now.isoformat()}")
        audit.record(session, at=now, who=who, action="move",
                     detail=f"邮件 {message.key} 的{names}移至 {target.name}"
                            + (f"（原属 {'、'.join(u.name for u in others)}）" if others else ""))
        target_name = target.name
        session.commit()
    if told:
        _send(settings, engine, now)
    tail = f"已通知相关单位（{told}个地址）。" if told else "相关单位没有登记邮箱，未发通知。"
    return Outcome(f"已将{names}移至“{target_name}”。{tail}")


def _send(settings: Settings, engine: Engine, now: datetime) -> None:
    from formbot.web.actions import _deliver

    _deliver(settings, engine, now)


def confirm_sender(*, engine: Engine, message_id: int, now: datetime, who: str) -> Outcome:
    """※ confirmed: the address is the unit's from now on (remembered like an assignment)."""
    with Session(engine) as session:
        message = _message(session, message_id)
        unit = _unit(session, message.unit_id or 0)
        address = message.from_addr.strip().lower()
        if not address:
            raise FormbotError("这封邮件没有发件地址，无法确认")
        repo.remember_sender(session=session, address=address, unit_id=unit.id,  # type: ignore[arg-type]
                             when=now, who=who, message_ref=message.id)
        message.sender_matches_unit = True
        session.add(message)
        audit.record(session, at=now, who=who, action="confirm-sender",
                     detail=f"确认 {address} 为 {unit.name} 的发件地址")
        name = unit.name
        session.commit()
    return Outcome(f"已确认：以后来自 {address} 的邮件直接归入“{name}”。")


def reject_sender(*, engine: Engine, message_id: int, now: datetime, who: str) -> Outcome:
    """※ rejected: the mail is not the unit's; its forms leave the unit and wait unmatched."""
    with Session(engine) as session:
        message = _message(session, message_id)
        unit = _unit(session, message.unit_id or 0)
        subs = list(session.exec(select(Submission).where(Submission.message_ref == message.id)))
        touched = {(s.unit_id, s.form) for s in subs if s.unit_id is not None}
        for sub in subs:
            sub.unit_id, sub.current = None, False
            session.add(sub)
        message.unit_id, message.match_method, message.sender_matches_unit = None, None, None
        session.add(message)
        # Kept apart from the rows, so `formbot reprocess` leaves the mail waiting.
        put_placement(session, message_key=message.key, form=EVERY, unit_id=None, at=now,
                      who=who)
        session.flush()
        for unit_id_, form_key in sorted(touched):  # type: ignore[type-var]
            repo.refresh_current(session=session, unit_id=unit_id_, forms={form_key})  # type: ignore[arg-type]
        audit.record(session, at=now, who=who, action="reject-sender",
                     detail=f"邮件 {message.key}（{message.from_addr}）"
                            f"不属于 {unit.name}，移入待确认")
        name = unit.name
        session.commit()
    return Outcome(f"已从“{name}”移出，这封邮件改在“待确认单位”中等待处理。")


def add_unit(*, engine: Engine, message_id: int, name: str, now: datetime,
             who: str) -> tuple[Outcome, int]:
    """A unit missing from the registry, added where its mail waits: stored like `units
    import` does (a registry entry in the database), marked as added in the console, with
    the mail's address and 填报单位 as its address and alias. Returns (outcome, unit id)."""
    name = " ".join(name.split())
    if not name:
        raise FormbotError("请填写单位全称")
    with Session(engine) as session:
        message = _message(session, message_id)
        if session.exec(select(Unit).where(Unit.name == name)).first() is not None:
            raise FormbotError(f"名单中已有“{name}”，请在下拉框中选择它")
        aliases = [message.unit_text] if message.unit_text and message.unit_text != name else []
        emails = [message.from_addr.lower()] if message.from_addr else []
        unit = Unit(name=name, aliases=aliases, emails=emails, source=CONSOLE)
        session.add(unit)
        audit.record(session, at=now, who=who, action="add-unit",
                     detail=f"从邮件 {message.key} 新增单位 {name}"
                            f"（邮箱 {'、'.join(emails) or '无'}）")
        session.commit()
        return Outcome(f"已把“{name}”加入单位名单。"), unit.id  # type: ignore[return-value]
