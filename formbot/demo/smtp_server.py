"""A real SMTP server in-process on loopback, for the demo, tests and benchmarks.

`EmbeddedSMTP` is aiosmtpd's server on its own asyncio loop in a background thread,
recording what it accepts, so a blocking client (smtplib) can talk to it from the
calling thread and a test can wait for what arrived.
"""

from __future__ import annotations

import hmac
import logging
import threading
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from formbot.demo.imap_server import LOOPBACK, START_TIMEOUT

__all__ = ["EmbeddedSMTP"]


def _not_login_data_nag(record: logging.LogRecord) -> bool:
    # aiosmtpd logs a deprecation warning on every successful AUTH, from its own code; in
    # `formbot demo` it would be printed between the steps the newcomer is reading.
    return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_not_login_data_nag)


class _PortZeroController(Controller):
    def _trigger_server(self) -> None:
        # The base class connects to self.port to check its handler factory works;
        # with port 0 it must first learn which port the kernel picked.
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _Recorder:
    """aiosmtpd handler that keeps every accepted message and wakes waiters."""

    def __init__(self, *, require_auth: bool) -> None:
        self.require_auth = require_auth
        # Tests refuse chosen recipients (a 550, a 451) to drive the outbox's failures.
        self.rcpt_replies: dict[str, str] = {}
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.arrived = threading.Condition()

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        # Enforced here rather than with aiosmtpd's auth_required, which warns on every
        # connection when TLS is not required too; the wire behaviour is the same.
        if self.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.rcpt_replies.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        with self.arrived:
            self.messages.append((envelope.mail_from or "", list(envelope.rcpt_tos), raw))
            self.arrived.notify_all()
        return "250 Message accepted for delivery"


class EmbeddedSMTP:
    """aiosmtpd on loopback that records what it receives.

    With `user` and `password` it offers AUTH PLAIN/LOGIN over plain TCP (no TLS on
    loopback), accepts only those credentials, and refuses MAIL FROM before AUTH with
    530, as a submission server does.
    """

    def __init__(self, *, user: str | None = None, password: str | None = None,
                 port: int = 0, smtputf8: bool = False) -> None:
        if (user is None) != (password is None):
            raise ValueError("give both user and password, or neither")
        self.user = user
        self.password = password
        self.host = LOOPBACK
        self.port = port  # a fixed port lets a test bring "the same server" back after an outage
        self.smtputf8 = smtputf8  # offer SMTPUTF8 (RFC 6531): internationalised addresses
        self._recorder = _Recorder(require_auth=user is not None)
        self._controller: _PortZeroController | None = None

    @property
    def messages(self) -> list[tuple[str, list[str], bytes]]:
        """(mail_from, rcpt_tos, raw data) of each accepted message, in arrival order."""
        return self._recorder.messages

    def refuse(self, address: str, reply: str) -> None:
        """Answer RCPT TO:<address> with `reply` (e.g. "550 5.1.1 No such user")."""
        self._recorder.rcpt_replies[address.lower()] = reply

    def start(self) -> Self:
        """Start serving; returns once the server has answered a connection."""
        if self._controller is not None:
            raise RuntimeError("EmbeddedSMTP already started")
        options: dict[str, Any] = {}
        if self.user is not None:
            options.update(auth_require_tls=False, authenticator=self._authenticate)
        controller = _PortZeroController(
            self._recorder,
            hostname=self.host,
            port=self.port,
            ready_timeout=START_TIMEOUT,
            # Without it aiosmtpd calls socket.getfqdn(), which can stall on DNS.
            server_hostname="formbot-embedded",
            enable_SMTPUTF8=self.smtputf8,
            **options,
        )
        controller.start()
        self._controller = controller
        self.port = controller.port
        return self

    def stop(self) -> None:
        """Stop the server thread; safe to call twice."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, list[str], bytes]]:
        """Block until at least `count` messages arrived; return all received so far."""
        recorder = self._recorder
        with recorder.arrived:
            if not recorder.arrived.wait_for(lambda: len(recorder.messages) >= count, timeout):
                raise TimeoutError(
                    f"expected {count} message(s) within {timeout} s, got {len(recorder.messages)}"
                )
            return list(recorder.messages)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword) or self.user is None or self.password is None:
            return AuthResult(success=False, handled=False)
        ok = hmac.compare_digest(data.login, self.user.encode("utf-8")) and hmac.compare_digest(
            data.password, self.password.encode("utf-8")
        )
        return AuthResult(success=ok, handled=False)
