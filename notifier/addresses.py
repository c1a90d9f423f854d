"""What SMTP can carry of an address: checked before a mail is handed to the server.

Mail in the wild comes from every kind of address: `Marilù.Gioffré@esempio-università.it`
(a non-ASCII local part: only a server offering SMTPUTF8, RFC 6531, takes it),
`x@esempio-università.it` (an internationalised domain: its ASCII form, IDNA, goes
anywhere) and strings that are no address at all. smtplib raises UnicodeEncodeError on
the first kind, which once stopped the whole outbox; here each gets its answer first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 5321 4.5.3.1: 64 octets of local part, 254 of path (256 with the angle brackets).
_LOCAL_MAX = 64
_PATH_MAX = 254
# What never belongs in an address on the wire: space, controls, brackets, separators.
_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f<>()\[\],;:\\\"]")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


class InvalidAddress(ValueError):
    """Not an address SMTP can carry; the message is a Chinese sentence naming it."""


@dataclass(frozen=True)
class WireAddress:
    text: str           # as the RCPT/MAIL command carries it
    needs_utf8: bool    # only with SMTPUTF8


def wire_address(address: str) -> WireAddress:
    """The address as an SMTP command carries it, or InvalidAddress with the reason."""
    shown = address if len(address) <= 80 else address[:80] + "…"
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain or _FORBIDDEN.search(address.strip()) or "@" in local:
        raise InvalidAddress(f"收件地址“{shown}”不是有效的邮件地址")
    if len(local.encode("utf-8")) > _LOCAL_MAX:
        raise InvalidAddress(f"收件地址“{shown}”的用户名部分超过 {_LOCAL_MAX} 个字节")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidAddress(f"收件地址“{shown}”的域名部分无效") from None
    if not all(_LABEL.match(label) for label in ascii_domain.rstrip(".").split(".")):
        raise InvalidAddress(f"收件地址“{shown}”的域名部分无效")
    if local.isascii():
        text = f"{local}@{ascii_domain}"
        needs_utf8 = False
    else:
        text = f"{local}@{domain}"   # RFC 6531: U-labels ride along with the UTF-8 local part
        needs_utf8 = True
    if len(text.encode("utf-8")) > _PATH_MAX:
        raise InvalidAddress(f"收件地址“{shown}”过长")
    return WireAddress(text, needs_utf8)


def header_address(address: str) -> str:
    """The address as a header shows it: its ASCII form where one exists (a punycode
    domain), else as it is (UTF-8, RFC 6532: it only travels with SMTPUTF8 anyway)."""
    try:
        return wire_address(address).text
    except InvalidAddress:
        return address
