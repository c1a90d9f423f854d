from parsers.errors import FormbotError


class MailboxError(FormbotError):
    """The IMAP server could not be reached, refused the login, or answered NO/BAD."""
