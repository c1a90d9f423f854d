"""One admin password, sessions, CSRF tokens and a brake on guessing.

Everything lives in memory: the console is one process on the admin's machine, a
restart simply asks for the password again, and nothing secret is written to disk.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from errors import FormbotError

PASSWORD_ENV = "FORMBOT_ADMIN_PASSWORD"
MIN_PASSWORD = 8
COOKIE = "formbot_session"
# scrypt as in RFC 7914's interactive setting: ~50 ms a try, so even a stolen process
# image does not give the password away cheaply, and a login still feels instant.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class PasswordHash:
    """The admin password, salted and hashed; the plain text is not kept."""

    def __init__(self, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise FormbotError(
                f"环境变量 {PASSWORD_ENV} 中的管理密码太短：至少 {MIN_PASSWORD} 个字符")
        self._salt = secrets.token_bytes(16)
        self._digest = self._hash(password)

    def _hash(self, password: str) -> bytes:
        return hashlib.scrypt(password.encode("utf-8"), salt=self._salt, **_SCRYPT)  # type: ignore[arg-type]

    def verify(self, password: str) -> bool:
        # Bounded: scrypt of a megabyte "password" is a cheap way to burn our CPU.
        return len(password) <= 1024 and hmac.compare_digest(self._hash(password), self._digest)


def password_from_env(environ: dict[str, str]) -> PasswordHash:
    value = environ.get(PASSWORD_ENV, "")
    if not value:
        raise FormbotError(
            f"环境变量 {PASSWORD_ENV} 未设置：请先设置管理后台的登录密码，例如 "
            f"export {PASSWORD_ENV}='一个至少{MIN_PASSWORD}位的密码'，再运行 formbot serve")
    return PasswordHash(value)


class LoginThrottle:
    """At most `limit` failed tries per `window` seconds from one address, and `limit * 4`
    from everywhere together (the console usually sees every browser as 127.0.0.1, and a
    proxy in front would hide addresses too)."""

    def __init__(self, *, limit: int = 5, window: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def _trim(self, stamps: deque[float], now: float) -> None:
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()

    def wait_seconds(self, address: str) -> int:
        """0 when a try is allowed now, else how long until the oldest failure expires."""
        with self._lock:
            now = self._clock()
            mine = self._failures.get(address, deque())
            self._trim(mine, now)
            self._trim(self._all, now)
            for stamps, cap in ((mine, self.limit), (self._all, self.limit * 4)):
                if len(stamps) >= cap:
                    return max(1, int(stamps[0] + self.window - now) + 1)
            return 0

    def failed(self, address: str) -> None:
        with self._lock:
            now = self._clock()
            self._failures.setdefault(address, deque()).append(now)
            self._all.append(now)


@dataclass
class AdminSession:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    logged_in: bool = False
    created: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)
    flash: list[tuple[str, str]] = field(default_factory=list)  # (kind, text) for the next page


class Sessions:
    """Random session ids in an HttpOnly cookie, the state here. Logging out or a restart
    ends a session for good, which a signed-cookie session could not promise."""

    def __init__(self, *, idle: float = 8 * 3600, clock: Callable[[], float] = time.monotonic):
        self.idle, self._clock = idle, clock
        self._by_id: dict[str, AdminSession] = {}
        self._lock = threading.Lock()

    def get(self, sid: str | None) -> AdminSession | None:
        if not sid:
            return None
        with self._lock:
            found = self._by_id.get(sid)
            now = self._clock()
            if found is None or now - found.seen > self.idle:
                self._by_id.pop(sid, None)
                return None
            found.seen = now
            return found

    def new(self, *, logged_in: bool = False) -> tuple[str, AdminSession]:
        sid = secrets.token_urlsafe(32)
        state = AdminSession(logged_in=logged_in, created=self._clock(), seen=self._clock())
        with self._lock:
            # Anonymous sessions (a login page opened) must not pile up without bound.
            if len(self._by_id) > 10_000:
                self._by_id = {k: v for k, v in self._by_id.items() if v.logged_in}
            self._by_id[sid] = state
        return sid, state

    def drop(self, sid: str | None) -> None:
        with self._lock:
            self._by_id.pop(sid or "", None)


def same_token(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


def cookie_name(campaign_code: str) -> str:
    """The session cookie of one campaign's console. Browsers keep cookies per host, not
    per port: two consoles on one machine (`serve --campaign … --port …`) sharing one
    name would log each other out at every login."""
    return f"{COOKIE}_{hashlib.sha256(campaign_code.encode()).hexdigest()[:10]}"
