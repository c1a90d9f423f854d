"""`formbot demo`: the whole pipeline on embedded servers, no config and no network needed."""

from __future__ import annotations

import email
import email.policy
import os
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine
from sqlmodel import Session

from formbot.demo import secondnotice
from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.mailbox import DEMO_UNITS, demo_mailbox
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.jobs.digest import digest_text
from formbot.jobs.remind import queue_reminders
from formbot.poll import pipeline
from formbot.reports.export import write_export
from formbot.reports.status import status_data
from formbot.reports.terminal import (
    make_console,
    print_poll_report,
    print_remind_report,
    print_status,
    progress_bar,
)
from formbot.settings.config import Settings
from formbot.settings.loading import load_config, load_settings
from formbot.settings.logs import setup_logging
from notifier.outbox import drain
from parsers.specs import FieldSpec
from store.db import open_database

BOT = "qzxjb2008@126.com"
PASSWORD = "demo-password"   # only the embedded servers on 127.0.0.1 know it
ZONE = ZoneInfo("Asia/Shanghai")
MAIL_FROM = datetime(2018, 6, 6, 9, 0, tzinfo=ZONE)
POLL_AT = datetime(2018, 6, 12, 9, 30, tzinfo=ZONE)   # after the 3-days-before reminder slot


def demo_config(work_dir: Path, imap: EmbeddedIMAP, smtp: EmbeddedSMTP) -> Path:
    server = {"security": "plain", "username": BOT}
    config = {
        "mailbox": {**server, "host": imap.host, "port": imap.port,
                    "password_env": "FORMBOT_DEMO_PASSWORD", "folder": "INBOX"},
        "smtp": {**server, "host": smtp.host, "port": smtp.port,
                 "password_env": "FORMBOT_DEMO_PASSWORD", "from_address": BOT,
                 "from_name": "杨浦区总工会宣传教育部"},
        "database": "sqlite:///data/formbot.db",
        "data_dir": "data",
        "campaign": {"code": "杨工〔2018〕14号", "title": "弘扬劳模精神，建功“创新杨浦”主题活动",
                     "deadline": "2018-06-15", "timezone": "Asia/Shanghai",
                     "reminders": [-7, -3, -1, 1],
                     "contact": "区总工会宣传教育部 张琳、曹理仰 25032216"},
        "units": [{"name": u.name, "aliases": list(u.aliases), "emails": [u.email]}
                  for u in DEMO_UNITS],
        "schedule": {"poll_minutes": 5, "remind_time": "09:00"},
    }
    path = work_dir / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def add_second_campaign(work_dir: Path, forms: Path) -> Path:
    """The admin adds the second notice to config.yaml (README, 多个活动): its own code,
    deadline, forms, IMAP folder and data folder; the rest as the first notice."""
    path = work_dir / "config.yaml"
    config = yaml.safe_load(path.read_text("utf-8"))
    config["campaigns"] = [{
        "campaign": {"code": secondnotice.CODE, "title": secondnotice.TITLE,
                     "deadline": secondnotice.DEADLINE,
                     "forms": forms.relative_to(work_dir).as_posix()},
        "mailbox": {"folder": secondnotice.FOLDER},
        "data_dir": "data-22",
    }]
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def _show_sent(console: Console, sent: list[tuple[str, list[str], bytes]]) -> None:
    """One receipt and one reminder as a unit reads them (issue 14 part 6)."""
    shown: set[str] = set()
    for _, _, raw in sent:
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        kind = str(mail["X-Formbot-Kind"])
        if kind in shown or kind not in ("receipt", "reminder"):
            continue
        shown.add(kind)
        part = mail.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        console.rule("一封回执" if kind == "receipt" else "一封催报")
        console.print(escape(f"收件人：{mail['To']}\n主题：{mail['Subject']}\n\n"
                             f"{part.get_content() if part is not None else ''}"))


def _collect(console: Console, settings: Settings, engine: Engine, smtp: EmbeddedSMTP,
             export_path: Path) -> None:
    """One campaign's day: poll, remind, a receipt and a reminder, the digest, the status
    and the workbook."""
    sent_before = len(smtp.messages)
    console.rule(f"收信（模拟时间 {POLL_AT:%Y-%m-%d %H:%M}）")
    with progress_bar("收取邮件") as advance:
        report = pipeline.run_once(settings, engine=engine, now=POLL_AT, progress=advance)
    print_poll_report(report)

    console.rule("催报")
    reminders = queue_reminders(settings, engine=engine, now=POLL_AT)
    delivery = drain(engine, pipeline.smtp_target(settings), now=POLL_AT, sender=BOT)
    print_remind_report(reminders, delivery)

    _show_sent(console, smtp.messages[sent_before:])
    console.rule("每日汇总（发给管理员的邮件）")
    with Session(engine) as session:
        subject, body = digest_text(settings, session=session, now=POLL_AT)
    console.print(escape(f"主题：{subject}\n\n{body}"))

    console.rule("提交情况")
    print_status(status_data(settings, engine=engine, sender_check=True), settings.forms)
    counts = write_export(settings, engine=engine, out=export_path, now=POLL_AT)
    console.print(f"\n汇总表已写入 {export_path.resolve()}（"
                  + "，".join(f"{k} {v} 行" for k, v in counts.items()) + "）")


def run_demo(*, work_dir: Path | None, export_path: Path) -> None:
    console = make_console()
    work_dir = Path(work_dir or tempfile.mkdtemp(prefix="formbot-demo-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    os.environ["FORMBOT_DEMO_PASSWORD"] = PASSWORD
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        mails = demo_mailbox(to_addr=BOT, base=MAIL_FROM)
        for raw in mails:
            imap.append(raw)
        console.print(f"内置收信服务器 127.0.0.1:{imap.port}、发信服务器 127.0.0.1:{smtp.port} "
                      f"已启动，邮箱里放入 {len(mails)} 封示例邮件。\n")
        settings = load_settings(demo_config(work_dir, imap, smtp))
        setup_logging(settings.data_dir)
        engine = open_database(settings.database)

        _collect(console, settings, engine, smtp, export_path)
        console.print(f"发信服务器共收到 {len(smtp.messages)} 封（回执与催报）；"
                      f"数据库与原始邮件在 {work_dir}。")
        second_notice(console, work_dir, imap, smtp,
                      export_path=export_path.with_name(f"{export_path.stem}-2{export_path.suffix}"))


_HINTS = {"idcard": "核校验位", "date": "日期", "yesno": "是/否", "phone": "电话",
          "count": "人数", "number": "数字"}


def _describe(spec_field: FieldSpec) -> str:
    hints = [h for h in (
        f"{spec_field.max_len}字以内" if spec_field.max_len else "",
        spec_field.unit if spec_field.kind == "money" else "",
        "/".join(spec_field.options), _HINTS.get(spec_field.kind, ""),
        "必填" if spec_field.required else "") if h]
    return spec_field.label + (f"（{'，'.join(hints)}）" if hints else "")


def second_notice(console: Console, work_dir: Path, imap: EmbeddedIMAP, smtp: EmbeddedSMTP,
                  *, export_path: Path) -> None:
    """杨工〔2018〕22号 after the first notice: its blank forms → a drafted and confirmed
    declaration → a second campaign of the config → the same day's work on its forms."""
    console.print()
    console.rule(f"第二个通知：{secondnotice.CODE}　{secondnotice.TITLE}", characters="═")
    folder = work_dir / "notice-22"
    folder.mkdir(exist_ok=True)
    for name, data in secondnotice.blank_forms().items():
        (folder / name).write_bytes(data)
    draft, confirmed = secondnotice.draft_declaration(folder)
    blanks = secondnotice.BLANK_NAMES
    console.print(escape(
        f"新通知附有 {len(blanks)} 张空白表（{'、'.join(blanks)}）。"
        f"按空白表起草表格声明（formbot forms draft）写入 {draft.name}，确认表格标识和简称后"
        f"存为 {confirmed.name}，并在 config.yaml 的 campaigns: 中加入这个活动"
        f"（截止日期 {secondnotice.DEADLINE}，收信文件夹“{secondnotice.FOLDER}”）："))
    settings = load_config(add_second_campaign(work_dir, confirmed)).campaigns[1]
    for spec in settings.forms:
        console.print(escape(f"  {spec.attachment or ''} {spec.short}："
                             + "、".join(_describe(f) for f in spec.data_fields)))
    mails = secondnotice.demo_mail(to_addr=BOT, base=MAIL_FROM)
    for raw in mails:
        imap.append(raw, folder=secondnotice.FOLDER)
    console.print(f"文件夹“{secondnotice.FOLDER}”里放入 {len(mails)} 封示例邮件。\n")
    engine = open_database(settings.database)
    sent_before = len(smtp.messages)
    _collect(console, settings, engine, smtp, export_path)
    console.print(f"本通知发出 {len(smtp.messages) - sent_before} 封（回执与催报）；"
                  f"数据库与原始邮件在 {settings.data_dir}。"
                  "管理后台（formbot demo --serve）的页头可在两个通知之间切换。")
