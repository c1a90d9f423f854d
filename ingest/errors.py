"""IMAP's errors; the family is the top-level errors.py."""

from errors import MailboxError

__all__ = ["MailboxError"]
