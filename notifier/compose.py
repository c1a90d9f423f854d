"""Outgoing mail: Chinese text from Jinja2 templates, headers per the contract."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import encoders, policy
from email.charset import Charset
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, make_msgid
from functools import cache
from pathlib import Path

import jinja2

from .addresses import header_address

TEMPLATES = Path(__file__).with_name("templates")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,  # plain text mail; nothing here is HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def render(template: str, **context: object) -> str:
    return _environment().get_template(template).render(**context)


@dataclass(frozen=True)
class Sender:
    address: str
    name: str = ""


@dataclass(frozen=True)
class Composed:
    """A mail ready for the outbox: its bytes as sent, and what the outbox lists."""

    raw: bytes
    subject: str
    recipients: list[str]


# CRLF line ends: smtplib sends bytes as they are, and servers read lines by CRLF.
# Folding at 75: the email package sizes encoded words by this length without counting
# the header's name, and at its default of 78 writes 76-character words (RFC 2047: 75).
_WIRE = policy.compat32.clone(linesep="\r\n", max_line_length=75)


# Stands for a To header holding a UTF-8 address until the bytes are written (compat32
# would make the address an encoded word, which no client reads as an address).
_UTF8_TO = "formbot-utf8-recipients@invalid"


def _one_line(text: str) -> str:
    # Text from a stranger's mail (a subject, an address, a Message-ID) may carry line
    # breaks (an encoded word can hold any bytes): on one line they never start a header.
    return " ".join(text.splitlines())


def _header(text: str) -> str | Header:
    text = _one_line(text)
    return text if text.isascii() else Header(text, "utf-8")


def _mailbox(name: str, address: str) -> str | Header:
    """`Name <address>`; a Chinese name as encoded words of at most 75 characters each
    (RFC 2047), which formataddr would write as one word however long the name."""
    if name.isascii():
        return formataddr((name, address))
    header = Header(name, "utf-8")
    header.append(f"<{address}>", "us-ascii")
    return header


# (file name, bytes, MIME type): a file the mail carries, e.g. a blank form.
Attachment = tuple[str, bytes, str]


# A file name's characters at most: a Chinese name's RFC 2231 form takes 9 bytes a
# character, and one header line must stay under 998 (RFC 5322).
NAME_CHARS = 60


def _file_name(name: str) -> str:
    name = _one_line(name).replace("\\", "_").replace("/", "_").strip() or "附件"
    if len(name) <= NAME_CHARS:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 8:
        return name[:NAME_CHARS]
    return stem[:NAME_CHARS - len(ext) - 1] + "." + ext


def _attachment(name: str, data: bytes, mime: str) -> MIMEBase:
    """A file part whose Chinese name every client reads: RFC 2231 `filename*` (Outlook,
    Thunderbird, Apple Mail, 126/QQ webmail) and, for readers that only look at
    Content-Type, the RFC 2047 word in `name` that Outlook and QQ themselves write."""
    maintype, _, subtype = mime.partition("/")
    part = MIMEBase(maintype or "application", subtype or "octet-stream")
    part.set_payload(data)
    encoders.encode_base64(part)
    name = _file_name(name)
    if name.isascii():
        part.set_param("name", name)
        part.add_header("Content-Disposition", "attachment", filename=name)
    else:
        # One encoded word and one RFC 2231 value, neither split in continuations: some
        # readers do not join the pieces again.
        part.set_param("name", Charset("utf-8").header_encode(name))
        part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", name))
    return part


def compose(
    *,
    kind: str,
    sender: Sender,
    to: list[str],
    subject: str,
    body: str,
    now: datetime,
    in_reply_to: str | None = None,
    attachments: Sequence[Attachment] = (),
    cc: list[str] | None = None,
) -> Composed:
    """A plain UTF-8 message carrying the headers that keep bots from answering bots.

    `attachments` (a blank form…) make it multipart/mixed, the text first.
    Built with the email package's compat32 API: a receipt goes out with every stored
    mail, and EmailMessage's header folding cost five times as much per message."""
    # base64: Chinese text in 8bit makes lines some servers refuse (RFC 5321 4.5.3.1.6).
    text = MIMEText(body, "plain", "utf-8")
    message: MIMEBase = text
    if attachments:
        # Without files the mail stays the single text part it always was.
        message = MIMEMultipart("mixed")
        message.attach(text)
        for name, data, mime in attachments:
            message.attach(_attachment(name, data, mime))
    message["From"] = _mailbox(sender.name, sender.address)
    # An IDN domain in its ASCII form; a non-ASCII local part as UTF-8 (RFC 6532): such
    # a mail only leaves through a server offering SMTPUTF8, which reads it so.
    to_text = _one_line(", ".join(header_address(a) for a in to))
    message["To"] = to_text if to_text.isascii() else _UTF8_TO
    if cc:  # a unit another unit's mail filed a form under: told with the same receipt
        message["Cc"] = _one_line(", ".join(header_address(a) for a in cc))
    message["Subject"] = _header(subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(idstring=f"formbot.{kind}",
                                       domain=sender.address.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-replied" if kind == "receipt" else "auto-generated"
    message["X-Formbot-Kind"] = kind
    # Outlook/Exchange honour this one instead of Auto-Submitted.
    message["X-Auto-Response-Suppress"] = "All"
    if in_reply_to:
        message["In-Reply-To"] = _one_line(in_reply_to)
        message["References"] = _one_line(in_reply_to)
    raw = message.as_bytes(policy=_WIRE)
    if not to_text.isascii():
        raw = raw.replace(f"To: {_UTF8_TO}\r\n".encode(), f"To: {to_text}\r\n".encode(), 1)
    return Composed(raw=raw, subject=subject, recipients=[*to, *(cc or [])])
