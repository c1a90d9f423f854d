"""Logging: one line per event to a file in data_dir; the terminal shows warnings only.

No sink ever prints variable values (loguru's `diagnose`): a frame's locals can hold a
password (an SMTP or IMAP target, a connection string), and a traceback dressed with
them once put `password='…'` on the admin's screen and in the log. Tracebacks go to the
log file only; the terminal shows them only with `--verbose`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from loguru import logger

_TERMINAL = "{time:HH:mm:ss} {level} {extra[campaign]}{message}\n"
_FILE = ("{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - "
         "{extra[campaign]}{message}")
_log_path: list[Path] = []   # where this process logs, once setup_logging has run


def _terminal_format(verbose: bool) -> Any:
    # A format function decides whether the traceback is written: loguru appends it to
    # a format string by itself, one line per event is all the terminal should show.
    def line(record: Any) -> str:
        return _TERMINAL + ("{exception}" if verbose and record["exception"] else "")
    return line


def _terminal(verbose: bool) -> None:
    # `file_only` lines (a crash the CLI already tells in one sentence) stay off the
    # terminal unless --verbose asked for everything.
    logger.add(sys.stderr, level="INFO" if verbose else "WARNING",
               format=_terminal_format(verbose), diagnose=False, backtrace=False,
               filter=lambda record: verbose or not record["extra"].get("file_only"))


def quiet_start(verbose: bool = False) -> None:
    """Before the config is read: the terminal sink alone, without loguru's default one
    (which prints variable values), so even a crash while reading config.yaml is one
    sentence."""
    logger.remove()
    logger.configure(extra={"campaign": ""})
    _log_path.clear()
    _terminal(verbose)


def setup_logging(data_dir: Path, *, verbose: bool = False) -> None:
    logger.remove()
    # With several campaigns in one config, each line says whose it is (`in_campaign`).
    logger.configure(extra={"campaign": ""})
    _log_path.clear()
    _terminal(verbose)
    log_dir = Path(data_dir) / "logs"
    try:
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = log_dir / "formbot.log"
        logger.add(path, level="DEBUG", rotation="10 MB", retention=10, encoding="utf-8",
                   enqueue=False, format=_FILE, diagnose=False, backtrace=False)
    except OSError as exc:
        from formbot.settings.fileerrors import cannot_write

        raise cannot_write(exc, what="data_dir（日志目录）") from None
    _log_path.append(path.resolve())


def log_path() -> Path | None:
    """The file this process logs to, or None before the config was read."""
    return _log_path[0] if _log_path else None


def campaign_tag(code: str, *, several: bool) -> str:
    """The prefix of a campaign's log lines: none when the config has only one."""
    return f"[{code}] " if several else ""
