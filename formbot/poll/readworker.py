"""One reader process of the pool (formbot/poll/readpool.py), started as
`python -m formbot.poll.readworker`, and the pool's handle on it.

Why not multiprocessing's spawn: a spawned child re-imports the parent's main module
(for `formbot poll`, the whole CLI) and spawn starts a resource-tracker process beside
it; together ~15 MB that a reader never uses, in every poll. Here the child imports this
module and then only what its jobs name (formbot.poll.reading and the parsers), and the
pipes are plain descriptors wrapped as multiprocessing Connections, so the pool keeps its
protocol: a few pickled bytes a message, results through files.

The child learns its set-up from a file (sys.path, the initializer and its arguments),
not through the pipe: a campaign's declared forms can outgrow a pipe's buffer, and a write
into a pipe nobody reads yet must never block the dispatcher.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any


class Child:
    """A started reader: the few things the pool asks of a process (as multiprocessing's
    Process has them), over subprocess.Popen and, on Linux, a pidfd to wait on."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid
        self._pidfd: int | None = None
        with contextlib.suppress(AttributeError, OSError):   # Linux ≥ 5.3
            self._pidfd = os.pidfd_open(popen.pid)

    @property
    def sentinel(self) -> int | None:
        """Readable once the process has ended (None where there is no pidfd: the report
        pipe's end of file says it then)."""
        return self._pidfd

    def is_alive(self) -> bool:
        return self._popen.poll() is None

    @property
    def exitcode(self) -> int | None:
        return self._popen.poll()     # -9 for SIGKILL, as multiprocessing reports it

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._popen.kill()

    def join(self, timeout: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout)

    def close(self) -> None:
        """Its descriptor, always; ValueError if it still runs (Popen reaps it later)."""
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        if self.is_alive():
            raise ValueError("still running")


def start(folder: Path, number: int, initializer: Callable[..., None] | None,
          initargs: tuple[Any, ...]) -> tuple[Child, Connection, Connection]:
    """A new reader: (its process, our end of its jobs pipe, our end of its reports)."""
    setup = folder / f"worker-{number}.setup"
    setup.write_bytes(pickle.dumps(
        (list(sys.path), pickle.dumps((initializer, initargs), pickle.HIGHEST_PROTOCOL))))
    task_read, task_write = os.pipe()
    report_read, report_write = os.pipe()
    try:
        popen = subprocess.Popen(
            # -P: not the working directory first on sys.path (a pickle.py there, or
            # another checkout's formbot/, must not be what the reader imports).
            [sys.executable, "-P", "-m", "formbot.poll.readworker", str(task_read),
             str(report_write), str(folder), str(setup)],
            pass_fds=(task_read, report_write), stdin=subprocess.DEVNULL,
            # Nothing a reader prints is for the admin's terminal (a library's English
            # warning, a traceback of a reader killed mid-import): it reports through the
            # pool, and the pool logs what became of it.
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    except BaseException:
        os.close(task_write)
        os.close(report_read)
        raise
    finally:
        os.close(task_read)        # the worker's ends: ours closed, so its death gives EOF
        os.close(report_write)
    return (Child(popen), Connection(task_write, readable=False),
            Connection(report_read, writable=False))


def serve(tasks: Connection, reports: Connection, folder: str,
          initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    """A worker: set up, say ready, then one job at a time until told to stop."""
    if initializer is not None:
        initializer(*initargs)
    reports.send(("ready", 0))
    while True:
        try:
            message = tasks.recv()
        except EOFError:
            return               # the pool is gone
        if message is None:
            return
        job_id, fn, args = message
        try:
            outcome: tuple[bool, Any] = (True, fn(*args))
        except Exception as exc:  # the job's own failure: the caller gets it
            outcome = (False, exc)
        try:
            data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            data = pickle.dumps((False, RuntimeError(f"unpicklable result: {exc!r}")))
        partial = Path(folder, f"{job_id}.part")
        partial.write_bytes(data)
        partial.rename(Path(folder, f"{job_id}.out"))   # whole, or not there
        reports.send(("done", job_id))


def main(argv: list[str]) -> None:
    # Ctrl-C at the terminal reaches the whole process group: the poller decides what
    # stops (formbot run finishes the mail in hand), and it ends its readers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warnings.simplefilter("ignore")
    task_fd, report_fd, folder, setup = argv
    path, payload = pickle.loads(Path(setup).read_bytes())
    Path(setup).unlink(missing_ok=True)
    sys.path[:] = path          # as the poller has it (tests' own modules, a checkout)
    initializer, initargs = pickle.loads(payload)
    serve(Connection(int(task_fd), writable=False), Connection(int(report_fd), readable=False),
          folder, initializer, initargs)


if __name__ == "__main__":
    main(sys.argv[1:])
