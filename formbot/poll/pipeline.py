"""`run_once`: the one place that calls ingest → parsers → store → notifier.

Per message, in this order, each step committed before the next:
1. raw bytes kept on disk (ingest.rawstore), 2. the message recorded,
3. parsed and its rows stored with its receipt queued (one transaction per reading
   group, each message in a savepoint of its own), 4. marked handled on the server,
5. the outbox drained over SMTP.
A crash anywhere repeats at most the step it interrupted; the unique keys
(message key, receipt key) make the repeat harmless.

A backlog flows batch by batch: while the workers read batch n (from the kept files),
the poller stores batch n-1 in UID order, sends its receipts and fetches batch n+1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from loguru import logger
from sqlalchemy import Engine
from sqlmodel import Session

from errors import FormbotError
from formbot.poll.converters import LazyConverter, converters_installed, waiting_for_converter
from formbot.poll.reading import PARALLEL_MIN, Parsed, Readers
from formbot.poll.recording import mark_handled, record_all, skip_known
from formbot.poll.registry import sync_registry
from formbot.poll.storing import StoreContext, store_message
from formbot.settings.config import MailboxSettings, Settings
from formbot.settings.declared import sync_views
from ingest.imap import ImapTarget, Mailbox
from notifier.outbox import DrainReport, SmtpTarget, drain
from store import repo
from store.crashpoints import crashpoint
from store.leases import held
from store.models import Message

Progress = Callable[[int, int], None]
# Longer than any poll; a crashed poller's lease expires after it.
POLL_LEASE = timedelta(minutes=30)
# Raw mail given to the readers in one group, at most (a batch of 50 form mails is ~4 MB);
# a larger mail is read on its own. Readers open the kept files themselves, so this bounds
# what is in flight in the workers, not what the poller holds (nothing of it).
READ_BUDGET = 16 * 1024 * 1024


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


def mailboxes(settings: Settings) -> list[MailboxSettings]:
    """Every mailbox this config polls: the contract's `mailbox:` first, then the optional
    `mailboxes:` list (a config without that key has just the one)."""
    return settings.all_mailboxes()


def poll_lease(box: MailboxSettings) -> str:
    return f"poll:{box.username}@{box.host}/{box.folder}"


def imap_target(settings: Settings, box: MailboxSettings | None = None) -> ImapTarget:
    box = box or settings.mailbox
    return ImapTarget(host=box.host, port=box.port, security=box.security,
                      username=box.username, password=box.password(), folder=box.folder,
                      timeout=box.timeout)


def smtp_target(settings: Settings) -> SmtpTarget:
    smtp = settings.smtp
    return SmtpTarget(host=smtp.host, port=smtp.port, security=smtp.security,
                      username=smtp.username, password=smtp.password(), timeout=smtp.timeout)


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _reading_groups(messages: Sequence[Message], count: int,
                    budget: int = READ_BUDGET) -> Iterator[list[Message]]:
    """Consecutive messages to read together: at most `count`, at most `budget` bytes of
    raw mail between them, a larger mail alone. Storing stays in their order."""
    group: list[Message] = []
    size = 0
    for message in messages:
        if group and (len(group) >= count or size + message.size > budget):
            yield group
            group, size = [], 0
        group.append(message)
        size += message.size
    if group:
        yield group


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
    sync_views(settings.forms, engine)   # the SQL views follow the declaration
    with LazyConverter() as converter:
        readers = Readers(converter, settings.limits, forms=settings.forms)
        context = StoreContext(settings)
        try:
            for box in mailboxes(settings):
                if should_stop():
                    break
                # One poller per mailbox folder, across processes and machines sharing the
                # database; a busy one is skipped, the others still polled.
                with held(engine, poll_lease(box), ttl=POLL_LEASE) as mine:
                    if not mine:
                        report.busy = True
                        logger.info("poll.skipped mailbox={} reason=another poll holds the "
                                    "lease", poll_lease(box))
                        continue
                    ingest_new(settings, engine=engine, now=now, report=report,
                               progress=progress, should_stop=should_stop, readers=readers,
                               context=context, mailbox=box)
            # Retries wait while another poll runs: it may be storing the very mail that
            # looks "new" here (claim_pending would keep it once-only; this saves the read).
            if not should_stop() and not report.busy:
                retry_failed(settings, engine=engine, now=now, report=report,
                             should_stop=should_stop, readers=readers, context=context)
                reread_for_converter(engine=engine, now=now, report=report,
                                     should_stop=should_stop, readers=readers, context=context)
        finally:
            readers.close()
    deliver(settings, engine=engine, now=now, report=report)
    return report


def deliver(settings: Settings, *, engine: Engine, now: datetime, report: PollReport) -> None:
    """Drain the outbox over SMTP, adding to what this poll has sent already."""
    drained = drain(engine, smtp_target(settings), now=now, sender=settings.smtp.from_address)
    delivery = report.delivery
    delivery.sent += drained.sent
    delivery.failed += drained.failed
    delivery.retrying += drained.retrying
    delivery.waiting = drained.waiting
    delivery.errors += [e for e in drained.errors if e not in delivery.errors]


def ingest_new(settings: Settings, *, engine: Engine, now: datetime, report: PollReport,
               readers: Readers, context: StoreContext, progress: Progress | None = None,
               should_stop: Stop = _never, mailbox: MailboxSettings | None = None) -> None:
    mailbox = mailbox or settings.mailbox
    target = imap_target(settings, mailbox)
    account, folder = target.account, target.folder
    # Not expired at each commit: the poller alone writes these rows while it holds the
    # folder's lease, and reloading each message and unit after every commit was a third
    # of its SELECTs. (A rollback still expires everything.)
    with Mailbox(target) as box, Session(engine, expire_on_commit=False) as session:
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
        if len(uids) >= PARALLEL_MIN:
            readers.warm_up()
        if rescan:
            repo.save_folder_state(session=session, account=account, folder=folder,
                                   uidvalidity=box.uidvalidity, last_uid=0)
            session.commit()
        # Every mail of a batch is kept and recorded first; its reading then starts on the
        # workers, and while they read it the poller stores the batch before (in UID order)
        # and fetches the next. A stop leaves recorded mail "new", which the next poll
        # reads from disk.
        waiting: tuple[_ReadAhead, int] | None = None   # recorded, being read, not stored
        stopped = False
        recorded = 0                                    # highest UID of a recorded batch
        for batch in _chunks(uids, mailbox.batch_size):
            to_fetch = list(batch)
            if rescan and state is not None:
                to_fetch = skip_known(session, box, batch, account=account, folder=folder)
                report.duplicates += len(batch) - len(to_fetch)
            fresh: list[Message] = []
            # Each body goes to the raw store as it streams in (no whole mail in memory).
            fetched = box.fetch_to_disk(to_fetch, settings.data_dir)
            for message, is_new in record_all(session, fetched, now=now, account=account,
                                               folder=folder, uidvalidity=box.uidvalidity):
                report.fetched += 1
                if is_new:
                    report.new += 1
                    fresh.append(message)
                else:
                    report.duplicates += 1
            recorded = max(batch)
            reading = _ReadAhead(readers, fresh, mailbox.batch_size)
            if waiting is not None:
                stopped = _store_batch(session, context, waiting[0], now=now,
                                       report=report, should_stop=should_stop)
                if stopped:
                    break
                _batch_saved(session, account, folder, box.uidvalidity, waiting[1], uids,
                             progress)
                # A backlog's receipts go out batch by batch, while the workers read the
                # next one, not all after the last; after a failure, only at the end.
                if not report.delivery.errors:
                    deliver(settings, engine=engine, now=now, report=report)
            waiting = (reading, max(batch))
            if should_stop():
                stopped = True
                break
        if waiting is not None:
            if not stopped:
                _store_batch(session, context, waiting[0], now=now, report=report,
                             should_stop=should_stop)
            # Stopped or not, every mail up to here is recorded: stored, or waiting as "new"
            # for the next poll to read from disk.
            _batch_saved(session, account, folder, box.uidvalidity, recorded, uids, progress)
        mark_handled(session, box, mailbox, account=account, folder=folder)


def _batch_saved(session: Session, account: str, folder: str, uidvalidity: int,
                 last_done: int, uids: Sequence[int], progress: Progress | None) -> None:
    repo.save_folder_state(session=session, account=account, folder=folder,
                           uidvalidity=uidvalidity, last_uid=last_done)
    session.commit()
    crashpoint("batch-saved")
    if progress:
        progress(sum(1 for u in uids if u <= last_done), len(uids))


def retry_failed(settings: Settings, *, engine: Engine, now: datetime, report: PollReport,
                 readers: Readers, context: StoreContext, should_stop: Stop = _never) -> None:
    """Mail recorded but not stored (a crash, a stop, an error) is read again from disk."""
    with Session(engine) as session:
        waiting = [m for m in repo.messages_to_retry(
            session=session, max_attempts=settings.mailbox.max_attempts)
            if m.id not in report.tried]  # once per poll: the next poll tries again
        _read_and_store(session, context, readers, waiting, now=now, report=report,
                        should_stop=should_stop)


def reread_for_converter(*, engine: Engine, now: datetime, report: PollReport,
                         readers: Readers, context: StoreContext,
                         should_stop: Stop = _never) -> None:
    """Mail stored while LibreOffice (or python3-uno) was not installed is read again
    once it is: its receipt said so. Rows are replaced, as by `formbot reprocess`."""
    with Session(engine) as session:
        waiting = [m for m in waiting_for_converter(session) if m.id not in report.tried]
        if not waiting or not converters_installed():
            return
        logger.info("convert.back rereading={}", len(waiting))
        _read_and_store(session, context, readers, waiting, now=now, report=report,
                        should_stop=should_stop, pending_only=False)


class _ReadAhead:
    """Messages in reading groups, each group's reading started one group ahead: the
    workers read the next group while the poller stores this one. Only one group beyond
    the one being stored is ever in flight (a long backlog's results are not piled up)."""

    def __init__(self, readers: Readers, messages: Sequence[Message], count: int) -> None:
        self._readers = readers
        self._groups = _reading_groups(messages, count)
        self._next = self._start(next(self._groups, None))

    def _start(self, group: list[Message] | None
               ) -> tuple[list[Message], Iterator[Parsed | Exception]] | None:
        if group is None:
            return None
        # Readers open the kept files themselves: the poller never holds the raw mail.
        return group, self._readers.read_all([Path(m.raw_path) for m in group])

    def __iter__(self) -> Iterator[tuple[list[Message], Iterator[Parsed | Exception]]]:
        while self._next is not None:
            current = self._next
            self._next = self._start(next(self._groups, None))
            yield current


def _store_batch(session: Session, context: StoreContext, reading: _ReadAhead, *,
                 now: datetime, report: PollReport, should_stop: Stop = _never,
                 progress: Progress | None = None, pending_only: bool = True,
                 total: int = 0) -> bool:
    """Store what `reading` reads, in order, one transaction per group. True if told to
    stop (what was stored is committed; the rest stays "new")."""
    done = 0
    for group, results in reading:
        for message, parsed in zip(group, results, strict=True):
            _store_safely(session, context, message, parsed, now=now, report=report,
                          pending_only=pending_only)
            done += 1
            if progress:
                progress(done, total)
            if should_stop():
                session.commit()
                return True
        session.commit()
    return False


def _read_and_store(session: Session, context: StoreContext, readers: Readers,
                    messages: Sequence[Message], *, now: datetime, report: PollReport,
                    should_stop: Stop = _never, progress: Progress | None = None,
                    pending_only: bool = True) -> None:
    _store_batch(session, context, _ReadAhead(readers, messages,
                                              context.settings.mailbox.batch_size),
                 now=now, report=report, should_stop=should_stop, progress=progress,
                 pending_only=pending_only, total=len(messages))


def _store_safely(session: Session, context: StoreContext, message: Message,
                  parsed: Parsed | Exception, *, now: datetime, report: PollReport,
                  pending_only: bool = True) -> None:
    """The per-message boundary: an error is recorded on the message, never raised.

    With `pending_only` (polls), the message is claimed first: its row is locked for this
    transaction only if it still waits to be stored. Another worker that stored it
    meanwhile (another mailbox's poll retrying it, a second machine) makes this a no-op,
    so no mail is stored twice even where the poll leases do not serialise the workers."""
    message_db_id = message.id
    report.tried.add(message_db_id)  # type: ignore[arg-type]
    if pending_only and not repo.claim_pending(session=session, message_id=message_db_id):  # type: ignore[arg-type]
        report.duplicates += 1
        logger.info("message.skipped id={} reason=stored by another worker", message_db_id)
        return
    # The caller commits a whole group at once; each message is its own savepoint, so a
    # failing one is undone alone. In a poll the claim above has already written in this
    # transaction (the SQLite driver begins one only at a write), so the savepoint nests
    # inside it rather than becoming the transaction itself.
    savepoint = session.begin_nested()
    try:
        if isinstance(parsed, Exception):
            raise parsed
        # The message's own columns go out in one UPDATE when the savepoint ends, not one
        # per query that happens to run in between.
        with session.no_autoflush:
            store_message(session, context, message, parsed, now=now)
        savepoint.commit()
    except Exception as exc:  # the boundary: any bug in one mail must not stop the others
        savepoint.rollback()   # also after a failed flush, which leaves it inactive
        failed = session.get(Message, message_db_id)
        assert failed is not None
        failed.attempts += 1
        repo.record_failure(session=session, message=failed,
                            error=f"{type(exc).__name__}: {exc}", when=now)
        session.flush()
        report.failed += 1
        report.errors.append(f"{failed.key}: {exc}")
        logger.opt(exception=exc).error("message.failed id={} key={}", message_db_id, failed.key)
        return
    crashpoint("processed")
    report.processed += 1
    report.receipts += message.outcome == "receipt"
    logger.info("message.processed id={} key={} outcome={}", message_db_id, message.key,
                message.outcome)


def reprocess(settings: Settings, *, engine: Engine, now: datetime,
              message_ids: Sequence[str] | None = None,
              progress: Progress | None = None) -> PollReport:
    """Read kept raw mail again (after a parser fix). Rows are replaced, never added twice,
    and a receipt already sent is not sent again (its key is the message's)."""
    report = PollReport()
    sync_registry(settings, engine=engine)
    sync_views(settings.forms, engine)   # the SQL views follow the declaration
    with Session(engine) as session:
        ids = repo.message_ids_for(session=session, keys=message_ids)
    if message_ids and not ids:
        raise FormbotError(f"没有找到这封邮件：{'、'.join(message_ids)}（用 Message-ID，"
                           "可在 formbot status 的失败或未匹配列表中找到）")
    with Session(engine) as session, LazyConverter() as converter:
        readers = Readers(converter, settings.limits, forms=settings.forms)
        try:
            messages = [session.get(Message, i) for i in ids]
            _read_and_store(session, StoreContext(settings), readers,
                            [m for m in messages if m is not None], now=now, report=report,
                            progress=progress, pending_only=False)
        finally:
            readers.close()
    report.delivery = drain(engine, smtp_target(settings), now=now,
                            sender=settings.smtp.from_address)
    return report
