"""The error family every room of formbot raises.

It lives here because `parsers/` is the leaf of the import graph: every other
package may import it without pulling in any I/O.
"""

from __future__ import annotations


class FormbotError(Exception):
    """A failure a person can act on; `str()` is the sentence they read."""


class ParseError(FormbotError):
    """A mail or an attached file could not be read.

    `subject` names what failed (a file name, a part), so the receipt can say it.
    """

    def __init__(self, message: str, *, subject: str | None = None) -> None:
        super().__init__(message)
        self.subject = subject


class DeclarationError(FormbotError):
    """A form declaration (`campaign.forms`) is wrong; the sentence names the file, the
    form, the field and what is expected."""
