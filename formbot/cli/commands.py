"""Command line: argument parsing only; the work is in pipeline, reports and demo.

Heavy imports (SQLAlchemy, imapclient, openpyxl…) happen inside commands so
`formbot --help` starts fast.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from formbot.cli.digest import digest
from formbot.cli.forms import forms
from formbot.cli.options import (
    campaign_option,
    campaigns_option,
    config_option,
    for_each_campaign,
    friendly,
    now_option,
    one_campaign,
    open_config,
    open_store,
    parse_now,
)
from formbot.cli.outbox import outbox
from formbot.cli.zh import ChineseGroup


@click.group(cls=ChineseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="formbot")
def main() -> None:
    """formbot：自动收取各单位邮件报送的表格，发回执、催报，并汇总。"""
    from formbot.settings.logs import quiet_start

    quiet_start("-v" in sys.argv or "--verbose" in sys.argv)  # no dump even before config


main.add_command(forms)  # formbot forms draft | check


@main.command()
@config_option
@campaigns_option
@now_option
@click.option("-v", "--verbose", is_flag=True, help="在终端显示每封邮件的处理日志")
@friendly
def poll(config_path: str | None, campaign: str | None, now_text: str | None,
         verbose: bool) -> None:
    """收一次邮件：保存原件、读取表格、入库、发送回执。"""
    from formbot.poll import pipeline
    from formbot.reports.terminal import print_poll_report, progress_bar

    config = open_config(config_path, verbose)
    parse_now(now_text, config.primary.campaign.zone)  # a wrong --now stops all at once

    def one(settings: Any, engine: Any) -> bool:
        now = parse_now(now_text, settings.campaign.zone)
        with progress_bar("收取邮件") as advance:
            report = pipeline.run_once(settings, engine=engine, now=now, progress=advance)
        print_poll_report(report)
        return bool(report.delivery.errors)

    for_each_campaign(config, campaign, one)


@main.command()
@config_option
@campaigns_option
@now_option
@friendly
def remind(config_path: str | None, campaign: str | None, now_text: str | None) -> None:
    """发送此刻到期的催报邮件；每个单位每个提醒节点最多一次。"""
    from formbot.jobs.remind import queue_reminders
    from formbot.poll.pipeline import smtp_target
    from formbot.reports.terminal import print_remind_report
    from notifier.outbox import drain

    config = open_config(config_path)
    parse_now(now_text, config.primary.campaign.zone)  # a wrong --now stops all at once

    def one(settings: Any, engine: Any) -> bool:
        now = parse_now(now_text, settings.campaign.zone)
        report = queue_reminders(settings, engine=engine, now=now)
        delivery = drain(engine, smtp_target(settings), now=now,
                         sender=settings.smtp.from_address)
        print_remind_report(report, delivery)
        return bool(delivery.errors)

    for_each_campaign(config, campaign, one)


@main.command()
@config_option
@campaigns_option
@click.option("-v", "--verbose", is_flag=True, help="在终端显示每封邮件的处理日志")
@friendly
def run(config_path: str | None, campaign: str | None, verbose: bool) -> None:
    """长期运行：定时收信（支持 IDLE 即时收信），每天定时催报和汇总；Ctrl-C 或 SIGTERM 停止。"""
    import threading

    from formbot.jobs.worker import Worker, run_forever
    from formbot.settings.logs import campaign_tag

    config = open_config(config_path, verbose)
    several = len(config.campaigns) > 1
    stopping = threading.Event()  # one Ctrl-C stops every campaign's worker
    # Every store is opened first: a campaign that cannot start stops the start, loudly.
    workers = [Worker(settings, engine=open_store(settings), stopping=stopping,
                      log_tag=campaign_tag(settings.campaign.code, several=several))
               for settings in config.chosen(campaign)]
    for worker in workers:
        settings = worker.settings
        name = f"【{settings.campaign.code}】" if several else ""
        click.echo(f"formbot 已启动{name}：每 {settings.schedule.poll_minutes} 分钟收信，"
                   f"每天 {settings.schedule.remind_time} 催报。")
    click.echo("按 Ctrl-C 停止。")
    run_forever(workers)
    click.echo("formbot 已停止。")


@main.command()
@config_option
@campaigns_option
@click.option("--max-age", default=None, type=int,
              help="心跳超过多少分钟算异常（默认 3 个收信周期）")
@friendly
def health(config_path: str | None, campaign: str | None, max_age: int | None) -> None:
    """容器健康检查：formbot run 最近是否成功收过信（有多个活动时，每个活动都要正常）。"""
    from formbot.settings.loading import load_config

    config = load_config(config_path)
    for settings in config.chosen(campaign):
        name = f"【{settings.campaign.code}】" if len(config.campaigns) > 1 else ""
        beat = Path(settings.data_dir) / "worker.heartbeat"
        limit = max_age or settings.schedule.poll_minutes * 3 + 1
        if not beat.is_file():
            click.echo(f"{name}还没有成功收过信", err=True)
            sys.exit(1)
        age = (datetime.now().timestamp() - beat.stat().st_mtime) / 60
        if age > limit:
            click.echo(f"{name}已有 {age:.0f} 分钟没有成功收信（上限 {limit} 分钟）", err=True)
            sys.exit(1)
        click.echo(f"{name}正常：{age:.1f} 分钟前成功收信")


@main.group()
def units() -> None:
    """单位名单：导入和查看。"""


@units.command("import")
@config_option
@campaign_option
@click.argument("file", metavar="名单文件",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@friendly
def units_import(config_path: str | None, campaign: str | None, file: Path) -> None:
    """从 .xlsx 或 .csv 导入单位名单（列：单位名称、别名、邮箱）。"""
    from formbot.poll.registry import import_units

    settings, engine = one_campaign(config_path, campaign)
    added, updated, overridden = import_units(settings, engine=engine, path=file)
    click.echo(f"已导入 {file.name}：新增 {added} 个单位，更新 {updated} 个。")
    if overridden:
        click.echo("以下单位以 config.yaml 为准，名单文件中的别名和邮箱未采用："
                   + "、".join(overridden))


@units.command("list")
@config_option
@campaign_option
@friendly
def units_list(config_path: str | None, campaign: str | None) -> None:
    """列出所有单位、别名、登记邮箱和来源。"""
    from formbot.poll.registry import known_senders, list_units
    from formbot.reports.terminal import print_units

    _, engine = one_campaign(config_path, campaign)
    print_units(list_units(engine=engine), known_senders(engine=engine))


@main.command()
@config_option
@campaign_option
@click.option("--json", "as_json", is_flag=True, help="输出 JSON（见 CONTRACT.md）")
@click.option("-v", "--verbose", is_flag=True, help="同时列出邮件编号（Message-ID）")
@friendly
def status(config_path: str | None, campaign: str | None, as_json: bool, verbose: bool) -> None:
    """各单位提交情况、未匹配和处理失败的邮件。"""
    from formbot.reports.status import status_data
    from formbot.reports.terminal import print_status

    settings, engine = one_campaign(config_path, campaign)
    data = status_data(settings, engine=engine, sender_check=not as_json)
    if as_json:
        import json

        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print_status(data, settings.forms, verbose=verbose)
        _other_campaigns(config_path, settings)


def _other_campaigns(config_path: str | None, shown: Any) -> None:
    """Under a campaign's report, name the config's other campaigns and how to see them."""
    from formbot.settings.loading import load_config

    others = [s.campaign.code for s in load_config(config_path).campaigns if s is not shown
              and s.campaign.code != shown.campaign.code]
    if others:
        click.echo(f"\n配置中另有 {len(others)} 个活动：{'、'.join(others)}"
                   f"（用 --campaign 编号 查看）")


@main.command()
@config_option
@campaign_option
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="汇总表保存到哪里，例如 汇总.xlsx")
@friendly
def export(config_path: str | None, campaign: str | None, out: Path) -> None:
    """导出汇总表（每个单位每张表以最后一次提交为准）。"""
    from errors import FormbotError
    from formbot.reports.export import write_export

    if out.suffix.lower() != ".xlsx":
        raise FormbotError(
            f"汇总表只能保存为 Excel 工作簿（.xlsx）：请把 {out.name} 改成以 .xlsx 结尾的文件名，"
            f"例如 {out.stem or '汇总'}.xlsx")
    settings, engine = one_campaign(config_path, campaign)
    counts = write_export(settings, engine=engine, out=out)
    summary = "，".join(f"{name} {n} 行" for name, n in counts.items())
    click.echo(f"已导出 {out}：{summary}")


@main.command()
@config_option
@campaign_option
@now_option
@click.option("--all", "all_messages", is_flag=True, help="重新解析全部保存的邮件")
@click.argument("message_ids", nargs=-1, metavar="[邮件编号]...")
@friendly
def reprocess(config_path: str | None, campaign: str | None, now_text: str | None,
              all_messages: bool, message_ids: tuple[str, ...]) -> None:
    """按保存的原始邮件重新解析（解析程序更新后用）；不会重复入库或重复发回执。"""
    from errors import FormbotError
    from formbot.poll import pipeline
    from formbot.reports.terminal import print_poll_report, progress_bar

    if all_messages == bool(message_ids):
        raise FormbotError("请指定 --all（全部邮件）或一个或多个 Message-ID")
    settings, engine = one_campaign(config_path, campaign)
    now = parse_now(now_text, settings.campaign.zone)
    with progress_bar("重新解析") as advance:
        report = pipeline.reprocess(settings, engine=engine, now=now,
                                    message_ids=list(message_ids) or None, progress=advance)
    print_poll_report(report)
    _unapplied_corrections(settings, engine, list(message_ids) or None)


def _unapplied_corrections(settings: Any, engine: Any, message_ids: list[str] | None) -> None:
    """Say so when a changed declaration leaves the admin's cell corrections unapplied."""
    from sqlmodel import Session

    from store.corrections import unapplicable

    declared = {spec.key: {f.key for f in spec.data_fields} for spec in settings.forms}
    with Session(engine) as session:
        left = unapplicable(session, declared, message_ids)
    if left:
        cells = "、".join(f"{fix.form}.{fix.field}（{fix.message_key} 第{fix.seq}行）"
                         for fix in left[:5]) + ("等" if len(left) > 5 else "")
        click.echo(f"注意：管理后台中更正过的 {len(left)} 个单元格 {cells} 所在的表格或栏目"
                   f"已不在现在的表格声明中（可能改了 key），这次重新解析没有套用这些更正；"
                   f"更正仍然保存着，把 key 改回原样后再运行 formbot reprocess --all 即可恢复。")


@main.group()
def db() -> None:
    """数据库维护：迁移到另一个数据库（例如从 SQLite 换到 PostgreSQL）。"""


@db.command("copy")
@config_option
@campaign_option
@click.option("--to", "target_url", required=True, metavar="数据库地址",
              help="新的空数据库，例如 postgresql+psycopg://formbot@主机/formbot")
@friendly
def db_copy(config_path: str | None, campaign: str | None, target_url: str) -> None:
    """把全部数据复制到一个新的空数据库（原数据库不变），之后把 database 配置改成新地址。"""
    from contextlib import ExitStack

    from errors import FormbotError
    from formbot.poll import pipeline
    from store.db import open_database, shown_url
    from store.leases import held
    from store.transfer import copy_database

    settings, engine = one_campaign(config_path, campaign)
    with ExitStack() as stack:
        # Holding every lease the worker takes: no mail is stored or sent mid-copy, so
        # the new database is the whole old one, not a snapshot missing the last minute.
        leases = [pipeline.poll_lease(box) for box in settings.all_mailboxes()] + ["outbox"]
        for name in leases:
            if not stack.enter_context(held(engine, name, ttl=pipeline.POLL_LEASE)):
                raise FormbotError("formbot 正在收信或发信：请先停止 formbot run，再复制数据库")
        copied = copy_database(engine, open_database(target_url),
                               progress=lambda table, rows: click.echo(f"  {table}：{rows} 行"))
    click.echo(f"已复制 {sum(copied.values())} 行到 {shown_url(target_url)}。"
               f"请把 config.yaml 的 database 改成这个地址，再启动 formbot run。")


@main.command()
@config_option
@campaign_option
@click.argument("file", metavar="备份文件", type=click.Path(dir_okay=False, path_type=Path))
@friendly
def backup(config_path: str | None, campaign: str | None, file: Path) -> None:
    """在 formbot run 运行时也能做的数据库一致性备份。"""
    from store.backup import backup_database

    settings, _ = one_campaign(config_path, campaign)
    size = backup_database(settings.database, file)
    checked = "，已通过完整性检查" if settings.database.startswith("sqlite") else "（pg_dump 格式）"
    click.echo(f"已备份到 {file}（{size / 1024:.0f} KB{checked}）")


@main.command()
@config_option
@campaigns_option
@friendly
def doctor(config_path: str | None, campaign: str | None) -> None:
    """检查配置、数据库、收信（IMAP，含 ID）和发信（SMTP）登录，
    以及旧版文件转换（LibreOffice、UNO）和 RAR 解压（bsdtar）。"""
    from formbot.cli.doctor import run_checks

    ok = run_checks(config_path, campaign)
    sys.exit(0 if ok else 1)


@main.command()
@click.option("--config", "config_path", default=None, hidden=True)
@click.option("--dir", "work_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="演示数据放在哪里（默认：临时目录）")
@click.option("--serve", "serve_after", is_flag=True,
              help="演示完成后启动管理后台（网页），在演示数据上试用")
@click.option("--port", default=8000, show_default=True, help="--serve 时管理后台的端口")
@friendly
def demo(config_path: str | None, work_dir: Path | None, serve_after: bool, port: int) -> None:
    """不需要配置：启动内置的收发信服务器，放入示例邮件，跑一遍完整流程。"""
    from errors import FormbotError
    from formbot.demo.run import run_demo

    export_path = Path("demo-export.xlsx")
    # Checked before any server starts: a read-only working directory (an image's /app)
    # would otherwise fail only at the very end.
    if not os.access(export_path.resolve().parent, os.W_OK):
        raise FormbotError(f"当前目录 {Path.cwd()} 不可写，演示无法写入 {export_path}："
                           "请换到可写的目录（容器里是 /data）再运行 formbot demo。")
    if serve_after and work_dir is None:
        import tempfile

        work_dir = Path(tempfile.mkdtemp(prefix="formbot-demo-"))  # the console reads it after
    run_demo(work_dir=work_dir, export_path=export_path)
    if serve_after:
        from formbot.demo.console import serve_demo

        serve_demo(work_dir, host="127.0.0.1", port=port, echo=click.echo)  # type: ignore[arg-type]


@main.command()
@config_option
@campaign_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="监听地址；默认只允许本机访问")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="端口")
@friendly
def serve(config_path: str | None, campaign: str | None, host: str, port: int) -> None:
    """管理后台（网页）：进度、单位详情、认领邮件、重试、搜索、下载汇总表。
    配置里有多个活动时，页头可切换；--campaign 只开其中一个。
    登录密码放在环境变量 FORMBOT_ADMIN_PASSWORD 中。"""
    from formbot.web.serve import serve as serve_console

    chosen = open_config(config_path).chosen(campaign)
    campaigns = [(settings, open_store(settings)) for settings in chosen]
    serve_console(campaigns, host=host, port=port, echo=click.echo)


main.add_command(outbox)
main.add_command(digest)  # formbot digest [--now] [--send]


if __name__ == "__main__":  # pragma: no cover
    main()
