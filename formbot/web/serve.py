"""Starting the console: `formbot serve` on the real data, `formbot demo --serve` on the
demo's. Kept apart from app.py so building the app (tests) never starts a server."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from starlette.applications import Starlette

from parsers.errors import FormbotError

from ..config import Settings
from .app import create_app
from .auth import PASSWORD_ENV, PasswordHash, password_from_env

if TYPE_CHECKING:
    from ..embedded import EmbeddedIMAP
    from ..embedded_smtp import EmbeddedSMTP

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


def run(app: Starlette, *, host: str, port: int, echo: Echo) -> None:
    import uvicorn

    _check_port(host, port)
    if not _is_loopback(host):
        # The console speaks plain HTTP: on a network the password crosses it in clear.
        echo(f"注意：管理后台将在 {host} 上对网络开放，且没有 HTTPS。"
             "除非放在 HTTPS 反向代理之后，否则请只用默认的 127.0.0.1。")
    shown = f"[{host}]" if ":" in host else host
    echo(f"管理后台已启动：http://{shown}:{port}/　按 Ctrl-C 停止。")
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False,
                proxy_headers=False)


def serve(settings: Settings, *, engine: Engine, host: str, port: int, echo: Echo) -> None:
    password = password_from_env(dict(os.environ))
    run(create_app(settings, engine=engine, password=password), host=host, port=port, echo=echo)


# --- demo ------------------------------------------------------------------------------

@dataclass
class DemoConsole:
    settings: Settings
    engine: Engine
    clock: Callable[[], datetime]
    added: int             # mail polled in for the console
    smtp: EmbeddedSMTP     # where the console's receipts go
    imap: EmbeddedIMAP     # the demo mailbox, for more mail


def _unmatched_demo_mail(to_addr: str, when: datetime) -> bytes:
    """新江湾城 sends from a colleague's private mailbox and writes a name the registry
    does not know: the one case a person has to decide, so the console has one to show."""
    from ..samples import FormFill, activity_docx, build_mail, volunteer_docx

    unit_text = "新江湾城社区"
    activity = FormFill(unit_text, [
        ["“劳模工匠进社区”宣讲", "宣讲会", "2018年6月下旬",
         "邀请区劳模走进居民区讲述岗位故事。", "120人"],
        ["职工技能微课堂", "培训", "2018年7月—9月",
         "每月一期，由劳模工作室成员授课。", "约80人"],
    ], contact="孙丽", phone="13800001234", filled_on="2018年6月12日")
    volunteer = FormFill(unit_text, [
        ["新江湾城“绿色家园”志愿服务队", "孙丽 工会主席", "26", "2018年4月",
         "垃圾分类宣传、社区绿化养护", ""],
    ], contact="孙丽", phone="13800001234", filled_on="2018年6月12日")
    return build_mail(
        from_addr="sunli_1988@qq.example", from_name="孙丽", to_addr=to_addr,
        subject="报送两张表", body="您好，附件是我们社区的两张表，请查收。\n孙丽\n",
        attachments=[("主题活动申报表.docx", activity_docx(activity)),
                     ("志愿者服务队登记表.docx", volunteer_docx(volunteer))],
        message_id="<demo-console-1@example.cn>", date=when)


@contextmanager
def demo_console(work_dir: Path) -> Iterator[DemoConsole]:
    """The demo's data (after `run_demo`), with mail servers running again so that an
    assignment's receipt really goes out, and one unmatched mail polled in."""
    from store.db import open_database

    from .. import pipeline
    from ..config import load_settings
    from ..demo import BOT, PASSWORD, POLL_AT
    from ..embedded import EmbeddedIMAP
    from ..embedded_smtp import EmbeddedSMTP

    os.environ["FORMBOT_DEMO_PASSWORD"] = PASSWORD
    with ExitStack() as stack:
        imap = stack.enter_context(EmbeddedIMAP(user=BOT, password=PASSWORD))
        smtp = stack.enter_context(EmbeddedSMTP(user=BOT, password=PASSWORD))
        settings = load_settings(work_dir / "config.yaml")
        settings = settings.model_copy(update={
            "mailbox": settings.mailbox.model_copy(update={"host": imap.host, "port": imap.port}),
            "smtp": settings.smtp.model_copy(update={"host": smtp.host, "port": smtp.port}),
        })
        engine = open_database(settings.database)
        polled_at = POLL_AT + timedelta(minutes=30)
        imap.append(_unmatched_demo_mail(BOT, polled_at - timedelta(hours=1)))
        report = pipeline.run_once(settings, engine=engine, now=polled_at)
        started = time.monotonic()
        # The demo lives in June 2018: the console's clock runs on from the demo's poll.
        yield DemoConsole(settings, engine,
                          lambda: polled_at + timedelta(seconds=time.monotonic() - started),
                          report.new, smtp, imap)


def serve_demo(work_dir: Path, *, host: str, port: int, echo: Echo) -> None:
    given = os.environ.get(PASSWORD_ENV, "")
    password = given or secrets.token_urlsafe(9)
    with demo_console(work_dir) as demo:
        echo(f"\n为演示管理后台，又收进 {demo.added} 封认不出单位的邮件"
             "（可在“待确认单位”页归入）。")
        echo(f"登录密码：{'环境变量 ' + PASSWORD_ENV + ' 中的密码' if given else password}")
        app = create_app(demo.settings, engine=demo.engine, password=PasswordHash(password),
                         clock=demo.clock)
        run(app, host=host, port=port, echo=echo)
