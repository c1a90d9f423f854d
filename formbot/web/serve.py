"""Starting the console: `formbot serve` on the real data (the demo's console is
formbot/demo/console.py). Kept apart from app.py so building the app (tests) never
starts a server."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Sequence

from sqlalchemy import Engine
from starlette.applications import Starlette

from errors import FormbotError
from formbot.settings.config import Settings
from formbot.web.app import create_app
from formbot.web.auth import password_from_env

Echo = Callable[[str], None]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_port(host: str, port: int) -> None:
    """Say "port taken" in a sentence before uvicorn says it in a traceback-like log."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise FormbotError(
                f"无法在 {host}:{port} 上启动管理后台（{exc.strerror}）：端口可能已被占用，"
                f"请换一个端口，例如 --port {port + 1}") from None


def run(app: Starlette, *, host: str, port: int, echo: Echo,
        campaigns: Sequence[tuple[str, str]] = ()) -> None:
    import uvicorn

    _check_port(host, port)
    if not _is_loopback(host):
        # The console speaks plain HTTP: on a network the password crosses it in clear.
        echo(f"注意：管理后台将在 {host} 上对网络开放，且没有 HTTPS。"
             "除非放在 HTTPS 反向代理之后，否则请只用默认的 127.0.0.1。")
    shown = f"[{host}]" if ":" in host else host
    echo(f"管理后台已启动：http://{shown}:{port}/　按 Ctrl-C 停止。")
    for code, path in campaigns:   # one login for all; the header switches between them
        echo(f"  {code}：http://{shown}:{port}{path}")
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False,
                proxy_headers=False)


def serve(campaigns: Sequence[tuple[Settings, Engine]], *, host: str, port: int,
          echo: Echo) -> None:
    """The console of every (settings, engine) given, the first at /, the others at /c/N/."""
    password = password_from_env(dict(os.environ))
    (settings, engine), *others = campaigns
    app = create_app(settings, engine=engine, password=password, others=others)
    pages = [(s.campaign.code, f"/c/{n}/" if n else "/")
             for n, (s, _) in enumerate(campaigns)] if others else []
    run(app, host=host, port=port, echo=echo, campaigns=pages)
