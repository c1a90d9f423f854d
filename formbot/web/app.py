"""`formbot serve`: the admin's console, a small server-rendered Starlette app.

Built by `create_app(settings, engine=…, password=…)`; nothing at import time. Pages are
plain HTML forms (no script at all), so the strict Content-Security-Policy costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from formbot.settings.config import Settings
from formbot.web.auth import LoginThrottle, PasswordHash, Sessions
from formbot.web.clerkroutes import ROUTES as CLERK_ROUTES
from formbot.web.console import (
    Console,
    checked_form,
    client,
    render,
    session_of,
    set_cookie,
    who,
)
from formbot.web.routes import ROUTES
from store import audit

STATIC = Path(__file__).with_name("static")
HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
     b"frame-ancestors 'none'; base-uri 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds the headers above to every response; pages also are never cached, so the back
    button after logout shows nothing of the data."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + HEADERS
                if not static and not any(k == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: `next=//evil.example` must not send the admin away."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


async def login(request: Request) -> Response:
    console: Console = request.app.state.console
    state = session_of(request)
    if request.method == "GET":
        if state is not None and state.logged_in:
            return RedirectResponse(_safe_next(request.query_params.get("next")), 303)
        if state is None:
            sid, state = console.sessions.new()
        else:
            sid = request.cookies[console.cookie]
        response = render(request, "login.html",
                          {"next": _safe_next(request.query_params.get("next")),
                           "csrf_login": state.csrf})
        set_cookie(request, response, sid)
        return response

    wait = console.throttle.wait_seconds(client(request))
    if wait:
        error = f"密码错误次数过多，请 {max(1, round(wait / 60))} 分钟后再试。"
        return render(request, "login.html", {
            "error": error, "next": "/", "csrf_login": state.csrf if state else ""},
            status_code=429)
    form = await checked_form(request)
    target = _safe_next(str(form.get("next") or "/"))
    password = str(form.get("password") or "")
    now = console.now()
    if not await run_in_threadpool(console.password.verify, password):
        console.throttle.failed(client(request))
        with Session(console.engine) as session:
            audit.record(session, at=now, who=who(request), action="login-failed")
            session.commit()
        assert state is not None  # checked_form refuses a request without a session
        return render(request, "login.html", {"error": "密码不正确。", "next": target,
                                              "csrf_login": state.csrf}, status_code=401)
    # A new session id at login: an id planted before it (session fixation) stays anonymous.
    console.sessions.drop(request.cookies.get(console.cookie))
    sid, _ = console.sessions.new(logged_in=True)
    with Session(console.engine) as session:
        audit.record(session, at=now, who=who(request), action="login")
        session.commit()
    response = RedirectResponse(target, status_code=303)
    set_cookie(request, response, sid)
    return response


async def logout(request: Request) -> Response:
    console: Console = request.app.state.console
    await checked_form(request)
    with Session(console.engine) as session:
        audit.record(session, at=console.now(), who=who(request), action="logout")
        session.commit()
    console.sessions.drop(request.cookies.get(console.cookie))
    response = RedirectResponse(request.url_for("login"), status_code=303)
    response.delete_cookie(console.cookie, path="/")
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {403: "不允许的操作", 404: "找不到页面", 405: "不支持的请求"}
    return render(request, "error.html", {"title": titles.get(exc.status_code, "出错了"),
                                          "detail": exc.detail}, status_code=exc.status_code)


def ensure_audit_table(engine: Engine) -> None:
    """Databases created before the console existed have no audit table; add it (only it)."""
    audit.AuditEntry.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]


def create_app(settings: Settings, *, engine: Engine, password: PasswordHash,
               clock: Callable[[], datetime] | None = None,
               throttle: LoginThrottle | None = None,
               sessions: Sessions | None = None) -> Starlette:
    ensure_audit_table(engine)
    console = Console(settings=settings, engine=engine, password=password,
                      clock=clock or (lambda: datetime.now(settings.campaign.zone)),
                      sessions=sessions or Sessions(), throttle=throttle or LoginThrottle())
    routes = [
        Route("/login", login, methods=["GET", "POST"], name="login"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        *ROUTES,
        *CLERK_ROUTES,
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error},
                    max_body_size=1_000_000)
    app.state.console = console
    app.add_middleware(SecurityHeaders)
    return app
