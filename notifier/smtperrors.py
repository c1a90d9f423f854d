"""SMTP failures as sentences a person can act on, like the IMAP side's (ingest/imap.py).

Never the exception's repr: an SMTP client's state can hold the login, and a sentence
names the config key to look at instead.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from typing import Protocol

from errors import DeliveryError

_SHOWN = 200  # a server's reply is the server's text: what is shown of it stays short



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
    """Why a connection failed, in a few Chinese words."""
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
    if isinstance(exc, ssl.SSLError):
        return f"TLS 握手失败（{exc.reason or type(exc).__name__}）"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"服务器回答 {reply_text(exc.smtp_code, exc.smtp_error)}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


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
