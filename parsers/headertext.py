"""Header text as Chinese mail clients write it: RFC 2047 words (also inside quotes, as
QQ/Foxmail do), RFC 2231 parameters, raw GBK bytes, gb2312/gbk read as gb18030.

Raw 8-bit bytes are read by what they are: UTF-8 when they are, GBK when they look
like it (pairs of high bytes), else the single-byte charset charset-normalizer finds:
a Latin-2 subject read as GBK came back as `Doma鑕 omre啪je`."""

from __future__ import annotations

import binascii
import contextlib
import email.utils
import re
from email.header import decode_header
from email.message import Message

# Labels Chinese clients put on GBK text; gb18030 is their superset and never fails on them.
_GB_ALIASES = {"gb2312", "gbk", "gb_2312-80", "x-gbk", "cp936", "euc-cn", "hz-gb-2312"}


# Where a raw header is neither UTF-8 nor GBK: the single-byte charsets mail in the wild
# uses. Multi-byte and UTF-16 guesses on a few bytes are noise (charset-normalizer calls
# `café` UTF-16), so detection is kept to these.
_SINGLE_BYTE = ("cp1252", "cp1250", "cp1251", "koi8_r", "iso8859_7", "cp1254", "cp1257")


def codec(charset: str | None) -> str:
    # RFC 2231 §5 lets an encoded word carry a language: `=?iso-8859-2*sl?Q?…?=`.
    name = (charset or "utf-8").lower().strip().split("*", 1)[0]
    return "gb18030" if name in _GB_ALIASES else name


def decode_words(value: str) -> str:
    """RFC 2047 words (also when a client wrapped them in quotes) → text."""
    if "=?" not in value:
        return value
    out = []
    try:
        chunks = decode_header(value)
    except (ValueError, IndexError, AssertionError, binascii.Error):
        return value  # a broken encoded word (HeaderParseError is a ValueError): as sent
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            out.append(chunk)
            continue
        if charset is None:
            # Text between encoded words: decode_header handed it over as
            # raw-unicode-escape bytes of what it was given (already real text).
            out.append(chunk.decode("raw-unicode-escape", errors="replace"))
            continue
        try:
            out.append(chunk.decode(codec(charset)))
        except (LookupError, ValueError):  # an unknown or non-text charset, a bad byte
            out.append(decode_raw_bytes(chunk))
    return "".join(out).strip()


def decode_raw_bytes(raw: bytes) -> str:
    """Header bytes sent without any encoding: UTF-8 if they are, GBK (gb18030) if they
    look like it, else the single-byte charset they are detected as."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if _looks_gbk(raw):
        return raw.decode("gb18030", errors="replace")
    from charset_normalizer import from_bytes  # only for the rare non-UTF-8, non-GBK bytes

    best = from_bytes(raw, cp_isolation=list(_SINGLE_BYTE)).best()
    return str(best) if best is not None else raw.decode("gb18030", errors="replace")


def _looks_gbk(raw: bytes) -> bool:
    """GBK writes every Chinese character as two bytes, the second one high too for all of
    GB2312 (the rare GBK-only ones, 镕, end in an ASCII byte); a single-byte charset puts a
    lone high byte between ASCII letters (`Doma\xe8e`)."""
    pairs = lone = 0
    at = 0
    while at < len(raw):
        byte = raw[at]
        if byte < 0x80:
            at += 1
            continue
        trail = raw[at + 1] if at + 1 < len(raw) else 0
        if 0x81 <= byte <= 0xFE and trail >= 0x80:
            pairs += 1
        else:
            lone += 1
        at += 2
    return pairs > lone


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
            return raw.decode(codec(charset))
        except (LookupError, ValueError):
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
