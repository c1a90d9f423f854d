"""Logging: one line per event to a file in data_dir; the terminal shows warnings only."""

from __future__ import annotations

import sys
from pathlib import Path

from loguru import logger


def setup_logging(data_dir: Path, *, verbose: bool = False) -> None:
    logger.remove()
    logger.add(sys.stderr, level="INFO" if verbose else "WARNING",
               format="{time:HH:mm:ss} {level} {message}")
    log_dir = Path(data_dir) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    logger.add(log_dir / "formbot.log", level="DEBUG", rotation="10 MB", retention=10,
               encoding="utf-8", enqueue=False)
