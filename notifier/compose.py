"""Outgoing mail: Chinese text from Jinja2 templates, headers per the contract."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import cache
from pathlib import Path

import jinja2

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


def compose(
    *,
    kind: str,
    sender: Sender,
    to: list[str],
    subject: str,
    body: str,
    now: datetime,
    in_reply_to: str | None = None,
) -> EmailMessage:
    """A plain UTF-8 message carrying the headers that keep bots from answering bots."""
    message = EmailMessage()
    message["From"] = Address(display_name=sender.name, addr_spec=sender.address)
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(idstring=f"formbot.{kind}",
                                       domain=sender.address.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-replied" if kind == "receipt" else "auto-generated"
    message["X-Formbot-Kind"] = kind
    # Outlook/Exchange honour this one instead of Auto-Submitted.
    message["X-Auto-Response-Suppress"] = "All"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    # base64: Chinese text in 8bit makes lines some servers refuse (RFC 5321 4.5.3.1.6).
    message.set_content(body, charset="utf-8", cte="base64")
    return message
