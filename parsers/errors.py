"""The errors of reading mail and files; the family itself is the top-level errors.py,
which imports nothing, so parsers/ stays the leaf it must be."""

from __future__ import annotations

from errors import FormbotError, ParseError

__all__ = ["DeclarationError", "FormbotError", "ParseError"]


class DeclarationError(FormbotError):
    """A form declaration (`campaign.forms`) is wrong; the sentence names the file, the
    form, the field and what is expected."""
