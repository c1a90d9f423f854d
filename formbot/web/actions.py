"""What the admin can change from the console: assign, dismiss, retry.

Each goes through the same code the poller uses (read the kept raw mail, `store_message`,
the outbox), so rows, current versions and receipts follow the same rules as for mail
that matched by itself; and each writes its audit entry in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from loguru import logger
from sqlalchemy import Engine
from sqlmodel import Session

from errors import FormbotError
from formbot.poll import pipeline
from formbot.poll.blanks import receipt_blanks, replies_reach_mailbox
from formbot.poll.converters import LazyConverter
from formbot.poll.reading import Parsed, Readers
from formbot.poll.receipts import build_facts
from formbot.poll.storing import ADMIN, DISMISSED, StoreContext, store_message
from formbot.poll.wording import receipt_body
from formbot.settings.config import Settings
from ingest.rawstore import read_raw
from notifier.compose import Sender, compose
from notifier.outbox import drain, enqueue
from notifier.receipts import receipt_subject
from parsers.units import UnitRef
from store import audit, repo
from store.models import Message, Unit
from store.placements import EVERY, put_placement


class _AssignedUnit(StoreContext):
    """A registry of one unit that answers to this mail's sender and 填报单位, so that
    `store_message` files the mail under the unit the admin chose, by its usual rules."""

    def __init__(self, settings: Settings, ref: UnitRef) -> None:
        super().__init__(settings)
        self._ref = ref

    def units(self, session: Session) -> list[UnitRef]:
        return [self._ref]


@dataclass
class Outcome:
    text: str            # one sentence for the admin, in Chinese
    ok: bool = True


def _read(raw: bytes, settings: Settings) -> Parsed:
    with LazyConverter() as converter:
        readers = Readers(converter, settings.limits, forms=settings.forms)
        try:
            result = next(iter(readers.read_all([raw])))
        finally:
            readers.close()
    if isinstance(result, Exception):
        raise FormbotError(f"重新读取这封邮件时出错：{type(result).__name__}: {result}")
    return result  # type: ignore[return-value]


def _open_unmatched(session: Session, message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise FormbotError("没有这封邮件（可能已被删除），请刷新页面")
    if message.unit_id is not None:
        unit = session.get(Unit, message.unit_id)
        raise FormbotError(f"这封邮件已归入“{unit.name if unit else message.unit_id}”，无需再处理")
    if message.outcome == DISMISSED:
        raise FormbotError("这封邮件已被标记为无需处理")
    return message


def _deliver(settings: Settings, engine: Engine, now: datetime) -> str:
    """Send what was queued now; if SMTP is unreachable or its password is not set in this
    shell, the mail waits in the outbox and the next poll sends it."""
    try:
        report = drain(engine, pipeline.smtp_target(settings), now=now,
                       sender=settings.smtp.from_address)
    except FormbotError as exc:
        logger.warning("console.drain_skipped reason={}", exc)
        return "回执已排队，将在下次收信时发出。"
    if report.errors:
        return "回执已排队，发信服务器暂时不可用，将在下次收信时发出。"
    return "回执已发出。" if report.sent else ""


def assign(settings: Settings, *, engine: Engine, message_id: int, unit_id: int,
           now: datetime, who: str, remember: bool = False) -> Outcome:
    """File an unmatched mail under a unit: its rows become that unit's (the latest
    version per form wins, as always) and the sender gets one receipt naming the unit.
    With `remember`, later mail from the sender's address is that unit's by itself."""
    with Session(engine) as session:
        message = _open_unmatched(session, message_id)
        unit = session.get(Unit, unit_id)
        if unit is None or not unit.active:
            raise FormbotError("请选择名单中的一个单位")
        raw = read_raw(message.raw_path)
    parsed = _read(raw, settings)
    envelope = parsed.envelope
    unit_text = next((f.unit_text for f, _ in parsed.forms.values() if f.unit_text), None)
    if not envelope.from_addr and not unit_text:
        raise FormbotError("这封邮件既没有发件地址也没有“填报单位”，无法归入单位")
    ref = UnitRef(unit.id, unit.name, (unit_text,) if unit_text else (),  # type: ignore[arg-type]
                  (envelope.from_addr,) if envelope.from_addr else ())
    with Session(engine) as session:
        message = _open_unmatched(session, message_id)  # again: the worker may have moved it
        unit = session.get(Unit, unit_id)
        assert unit is not None
        # The newest decision holds, over a ※ sender rejected before (store/placements.py).
        put_placement(session, message_key=message.key, form=EVERY, unit_id=unit.id, at=now,
                      who=who)
        store_message(session, _AssignedUnit(settings, ref), message, parsed, now=now)
        if message.unit_id != unit.id:
            session.rollback()
            raise FormbotError("未能归入该单位（发件地址和填报单位都无法使用），请联系技术人员")
        message.match_method = ADMIN
        receipt = ""
        if message.outcome == "receipt-already-sent":
            # The first receipt said "unit not confirmed"; this one names the unit. Its own
            # key: the receipt key of the message is taken, and a second click finds this one.
            queued = _queue_assigned_receipt(session, settings, message, parsed, unit, unit_text,
                                             now=now)
            message.outcome = "receipt-assigned" if queued else message.outcome
            receipt = "queued" if queued else ""
        elif message.outcome == "receipt":
            receipt = "queued"
        session.add(message)
        learned = _remember(session, settings, envelope.from_addr, unit, message, now=now,
                            who=who) if remember else ""
        carried = "、".join(s.short for s in settings.forms if s.key in parsed.forms)
        audit.record(session, at=now, who=who, action="assign",
                     detail=f"邮件 {message.key}（{message.from_addr}）归入 {unit.name}；"
                            f"表格 {carried}" + (f"；{learned}" if learned else ""))
        session.commit()
        name = unit.name
    sent = _deliver(settings, engine, now) if receipt else "（按规则不回复此发件人，未发回执。）"
    return Outcome(f"已归入“{name}”，表格行已计入该单位。{sent}{learned}")


def _remember(session: Session, settings: Settings, address: str, unit: Unit,
              message: Message, *, now: datetime, who: str) -> str:
    """Learn the sender's address for the unit; the sentence that says what was done."""
    address = address.strip().lower()
    if not address:
        return "这封邮件没有发件地址，无法记住。"
    if address in {a.lower() for a in settings.own_addresses()}:
        return ""
    owners = [u.name for u in repo.all_units(session=session)
              if address in {e.lower() for e in u.emails}]
    if owners:
        # The registry (config.yaml, the units file) owns registered addresses.
        return f"{address} 已是“{'、'.join(owners)}”的登记邮箱，未另行记住。"
    repo.remember_sender(session=session, address=address, unit_id=unit.id,  # type: ignore[arg-type]
                         when=now, who=who, message_ref=message.id)
    return f"以后来自 {address} 的邮件将直接归入“{unit.name}”。"


def forget_sender(*, engine: Engine, unit_id: int, address: str, now: datetime,
                  who: str) -> Outcome:
    """Undo a remembered address: its mail is matched by 填报单位 again."""
    address = address.strip().lower()
    with Session(engine) as session:
        if not repo.forget_sender(session=session, address=address, unit_id=unit_id):
            raise FormbotError("这个地址已不在该单位的记住列表中，请刷新页面")
        unit = session.get(Unit, unit_id)
        name = unit.name if unit else str(unit_id)
        audit.record(session, at=now, who=who, action="forget-sender",
                     detail=f"不再把 {address} 的邮件直接归入 {name}")
        session.commit()
    return Outcome(f"已忘记 {address}：以后它的邮件按表中“填报单位”识别。")


def _queue_assigned_receipt(session: Session, settings: Settings, message: Message,
                            parsed: Parsed, unit: Unit, unit_text: str | None, *,
                            now: datetime) -> bool:
    session.flush()
    done = repo.current_forms(session=session, unit_id=unit.id)  # type: ignore[arg-type]
    note = f"经工作人员核对，这封邮件已归入“{unit.name}”，此前回执中“未能确认单位”的提示已不适用。"
    facts = build_facts(settings, subject=parsed.envelope.subject, unit_name=unit.name,
                        unit_text=unit_text, forms=parsed.forms, files=parsed.files,
                        missing={spec.key for spec in settings.forms} - done, notes=[note])
    blanks = receipt_blanks(settings.forms, unit_known=True, has_forms=bool(parsed.forms),
                            missing={spec.key for spec in settings.forms} - done)
    body = receipt_body(settings, facts, now=now, blanks=[name for name, _, _ in blanks],
                        reply_here=replies_reach_mailbox(settings))
    mail = compose(kind="receipt",
                   sender=Sender(settings.smtp.from_address, settings.smtp.from_name),
                   to=[parsed.envelope.from_addr], subject=receipt_subject(facts), body=body,
                   now=now, in_reply_to=parsed.envelope.message_id, attachments=blanks)
    return enqueue(session, kind="receipt", dedup_key=f"assigned:{message.key}", message=mail,
                   now=now, unit_id=unit.id, message_ref=message.id)


def dismiss(*, engine: Engine, message_id: int, now: datetime, who: str) -> Outcome:
    """Unmatched mail that belongs to no unit (a test, a stranger): out of the list. Its raw
    copy and rows stay, so nothing is lost if it was a mistake."""
    with Session(engine) as session:
        message = _open_unmatched(session, message_id)
        message.status, message.outcome = "ignored", DISMISSED
        session.add(message)
        detail = f"邮件 {message.key}（{message.from_addr}，{message.subject}）标记为无需处理"
        audit.record(session, at=now, who=who, action="dismiss", detail=detail)
        session.commit()
    return Outcome("已标记为无需处理，这封邮件不再出现在未匹配列表中。")


def retry(settings: Settings, *, engine: Engine, message_id: int, now: datetime,
          who: str) -> Outcome:
    """Read a failed mail again from its kept raw copy, through the pipeline's reprocess."""
    with Session(engine) as session:
        message = session.get(Message, message_id)
        if message is None:
            raise FormbotError("没有这封邮件（可能已被删除），请刷新页面")
        if message.status != "failed":
            raise FormbotError("这封邮件现在没有处理失败，无需重试")
        key = message.key
    problem = ""
    try:
        pipeline.reprocess(settings, engine=engine, now=now, message_ids=[key])
    except FormbotError as exc:
        # Raised after storing when only sending failed (e.g. the SMTP password is not set
        # in this shell): the receipt waits in the outbox. The status below tells which.
        problem = str(exc)
        logger.warning("console.retry_incomplete reason={}", exc)
    with Session(engine) as session:
        message = session.get(Message, message_id)
        assert message is not None
        ok = message.status != "failed"
        error = problem if ok else (message.error or problem)
        audit.record(session, at=now, who=who, action="retry",
                     detail=f"邮件 {key}：{'成功' if ok else '仍然失败：' + error}")
        session.commit()
    if not ok:
        return Outcome(f"重试后仍然失败：{error}", ok=False)
    return Outcome("重试成功，邮件已重新处理。" + ("回执将在下次收信时发出。" if problem else ""))
