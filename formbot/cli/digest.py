"""`formbot digest [--now ISO] [--send]`: the admin's daily digest on demand (issue 14
part 6) — printed, and with --send queued and sent to campaign.admin_emails."""

from __future__ import annotations

import click

from formbot.cli.options import (
    campaign_option,
    config_option,
    friendly,
    now_option,
    one_campaign,
    parse_now,
)


@click.command()
@config_option
@campaign_option
@now_option
@click.option("--send", is_flag=True, help="同时发送给 campaign.admin_emails 中的管理员")
@friendly
def digest(config_path: str | None, campaign: str | None, now_text: str | None,
           send: bool) -> None:
    """显示（加 --send 时同时发送）每日汇总：新收到的表格、未交齐的单位、待处理的来信。"""
    from sqlmodel import Session

    from errors import FormbotError
    from formbot.jobs.digest import digest_text, queue_digest
    from formbot.poll.pipeline import smtp_target
    from notifier.outbox import drain

    settings, engine = one_campaign(config_path, campaign)
    now = parse_now(now_text, settings.campaign.zone)
    with Session(engine) as session:
        subject, body = digest_text(settings, session=session, now=now)
    click.echo(f"{subject}\n\n{body}")
    if not send:
        return
    if not settings.campaign.admin_emails:
        raise FormbotError("配置中没有 campaign.admin_emails，汇总无人可发：请先填写管理员邮箱。")
    queued = queue_digest(settings, engine=engine, now=now, force=True)
    delivery = drain(engine, smtp_target(settings), now=now, sender=settings.smtp.from_address)
    if not queued:
        click.echo("今天的汇总此前已发送过，未重复发送。")
    elif delivery.errors:
        raise FormbotError(f"汇总已排队，但暂时发不出：{delivery.errors[0]}（下次收信时补发）")
    else:
        click.echo(f"汇总已发送给：{'、'.join(settings.campaign.admin_emails)}")
