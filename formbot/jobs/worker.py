"""`formbot run`: the long-running worker.

APScheduler runs a poll every `schedule.poll_minutes` and the daily round
(reminders and the admin digest) at `schedule.remind_time`. Where the server
offers IMAP IDLE, a watcher thread triggers a poll as soon as mail arrives;
the timed poll stays as the fallback. Jobs never overlap (one lock), misfires
coalesce, and nothing needs persisting: every job derives what is due from
the database, whose unique keys make a repeat harmless.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from loguru import logger
from sqlalchemy import Engine

from errors import FormbotError
from formbot.jobs.digest import queue_digest
from formbot.jobs.remind import queue_reminders
from formbot.poll import pipeline
from formbot.poll.registry import sync_registry
from formbot.settings.config import MailboxSettings, Settings
from ingest.errors import MailboxError
from ingest.imap import Mailbox
from notifier.outbox import DeliveryError, drain

Clock = Callable[[], datetime]
IDLE_RENEW = timedelta(minutes=25)   # RFC 2177: re-issue IDLE at least every 29 minutes
MAX_BACKOFF = 300.0


class OutageLog:
    """One warning when a server goes away and one note when it is back, not one per try."""

    def __init__(self) -> None:
        self.failures: dict[str, int] = {}

    def failed(self, service: str, error: BaseException) -> None:
        count = self.failures.get(service, 0) + 1
        self.failures[service] = count
        if count == 1:
            logger.warning("{}.down error={}", service, error)
        else:
            logger.debug("{}.still_down attempt={} error={}", service, count, error)

    def ok(self, service: str) -> None:
        count = self.failures.pop(service, 0)
        if count:
            logger.warning("{}.recovered after_failures={}", service, count)


class Worker:
    def __init__(self, settings: Settings, *, engine: Engine, clock: Clock | None = None,
                 stopping: threading.Event | None = None, log_tag: str = "") -> None:
        self.settings = settings
        self.log_tag = log_tag  # names the campaign in its log lines (logs.campaign_tag)
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(settings.campaign.zone))
        # Shared by the workers of one `formbot run` (one per campaign): one signal stops all.
        self.stopping = stopping or threading.Event()
        self.outages = OutageLog()
        self.polls = 0
        self._lock = threading.Lock()
        self._again = threading.Event()
        self._polled = threading.Condition()
        self._scheduler: BackgroundScheduler | None = None
        self._idle_threads: list[threading.Thread] = []
        self.heartbeat = Path(settings.data_dir) / "worker.heartbeat"

    # -- jobs ------------------------------------------------------------
    def poll(self) -> bool:
        """One poll; if one is already running, it runs once more when done instead.

        No wake-up is lost: the running poll looks at `_again` after it lets go of the
        lock, and a caller that found the lock taken tries it once more after setting
        `_again`, so one of the two always polls again."""
        done = False
        while True:
            if not self._lock.acquire(blocking=False):
                self._again.set()  # mail may have arrived after the running poll looked
                if not self._lock.acquire(blocking=False):
                    return done    # the holder sees _again once it has let go
            done = self._poll_locked()
            if not self._again.is_set() or self.stopping.is_set():
                return done

    def _poll_locked(self) -> bool:
        try:
            while True:
                self._again.clear()
                report = pipeline.run_once(self.settings, engine=self.engine, now=self.clock(),
                                           should_stop=self.stopping.is_set)
                if not self._again.is_set() or self.stopping.is_set():
                    break
            self.outages.ok("imap")
            if report.delivery.errors:
                self.outages.failed("smtp", DeliveryError(report.delivery.errors[0]))
            else:
                self.outages.ok("smtp")
            with self._polled:
                self.polls += 1
                self._polled.notify_all()
            self._beat()
            return True
        except MailboxError as exc:
            self.outages.failed("imap", exc)
            self._drain_anyway()
            return False
        except FormbotError as exc:
            logger.error("poll.failed error={}", exc)
            return False
        finally:
            self._lock.release()

    def _drain_anyway(self) -> None:
        """IMAP down does not stop receipts already queued from going out."""
        try:
            report = drain(self.engine, pipeline.smtp_target(self.settings), now=self.clock(),
                           sender=self.settings.smtp.from_address)
        except FormbotError as exc:
            self.outages.failed("smtp", exc)
            return
        if report.errors:
            self.outages.failed("smtp", DeliveryError(report.errors[0]))
        else:
            self.outages.ok("smtp")

    def daily(self) -> None:
        """Reminders due now and the admin digest; safe to run any number of times."""
        with self._lock:
            now = self.clock()
            try:
                sync_registry(self.settings, engine=self.engine)
                reminders = queue_reminders(self.settings, engine=self.engine, now=now)
                queue_digest(self.settings, engine=self.engine, now=now)
                if reminders.no_address:
                    logger.warning("remind.no_address units={}", ",".join(reminders.no_address))
            except FormbotError as exc:
                logger.error("daily.failed error={}", exc)
            self._drain_anyway()
        if self._again.is_set():
            self.poll()  # a poll asked for while the daily round held the lock

    def wait_for_polls(self, count: int, timeout: float = 30.0) -> bool:
        """Block until `count` polls have completed (for tests and the demo, never a sleep)."""
        with self._polled:
            return self._polled.wait_for(lambda: self.polls >= count, timeout=timeout)

    def _beat(self) -> None:
        self.heartbeat.parent.mkdir(parents=True, exist_ok=True)
        self.heartbeat.write_text(self.clock().isoformat(), encoding="utf-8")

    # -- IMAP IDLE -------------------------------------------------------
    def _watch(self, mailbox: MailboxSettings) -> None:
        """Hold an IDLE session on one mailbox; any new mail triggers a poll at once."""
        backoff = 1.0
        while not self.stopping.is_set():
            try:
                with Mailbox(pipeline.imap_target(self.settings, mailbox)) as box:
                    if b"IDLE" not in box.capabilities:
                        logger.info("imap.no_idle: timed polls only")
                        return
                    backoff = 1.0
                    self._idle_session(box)
            except (MailboxError, OSError) as exc:
                self.outages.failed("imap-idle", exc)
                # Production back-off between reconnects; stop() interrupts it at once.
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    def _idle_session(self, box: Mailbox) -> None:
        self.outages.ok("imap-idle")
        # Mail that came while no IDLE was listening (before the first, or during a
        # reconnect) sends no EXISTS: one poll once IDLE listens closes that gap, instead
        # of leaving such mail to the timed poll minutes later.
        arrived = True
        while not self.stopping.is_set():
            box.idle_start()
            if arrived:
                self._poll_now()
            started = datetime.now()
            arrived = False
            while not self.stopping.is_set() and datetime.now() - started < IDLE_RENEW:
                if box.idle_wait(timeout=1):
                    arrived = True
                    break
            box.idle_done()

    def _poll_now(self) -> None:
        # A job of its own each time: under one id, a wake-up while the last one still ran
        # was skipped by the scheduler (max_instances) and the mail waited for the timed
        # poll. Polls that overlap meet at poll()'s lock, which runs the poll once more.
        if self._scheduler is not None:
            self._scheduler.add_job(self._tagged(self.poll), misfire_grace_time=None)

    def _tagged(self, job: Callable[..., object]) -> Callable[..., object]:
        """`job` with this campaign's tag on every log line it writes, in any thread."""
        def run(*args: object) -> object:
            with logger.contextualize(campaign=self.log_tag):
                return job(*args)
        return run

    # -- life cycle ------------------------------------------------------
    def start(self, *, idle: bool = True) -> None:
        schedule = self.settings.schedule
        zone = self.settings.campaign.zone
        scheduler = BackgroundScheduler(timezone=zone)
        now = self.clock()
        every = IntervalTrigger(minutes=schedule.poll_minutes, timezone=zone)
        scheduler.add_job(self._tagged(self.poll), every, id="poll", max_instances=1,
                          coalesce=True, next_run_time=now, misfire_grace_time=None)
        at = schedule.remind_at
        daily = CronTrigger(hour=at.hour, minute=at.minute, timezone=zone)
        scheduler.add_job(self._tagged(self.daily), daily, id="daily", max_instances=1,
                          coalesce=True, misfire_grace_time=None)
        # A restart derives what it missed: a slot or digest due while it was down goes now.
        scheduler.add_job(self._tagged(self.daily), id="daily-catch-up", next_run_time=now)
        self._scheduler = scheduler
        scheduler.start()
        if idle:
            # One IDLE session per mailbox (a config may poll several, `mailboxes:`).
            for number, mailbox in enumerate(pipeline.mailboxes(self.settings)):
                thread = threading.Thread(target=self._tagged(self._watch), args=(mailbox,),
                                          name=f"imap-idle-{number}", daemon=True)
                thread.start()
                self._idle_threads.append(thread)
        logger.info("worker.started campaign={} poll_minutes={} remind_time={}",
                    self.settings.campaign.code, schedule.poll_minutes, schedule.remind_time)

    def stop(self) -> None:
        """Finish the message in hand, then stop every job and the IDLE watcher."""
        self.stopping.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        for thread in self._idle_threads:
            thread.join(timeout=30)
        self._idle_threads = []
        logger.info("worker.stopped polls={}", self.polls)

    def run_forever(self) -> None:
        """Until SIGTERM or SIGINT."""
        run_forever([self])


def run_forever(workers: list[Worker]) -> None:
    """Run every campaign's worker until SIGTERM or SIGINT, then stop them all."""
    def request_stop(signum: int, _frame: object) -> None:
        logger.info("worker.signal {}", signal.Signals(signum).name)
        for worker in workers:
            worker.stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    for worker in workers:
        worker.start()
    workers[0].stopping.wait()  # a signal sets every worker's event
    for worker in workers:
        worker.stop()
