"""`run_once`: the one place that calls ingest → parsers → store → notifier.

Per message, in this order, each step committed before the next:
1. raw bytes kept on disk (ingest.rawstore), 2. the message recorded,
3. parsed and its rows stored with its receipt queued (one transaction),
4. marked handled on the server, 5. the outbox drained over SMTP.
A crash anywhere repeats at most the step it interrupted; the unique keys
(message key, receipt key) make the repeat harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser

from loguru import logger
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ingest.imap import ImapTarget, Mailbox
from ingest.rawstore import keep_raw, read_raw
from notifier.compose import Sender, compose, render
from notifier.outbox import DrainReport, SmtpTarget, drain, enqueue
from notifier.receipts import receipt_subject
from notifier.rfc3834 import reason_not_to_answer
from parsers.errors import FormbotError
from parsers.files import FileResult, LegacyConverter, read_attachment, sniff
from parsers.forms import EMPTY_FORM, FormData
from parsers.links import large_attachment_links
from parsers.mail import Envelope, parse_mail
from parsers.specs import FORMS
from parsers.units import Match, UnitRef, identify
from store import repo
from store.crashpoints import crashpoint
from store.leases import held
from store.models import AttachmentRecord, MailboxCopy, Message, Submission, Unit

from .config import Settings
from .converters import LazyConverter
from .receipts import build_facts
from .registry import sync_registry

Progress = Callable[[int, int], None]
# Longer than any poll; a crashed poller's lease expires after it.
POLL_LEASE = timedelta(minutes=30)


@dataclass
class PollReport:
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    processed: int = 0
    failed: int = 0
    receipts: int = 0
    delivery: DrainReport = field(default_factory=DrainReport)
    errors: list[str] = field(default_factory=list)
    tried: set[int] = field(default_factory=set)   # message ids attempted in this poll
    busy: bool = False                              # another poll was already running


def imap_target(settings: Settings) -> ImapTarget:
    box = settings.mailbox
    return ImapTarget(host=box.host, port=box.port, security=box.security,
                      username=box.username, password=box.password(), folder=box.folder,
                      timeout=box.timeout)


def smtp_target(settings: Settings) -> SmtpTarget:
    smtp = settings.smtp
    return SmtpTarget(host=smtp.host, port=smtp.port, security=smtp.security,
                      username=smtp.username, password=smtp.password(), timeout=smtp.timeout)


def _message_key(raw: bytes, sha: str) -> tuple[str, str | None]:
    headers = BytesHeaderParser().parsebytes(raw)
    message_id = str(headers.get("Message-ID", "") or "").strip() or None
    return (message_id or f"sha256:{sha}"), message_id


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


Stop = Callable[[], bool]


def _never() -> bool:
    return False


def run_once(settings: Settings, *, engine: Engine, now: datetime,
             progress: Progress | None = None, should_stop: Stop = _never) -> PollReport:
    """One poll: new mail in, failed mail retried, receipts out.

    `should_stop` is asked between messages: a worker told to stop finishes the
    message in hand, records how far it got, and returns.
    """
    report = PollReport()
    sync_registry(settings, engine=engine)
    box = settings.mailbox
    # One poller per mailbox folder, across processes and machines sharing the database.
    with held(engine, f"poll:{box.username}@{box.host}/{box.folder}", ttl=POLL_LEASE) as mine:
        if not mine:
            report.busy = True
            logger.info("poll.skipped reason=another poll holds the lease")
        else:
            with LazyConverter() as converter:
                ingest_new(settings, engine=engine, now=now, report=report, progress=progress,
                           should_stop=should_stop, converter=converter)
                if not should_stop():
                    retry_failed(settings, engine=engine, now=now, report=report,
                                 should_stop=should_stop, converter=converter)
    report.delivery = drain(engine, smtp_target(settings), now=now,
                            sender=settings.smtp.from_address)
    return report


def ingest_new(settings: Settings, *, engine: Engine, now: datetime, report: PollReport,
               progress: Progress | None = None, should_stop: Stop = _never,
               converter: LegacyConverter | None = None) -> None:
    target = imap_target(settings)
    account, folder = target.account, target.folder
    with Mailbox(target) as box, Session(engine) as session:
        state = repo.folder_state(session=session, account=account, folder=folder)
        rescan = state is None or state.uidvalidity != box.uidvalidity
        if state is not None and rescan:
            logger.warning("imap.uidvalidity_changed folder={} old={} new={}",
                           folder, state.uidvalidity, box.uidvalidity)
        elif state is not None and box.uidnext is not None and box.uidnext <= state.last_uid:
            # UIDs restarted without a new UIDVALIDITY (a server rebuild done wrong): trusting
            # last_uid would skip every new mail as "already seen". Re-read; keys dedupe.
            logger.warning("imap.uids_restarted folder={} last_uid={} uidnext={}",
                           folder, state.last_uid, box.uidnext)
            rescan = True
        last_done = 0 if rescan else state.last_uid  # type: ignore[union-attr]
        uids = box.new_uids(last_done)
        if rescan:
            repo.save_folder_state(session=session, account=account, folder=folder,
                                   uidvalidity=box.uidvalidity, last_uid=0)
            session.commit()
        for batch in _chunks(uids, settings.mailbox.batch_size):
            to_fetch = list(batch)
            if rescan and state is not None:
                to_fetch = _skip_known(session, box, batch, report, account=account, folder=folder)
            for uid, raw in box.fetch_raw(to_fetch):
                report.fetched += 1
                message, fresh = _record(session, settings, raw, now=now, account=account,
                                         folder=folder, uidvalidity=box.uidvalidity, uid=uid)
                if fresh:
                    report.new += 1
                    _process_safely(session, settings, message, raw, now=now, report=report,
                                    converter=converter)
                else:
                    report.duplicates += 1
                last_done = uid
                if should_stop():
                    break
            else:
                last_done = max(batch)
            repo.save_folder_state(session=session, account=account, folder=folder,
                                   uidvalidity=box.uidvalidity, last_uid=last_done)
            session.commit()
            crashpoint("batch-saved")
            if progress:
                progress(sum(1 for u in uids if u <= last_done), len(uids))
            if should_stop():
                break
        _mark_handled(session, box, settings, account=account, folder=folder)


def _skip_known(session: Session, box: Mailbox, batch: Sequence[int], report: PollReport, *,
                account: str, folder: str) -> list[int]:
    """After a mailbox rebuild every UID is "new": read Message-IDs first and
    fetch bodies only of mail never seen before."""
    ids = box.fetch_message_ids(batch)
    known = repo.known_keys(session=session, keys=list(ids.values()))
    to_fetch = list(batch)
    for uid, key in ids.items():
        if key in known:
            message = repo.message_by_key(session=session, key=key)
            repo.add_copy(session=session, message=message, account=account,  # type: ignore[arg-type]
                          folder=folder, uidvalidity=box.uidvalidity, uid=uid)
            report.duplicates += 1
            to_fetch.remove(uid)
    session.commit()
    return to_fetch


def _record(session: Session, settings: Settings, raw: bytes, *, now: datetime, account: str,
            folder: str, uidvalidity: int, uid: int) -> tuple[Message, bool]:
    """Keep the raw bytes, then record the message (once per key). Committed on return."""
    path, sha = keep_raw(settings.data_dir, raw)
    crashpoint("raw-kept")
    key, message_id = _message_key(raw, sha)
    message = repo.message_by_key(session=session, key=key)
    fresh = message is None
    try:
        if message is None:
            message = Message(key=key, message_id=message_id, sha256=sha, raw_path=str(path),
                              size=len(raw), received_at=now)
            session.add(message)
            session.flush()
        repo.add_copy(session=session, message=message, account=account, folder=folder,
                      uidvalidity=uidvalidity, uid=uid)
        session.commit()
        crashpoint("recorded")
    except IntegrityError:
        # Another worker recorded it between our look and our insert: theirs to process.
        session.rollback()
        message, fresh = repo.message_by_key(session=session, key=key), False
        assert message is not None
    return message, fresh


def _mark_handled(session: Session, box: Mailbox, settings: Settings, *, account: str,
                  folder: str) -> None:
    """Flag or move every copy whose message is done, including ones retried from disk."""
    uids = list(session.exec(
        select(MailboxCopy.uid).join(Message, Message.id == MailboxCopy.message_ref).where(
            MailboxCopy.account == account, MailboxCopy.folder == folder,
            MailboxCopy.uidvalidity == box.uidvalidity, MailboxCopy.handled == False,  # noqa: E712
            Message.status.in_(["processed", "ignored"]),  # type: ignore[attr-defined]
        )
    ))
    if not uids:
        return
    box.mark_handled(uids, settings.mailbox.processed_folder)
    crashpoint("marked-on-server")
    repo.mark_copies_handled(session=session, account=account, folder=folder,
                             uidvalidity=box.uidvalidity, uids=uids)
    session.commit()


def retry_failed(settings: Settings, *, engine: Engine, now: datetime, report: PollReport,
                 should_stop: Stop = _never, converter: LegacyConverter | None = None) -> None:
    with Session(engine) as session:
        for message in repo.messages_to_retry(session=session,
                                              max_attempts=settings.mailbox.max_attempts):
            if should_stop():
                return
            if message.id in report.tried:
                continue  # once per poll: the next poll tries again
            _process_safely(session, settings, message, read_raw(message.raw_path), now=now,
                            report=report, converter=converter)


def _process_safely(session: Session, settings: Settings, message: Message, raw: bytes, *,
                    now: datetime, report: PollReport,
                    converter: LegacyConverter | None = None) -> None:
    """The per-message boundary: an error is recorded on the message, never raised."""
    message_db_id = message.id
    report.tried.add(message_db_id)  # type: ignore[arg-type]
    try:
        process_message(session, settings, message, raw, now=now, converter=converter)
        session.commit()
        crashpoint("processed")
        report.processed += 1
        report.receipts += message.outcome == "receipt"
        logger.info("message.processed id={} key={} outcome={}", message_db_id, message.key,
                    message.outcome)
    except Exception as exc:  # the boundary: any bug in one mail must not stop the others
        session.rollback()
        failed = session.get(Message, message_db_id)
        assert failed is not None
        failed.attempts += 1
        repo.record_failure(session=session, message=failed,
                            error=f"{type(exc).__name__}: {exc}", when=now)
        session.commit()
        report.failed += 1
        report.errors.append(f"{failed.key}: {exc}")
        logger.exception("message.failed id={} key={}", message_db_id, failed.key)


def _unit_refs(session: Session) -> list[UnitRef]:
    return [UnitRef(u.id, u.name, tuple(u.aliases), tuple(u.emails))  # type: ignore[arg-type]
            for u in repo.all_units(session=session)]


def _read_attachments(envelope: Envelope,
                      converter: LegacyConverter | None = None) -> list[FileResult]:
    results: list[FileResult] = []
    seen: set[str] = set()
    for attachment in envelope.attachments:
        if attachment.sha256 in seen:
            continue  # the same file attached twice is one file
        seen.add(attachment.sha256)
        if attachment.content_type.startswith("image/") and len(envelope.attachments) > 1 \
                and sniff(attachment.data) == "image":
            continue  # a logo in a signature is not a submission
        try:
            found = read_attachment(attachment.name, attachment.data, converter=converter)
        except Exception as exc:  # one unreadable file must not lose the others
            logger.exception("file.unreadable name={}", attachment.name)
            found = [FileResult(attachment.name, "unknown",
                                problem=f"读取时出错（{type(exc).__name__}），工作人员会人工查看")]
        for result in found:
            result.sha256, result.size = attachment.sha256, len(attachment.data)
        results += found
    return results


def _merge_forms(files: list[FileResult]) -> dict[str, tuple[FormData, list[str]]]:
    """One form per kind per message: a form split over files or tables is one submission."""
    merged: dict[str, tuple[FormData, list[str]]] = {}
    for result in files:
        for form in result.forms:
            if form.spec.key not in merged:
                merged[form.spec.key] = (form, [result.name])
                continue
            first, names = merged[form.spec.key]
            offset = len(first.rows)
            for row in form.rows:
                row.seq += offset
                for problem in row.problems:
                    object.__setattr__(problem, "row", row.seq)
            first.rows.extend(form.rows)
            first.problems.extend(p for p in form.problems if p not in first.problems)
            first.unit_text = first.unit_text or form.unit_text
            if result.name not in names:
                names.append(result.name)
    for form, _ in merged.values():
        if form.rows:
            form.problems = [p for p in form.problems if p.message != EMPTY_FORM]
    return merged


_CAMPAIGN_WORDS = ("申报表", "登记表", "主题活动", "志愿者服务队", "劳模精神", "创新杨浦")


def _mentions_campaign(settings: Settings, envelope: Envelope) -> bool:
    text = envelope.subject + "\n" + envelope.text[:5000]
    words = (*_CAMPAIGN_WORDS, settings.campaign.code)
    return any(word in text for word in words)


def process_message(session: Session, settings: Settings, message: Message, raw: bytes, *,
                    now: datetime, converter: LegacyConverter | None = None) -> None:
    """Parse one kept message and store what it carries; the caller commits."""
    envelope = parse_mail(raw)
    # A re-parse may move the forms to another unit: the old unit's current rows change too.
    touched = repo.clear_parse(session=session, message=message)
    message.from_addr, message.from_name = envelope.from_addr, envelope.from_name
    message.subject = envelope.subject[:500]
    message.sent_at = envelope.date
    message.auth_results = envelope.header("authentication-results") or None

    files = _read_attachments(envelope, converter)
    forms = _merge_forms(files)
    for result in files:
        session.add(AttachmentRecord(
            message_ref=message.id, name=result.name[:500], sha256=result.sha256, size=result.size,
            kind=result.kind,
            forms=",".join(f.spec.key for f in result.forms), problem=result.problem))

    units = _unit_refs(session)
    unit_text = next((f.unit_text for f, _ in forms.values() if f.unit_text), None)
    match: Match | None = identify(envelope.from_addr, unit_text, units)
    unit = session.get(Unit, match.unit.id) if match else None
    message.unit_id = unit.id if unit else None
    message.unit_text = unit_text
    message.match_method = match.method if match else None
    message.sender_matches_unit = (
        envelope.from_addr in unit.emails if unit and unit.emails else None)

    received_at = envelope.date or now
    for form, file_names in forms.values():
        repo.add_submission(
            session=session,
            submission=Submission(
                message_ref=message.id, unit_id=message.unit_id, form=form.spec.key,
                received_at=received_at, file_name="、".join(file_names)[:500],
                unit_text=form.unit_text, contact=form.contact, phone=form.phone,
                filled_on=form.filled_on, filled_on_raw=form.filled_on_raw,
                row_count=len(form.rows), problems=[p.describe() for p in form.problems],
                extra_columns=form.extra_columns,
            ),
            rows=[{"seq": r.seq, **r.values, "raw": r.raw,
                   "problems": [p.describe() for p in r.problems]} for r in form.rows],
        )
    session.flush()
    if unit is not None:
        touched |= {(unit.id, key) for key in forms}  # type: ignore[misc]
    for unit_id, form_key in touched:
        repo.refresh_current(session=session, unit_id=unit_id, form=form_key)
    _answer(session, settings, message, envelope, unit, unit_text, forms, files, now=now)
    message.status, message.error = "processed", None
    message.attempts += 1
    session.add(message)


def _answer(session: Session, settings: Settings, message: Message, envelope: Envelope,
            unit: Unit | None, unit_text: str | None,
            forms: dict[str, tuple[FormData, list[str]]], files: list[FileResult], *,
            now: datetime) -> None:
    own = [settings.smtp.from_address, settings.mailbox.username]
    reason = reason_not_to_answer(envelope.headers, envelope.from_addr, own)
    if reason:
        message.outcome = f"no-reply:{reason}"
        return
    links = large_attachment_links(envelope.text + "\n" + envelope.html)
    if not forms and not (unit or envelope.attachments or links
                          or _mentions_campaign(settings, envelope)):
        message.outcome = "no-reply:not-about-campaign"  # no backscatter to spam
        return
    session.flush()
    done = repo.current_forms(session=session, unit_id=unit.id) if unit and unit.id else set()
    missing = {spec.key for spec in FORMS} - done
    notes = []
    if links and not forms:
        notes.append("邮件里是“超大附件”下载链接，链接会过期，系统无法自动下载。"
                     "请把填好的表格直接作为附件（而不是超大附件）重新发送。")
    if unit is not None and message.sender_matches_unit is False:
        notes.append(f"本邮件地址不在“{unit.name}”的登记邮箱中，已按表中“填报单位”归入该单位。")
    facts = build_facts(settings, subject=envelope.subject, unit_name=unit.name if unit else None,
                        unit_text=unit_text, forms=forms, files=files, missing=missing,
                        notes=notes)
    body = render("receipt.txt.j2", **facts.__dict__, has_forms=facts.has_forms)
    mail = compose(kind="receipt",
                   sender=Sender(settings.smtp.from_address, settings.smtp.from_name),
                   to=[envelope.from_addr], subject=receipt_subject(facts), body=body,
                   now=now, in_reply_to=envelope.message_id)
    answered_today = repo.receipts_since(session=session, address=envelope.from_addr,
                                         since=now - timedelta(days=1))
    if answered_today >= settings.limits.receipts_per_sender_per_day:
        # A flood, or a forged sender using us to mail a stranger: stop answering today.
        message.outcome = "no-reply:rate-limited"
        logger.warning("receipt.rate_limited from={}", envelope.from_addr)
        return
    queued = enqueue(session, kind="receipt", dedup_key=f"receipt:{message.key}", message=mail,
                     now=now, unit_id=unit.id if unit else None, message_ref=message.id)
    message.outcome = "receipt" if queued else "receipt-already-sent"



def reprocess(settings: Settings, *, engine: Engine, now: datetime,
              message_ids: Sequence[str] | None = None,
              progress: Progress | None = None) -> PollReport:
    """Parse kept raw mail again (after a parser fix). Rows are replaced, never added twice,
    and a receipt already sent is not sent again (its key is the message's)."""
    report = PollReport()
    sync_registry(settings, engine=engine)
    with Session(engine) as session:
        ids = repo.message_ids_for(session=session, keys=message_ids)
    if message_ids and not ids:
        raise FormbotError(f"没有找到这封邮件：{'、'.join(message_ids)}（用 Message-ID，"
                           "可在 formbot status 的失败或未匹配列表中找到）")
    with Session(engine) as session, LazyConverter() as converter:
        for done, message_id in enumerate(ids, start=1):
            message = session.get(Message, message_id)
            assert message is not None
            _process_safely(session, settings, message, read_raw(message.raw_path), now=now,
                            report=report, converter=converter)
            if progress:
                progress(done, len(ids))
    report.delivery = drain(engine, smtp_target(settings), now=now,
                            sender=settings.smtp.from_address)
    return report
