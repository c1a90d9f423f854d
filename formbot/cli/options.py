"""What every command shares: the common options, one-sentence errors instead of
tracebacks, and opening the config's campaigns and their stores.

Imports stay lazy here as in the CLI, so `formbot --help` starts fast.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False), default=None,
        help="配置文件（默认：$FORMBOT_CONFIG，否则 ./config.yaml）",
    )(func)


def campaign_option(func: F) -> F:
    return click.option(
        "--campaign", "campaign", default=None, metavar="活动编号",
        help="配置中有多个活动（campaigns:）时选哪一个：活动编号或其中一段，"
             "例如 2019；默认为 campaign: 那一个",
    )(func)


def campaigns_option(func: F) -> F:
    return click.option(
        "--campaign", "campaign", default=None, metavar="活动编号",
        help="只处理这一个活动（活动编号或其中一段）；默认处理配置中的全部活动",
    )(func)


def now_option(func: F) -> F:
    return click.option(
        "--now", "now_text", default=None, metavar="时刻",
        help="把这个时刻当作“现在”（测试和补发用），例如 2018-06-08T09:00:00+08:00",
    )(func)


def friendly(func: F) -> F:
    """One sentence on stderr and a non-zero exit instead of a traceback.

    The traceback of a crash goes to the log file only (without variable values, which
    can hold a password), and to the terminal too with `--verbose`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from errors import FormbotError

        try:
            return func(*args, **kwargs)
        except FormbotError as exc:
            click.echo(f"错误：{exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("已中断。", err=True)
            sys.exit(130)
        except OSError as exc:   # the machine, not the program: a disk, a permission
            from formbot.settings.fileerrors import os_reason

            _log_crash(exc)
            where = f" {exc.filename}" if exc.filename else ""
            click.echo(f"错误：无法读写{where}（{os_reason(exc)}）：请检查 data_dir、database "
                       f"和命令中给出的路径是否存在、可写。{_log_hint()}", err=True)
            sys.exit(1)
        except Exception as exc:
            _log_crash(exc)
            click.echo(f"内部错误：formbot 出现程序错误（{type(exc).__name__}），本次操作未完成。"
                       f"{_log_hint()}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _log_crash(exc: BaseException) -> None:
    from loguru import logger

    # The terminal sink shows the traceback only with --verbose (formbot/logs.py).
    logger.bind(file_only=True).opt(exception=exc).error("cli.crash error={}",
                                                         type(exc).__name__)


def _log_hint() -> str:
    from formbot.settings.logs import log_path

    path = log_path()
    if path is None:
        return "（配置尚未读取，没有写日志；请先检查配置文件）"
    return f"详情见日志 {path}（把它交给技术人员即可，其中不含密码）"


def parse_now(text: str | None, zone: Any) -> datetime:
    from errors import FormbotError

    if not text:
        return datetime.now(zone)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FormbotError(
            f"--now 应为 ISO-8601 时间，例如 2018-06-08T09:00:00+08:00（收到 {text!r}）"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def open_config(config_path: str | None, verbose: bool = False) -> Any:
    from formbot.settings.loading import load_config
    from formbot.settings.logs import setup_logging

    os.umask(0o077)  # raw mail, the database and logs hold units' contacts: owner only
    config = load_config(config_path)
    setup_logging(config.primary.data_dir, verbose=verbose)
    return config


def open_store(settings: Any) -> Any:
    from formbot.poll.registry import sync_registry
    from formbot.settings.declared import sync_views
    from store.db import open_database

    engine = open_database(settings.database)
    sync_registry(settings, engine=engine)  # the registry in config.yaml is the truth
    sync_views(settings.forms, engine)      # the forms' SQL views follow the declaration
    return engine


def one_campaign(config_path: str | None, campaign: str | None = None,
             verbose: bool = False) -> tuple[Any, Any]:
    """(settings, engine) of the campaign `--campaign` names (default: `campaign:`)."""
    settings = open_config(config_path, verbose).select(campaign)
    return settings, open_store(settings)


def for_each_campaign(config: Any, campaign: str | None,
                       step: Callable[[Any, Any], bool]) -> None:
    """`step(settings, engine)` for every campaign (or the one `--campaign` names); it
    returns whether mail was left undelivered. One campaign failing (its server down, its
    password unset) is reported and the others still run; the exit status tells."""
    from loguru import logger

    from errors import FormbotError
    from formbot.settings.logs import campaign_tag

    chosen = config.chosen(campaign)
    several = len(config.campaigns) > 1
    failed = undelivered = False
    for settings in chosen:
        code = settings.campaign.code
        if several:
            click.echo(f"\n【{code}】{settings.campaign.title}")
        try:
            with logger.contextualize(campaign=campaign_tag(code, several=several)):
                undelivered = step(settings, open_store(settings)) or undelivered
        except FormbotError as exc:
            if len(chosen) == 1:
                raise
            click.echo(f"错误：【{code}】{exc}", err=True)
            failed = True
    if failed:
        sys.exit(1)
    if undelivered:
        sys.exit(3)
