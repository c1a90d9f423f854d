"""`formbot outbox list|retry|drop`: the admin's hands on outgoing mail that did not go.

A mail SMTP refused for good (an address it cannot carry, a 5xx) is marked failed with
its reason and never holds up the others; here the admin sees it, sends it again once
the cause is fixed, or gives it up. Every change is audited like the console's.
"""

from __future__ import annotations

import getpass
from datetime import datetime

import click

from formbot.cli.options import campaign_option, config_option, friendly, one_campaign


def _who() -> str:
    try:
        return f"命令行 {getpass.getuser()}"
    except (KeyError, OSError):   # no user name in a bare container
        return "命令行"


@click.group()
def outbox() -> None:
    """发件箱：查看、重发或放弃发不出去的邮件（回执、催报、汇总）。"""


@outbox.command("list")
@config_option
@campaign_option
@friendly
def outbox_list(config_path: str | None, campaign: str | None) -> None:
    """列出待发、正在重试和发送失败的邮件，及其原因。"""
    from sqlmodel import Session

    from formbot.reports.terminal import make_console, print_outbox
    from notifier.outboxadmin import outbox_state

    settings, engine = one_campaign(config_path, campaign)
    with Session(engine) as session:
        state = outbox_state(session, settings.campaign.zone)
    console = make_console()
    console.print(f"待发 {state['pending']} 封（其中正在重试 {len(state['retrying'])} 封），"
                  f"发送失败 {len(state['failed'])} 封。")
    print_outbox(console, state)


@outbox.command("retry")
@config_option
@campaign_option
@click.option("--all-failed", "all_failed", is_flag=True, help="重发全部发送失败的邮件")
@click.argument("ids", nargs=-1, type=int, metavar="[编号]...")
@friendly
def outbox_retry(config_path: str | None, campaign: str | None, all_failed: bool,
                 ids: tuple[int, ...]) -> None:
    """把邮件放回发件箱，下次收信（或 formbot run）时立即重发。"""
    from notifier.outboxadmin import retry
    from parsers.errors import FormbotError

    if all_failed == bool(ids):
        raise FormbotError("请指定邮件编号（见 formbot outbox list），"
                           "或用 --all-failed 重发全部失败的邮件")
    settings, engine = one_campaign(config_path, campaign)
    count = retry(engine, ids=list(ids), all_failed=all_failed,
                  now=datetime.now(settings.campaign.zone), who=_who())
    click.echo(f"已放回发件箱 {count} 封，下次收信时发出（或现在运行 formbot poll）。")


@outbox.command("drop")
@config_option
@campaign_option
@click.argument("ident", metavar="编号", type=int)
@friendly
def outbox_drop(config_path: str | None, campaign: str | None, ident: int) -> None:
    """放弃发送一封邮件（保留记录，不再发送）。"""
    from notifier.outboxadmin import drop

    settings, engine = one_campaign(config_path, campaign)
    row = drop(engine, ident=ident, now=datetime.now(settings.campaign.zone), who=_who())
    click.echo(f"已放弃第 {row.id} 封（收件人 {'、'.join(row.recipients)}），不会再发送。")
