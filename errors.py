"""The error family every room of formbot raises, each a sentence a person can act on.

A module of its own at the top, importing nothing: parsers/, ingest/, store/ and notifier/
all raise these without importing one another.
"""

from __future__ import annotations


class FormbotError(Exception):
    """A failure a person can act on; `str()` is the sentence they read."""


class ConfigError(FormbotError):
    """config.yaml (or a file it names) says something formbot cannot use."""


class MailboxError(FormbotError):
    """The IMAP server could not be reached, refused the login, or answered NO/BAD."""


class DeliveryError(FormbotError):
    """The SMTP server could not be reached or refused the mail or the login."""


class DatabaseError(FormbotError):
    """The database could not be opened, migrated or written."""


class ParseError(FormbotError):
    """A mail or an attached file could not be read.

    `subject` names what failed (a file name, a part), so the receipt can say it.
    """

    def __init__(self, message: str, *, subject: str | None = None) -> None:
        super().__init__(message)
        self.subject = subject
