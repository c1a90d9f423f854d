"""Raw mail bytes → an `Envelope`: who, what, and every attached file's real bytes.

mail-parser does the MIME walk; this module adds what units' mail clients
need on top: attachment names in every encoding they send (RFC 2231, RFC 2047
inside quotes as QQ/Foxmail do, raw GBK bytes), gb2312/gbk read as gb18030,
and a forwarded message's files counted once.

mail-parser is given the mail without its larger attachments (parsers/mailparts.py
leaves them in the raw mail, each replaced by a marker): it holds every payload several
times over, which for a 20 MB attachment is ~200 MB. Each marker comes back as an
`Attachment` whose bytes are decoded from the raw mail when read.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import email
import email.utils
import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.parser import BytesHeaderParser

import mailparser
from loguru import logger

from .errors import ParseError
from .headertext import codec, decode_raw_bytes, decode_words, header_text, part_filename
from .limits import HARD_MAX_PARTS, MAX_NESTING, ReadLimits, megabytes
from .mailparts import (
    EncodedPart,
    Source,
    SplitRaw,
    StrippedMail,
    read_header_block,
    source_size,
    strip_parts,
)
from .names import UNNAMED, one_line, safe_name
from .salvage import salvage

_DECORATION_TYPES = frozenset({
    "application/pgp-signature", "application/pkcs7-signature",
    "application/x-pkcs7-signature", "text/calendar", "application/ics",
    "text/x-vcalendar"})
_DECORATION_NAMES = re.compile(r"(^|/)(signature\.asc|smime\.p7s)$|\.(p7s|ics|vcs)$",
                               re.IGNORECASE)


@dataclass(frozen=True)
class Attachment:
    """One attached file. A large one stays in the raw mail (`EncodedPart`) and is decoded
    each time `data` is asked for: take it once, when the file is read."""

    name: str
    payload: bytes | EncodedPart
    content_type: str
    # A picture the HTML body shows (`cid:`), like a newsletter's logo or a signature:
    # part of the text, not a file somebody attached.
    inline: bool = False

    @property
    def decoration(self) -> bool:
        """A part that comes with the mail but is no file a person attached: a signature
        (PGP, S/MIME), a calendar invite, a picture the HTML body shows (a logo)."""
        return self.inline or self.content_type in _DECORATION_TYPES \
            or bool(_DECORATION_NAMES.search(self.name))

    @property
    def data(self) -> bytes:
        payload = self.payload
        return payload if isinstance(payload, bytes) else payload.decode()

    @property
    def size(self) -> int:
        payload = self.payload
        return len(payload) if isinstance(payload, bytes) else payload.size

    @property
    def sha256(self) -> str:
        payload = self.payload
        return hashlib.sha256(payload).hexdigest() if isinstance(payload, bytes) \
            else payload.sha256


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
    problems: tuple[str, ...] = ()   # why the mail itself could not be read (whole or part)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def _address(value: str) -> tuple[str, str]:
    name, addr = email.utils.parseaddr(value)
    return one_line(decode_words(name), 200), one_line(addr).lower()


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo else None


# --- Structure first: how much work a mail is, from its bytes ---------------------------

_BOUNDARY = re.compile(rb'boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))', re.IGNORECASE)
_DELIMITER = re.compile(rb"^--([^\r\n]{1,204})", re.MULTILINE)
TOO_LARGE = ("邮件过大（{size}，上限 {limit}），未读取。请只附上填好的表格（Word 或 Excel），"
             "不要附带照片、视频等大文件；材料较多时可分几封邮件发送")
TOO_MANY_PARTS = ("邮件包含的部分过多（超过 {limit} 个），未读取。请只附上填好的表格，"
                  "重新发送一封普通邮件")
TOO_DEEP = "邮件结构嵌套过深（多次转发或格式异常），未读取。请把表格直接作为附件重新发送"
PARTLY_READ = ("邮件包含的部分过多（共 {total} 个，上限 {limit} 个），只读取了其中 {kept} 个"
               "（附件优先），其余 {left} 个部分未读取。请只附上填好的表格，重新发送一封普通邮件")
DEEP_READ = ("邮件结构嵌套过深（{depth} 层，多次转发或格式异常），已展开后读取其中的附件；"
             "如有表格未收到，请把表格直接作为附件重新发送")
UNREADABLE = "邮件格式有误，无法读取其中的内容（{what}）。请重新发送一封普通邮件并附上表格"


def structure_problem(raw: bytes, limits: ReadLimits) -> str | None:
    """Why a mail must not be parsed, judged from its bytes alone: too large, or more
    MIME parts than allowed. The email package builds an object per part, so a few
    MB of empty parts would otherwise cost gigabytes."""
    if len(raw) > limits.max_message_bytes:
        return TOO_LARGE.format(size=megabytes(len(raw)),
                                limit=megabytes(limits.max_message_bytes))
    cap = min(limits.max_parts, HARD_MAX_PARTS)
    boundaries = {m.group(1) or m.group(2) for m in _BOUNDARY.finditer(raw)}
    if len(boundaries) > cap:
        return TOO_MANY_PARTS.format(limit=cap)
    if not boundaries:
        return None
    parts = 0
    for match in _DELIMITER.finditer(raw):
        if match.group(1).rstrip() in boundaries:  # a part opens (`--b--` closes, not counted)
            parts += 1
            if parts > cap:
                return TOO_MANY_PARTS.format(limit=cap)
    return None


def _nesting_problem(message: Message, max_parts: int) -> str | None:
    """Depth and count of the parsed tree, walked without recursion."""
    stack, count = [(message, 0)], 0
    while stack:
        part, depth = stack.pop()
        count += 1
        if depth > MAX_NESTING:
            return TOO_DEEP
        if count > max_parts:
            return TOO_MANY_PARTS.format(limit=max_parts)
        if part.is_multipart():  # get_payload() of a leaf would decode its text
            stack.extend((p, depth + 1) for p in part.get_payload() if isinstance(p, Message))
    return None


def _headers_only(raw: bytes) -> Message:
    """Just the header block (for a mail not to be parsed): cheap on any size."""
    head = raw[:1024 * 1024]
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = head.find(separator)
        if end >= 0:
            head = head[:end + len(separator)]
            break
    return BytesHeaderParser().parsebytes(head)


def _envelope(message: Message, *, text: str = "", html: str = "",
              attachments: tuple[Attachment, ...] = (),
              problems: tuple[str, ...] = ()) -> Envelope:
    raw_headers: dict[str, str] = {}
    for key, value in message.raw_items():
        raw_headers.setdefault(str(key).lower(), header_text(value))
    headers = {key: decode_words(value) for key, value in raw_headers.items()}
    # Addresses are split before RFC 2047 decoding: a decoded display name may hold
    # a comma or brackets (`定海路街道, 王芳`) that would split the address list.
    from_name, from_addr = _address(raw_headers.get("from", ""))
    to = tuple(
        one_line(addr).lower()
        for _, addr in email.utils.getaddresses(
            [raw_headers.get("to", ""), raw_headers.get("cc", "")]
        )
        if addr
    )
    message_id = one_line(headers.get("message-id", "")) or None
    return Envelope(
        message_id=message_id,
        from_addr=from_addr,
        from_name=from_name,
        to=to,
        # One line: a subject goes into the receipt's own Subject header.
        subject=one_line(headers.get("subject", "")),
        date=_date(headers.get("date", "")),
        headers=headers,
        text=text,
        attachments=attachments,
        html=html,
        problems=problems,
    )


def _decode_base64(payload: str) -> bytes:
    """Lenient, as mail clients are: a truncated or badly padded part still decodes."""
    try:
        return base64.b64decode(payload)
    except (binascii.Error, ValueError):
        pass
    clean = re.sub(r"[^A-Za-z0-9+/]", "", payload)
    clean = clean[:len(clean) - len(clean) % 4 if len(clean) % 4 == 1 else len(clean)]
    return base64.b64decode(clean + "=" * (-len(clean) % 4))


def open_mail(source: Source, limits: ReadLimits) -> StrippedMail:
    """A kept mail (its file, or its bytes) ready to parse: larger attachments left where
    they are (parsers/mailparts.py). A mail over the size limit is not even read: its
    header block is all that is needed to tell its sender."""
    size = source_size(source)
    if size > limits.max_message_bytes:
        return StrippedMail(read_header_block(source), size)
    return strip_parts(source)


def mail_problem(mail: StrippedMail, limits: ReadLimits) -> str | None:
    """`structure_problem` for an opened mail: its real size, the structure left in it."""
    if mail.size > limits.max_message_bytes:
        return TOO_LARGE.format(size=megabytes(mail.size),
                                limit=megabytes(limits.max_message_bytes))
    return structure_problem(mail.raw, dataclasses.replace(limits, max_message_bytes=len(mail.raw)))


def with_parts(envelope: Envelope, mail: StrippedMail) -> Envelope:
    """The envelope parsed from `mail.raw` with each marker back as the file it stands for."""
    if not mail.parts:
        return envelope
    attachments = []
    for attachment in envelope.attachments:
        payload = attachment.payload
        part = mail.part_for(payload) if isinstance(payload, bytes) else None
        attachments.append(attachment if part is None
                           else dataclasses.replace(attachment, payload=part))
    return dataclasses.replace(envelope, attachments=tuple(attachments))


def needs_salvage(envelope: Envelope) -> bool:
    """A mail refused for its structure alone (too many parts, too deep), not its size."""
    return any(p == TOO_DEEP or p.startswith(TOO_MANY_PARTS.split("（")[0])
               for p in envelope.problems)


def salvaged_envelope(mail: StrippedMail, limits: ReadLimits, refused: Envelope) -> Envelope:
    """What a mail too many parts or too deep for reading whole still carries: its leaf
    parts up to the limit, files first, each said in `problems` (parsers/salvage.py)."""
    cap = min(limits.max_parts, HARD_MAX_PARTS)
    try:
        flat = salvage(mail.raw, cap)
        if flat is None:
            return refused
        envelope = with_parts(_parse_whole(flat.raw), mail)
    except (RecursionError, ValueError, LookupError):
        return refused
    if flat.left:
        said = PARTLY_READ.format(total=flat.kept + flat.left, limit=cap, kept=flat.kept,
                                  left=flat.left)
    else:
        said = DEEP_READ.format(depth=flat.depth)
    # The headers as sent, not the flat mail's own Content-Type.
    return dataclasses.replace(envelope, headers=refused.headers,
                               problems=(*envelope.problems, said))


def parse_mail(raw: bytes, limits: ReadLimits | None = None) -> Envelope:
    """Parse one message; raises ParseError only when nothing at all can be read.

    A mail too large, with too many parts, nested too deep or too broken to walk
    comes back as its headers with `problems` saying why (so its sender can be told).
    `limits` defaults to hard ceilings only; formbot/reading.py applies the configured
    ones before calling this. Larger attachments are decoded when their `data` is read.
    """
    try:
        limits = limits or ReadLimits(max_message_bytes=len(raw), max_parts=HARD_MAX_PARTS)
        # formbot/reading.py hands over a mail it has split already (its markers resolved
        # there); anything else is split here.
        mail = StrippedMail(raw, len(raw)) if isinstance(raw, SplitRaw) else open_mail(raw, limits)
        problem = mail_problem(mail, limits)
        envelope = _envelope(_headers_only(mail.raw), problems=(problem,)) if problem \
            else with_parts(_parse_whole(mail.raw), mail)
        return salvaged_envelope(mail, limits, envelope) if needs_salvage(envelope) \
            else envelope
    except ParseError:
        raise
    except Exception as exc:  # even the headers could not be read
        raise ParseError(f"邮件无法解析：{type(exc).__name__}") from exc


class _ToDebugLog(logging.Handler):
    """mail-parser logs a warning for every part it does not handle (`Email content
    'alternative' not handled`); with no handler Python prints each on stderr. They are
    the debug log's business, not the terminal's."""

    def emit(self, record: logging.LogRecord) -> None:
        logger.debug("mailparser {}", record.getMessage())


def _quiet_mailparser() -> None:
    # Set up on first use (also in each reader process), not at import time.
    chatty = logging.getLogger("mailparser")
    if not any(isinstance(h, _ToDebugLog) for h in chatty.handlers):
        chatty.addHandler(_ToDebugLog())
        chatty.propagate = False


def _parse_whole(raw: bytes) -> Envelope:
    """The email package and mail-parser on a mail already checked for size and parts."""
    _quiet_mailparser()
    try:
        message = email.message_from_bytes(raw)
        problem = _nesting_problem(message, HARD_MAX_PARTS)
    except RecursionError:
        problem = TOO_DEEP
    if problem:
        return _envelope(_headers_only(raw), problems=(problem,))
    try:
        parsed = mailparser.MailParser(message)
        return _full_envelope(message, parsed)
    except RecursionError:
        return _envelope(_headers_only(raw), problems=(TOO_DEEP,))
    except Exception as exc:  # mail-parser on a mail it does not understand
        what = type(exc).__name__
        return _envelope(_headers_only(raw), problems=(UNREADABLE.format(what=what),))


def _full_envelope(message: Message, parsed: mailparser.MailParser) -> Envelope:
    # Names by content: mail-parser lists attachments in its own order and
    # loses raw-GBK names, so look each one's name up by its bytes.
    # Identical bytes attached twice under two names keep both names, in order.
    names: dict[str, list[str]] = {}
    content_ids: dict[str, str] = {}
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part_filename(part)
        payload = part.get_payload(decode=True)
        if name and isinstance(payload, bytes):
            names.setdefault(hashlib.sha256(payload).hexdigest(), []).append(name)
        content_id = str(part.get("Content-ID") or "").strip().strip("<>")
        if content_id and isinstance(payload, bytes):
            content_ids[hashlib.sha256(payload).hexdigest()] = content_id
    plain, html_parts = _bodies(message)
    html = "\n".join(html_parts)
    shown = {digest for digest, cid in content_ids.items() if f"cid:{cid}" in html}

    all_names = {name for found in names.values() for name in found}
    attachments: list[Attachment] = []
    for item in parsed.attachments:
        content_type = (item.get("mail_content_type") or "application/octet-stream").lower()
        if content_type == "message/rfc822":
            continue  # its files are already listed on their own: count them once
        payload = item.get("payload") or ""
        data = _decode_base64(payload) if item.get("binary") else _text_bytes(payload)
        digest = hashlib.sha256(data).hexdigest()
        same = names.get(digest) or []
        if same:
            name = same.pop(0) if len(same) > 1 else same[0]
        elif item.get("filename") in all_names:
            name = item["filename"]  # bytes differ (a re-encoded text part); name is real
        else:
            # For a nameless part mail-parser invents a random `filename`; a name must
            # come out the same when the mail is parsed again.
            name = UNNAMED
        attachments.append(Attachment(name=safe_name(name), payload=data,
                                      content_type=one_line(content_type),
                                      inline=digest in shown))
    text = "\n".join(plain) or _strip_html(html)
    return _envelope(message, text=text, html=html, attachments=tuple(attachments))


def _bodies(message: Message) -> tuple[list[str], list[str]]:
    """The text and HTML bodies, decoded the Chinese way: the labelled charset, and when
    it is unknown, wrong or not a text codec, UTF-8 if the bytes are, else GBK."""
    plain: list[str] = []
    html: list[str] = []
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        subtype = part.get_content_subtype()
        disposition = (part.get_content_disposition() or "").lower()
        if subtype not in ("plain", "html") or disposition == "attachment" or (
                part_filename(part) and disposition != "inline"):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload:
            continue
        charset = part.get_content_charset()
        try:
            text = payload.decode(codec(charset)) if charset else decode_raw_bytes(payload)
            text.encode("utf-8")  # some codecs make lone surrogates
        except (LookupError, ValueError):
            text = decode_raw_bytes(payload)
        (html if subtype == "html" else plain).append(text)
    return plain, html


def _text_bytes(payload: str) -> bytes:
    try:
        return payload.encode("utf-8", "surrogateescape")  # undecodable bytes as they came
    except UnicodeEncodeError:
        return payload.encode("utf-8", "replace")


def header_envelope(raw: bytes, problem: str) -> Envelope:
    """The envelope of a mail that is not parsed (see `structure_problem`): its headers,
    so the sender can be told, and the reason."""
    return _envelope(_headers_only(raw), problems=(problem,))


def _strip_html(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)
