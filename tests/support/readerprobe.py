"""Jobs a test sends to a reader process to look inside it. This module imports nothing
heavy at the top: the worker imports it to run them, and they report what it loaded."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HEAVY = ("numpy", "sqlalchemy", "sqlmodel", "click", "jinja2", "alembic", "openpyxl", "cv2")


def heavy_modules() -> list[str]:
    return [name for name in HEAVY if name in sys.modules]


def children_of_me() -> list[str]:
    """The command lines of this process's children."""
    me = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rpartition(")")[2].split()[1] == me:
                found.append((stat.parent / "cmdline").read_bytes().decode(errors="replace"))
        except OSError:
            continue
    return found


def read_a_workbook(data: bytes) -> tuple[int, list[str]]:
    from parsers.tables import xlsx_lines

    return len(xlsx_lines(data)), heavy_modules()


def reader_pids() -> list[int]:
    """The reader's own pid (the job runs in it)."""
    return [os.getpid()]
