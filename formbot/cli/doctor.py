"""`formbot doctor`: each check on one line, with what to do when it fails."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from errors import FormbotError

if TYPE_CHECKING:
    from formbot.settings.config import MailboxSettings, Settings


def _check(label: str, action: Callable[[], str]) -> bool:
    from parsers.convert import ConverterMissing

    try:
        detail = action()
    except ConverterMissing as exc:
        click.echo(f"✗ {label}：未安装 {exc.what}，请以 root 运行 apt-get install -y "
                   f"{exc.packages}（装好后，等待转换的邮件会在下次轮询时自动重新读取）")
        return False
    except FormbotError as exc:
        click.echo(f"✗ {label}：{exc}")
        return False
    except Exception as exc:  # doctor reports, it does not crash
        click.echo(f"✗ {label}：{type(exc).__name__}: {exc}")
        return False
    click.echo(f"✓ {label}：{detail}")
    return True


def run_checks(config_path: str | None, campaign: str | None = None) -> bool:
    from formbot.settings.loading import load_config

    try:
        config = load_config(config_path)
        chosen = config.chosen(campaign)
    except FormbotError as exc:
        click.echo(f"✗ 配置文件：{exc}")
        return False
    several = len(config.campaigns) > 1
    if several:
        click.echo(f"✓ 配置文件：{len(config.campaigns)} 个活动")
    results = [_converter_checks()]
    for settings in chosen:
        if several:
            click.echo(f"\n【{settings.campaign.code}】{settings.campaign.title}")
        results.append(_campaign_checks(settings))
    return all(results)


def _converter_checks() -> bool:
    """Not per campaign: one machine, one LibreOffice."""
    from formbot.poll.converters import check_bsdtar, check_office

    office = _check("旧版 .doc/.xls 转换（LibreOffice + UNO）", check_office)
    return _check("RAR 解压（bsdtar）", check_bsdtar) and office


def _campaign_checks(settings: Settings) -> bool:
    units_file = settings.units_file or "无"
    click.echo(f"✓ 配置文件：{len(settings.units)} 个单位（另有名单文件：{units_file}）")

    def database() -> str:
        from sqlalchemy import text

        from store.db import open_database

        engine = open_database(settings.database)
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                result = conn.execute(text("PRAGMA integrity_check")).scalar()
                if result != "ok":
                    raise FormbotError(f"数据库完整性检查未通过：{result}（请用备份恢复）")
        return f"{settings.database} 正常"

    def imap(box: MailboxSettings) -> Callable[[], str]:
        def check() -> str:
            from formbot.poll.pipeline import imap_target
            from ingest.imap import Mailbox

            with Mailbox(imap_target(settings, box)) as mailbox:
                sent_id = "已发送 IMAP ID" if b"ID" in mailbox.capabilities else "服务器不支持 ID"
                return f"{box.username} 登录成功，{sent_id}，文件夹 {box.folder} 可用"
        return check

    def smtp() -> str:
        from formbot.poll.pipeline import smtp_target
        from notifier.outbox import _connect

        client = _connect(smtp_target(settings))
        client.quit()
        return f"{settings.smtp.username} 登录成功"

    boxes = settings.all_mailboxes()
    results = [
        _check("数据库", database),
        *(_check("收信（IMAP）" if len(boxes) == 1 else f"收信（IMAP {box.username}）", imap(box))
          for box in boxes),
        _check("发信（SMTP）", smtp),
    ]
    return all(results)
