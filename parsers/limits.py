"""How much one mail may make the readers do: sizes, counts, time.

A union mailbox receives forms of a few dozen KB; everything here is set far above
that and far below what would hurt the poller. The values come from config.yaml
(`limits:`, formbot/settings/config.py) and are passed down as parameters: parsers read no
settings of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ParseError

MB = 1024 * 1024

# Defaults, shared with formbot/settings/config.py so the two can never disagree.
DEFAULT_MESSAGE_MB = 60       # a mail as it sits on the server, attachments encoded
DEFAULT_ATTACHMENT_MB = 30    # one attached file, decoded
DEFAULT_UNPACKED_MB = 64      # what one attachment may unpack to (zip, .docx/.xlsx inside)
DEFAULT_PARTS = 500           # MIME parts of one mail
DEFAULT_PARSE_SECONDS = 60.0  # reading one mail, in a worker process that is killed after

# Fixed guards, not settings: no real mail comes anywhere near them.
HARD_MAX_PARTS = 10_000       # MIME parts, whatever `max_parts` says (the email package
                              # builds an object per part)
MAX_NESTING = 20              # multipart/message levels inside one mail
MAX_ENTRIES = 1000            # files inside one zip (a .docx holds 10–30)
MAX_ZIP_DIRECTORY = 1 * MB    # a zip's central directory; 1 MB lists ~10,000 files


@dataclass(frozen=True)
class ReadLimits:
    max_message_bytes: int = DEFAULT_MESSAGE_MB * MB
    max_attachment_bytes: int = DEFAULT_ATTACHMENT_MB * MB
    max_unpacked_bytes: int = DEFAULT_UNPACKED_MB * MB
    max_parts: int = DEFAULT_PARTS
    parse_seconds: float | None = DEFAULT_PARSE_SECONDS


def megabytes(size: int) -> str:
    """A size as a person reads it in a receipt: `68.4 MB`, `0.2 MB`."""
    return f"{size / MB:.1f} MB"


class NeedsIsolation(Exception):
    """Reading this mail turned out to be expensive: read it again in a worker process,
    where a time limit and a memory limit hold (formbot/reading.py)."""


class Meter:
    """Work one mail may do in the poller's own process before it is handed to a worker."""

    def __init__(self, soft: int) -> None:
        self.soft = soft
        self.spent = 0

    def charge(self, size: int) -> None:
        self.spent += size
        if self.spent > self.soft:
            raise NeedsIsolation


class Budget:
    """Bytes one attachment may still unpack to, across every archive and Office file
    inside it: a zip of zips of .docx cannot multiply the limit by nesting."""

    def __init__(self, total: int, meter: Meter | None = None) -> None:
        self.total = total
        self.left = total
        self.meter = meter

    def take(self, size: int, message: str) -> None:
        if size > self.left:
            raise ParseError(message)
        if self.meter is not None:
            self.meter.charge(size)
        self.left -= size
