"""The console on the demo's data: `formbot demo --serve` and the browser tests.

The mail servers run again so that an assignment's receipt really goes out, and one mail
the registry cannot place is polled in, so the console has a decision to show.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from starlette.applications import Starlette

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.settings.config import Settings
from formbot.web.app import create_app
from formbot.web.auth import PASSWORD_ENV, PasswordHash
from formbot.web.serve import Echo, run


@dataclass
class DemoConsole:
    settings: Settings
    engine: Engine
    clock: Callable[[], datetime]
    added: int             # mail polled in for the console
    smtp: EmbeddedSMTP     # where the console's receipts go
    imap: EmbeddedIMAP     # the demo mailbox, for more mail
    # the config's other campaigns (the second notice), for the console's switcher
    others: list[tuple[Settings, Engine]] = field(default_factory=list)


def _unmatched_demo_mail(to_addr: str, when: datetime) -> bytes:
    """新江湾城 sends from a colleague's private mailbox and writes a name the registry
    does not know: the one case a person has to decide, so the console has one to show."""
    from formbot.demo.samples import FormFill, activity_docx, build_mail, volunteer_docx

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


def _on(settings: Settings, imap: EmbeddedIMAP, smtp: EmbeddedSMTP) -> Settings:
    """A campaign of the demo's config on this run's servers (their ports are new)."""
    return settings.model_copy(update={
        "mailbox": settings.mailbox.model_copy(update={"host": imap.host, "port": imap.port}),
        "smtp": settings.smtp.model_copy(update={"host": smtp.host, "port": smtp.port}),
    })


@contextmanager
def demo_console(work_dir: Path) -> Iterator[DemoConsole]:
    """The demo's data (after `run_demo`), with mail servers running again so that an
    assignment's receipt really goes out, and one unmatched mail polled in."""
    from formbot.demo.run import BOT, PASSWORD, POLL_AT
    from formbot.poll import pipeline
    from formbot.settings.loading import load_config
    from store.db import open_database

    os.environ["FORMBOT_DEMO_PASSWORD"] = PASSWORD
    with ExitStack() as stack:
        imap = stack.enter_context(EmbeddedIMAP(user=BOT, password=PASSWORD))
        smtp = stack.enter_context(EmbeddedSMTP(user=BOT, password=PASSWORD))
        settings, *more = [_on(s, imap, smtp)
                           for s in load_config(work_dir / "config.yaml").campaigns]
        engine = open_database(settings.database)
        polled_at = POLL_AT + timedelta(minutes=30)
        imap.append(_unmatched_demo_mail(BOT, polled_at - timedelta(hours=1)))
        report = pipeline.run_once(settings, engine=engine, now=polled_at)
        started = time.monotonic()
        # The demo lives in June 2018: the console's clock runs on from the demo's poll.
        yield DemoConsole(settings, engine,
                          lambda: polled_at + timedelta(seconds=time.monotonic() - started),
                          report.new, smtp, imap,
                          [(other, open_database(other.database)) for other in more])


def demo_app(demo: DemoConsole, password: PasswordHash) -> Starlette:
    """The console of both notices: the first at /, the second at /c/1/, a switcher."""
    return create_app(demo.settings, engine=demo.engine, password=password,
                      clock=demo.clock, others=demo.others)


def serve_demo(work_dir: Path, *, host: str, port: int, echo: Echo) -> None:
    given = os.environ.get(PASSWORD_ENV, "")
    password = given or secrets.token_urlsafe(9)
    with demo_console(work_dir) as demo:
        echo(f"\n为演示管理后台，又收进 {demo.added} 封认不出单位的邮件"
             "（可在“待确认单位”页归入）。")
        echo(f"登录密码：{'环境变量 ' + PASSWORD_ENV + ' 中的密码' if given else password}")
        app = demo_app(demo, PasswordHash(password))
        pages = [(s.campaign.code, f"/c/{n}/" if n else "/")
                 for n, s in enumerate([demo.settings, *(s for s, _ in demo.others)])]
        run(app, host=host, port=port, echo=echo, campaigns=pages if demo.others else ())
