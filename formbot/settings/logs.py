"""Logging: one line per event to a file in data_dir; the terminal shows warnings only."""

from __future__ import annotations

import sys
from pathlib import Path

from loguru import logger


def setup_logging(data_dir: Path, *, verbose: bool = False) -> None:
    logger.remove()
    # With several campaigns in one config, each line says whose it is (`in_campaign`).
    logger.configure(extra={"campaign": ""})
    logger.add(sys.stderr, level="INFO" if verbose else "WARNING",
               format="{time:HH:mm:ss} {level} {extra[campaign]}{message}")
    log_dir = Path(data_dir) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    logger.add(log_dir / "formbot.log", level="DEBUG", rotation="10 MB", retention=10,
               encoding="utf-8", enqueue=False,
               format="{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - "
                      "{extra[campaign]}{message}")


def campaign_tag(code: str, *, several: bool) -> str:
    """The prefix of a campaign's log lines: none when the config has only one."""
    return f"[{code}] " if several else ""
