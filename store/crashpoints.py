"""Crash points: where a test may have formbot SIGKILL itself, to prove a crash loses nothing.

Off unless FORMBOT_CRASH_AT=N is set: then the N-th point reached kills the process
with SIGKILL, exactly as `kill -9` or a power cut would, at a known place.
"""

from __future__ import annotations

import os
import signal

_remaining: list[int] = []


def crashpoint(name: str) -> None:
    setting = os.environ.get("FORMBOT_CRASH_AT")
    if not setting:
        return
    if not _remaining:
        _remaining.append(int(setting))
    _remaining[0] -= 1
    if _remaining[0] == 0:
        with open(os.environ.get("FORMBOT_CRASH_LOG", os.devnull), "a") as log:
            log.write(f"{name}\n")
        os.kill(os.getpid(), signal.SIGKILL)


class InjectedFailure(RuntimeError):
    """Raised where FORMBOT_FAIL_AT names: a bug, as tests need one at a known place."""


def failpoint(name: str) -> None:
    """Off unless FORMBOT_FAIL_AT=name: then an exception is raised here, as a bug would,
    to prove that a crash shows one sentence and never a secret (tests/cli/test_no_dumps.py)."""
    if os.environ.get("FORMBOT_FAIL_AT") == name:
        raise InjectedFailure(f"injected failure at {name}")
