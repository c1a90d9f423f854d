"""Reader processes that no reader can stall: each job has a time limit counted from
the moment a ready worker takes it, a worker that passes it is killed alone, a worker
that dies fails its own job alone, and every wait here has a bound.

Why not concurrent.futures.ProcessPoolExecutor: its workers share one call queue, fed by
a thread through one pipe, and a killed worker breaks the whole pool. On CPython before
3.11.5 (Debian 12's 3.11.2 among them) breaking it can deadlock for good: the feeder
thread is blocked writing a large job into a pipe no live worker reads, and the
executor's manager thread joins it (cpython gh-94777), so `shutdown()` and even
interpreter exit wait forever. Other fixed-later hangs sit in the same code (gh-105829:
the wakeup pipe; gh-94440-like: only cancelled futures left). Here every worker has its
own pipes, a job goes only to an idle worker whose pipe is empty, every message on a
pipe is a few bytes (a job's arguments and result travel through files), so no write
blocks and no read waits for a half-written message; one dispatcher thread waits on
all of them with a timeout and enforces the limits even while nobody asks for results.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import pickle
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from loguru import logger

from formbot.poll import readworker

# A worker that is not ready (imports done) by then is killed, and counts as not started.
STARTUP_SECONDS = 60.0
# The dispatcher never blocks longer than this, whatever it waits for.
TICK = 0.5
# Joining a process just sent SIGKILL: the kernel ends it at once; this only bounds it.
JOIN_SECONDS = 5.0


class ReaderTimedOut(Exception):
    """The job ran past its time limit; its worker was killed."""


class ReaderDied(Exception):
    """The worker reading the job died (killed, out of memory, crashed)."""


class ReaderUnavailable(Exception):
    """No worker could be started for the job, or the pool was closed under it."""


@dataclass
class _Job:
    id: int
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    seconds: float
    future: Future[Any]


@dataclass
class _Worker:
    process: readworker.Child
    tasks: Connection        # our write end: the worker's jobs
    reports: Connection      # our read end: "ready", "done <id>"
    started: float
    ready: bool = False
    job: _Job | None = None
    deadline: float = math.inf


class ReaderPool:
    """Up to `size` worker processes running `fn(*args)` jobs, each under its own limit."""

    def __init__(self, size: int, *, initializer: Callable[..., None] | None = None,
                 initargs: tuple[Any, ...] = ()) -> None:
        # Fresh interpreters (formbot/poll/readworker.py), not forks: the poller has threads
        # (IMAP IDLE, the scheduler, embedded servers in the demo), and forking a threaded
        # process can deadlock.
        self._workers_started = itertools.count(1)
        self._size = max(1, size)
        self._initializer, self._initargs = initializer, initargs
        self.folder = Path(tempfile.mkdtemp(prefix="formbot-read-"))
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._submitted: deque[_Job] = deque()      # shared with callers, under the lock
        self._wanted = 0                             # workers asked for by warm_up
        self._closing = False
        self._pending: deque[_Job] = deque()        # the dispatcher's own from here on
        self._workers: list[_Worker] = []
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._thread = threading.Thread(target=self._run, name="reader-pool", daemon=True)
        self._thread.start()

    # --- the callers' side ------------------------------------------------------------

    def submit(self, fn: Callable[..., Any], *args: Any, seconds: float) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closing:
                future.set_exception(ReaderUnavailable("pool closed"))
                return future
            self._submitted.append(_Job(next(self._ids), fn, args, seconds, future))
        self._wake()
        return future

    def warm_up(self) -> None:
        """Start every worker now rather than when the first jobs come."""
        with self._lock:
            self._wanted = self._size
        self._wake()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """Workers are killed, not waited for (one may be stuck); unfinished jobs fail."""
        with self._lock:
            self._closing = True
        self._wake()
        self._thread.join(timeout=JOIN_SECONDS * 2)
        if self._thread.is_alive():
            logger.error("read.pool_close_timeout")
            return  # the daemon thread still owns the workers; their PDEATHSIG ends them
        os.close(self._wake_read)
        os.close(self._wake_write)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):  # full: it is awake anyway
            os.write(self._wake_write, b"x")

    # --- the dispatcher thread ----------------------------------------------------------

    def _run(self) -> None:
        try:
            while self._step():
                pass
        except Exception:
            logger.exception("read.pool_failed")
        finally:
            for worker in list(self._workers):
                self._end(worker, ReaderUnavailable("pool closed"))
            with self._lock:
                self._closing = True
                self._pending.extend(self._submitted)
                self._submitted.clear()
            for job in self._pending:
                _fail(job, ReaderUnavailable("pool closed"))
            self._pending.clear()

    def _step(self) -> bool:
        with self._lock:
            if self._closing:
                return False
            self._pending.extend(self._submitted)
            self._submitted.clear()
            wanted = self._wanted
        self._start_workers(wanted)
        self._dispatch()
        now = time.monotonic()
        deadlines = [w.deadline for w in self._workers] + \
            [w.started + STARTUP_SECONDS for w in self._workers if not w.ready]
        timeout = max(0.0, min([TICK, *(d - now for d in deadlines)]))
        objects: list[Any] = [self._wake_read]
        for worker in self._workers:
            objects.append(worker.reports)
            if worker.process.sentinel is not None:
                objects.append(worker.process.sentinel)
        ready = wait(objects, timeout)
        if self._wake_read in ready:
            os.read(self._wake_read, 4096)
        for worker in list(self._workers):
            self._check(worker, time.monotonic())
        return True

    def _start_workers(self, wanted: int) -> None:
        busy = sum(w.job is not None for w in self._workers)
        need = min(self._size, max(wanted, busy + len(self._pending))) - len(self._workers)
        for _ in range(max(0, need)):
            try:
                self._workers.append(self._spawn())
            except Exception as exc:  # no process could be started now
                logger.error("read.pool_unavailable error={}", exc)
                self._not_started(exc)
                return

    def _spawn(self) -> _Worker:
        # Started from the dispatcher thread, so a worker's PR_SET_PDEATHSIG
        # (reading._start_worker) fires when that thread ends as well as when the poller
        # dies: either way nobody would read for it any more.
        process, tasks, reports = readworker.start(
            self.folder, next(self._workers_started), self._initializer, self._initargs)
        return _Worker(process, tasks, reports, time.monotonic())

    def _not_started(self, exc: BaseException) -> None:
        """A worker failed to start: with no other ready to take them, waiting jobs fail
        now (the next poll tries again) rather than wait for workers that do not come."""
        self._wanted = 0
        if any(w.ready for w in self._workers):
            return
        error = ReaderUnavailable(f"{type(exc).__name__}: {exc}")
        while self._pending:
            _fail(self._pending.popleft(), error)

    def _dispatch(self) -> None:
        for worker in self._workers:
            if not self._pending:
                return
            if worker.ready and worker.job is None:
                job = self._pending.popleft()
                # Running already: put back after a send that failed (below).
                if not job.future.running() and not job.future.set_running_or_notify_cancel():
                    continue   # cancelled by the caller before any worker took it
                try:
                    # A few hundred bytes into an empty pipe: never blocks.
                    worker.tasks.send((job.id, job.fn, job.args))
                except (OSError, ValueError):   # it died since: the check below sees it
                    self._pending.appendleft(job)
                    worker.ready = False
                    continue
                worker.job, worker.deadline = job, time.monotonic() + job.seconds

    def _check(self, worker: _Worker, now: float) -> None:
        try:
            while worker.reports.poll(0):
                kind, job_id = worker.reports.recv()   # a few bytes, written at once
                if kind == "ready":
                    worker.ready = True
                elif worker.job is not None and worker.job.id == job_id:
                    self._finish(worker.job)
                    worker.job, worker.deadline = None, math.inf
        except (EOFError, OSError):
            pass  # its end is closed: it is dying, the sentinel says when
        if not worker.process.is_alive():
            code = worker.process.exitcode
            logger.warning("read.pool.worker_died exitcode={} busy={}", code,
                           worker.job is not None)
            self._end(worker, ReaderDied(f"exit code {code}"))
            if not worker.ready:
                self._not_started(ReaderDied(f"exit code {code} before ready"))
        elif worker.job is not None and now >= worker.deadline:
            logger.warning("read.pool.killed_after seconds={:g}", worker.job.seconds)
            self._end(worker, ReaderTimedOut(f"{worker.job.seconds:g} s"))
        elif not worker.ready and now >= worker.started + STARTUP_SECONDS:
            logger.error("read.worker_start_timeout seconds={:g}", STARTUP_SECONDS)
            self._end(worker, ReaderUnavailable("start-up timed out"))
            self._not_started(ReaderUnavailable("start-up timed out"))

    def _finish(self, job: _Job) -> None:
        out = self.folder / f"{job.id}.out"
        try:
            ok, value = pickle.loads(out.read_bytes())
        except Exception as exc:   # unreadable result: this job fails, not the pool
            ok, value = False, exc
        finally:
            out.unlink(missing_ok=True)
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)

    def _end(self, worker: _Worker, error: BaseException) -> None:
        """Kill one worker and fail the job it held; the others go on."""
        self._workers.remove(worker)
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=JOIN_SECONDS)
        for connection in (worker.tasks, worker.reports):
            connection.close()
        with contextlib.suppress(ValueError):   # still running after SIGKILL: leave it be
            worker.process.close()              # its sentinel's descriptor, now
        if worker.job is not None:
            _fail(worker.job, error)
            for leftover in self.folder.glob(f"{worker.job.id}.*"):
                leftover.unlink(missing_ok=True)


def _fail(job: _Job, error: BaseException) -> None:
    if not job.future.done() and (job.future.running()
                                  or job.future.set_running_or_notify_cancel()):
        job.future.set_exception(error)
