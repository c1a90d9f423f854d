"""`formbot serve`: the admin's console, a small server-rendered Starlette app.

Built by `create_app(settings, engine=…, password=…)`; nothing at import time. Pages are
plain HTML forms (no script at all), so the strict Content-Security-Policy costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    CAMPAIGN_KEY,
    CAMPAIGN_PREFIX,
    Console,
    checked_form,
    client,
    console_of,
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
    console: Console = console_of(request)
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
    console: Console = console_of(request)
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


class CampaignPrefix:
    """/c/N/… is campaign N's console (N ≥ 1 in the config's order; the first keeps the
    plain URLs): the prefix becomes the request's root path, so the routes match as they
    are and every URL built for the page (url_for, `link`) carries the prefix."""

    def __init__(self, app: ASGIApp, *, campaigns: int) -> None:
        self.app = app
        self.campaigns = campaigns

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        head, _, rest = path.removeprefix(CAMPAIGN_PREFIX + "/").partition("/")
        if path.startswith(CAMPAIGN_PREFIX + "/") and head.isdigit() and \
                0 < int(head) < self.campaigns and head == str(int(head)):
            prefix = f"{CAMPAIGN_PREFIX}/{head}"
            scope = {**scope, CAMPAIGN_KEY: int(head),
                     "path": f"{prefix}/{rest}",     # /c/1 alone is its progress page
                     "root_path": scope.get("root_path", "") + prefix}
        await self.app(scope, receive, send)


def create_app(settings: Settings, *, engine: Engine, password: PasswordHash,
               clock: Callable[[], datetime] | None = None,
               throttle: LoginThrottle | None = None,
               sessions: Sessions | None = None,
               others: Sequence[tuple[Settings, Engine]] = ()) -> Starlette:
    """The console of `settings`' campaign at /, and of each of `others` at /c/1/, /c/2/…
    (`formbot serve` on a config with `campaigns:`): one login, one session for all."""
    sessions, throttle = sessions or Sessions(), throttle or LoginThrottle()
    consoles: list[Console] = []
    for index, (each, store) in enumerate([(settings, engine), *others]):
        ensure_audit_table(store)
        zone = each.campaign.zone
        consoles.append(Console(
            settings=each, engine=store, password=password,
            clock=clock or (lambda zone=zone: datetime.now(zone)),  # type: ignore[misc]
            sessions=sessions, throttle=throttle, index=index,
            login_code=settings.campaign.code,
            **({"templates": consoles[0].templates} if consoles else {})))
    routes = [
        Route("/login", login, methods=["GET", "POST"], name="login"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        *ROUTES,
        *CLERK_ROUTES,
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error},
                    max_body_size=1_000_000)
    app.state.consoles = consoles
    app.state.console = consoles[0]
    app.add_middleware(SecurityHeaders)
    if len(consoles) > 1:
        app.add_middleware(CampaignPrefix, campaigns=len(consoles))
    return app
