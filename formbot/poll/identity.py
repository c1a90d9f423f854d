"""What makes two fetched mails one: the same Message-ID and the same content.

A mail delivered to two mailboxes, or fetched again after a mailbox rebuild, differs only
in the trace headers servers add on the way (Received, Delivered-To, Return-Path, X-…,
Authentication-Results); it is one mail. Two different mails may share a Message-ID
(broken clients write `<0@localhost>`; a unit's form copied from a colleague's mail):
they are two. So a mail's identity is its Message-ID plus a digest of what its sender
wrote — the headers a sender's client sets, and the body with line endings normalised.

`Message.key` stays the Message-ID for the first mail that carries it (so existing
databases, outbox keys and `reprocess <Message-ID>` keep working); another mail with
that Message-ID gets `<id>#<16 hex of its digest>`. A mail without a Message-ID is
keyed `content:<digest>` (databases before 0005 keyed it `sha256:<raw sha256>`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.message import Message as EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path

from ingest.rawstore import read_header_block

# The headers the sender's client writes; every other one may be added in transit.
IDENTITY_HEADERS = ("message-id", "from", "sender", "to", "cc", "subject", "date",
                    "in-reply-to", "references", "mime-version", "content-type",
                    "content-transfer-encoding")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Identity:
    message_id: str | None
    digest: str          # "<headers' sha256>.<body's sha256>", 32 hex digits each
    sha256: str          # of the raw bytes as kept

    @property
    def base_key(self) -> str:
        return self.message_id or f"content:{self.digest}"

    @property
    def head(self) -> str:
        return self.digest.split(".", 1)[0]

    def key_beside(self, taken: bool) -> str:
        """The key this mail is recorded under: its base key, or when another mail has
        that already, the base key with a suffix of its own digest."""
        if not taken:
            return self.base_key
        return f"{self.base_key}#{hashlib.sha256(self.digest.encode()).hexdigest()[:16]}"


def head_digest(headers: EmailMessage) -> str:
    """The identity headers, unfolded and with runs of spaces collapsed (a server may
    refold a long header), in a fixed order."""
    digest = hashlib.sha256()
    for name in IDENTITY_HEADERS:
        for value in headers.get_all(name) or []:
            text = " ".join(str(value).split())
            digest.update(name.encode() + b":" + text.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()[:32]


def head_digest_of(block: bytes) -> str:
    return head_digest(BytesHeaderParser().parsebytes(block))


def _body_digest(path: str | Path, start: int) -> str:
    """The body from `start`, read a block at a time: CR dropped (a server may store CRLF
    or LF) and trailing white space ignored (some add a final line ending)."""
    digest = hashlib.sha256()
    held = b""      # trailing white space, written only if more text follows
    with open(path, "rb") as handle:
        handle.seek(start)
        while block := handle.read(_CHUNK):
            block = held + block.replace(b"\r", b"")
            text = block.rstrip(b" \t\n")
            held = block[len(text):]
            digest.update(text)
    return digest.hexdigest()[:32]


def identity_of(path: str | Path, sha256: str) -> Identity:
    # The header block only is parsed: parsing a whole 27 MB mail just for its headers
    # would cost the email package ~200 MB. The body is hashed as a stream.
    block = read_header_block(path)
    headers = BytesHeaderParser().parsebytes(block)
    message_id = str(headers.get("Message-ID", "") or "").strip() or None
    digest = f"{head_digest(headers)}.{_body_digest(path, len(block))}"
    return Identity(message_id, digest, sha256)
