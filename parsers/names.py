"""File names and header texts from mail, made safe to store and to show.

A name is only ever displayed (receipts, the console, the database), never used as a
path: raw mail is stored by its hash, LibreOffice gets fixed names. Still, a name can
carry `../`, a NUL, bidi overrides, line breaks that would forge a receipt line, or a
thousand characters; what is kept is what a person would read.
"""

from __future__ import annotations

import unicodedata

MAX_NAME = 120          # characters a receipt line shows of a file name
UNNAMED = "未命名附件"


def _printable(text: str) -> str:
    """Control and format characters (NUL, CR/LF, U+202E …) become a space."""
    return "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)


def one_line(text: str, limit: int | None = None) -> str:
    """Header text (a subject, a display name) on one line, without control characters."""
    cleaned = " ".join(_printable(text).split())
    if limit is not None and len(cleaned) > limit:
        cleaned = cleaned[:limit - 1] + "…"
    return cleaned


def safe_name(name: str | None, limit: int = MAX_NAME) -> str:
    """A file name as the sender would recognise it: the last path component, printable,
    at most `limit` characters with its extension kept."""
    text = " ".join(_printable(name or "").split())
    # `C:\\Users\\…\\表.docx` (old Outlook) and `../../x.docx` both mean the file `表.docx`.
    base = text.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if base.strip(". ") == "":
        return UNNAMED
    if len(base) <= limit:
        return base
    stem, dot, suffix = base.rpartition(".")
    if dot and 0 < len(suffix) <= 10:
        keep = limit - len(suffix) - 2
        return f"{stem[:keep]}….{suffix}"
    return base[:limit - 1] + "…"
