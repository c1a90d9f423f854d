"""Raw mail bytes → an `Envelope`: who, what, and every attached file's real bytes.

mail-parser does the MIME walk; this module adds what units' mail clients
need on top: attachment names in every encoding they send (RFC 2231, RFC 2047
inside quotes as QQ/Foxmail do, raw GBK bytes), gb2312/gbk read as gb18030,
and a forwarded message's files counted once.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.header import decode_header
from email.message import Message

import mailparser

from .errors import ParseError

# Labels Chinese clients put on GBK text; gb18030 is their superset and never fails on them.
_GB_ALIASES = {"gb2312", "gbk", "gb_2312-80", "x-gbk", "cp936", "euc-cn", "hz-gb-2312"}


def _codec(charset: str | None) -> str:
    name = (charset or "utf-8").lower().strip()
    return "gb18030" if name in _GB_ALIASES else name


def decode_words(value: str) -> str:
    """RFC 2047 words (also when a client wrapped them in quotes) → text."""
    if "=?" not in value:
        return value
    out = []
    for chunk, charset in decode_header(value):
        if isinstance(chunk, str):
            out.append(chunk)
            continue
        try:
            out.append(chunk.decode(_codec(charset)))
        except (LookupError, UnicodeDecodeError):
            out.append(chunk.decode("gb18030", errors="replace"))
    return "".join(out).strip()


def decode_raw_bytes(raw: bytes) -> str:
    """Header bytes sent without any encoding: UTF-8 if they are, else GBK (gb18030)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030", errors="replace")


_PARAM = re.compile(rb'(?:file)?name\s*=\s*(?:"([^"]*)"|([^;\s]+))', re.IGNORECASE)


def header_text(value: object) -> str:
    """A header value as read: raw 8-bit bytes recovered, folding undone, RFC 2047 not decoded.

    The email package keeps undecodable header bytes as surrogates and would show
    them as U+FFFD; clients that send raw UTF-8 or GBK headers mean real text.
    """
    text = str(value)
    if not text.isascii():
        # UnicodeEncodeError: already real text (a str header built in memory).
        with contextlib.suppress(UnicodeEncodeError):
            text = decode_raw_bytes(text.encode("ascii", "surrogateescape"))
    return re.sub(r"\r?\n(?=[ \t])", "", text)


def _rfc2231(value: tuple[str | None, str | None, str]) -> str:
    """An RFC 2231 `name*=charset''%XX…` value with the charset read the Chinese way.

    The email package decodes it with the labelled codec and `errors="replace"`, so
    `gb2312''` names holding GBK-only characters (镕) come out with U+FFFD.
    """
    charset, _language, text = value
    raw = bytes(text, "raw-unicode-escape")  # what email.utils.collapse_rfc2231_value does
    if charset:
        try:
            return raw.decode(_codec(charset))
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_raw_bytes(raw)


def part_filename(part: Message) -> str | None:
    """The name of a MIME part as its sender meant it, or None."""
    for key, value in part.raw_items():
        if key.lower() not in ("content-disposition", "content-type"):
            continue
        raw = value.encode("ascii", "surrogateescape") if isinstance(value, str) else bytes(value)
        if raw.isascii():
            continue
        # 8-bit bytes in the header: the email package would turn them into U+FFFD.
        for match in _PARAM.finditer(raw):
            name = match.group(1) if match.group(1) is not None else match.group(2)
            if name:
                return decode_raw_bytes(name).strip()
    for param, header in (("filename", "content-disposition"), ("name", "content-type")):
        value = part.get_param(param, header=header)
        if not value:
            continue
        if isinstance(value, tuple):
            name = _rfc2231(value)  # type: ignore[arg-type]
        else:
            name = decode_words(email.utils.unquote(str(value)))
        if name.strip():
            return name.strip()
    return None


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes
    content_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Envelope:
    message_id: str | None
    from_addr: str
    from_name: str
    to: tuple[str, ...]
    subject: str
    date: datetime | None
    headers: dict[str, str]                      # lower-case name → first value, decoded
    text: str
    attachments: tuple[Attachment, ...] = field(default=())
    html: str = ""           # the HTML body as sent (links live in its hrefs)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def _address(value: str) -> tuple[str, str]:
    name, addr = email.utils.parseaddr(value)
    return decode_words(name), addr.strip().lower()


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else None


def parse_mail(raw: bytes) -> Envelope:
    """Parse one message; raises ParseError only when nothing at all can be read."""
    try:
        parsed = mailparser.parse_from_bytes(raw)
    except Exception as exc:
        raise ParseError(f"邮件无法解析：{exc}") from exc
    message = parsed.message
    if message is None:
        raise ParseError("邮件是空的")

    raw_headers: dict[str, str] = {}
    for key, value in message.raw_items():
        raw_headers.setdefault(key.lower(), header_text(value))
    headers = {key: decode_words(value) for key, value in raw_headers.items()}

    # Names by content: mail-parser lists attachments in its own order and
    # loses raw-GBK names, so look each one's name up by its bytes.
    # Identical bytes attached twice under two names keep both names, in order.
    names: dict[str, list[str]] = {}
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part_filename(part)
        payload = part.get_payload(decode=True)
        if name and isinstance(payload, bytes):
            names.setdefault(hashlib.sha256(payload).hexdigest(), []).append(name)

    all_names = {name for found in names.values() for name in found}
    attachments: list[Attachment] = []
    for item in parsed.attachments:
        content_type = (item.get("mail_content_type") or "application/octet-stream").lower()
        if content_type == "message/rfc822":
            continue  # its files are already listed on their own: count them once
        payload = item.get("payload") or ""
        data = base64.b64decode(payload) if item.get("binary") else payload.encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()
        same = names.get(digest) or []
        if same:
            name = same.pop(0) if len(same) > 1 else same[0]
        elif item.get("filename") in all_names:
            name = item["filename"]  # bytes differ (a re-encoded text part); name is real
        else:
            # For a nameless part mail-parser invents a random `filename`; a name must
            # come out the same when the mail is parsed again.
            name = "未命名附件"
        attachments.append(Attachment(name=name, data=data, content_type=content_type))

    # Addresses are split before RFC 2047 decoding: a decoded display name may hold
    # a comma or brackets (`定海路街道, 王芳`) that would split the address list.
    from_name, from_addr = _address(raw_headers.get("from", ""))
    to = tuple(
        addr.lower()
        for _, addr in email.utils.getaddresses(
            [raw_headers.get("to", ""), raw_headers.get("cc", "")]
        )
        if addr
    )
    message_id = headers.get("message-id", "").strip() or None
    text = "\n".join(parsed.text_plain) or _strip_html("\n".join(parsed.text_html))
    return Envelope(
        message_id=message_id,
        from_addr=from_addr,
        from_name=from_name,
        to=to,
        subject=headers.get("subject", ""),
        date=_date(headers.get("date", "")),
        headers=headers,
        text=text,
        attachments=tuple(attachments),
        html="\n".join(parsed.text_html),
    )


def _strip_html(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)
