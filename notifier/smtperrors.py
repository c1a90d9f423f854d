"""SMTP failures as sentences a person can act on, like the IMAP side's (ingest/imap.py).

Never the exception's repr: an SMTP client's state can hold the login, and a sentence
names the config key to look at instead. Never the server's own reply either (`550 5.1.1
User unknown`, `SMTPUTF8 required`): the admin reads what it means and what to do
(`refusal`), the reply itself goes to the log (`reply_text`).
"""

from __future__ import annotations

import errno
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from typing import Protocol

from errors import DeliveryError

_SHOWN = 200  # a server's reply is the server's text: what is logged of it stays short


class _Where(Protocol):
    host: str
    port: int


def reply_text(code: int | None, message: bytes | str | None) -> str:
    """`550 5.1.1 User unknown` on one line, short, whatever bytes the server sent."""
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    text = " ".join(f"{code or ''} {message or ''}".split())
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def network_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few Chinese words (the exception's own text, English,
    is for the log)."""
    if isinstance(exc, socket.gaierror):
        return "找不到该服务器地址（域名无法解析）"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "连接超时"
    if isinstance(exc, ConnectionRefusedError):
        return "连接被拒绝，服务器没有在这个端口上接收邮件"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "连接被服务器重置"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "服务器断开了连接"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "服务器的 TLS 证书无法验证"
    if isinstance(exc, ssl.SSLError):
        return "TLS 加密握手失败"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"服务器回答：{refusal(exc.smtp_code, exc.smtp_error).what}"
    if isinstance(exc, OSError) and exc.errno in _NETWORK:
        return _NETWORK[exc.errno]
    return "网络连接出错"


_NETWORK = {errno.ENETUNREACH: "网络不可达", errno.EHOSTUNREACH: "到该服务器的网络不通",
            errno.ECONNABORTED: "连接被中止", errno.EPIPE: "连接被服务器重置"}


@dataclass(frozen=True)
class Refusal:
    """What a server's refusal means, for the admin: `what` happened (a clause, without
    the server's words) and the `advice`, a sentence saying what to do."""

    what: str
    advice: str


# What the admin can do, by the kind of refusal.
FIX_ADDRESS = ("请向该单位核实邮箱地址，在单位名单中改正（以后的邮件会发往新地址）；"
               "这一封可在发件箱中放弃")
ASK_UNIT = "请联系该单位处理邮箱后，在发件箱中重发这一封"
SMALLER = "请联系该单位，确认其邮箱能接收多大的附件，或改用其他方式把材料交给对方"
POLICY = ("请联系该单位，请其邮箱管理员允许接收本部门发件地址的邮件后，"
          "在发件箱中重发这一封")
OURS = "请检查发信邮箱（smtp.from_address）能否正常向外发信，必要时联系邮箱服务商"
WAIT = "无需处理，稍后会自动重试"
UTF8 = ("请向该单位要一个只由英文字母、数字组成的邮箱地址，在单位名单中改正；"
        "这一封可在发件箱中放弃")

_NOT_ASCII = "对方服务器不接受含中文等非英文字符的邮件地址"
# RFC 3463 enhanced status codes: (subject, detail) → what happened, what to do.
_ENHANCED: dict[tuple[int, int], tuple[str, str]] = {
    (1, 1): ("对方服务器说收件邮箱不存在", FIX_ADDRESS),
    (1, 2): ("收件地址的域名（@ 之后的部分）不存在或不收邮件", FIX_ADDRESS),
    (1, 3): ("对方服务器不接受这个收件地址的写法", FIX_ADDRESS),
    (1, 6): ("收件人已不再使用这个邮箱", FIX_ADDRESS),
    (1, 7): ("对方服务器不接受本部门的发件地址", OURS),
    (1, 8): ("对方服务器不接受本部门发件地址的域名", OURS),
    (1, 10): ("收件地址的域名声明不收邮件", FIX_ADDRESS),
    (2, 1): ("收件邮箱已被停用", FIX_ADDRESS),
    (2, 2): ("收件邮箱已满", ASK_UNIT),
    (2, 3): ("邮件太大，超过了收件邮箱的限制", SMALLER),
    (3, 4): ("邮件太大，超过了对方服务器的限制", SMALLER),
    (6, 7): (_NOT_ASCII, UTF8),
    (6, 8): (_NOT_ASCII, UTF8),
    (6, 9): (_NOT_ASCII, UTF8),
}
_SUBJECT: dict[int, tuple[str, str]] = {
    1: ("对方服务器不接受这个收件地址", FIX_ADDRESS),
    2: ("收件邮箱暂时无法收信", ASK_UNIT),
    3: ("对方邮件系统出了问题", ASK_UNIT),
    4: ("投递途中网络或路由出了问题", ASK_UNIT),
    5: ("对方服务器不接受本次发信的方式", OURS),
    6: ("对方服务器不接受这封邮件的格式或内容", POLICY),
    7: ("对方服务器按其安全或反垃圾邮件规则拒收了这封邮件", POLICY),
}
# A reply without an enhanced code: a few well-known phrases, then the basic code.
_PHRASES: list[tuple[re.Pattern[str], tuple[str, str]]] = [
    (re.compile(r"utf-?8|non-?ascii|8bit", re.I), _ENHANCED[(6, 7)]),
    (re.compile(r"user unknown|unknown user|no such (user|mailbox|recipient)|does not exist|"
                r"not exist|invalid (recipient|mailbox)|recipient (rejected|not found)|"
                r"mailbox not found|user not found", re.I), _ENHANCED[(1, 1)]),
    (re.compile(r"quota|mailbox (is )?full|insufficient storage", re.I), _ENHANCED[(2, 2)]),
    (re.compile(r"too (large|big)|size limit|exceeds", re.I), _ENHANCED[(3, 4)]),
    (re.compile(r"relay", re.I),
     ("发信服务器不肯转发这封邮件（通常是没有登录，或登录的不是发信邮箱）",
      "请检查 smtp.username、smtp.from_address 是否为同一个邮箱")),
    (re.compile(r"spam|blocked|block ?list|black ?list|policy|reputation|denied", re.I),
     _SUBJECT[7]),
]
_BASIC: dict[int, tuple[str, str]] = {
    421: ("服务器暂时不可用", WAIT),
    450: ("收件邮箱暂时不可用", WAIT),
    451: ("对方服务器处理时出错", WAIT),
    452: ("对方服务器的空间暂时不足", WAIT),
    550: ("收件邮箱不可用（不存在、已停用或拒收）", FIX_ADDRESS),
    551: ("收件人不在这台服务器上", FIX_ADDRESS),
    552: ("邮件太大或收件邮箱的空间不足", SMALLER),
    553: ("对方服务器不接受这个收件地址", FIX_ADDRESS),
    554: ("对方服务器拒收了这封邮件", POLICY),
}
_ENHANCED_CODE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


def refusal(code: int | None, message: bytes | str | None) -> Refusal:
    """What a server's reply means for the admin, in Chinese; its own words stay out (the
    caller logs `reply_text`). A temporary reply (4xx) always advises waiting: the outbox
    retries it by itself."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message or ""
    found = _ENHANCED_CODE.search(text)
    meaning = None
    if found:
        subject, detail = int(found.group(2)), int(found.group(3))
        meaning = _ENHANCED.get((subject, detail))
    if meaning is None:
        meaning = next((m for pattern, m in _PHRASES if pattern.search(text)), None)
    if meaning is None and found:
        meaning = _SUBJECT.get(int(found.group(2)))
    if meaning is None:
        meaning = _BASIC.get(code or 0)
    if meaning is None:
        meaning = (("对方服务器暂时拒收了这封邮件", WAIT) if code and 400 <= code < 500
                   else ("对方服务器拒收了这封邮件", POLICY))
    what, advice = meaning
    if code is not None and 400 <= code < 500:
        # Temporary: what a 5xx would mean for good (a disabled box) is only "for now".
        if advice is not UTF8:
            what = _BASIC.get(code, ("对方服务器暂时拒收了这封邮件", WAIT))[0]
        advice = WAIT
    return Refusal(what, advice)


def connect_error(exc: BaseException, where: _Where, *, username: str | None) -> DeliveryError:
    """The sentence for a failed connection or login to the SMTP server."""
    host = f"{where.host}:{where.port}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(
            f"发信服务器 {where.host} 拒绝登录 {username or ''}：请检查 smtp.username 和 "
            f"smtp.password_env 指向的密码（126/163 须用客户端授权码）")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"发信服务器 {host} 不支持登录（AUTH）或 STARTTLS：请检查 "
                             f"smtp.security（465 端口用 ssl，587 端口用 starttls）")
    if isinstance(exc, socket.gaierror):
        return DeliveryError(f"找不到发信服务器 {where.host}（域名无法解析）：请检查 smtp.host "
                             f"和本机网络")
    if isinstance(exc, ssl.SSLError | smtplib.SMTPServerDisconnected | ConnectionResetError):
        return DeliveryError(f"无法连接发信服务器 {host}（{network_reason(exc)}）：请检查 "
                             f"smtp.security 是否与端口相符（465 用 ssl，587/25 用 starttls）")
    return DeliveryError(f"无法连接发信服务器 {host}（{network_reason(exc)}）：请检查 "
                         f"smtp.host、smtp.port 和 smtp.security，或稍后再试")
