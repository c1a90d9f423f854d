"""A mail read part by part: each attached file stays in the raw mail until it is read.

The email package, and mail-parser on top of it, hold a mail several times over: its
text, every part's payload string, each attachment decoded, mail-parser's base64 copy
of it. A 27 MB mail with a 20 MB attachment costs ~200 MB that way. Here the raw mail
is read once, line by line, from its file or its bytes; the body of every larger base64
part (an attached file) is replaced by a short marker and remembered by where it lies.
What is left — headers, text bodies, structure — is small and is parsed as any mail is
(parsers/mail.py: mail-parser, GBK names, forwarded mail). Each marker then stands for a
file decoded from the raw mail only when it is read, one at a time.

The splitter follows the email package's feedparser where it finds a part's end (any
open boundary closes it, a line that is no header ends a header block), so both see
the same parts; where a mail is odder than that (a non-ASCII boundary, absurd nesting
or part counts), nothing is stripped and the mail is parsed whole, as before.
"""

from __future__ import annotations

import binascii
import hashlib
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import BinaryIO

from .limits import HARD_MAX_PARTS, MAX_NESTING

# Parts smaller than this (encoded) stay in place: a marker saves nothing on them.
STRIP_AT = 4 * 1024
# A header block this long is no mail a person sent; such a mail is parsed whole.
MAX_HEADER_BLOCK = 1024 * 1024
# Base64 is decoded and copied this much at a time.
CHUNK = 1024 * 1024
MARKER_PREFIX = b"\0formbot-part:"

_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_BASE64 = bytes(b for b in range(256) if b not in _BASE64 + b"=")
# The feedparser's test for a header line; anything else ends the header block.
_HEADER_LINE = re.compile(rb"(From |[\041-\071\073-\176]*:|[\t ])")
_BLANK = (b"\n", b"\r\n", b"\r")

Source = bytes | Path


class _Base64Stream:
    """Base64 decoded chunk by chunk, as leniently as mail clients decode it: characters
    outside the alphabet are skipped, missing padding is supplied, and data after a
    padding `=` is ignored (as the email package's decoder does)."""

    def __init__(self) -> None:
        self._rest = b""
        self.ended = False

    def feed(self, chunk: bytes) -> bytes:
        if self.ended:
            return b""
        data = self._rest + chunk.translate(None, _NOT_BASE64)
        pad = data.find(b"=")
        if pad >= 0:
            self.ended = True
            data = data[:pad]
        cut = len(data) - len(data) % 4
        self._rest = data[cut:]
        return binascii.a2b_base64(data[:cut]) if cut else b""

    def close(self) -> bytes:
        rest, self._rest = self._rest, b""
        if len(rest) < 2:  # one character carries no whole byte
            return b""
        return binascii.a2b_base64(rest + b"=" * (-len(rest) % 4))


@dataclass
class EncodedPart:
    """One attached file as it lies in the raw mail: base64 between two offsets."""

    source: Source
    start: int
    end: int
    size: int        # decoded
    sha256: str

    def decode(self) -> bytes:
        """The file's bytes, decoded anew from the raw mail (nothing is kept)."""
        out = io.BytesIO()
        self.decode_into(out)
        return out.getvalue()

    def head(self) -> bytes:
        """The file's first bytes (from its first encoded chunk): enough to tell its kind."""
        stream = _Base64Stream()
        return next((stream.feed(c) for c in self._encoded_chunks()), b"")

    def decode_into(self, sink: BinaryIO) -> None:
        """Decoded a megabyte at a time into `sink` (a file: never whole in memory)."""
        stream = _Base64Stream()
        for chunk in self._encoded_chunks():
            sink.write(stream.feed(chunk))
        sink.write(stream.close())

    def _encoded_chunks(self) -> Iterator[bytes]:
        if isinstance(self.source, bytes):
            view = memoryview(self.source)
            for at in range(self.start, self.end, CHUNK):
                yield bytes(view[at:min(at + CHUNK, self.end)])
            return
        with open(self.source, "rb") as handle:
            handle.seek(self.start)
            left = self.end - self.start
            while left > 0 and (chunk := handle.read(min(CHUNK, left))):
                left -= len(chunk)
                yield chunk


class SplitRaw(bytes):
    """Raw mail already split by `strip_parts`: parsing it splits nothing again."""


@dataclass
class StrippedMail:
    """A raw mail with its larger attachments taken out (`raw`), and where they are."""

    raw: bytes                 # the mail, each stripped part's body replaced by its marker
    size: int                  # of the whole mail as kept
    parts: dict[bytes, EncodedPart] = field(default_factory=dict)   # marker → part

    def part_for(self, data: bytes) -> EncodedPart | None:
        """The part a decoded payload stands for, if it is one of this mail's markers."""
        if not data.startswith(MARKER_PREFIX):
            return None
        return self.parts.get(data)


def read_header_block(source: Source, limit: int = MAX_HEADER_BLOCK) -> bytes:
    """The top header block of a mail (up to the first empty line): enough to answer it."""
    if isinstance(source, bytes):
        head = source[:limit]
    else:
        with open(source, "rb") as handle:
            head = handle.read(limit)
    ends = [at + len(end) for end in (b"\r\n\r\n", b"\n\n") if (at := head.find(end)) >= 0]
    return head[:min(ends)] if ends else head


def source_size(source: Source) -> int:
    return len(source) if isinstance(source, bytes) else os.path.getsize(source)


def whole(source: Source) -> bytes:
    return source if isinstance(source, bytes) else Path(source).read_bytes()


class _Reader:
    """The raw mail from its bytes (not copied) or its file (a block at a time), read as
    lines where lines matter and in runs up to the next `--` line where they do not."""

    def __init__(self, source: Source, handle: BinaryIO | None) -> None:
        self._handle = handle
        self.buf = source if isinstance(source, bytes) else b""
        self.pos = 0          # in buf
        self.base = 0         # offset of buf[0] in the mail

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def _more(self) -> bool:
        if self._handle is None:
            return False
        block = self._handle.read(CHUNK)
        if not block:
            self._handle = None
            return False
        self.base += self.pos
        self.buf, self.pos = self.buf[self.pos:] + block, 0
        return True

    def readline(self) -> bytes:
        while True:
            end = self.buf.find(b"\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos:end + 1]
                self.pos = end + 1
                return line
            if not self._more():
                line = self.buf[self.pos:]
                self.pos = len(self.buf)
                return line

    def run_to_dashes(self) -> Iterator[bytes]:
        """The lines up to (not including) the next line starting with `--`, in runs of
        whole lines of about CHUNK bytes at most; the position is left at that line."""
        while True:
            if self.buf.startswith(b"--", self.pos):
                return
            window = self.pos + CHUNK
            found = self.buf.find(b"\n--", self.pos, window + 2)
            if found >= 0:
                run, self.pos = self.buf[self.pos:found + 1], found + 1
                yield run
                return
            last = self.buf.rfind(b"\n", self.pos, window)
            if last < 0 and len(self.buf) > window:
                last = self.buf.find(b"\n", window)   # one line longer than CHUNK
            if last >= 0:
                run, self.pos = self.buf[self.pos:last + 1], last + 1
                yield run
                continue
            if not self._more():   # the rest is one unfinished line, or nothing
                run, self.pos = self.buf[self.pos:], len(self.buf)
                if run:
                    yield run
                return


class _GiveUp(Exception):
    """The mail is odd in a way the splitter does not follow: parse it whole instead."""


def _headers(lines: list[bytes]) -> Message:
    return BytesHeaderParser().parsebytes(b"".join(lines) + b"\n")


def _strippable(headers: Message) -> bool:
    """A base64 part that is a file, not a text body mail-parser and _bodies read."""
    encoding = str(headers.get("content-transfer-encoding", "")).strip().lower()
    if encoding != "base64" or headers.get_content_maintype() in ("multipart", "message"):
        return False
    disposition = (headers.get_content_disposition() or "").lower()
    return headers.get_content_type() not in ("text/plain", "text/html") \
        or disposition == "attachment"


class _Splitter:
    """The feedparser's walk over lines, writing the mail out again minus large parts."""

    def __init__(self, source: Source, min_size: int) -> None:
        self.source = source
        self.min_size = min_size
        self.nonce = os.urandom(8).hex().encode()
        self.out = io.BytesIO()
        self.parts: dict[bytes, EncodedPart] = {}
        self.boundaries: list[tuple[bytes, bool]] = []   # open multiparts: (boundary, digest)
        self.opened = 0
        self.offset = 0                   # just past what was last read
        # What the line being read belongs to:
        self.state = "headers"            # headers | body | copy
        self.header: list[bytes] = []
        self.default_type = "text/plain"
        self.strip = False                # the body being read may be stripped
        self.body: list[bytes] = []       # body lines held while it is still small
        self.body_size = 0
        self.start = 0                    # offset of the stripped body's first line
        self.stream: _Base64Stream | None = None
        self.digest = hashlib.sha256()
        self.decoded = 0
        self.body_end = 0                 # offset just past the body read so far
        self.linesep = b"\n"

    def run(self) -> StrippedMail:
        handle = None if isinstance(self.source, bytes) else open(self.source, "rb")  # noqa: SIM115
        try:
            reader = _Reader(self.source, handle)
            while True:
                if self.state == "headers":
                    line = reader.readline()
                    if not line:
                        break
                    self.offset = reader.offset
                    if not (line[:2] == b"--" and self.boundaries and self._delimiter(line)):
                        self._header_line(line)
                    continue
                # A body, a preamble or an epilogue: only a `--` line can end it.
                for run in reader.run_to_dashes():
                    self.offset = reader.offset
                    self._text(run)
                line = reader.readline()
                if not line:
                    break
                self.offset = reader.offset
                if not (self.boundaries and self._delimiter(line)):
                    self._text(line)
            self.offset = reader.offset
            self._end_entity()
            return StrippedMail(SplitRaw(self.out.getvalue()), self.offset, self.parts)
        finally:
            if handle is not None:
                handle.close()

    # -- what was read ----------------------------------------------------------------
    def _text(self, run: bytes) -> None:
        if self.state == "body":
            self._body(run)
        elif self.state == "headers":   # a line that ended a header block began the body
            self._line(run)
        else:
            self.out.write(run)

    def _line(self, line: bytes) -> None:
        if line[:2] == b"--" and self.boundaries and self._delimiter(line):
            return
        if self.state == "headers":
            self._header_line(line)
        else:
            self._text(line)

    def _delimiter(self, line: bytes) -> bool:
        """A line opening or closing a part of any open multipart (the innermost first,
        as the feedparser's stack of boundary matchers tries them)."""
        text = line[2:].rstrip(b"\r\n").rstrip(b" \t")
        for depth in range(len(self.boundaries) - 1, -1, -1):
            boundary = self.boundaries[depth][0]
            if text == boundary:
                closing = False
            elif text == boundary + b"--":
                closing = True
            else:
                continue
            self._end_entity()
            digest = self.boundaries[depth][1]
            del self.boundaries[depth + 1:]
            self.out.write(line)
            if closing:
                del self.boundaries[depth]
                self.state = "copy"   # the epilogue, up to an outer boundary
            else:
                self.opened += 1
                if self.opened > HARD_MAX_PARTS:
                    raise _GiveUp
                self._begin_headers("message/rfc822" if digest else "text/plain")
            return True
        return False

    def _begin_headers(self, default_type: str) -> None:
        self.state, self.header, self.default_type = "headers", [], default_type

    def _header_line(self, line: bytes) -> None:
        if line in _BLANK:
            self.header.append(line)
            self._headers_done()
            return
        if not _HEADER_LINE.match(line):
            # No empty line before the body: the feedparser ends the headers here and
            # reads this line as the body's first.
            self._headers_done()
            self._line(line)
            return
        self.header.append(line)
        if sum(map(len, self.header)) > MAX_HEADER_BLOCK:
            raise _GiveUp

    def _headers_done(self) -> None:
        header, self.header = self.header, []
        self.out.write(b"".join(header))
        headers = _headers(header)
        if self.default_type != "text/plain":
            headers.set_default_type(self.default_type)
        maintype = headers.get_content_maintype()
        if maintype == "multipart":
            boundary = headers.get_boundary()
            if boundary is not None:
                if not boundary.isascii() or len(self.boundaries) >= MAX_NESTING:
                    raise _GiveUp  # the feedparser's own matching of these is its business
                self.boundaries.append((boundary.encode("ascii"),
                                        headers.get_content_subtype() == "digest"))
                self.state = "copy"   # the preamble, up to the first boundary
                return
        elif maintype == "message" and headers.get_content_subtype() != "delivery-status":
            if len(self.boundaries) >= MAX_NESTING:
                raise _GiveUp
            self._begin_headers("text/plain")   # the forwarded mail's own headers follow
            return
        self.state = "body"
        self.strip = _strippable(headers)
        self.body, self.body_size, self.stream = [], 0, None

    def _body(self, run: bytes) -> None:
        """Body bytes just read (self.offset is where they end)."""
        self.body_end = self.offset
        if not self.strip:
            self.out.write(run)
            return
        self.linesep = b"\r\n" if run.endswith(b"\r\n") else b"\n"
        if self.stream is None:
            self.body.append(run)
            self.body_size += len(run)
            if self.body_size >= self.min_size:
                self._start_stripping()
            return
        self._decode(run)

    def _start_stripping(self) -> None:
        self.stream = _Base64Stream()
        self.digest = hashlib.sha256()
        self.decoded = 0
        self.start = self.offset - self.body_size
        held, self.body, self.body_size = self.body, [], 0
        self._decode(b"".join(held))

    def _decode(self, run: bytes) -> None:
        assert self.stream is not None
        data = self.stream.feed(run)
        self.digest.update(data)
        self.decoded += len(data)

    def _end_entity(self) -> None:
        """The part being read ends here (a boundary, or the end of the mail)."""
        if self.state == "headers":
            # Headers with no body (or a mail that is only headers).
            self.out.write(b"".join(self.header))
            self.header = []
        elif self.state == "body" and self.strip:
            if self.stream is None:
                self.out.write(b"".join(self.body))
            else:
                end = self.body_end   # the boundary line is not part of the body
                tail = self.stream.close()
                self.digest.update(tail)
                marker = MARKER_PREFIX + self.nonce + b":%d" % len(self.parts)
                self.parts[marker] = EncodedPart(self.source, self.start, end,
                                                 self.decoded + len(tail),
                                                 self.digest.hexdigest())
                self.out.write(binascii.b2a_base64(marker, newline=False) + self.linesep)
            self.body, self.body_size, self.stream = [], 0, None
        self.state = "copy"


def strip_parts(source: Source, *, min_size: int = STRIP_AT) -> StrippedMail:
    """The mail with each base64 file part of `min_size` bytes or more replaced by a
    marker; a mail the splitter does not follow comes back whole, nothing stripped."""
    try:
        return _Splitter(source, min_size).run()
    except (_GiveUp, RecursionError):
        raw = whole(source)
        return StrippedMail(raw, len(raw))
