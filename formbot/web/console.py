"""The console's shared state and the guards every route goes through: who is logged
in, whether a form carries this session's CSRF token, and how a page is rendered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import pass_context
from markupsafe import Markup, escape
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from formbot.reports.sentences import error_sentence
from formbot.reports.status import auth_summary
from formbot.settings.config import Settings
from formbot.web.auth import (
    AdminSession,
    LoginThrottle,
    PasswordHash,
    Sessions,
    cookie_name,
    same_token,
)
from formbot.web.pages import nav_counts
from parsers.files import KIND_NAMES

TEMPLATES = Path(__file__).with_name("templates")
Handler = Callable[[Request], Awaitable[Response]]

# The store's words, as the admin reads them.
STATUS = {"new": "等待处理", "processed": "已处理", "failed": "处理失败", "ignored": "已搁置"}
OUTCOME = {"receipt": "已发回执", "receipt-already-sent": "回执此前已发",
           "receipt-assigned": "人工归入后已发回执", "dismissed": "已标记为无需处理",
           "no-reply:not-about-campaign": "与本次报送无关，未回复",
           "no-reply:rate-limited": "同一发件人今天回复过多，未回复",
           "no-reply:spam": "上游已标记为垃圾邮件，未回复",
           "no-reply:read-notification": "已读回执，未回复",
           "waiting-for-person": "单位来信（非报送），等待工作人员回复",
           "handled": "单位来信，工作人员已处理"}
MATCH = {"address": "按登记邮箱", "name": "按“填报单位”名称", "alias": "按单位别名",
         "fuzzy": "按相近的单位名称", "admin": "工作人员人工归入",
         "learned": "按人工确认的发件地址", "file_name": "按附件文件名（表中未填填报单位）",
         "subject": "按邮件主题（表中未填填报单位）"}
OUTBOX = {"pending": "等待发送", "sent": "已发出", "failed": "发送失败", "dropped": "已放弃发送"}
ACTION = {"login": "登录", "login-failed": "登录失败（密码错误）", "logout": "退出登录",
          "assign": "归入单位", "dismiss": "标记为无需处理", "retry": "重新处理",
          "forget-sender": "忘记发件地址", "export": "下载汇总表",
          "download-raw": "下载邮件原件", "sql": "SQL 查询",
          "outbox-retry": "重发邮件", "outbox-drop": "放弃发送邮件",
          "correct-cell": "更正识别的单元格",
          "handled": "来信已处理", "move": "移动表格", "confirm-sender": "确认发件地址",
          "reject-sender": "拒绝发件地址", "add-unit": "新增单位"}


def _outcome(value: str | None) -> str:
    if not value:
        return ""
    if value in OUTCOME:
        return OUTCOME[value]
    return "自动回复、退信或群发邮件，按规则不回复" if value.startswith("no-reply:") else value


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))

    @pass_context
    def link(context: dict[str, Any], name: str, /, **params: Any) -> str:
        # A path, not an absolute URL: correct behind any host name or proxy; in the
        # campaign the page belongs to (static files are every campaign's).
        request = context["request"]
        path = str(request.app.url_path_for(name, **params))
        return path if name == "static" else console_of(request).prefix + path

    def mark(value: object, query: str) -> Markup:
        """The searched words highlighted; everything else escaped as usual."""
        text = str(value)
        if not query:
            return escape(text)
        parts = text.split(query)
        return Markup(f"<mark>{escape(query)}</mark>").join(escape(p) for p in parts)

    templates.env.globals["link"] = link
    templates.env.filters["mark"] = mark
    templates.env.filters.update(
        status=lambda v: STATUS.get(v, v), outcome=_outcome,
        match=lambda v: MATCH.get(v or "", v or ""), outbox=lambda v: OUTBOX.get(v, v),
        action=lambda v: ACTION.get(v, v), auth=auth_summary, sentence=error_sentence,
        kind=lambda v: KIND_NAMES.get(v or "", "未知类型"),
        form_name=form_name, forms_list=forms_list)
    return templates


# A form's name as the campaign's declaration gives it (`all_forms`, set by `render`).
@pass_context
def form_name(context: dict[str, Any], key: str) -> str:
    return next((f.short for f in context.get("all_forms", ()) if f.key == key), key)


@pass_context
def forms_list(context: dict[str, Any], keys: str | None) -> str:
    return "、".join(form_name(context, k) for k in (keys or "").split(",") if k)


@dataclass
class Console:
    settings: Settings
    engine: Engine
    password: PasswordHash
    clock: Callable[[], datetime]
    sessions: Sessions = field(default_factory=Sessions)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    templates: Jinja2Templates = field(default_factory=_templates)
    # Place among the config's campaigns: the first is served at /, the others at /c/N/.
    index: int = 0
    # The console's one login for all its campaigns: the cookie is named for the first.
    login_code: str | None = None

    def now(self) -> datetime:
        return self.clock().astimezone(self.settings.campaign.zone)

    @property
    def cookie(self) -> str:
        return cookie_name(self.login_code or self.settings.campaign.code)

    @property
    def prefix(self) -> str:
        return f"{CAMPAIGN_PREFIX}/{self.index}" if self.index else ""


CAMPAIGN_PREFIX = "/c"
CAMPAIGN_KEY = "formbot.campaign"   # the request scope's key for the campaign's index
# Pages that exist in every campaign: the switcher keeps the admin on the same one.
SAME_PAGE = {"progress": "home", "unmatched": "unmatched", "failed": "failed",
             "outbox": "outbox", "search": "search", "sql": "sql", "audit": "audit"}


def consoles_of(request: Request) -> list[Console]:
    return request.app.state.consoles  # type: ignore[no-any-return]


def console_of(request: Request) -> Console:
    """The console of the campaign the URL names (/c/N/…), else the first's."""
    return consoles_of(request)[request.scope.get(CAMPAIGN_KEY, 0)]


def client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def who(request: Request) -> str:
    return f"admin@{client(request)}"


def session_of(request: Request) -> AdminSession | None:
    console = console_of(request)
    return console.sessions.get(request.cookies.get(console.cookie))


def set_cookie(request: Request, response: Response, sid: str) -> None:
    # HttpOnly: no script reads it; Strict: no other site's page can make the browser
    # send it, which stops cross-site requests before the CSRF token is even checked.
    response.set_cookie(console_of(request).cookie, sid, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")


def login_required(handler: Handler) -> Handler:
    """Every page needs the login: the data holds units' contacts, not only the actions."""

    async def guarded(request: Request) -> Response:
        state = session_of(request)
        if state is None or not state.logged_in:
            if request.method != "GET":
                raise HTTPException(403, "请先登录")
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(request.url_for("login").include_query_params(next=target),
                                    status_code=303)
        return await handler(request)

    guarded.__name__ = handler.__name__
    return guarded


def _same_origin(request: Request) -> bool:
    """A browser names the page a POST came from; if it is another site's, refuse."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not every client sends it; the token still has to match
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def checked_form(request: Request) -> FormData:
    """The posted form, if it carries this session's CSRF token; otherwise 403."""
    state = session_of(request)
    form = await request.form()
    token = form.get("csrf")
    if state is None or not _same_origin(request) or not same_token(
            state.csrf, token if isinstance(token, str) else None):
        raise HTTPException(403, "页面已过期或来源不明，请刷新页面后重试")
    return form


def flash(request: Request, kind: str, text: str) -> None:
    state = session_of(request)
    if state is not None:
        state.flash.append((kind, text))


def render(request: Request, template: str, context: dict[str, Any] | None = None,
           status_code: int = 200) -> Response:
    console = console_of(request)
    state = session_of(request)
    context = dict(context or {})
    messages, counts = [], {}
    if state is not None:
        messages, state.flash = state.flash, []
        if state.logged_in:
            with Session(console.engine) as session:
                counts = nav_counts(session)
    context.update(
        csrf=state.csrf if state else "", logged_in=bool(state and state.logged_in),
        flashes=messages, counts=counts, campaign=console.settings.campaign,
        all_forms=console.settings.forms,
        page=template.removesuffix(".html"))
    context["switcher"] = _switcher(request, context["page"])
    return console.templates.TemplateResponse(request, template, context,
                                              status_code=status_code)


def _switcher(request: Request, page: str) -> list[dict[str, Any]]:
    """Every campaign of the console, for the header: where each link goes (the same page
    in that campaign when every campaign has it, else its progress page)."""
    consoles = consoles_of(request)
    if len(consoles) < 2:
        return []
    current = console_of(request)
    path = str(request.app.url_path_for(SAME_PAGE.get(page, "home")))
    return [{"code": c.settings.campaign.code, "title": c.settings.campaign.title,
             "href": c.prefix + path, "current": c is current} for c in consoles]


def redirect(request: Request, name: str, **params: Any) -> RedirectResponse:
    return RedirectResponse(request.url_for(name, **params), status_code=303)
