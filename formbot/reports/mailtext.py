"""A received mail's own words, read from its kept raw copy, for a person to answer it (a
clerk's question waits in the console, the digest and `formbot status`)."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage

from loguru import logger

from ingest.rawstore import read_raw

# Where a reply's own text ends and the mail it quotes begins (formbot/poll/storing.py).
_QUOTE = re.compile(r"^(>|-{2,}\s*原始邮件|-{2,}\s*Original Message|在.{0,80}写道|"
                    r"On .{0,120}wrote:)", re.MULTILINE)
_TAGS = re.compile(r"<[^>]+>")


def mail_text(raw_path: str, *, limit: int = 4000) -> str:
    """The mail's plain text (its HTML without tags when it has no plain part); '' when the
    kept copy cannot be read (the reason goes to the log)."""
    try:
        message = email.message_from_bytes(read_raw(raw_path), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        part = message.get_body(preferencelist=("plain", "html"))
        text = part.get_content() if part is not None else ""
        if part is not None and part.get_content_subtype() == "html":
            text = _TAGS.sub("", text)
    except (OSError, LookupError, ValueError, AssertionError) as exc:
        logger.warning("mailtext.unreadable path={} error={!r}", raw_path, exc)
        return ""
    text = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return text[:limit]


def own_words(raw_path: str, *, limit: int = 200) -> str:
    """The first words of the mail without what it quotes, on one line."""
    text = mail_text(raw_path)
    found = _QUOTE.search(text)
    text = text[:found.start()] if found else text
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "……"
