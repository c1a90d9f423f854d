"""What the CLI prints: the status table and poll summaries, in Chinese, with rich."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from parsers.specs import FormSpec


def make_console() -> Console:
    # Piped to a file or another program: wide enough that unit names are never cut.
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=160)
    return console


def error_console() -> Console:
    """stderr for one-sentence messages: never wrapped, so a log or a script reading it
    sees the whole sentence on one line."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A bar that appears only once there is real work (a backlog), never for an idle poll."""
    console = Console(stderr=True)
    progress = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), console=console,
                        transient=True)
    task: list[Any] = []

    def advance(done: int, total: int) -> None:
        if total < 20 or not console.is_terminal:
            return
        if not task:
            progress.start()
            task.append(progress.add_task(label, total=total))
        progress.update(task[0], completed=done)

    try:
        yield advance
    finally:
        if task:
            progress.stop()


def print_poll_report(report: Any) -> None:
    console = make_console()
    if getattr(report, "busy", False):
        console.print("另一个收信进程正在运行，本次没有收信（只发送了待发邮件）。")
    parts = [f"新邮件 {report.new} 封", f"已处理 {report.processed} 封"]
    if report.duplicates:
        parts.append(f"重复 {report.duplicates} 封（已忽略）")
    if report.failed:
        parts.append(f"失败 {report.failed} 封（稍后自动重试）")
    delivery = report.delivery
    parts.append(f"发出回执等邮件 {delivery.sent} 封")
    parts += _delivery_parts(delivery)
    console.print("，".join(parts) + "。")
    for error in delivery.errors[:1]:
        error_console().print(f"发信未完成：{error}（下次运行会补发）")


def _delivery_parts(delivery: Any) -> list[str]:
    parts = []
    if delivery.waiting:
        parts.append(f"待发 {delivery.waiting} 封")
    if getattr(delivery, "failed", 0):
        parts.append(f"发信失败 {delivery.failed} 封（用 formbot outbox list 查看原因）")
    return parts


def print_status(data: dict[str, Any], forms: tuple[FormSpec, ...], *,
                 verbose: bool = False) -> None:
    from formbot.reports.statustable import print_status_table

    console = make_console()
    print_status_table(console, data, forms, verbose=verbose)
    print_outbox(console, data.get("outbox"))


def print_outbox(console: Console, outbox: dict[str, Any] | None) -> None:
    """Outgoing mail that is being retried or was given up, with what to do about it."""
    from rich.markup import escape

    if not outbox:
        return
    if outbox["retrying"]:
        console.print(f"\n[yellow]暂时发不出、稍后自动重试的邮件 "
                      f"{len(outbox['retrying'])} 封：[/]")
        for item in outbox["retrying"]:
            console.print(escape(f"  #{item['id']} {'、'.join(item['to'])}：{item['error']}"))
    if outbox["failed"]:
        console.print(f"\n[red]发送失败的邮件 {len(outbox['failed'])} 封"
                      f"（formbot outbox retry 编号 重发，formbot outbox drop 编号 放弃）：[/]")
        for item in outbox["failed"]:
            console.print(escape(f"  #{item['id']} {'、'.join(item['to'])}　{item['subject']}："
                                 f"{item['error']}"))


def print_sender_mismatch(console: Console, items: list[dict[str, Any]]) -> None:
    """The ※ units' mail: filed by 填报单位, sent from an address the unit did not register."""
    from rich.markup import escape

    from formbot.reports.status import auth_summary

    if not items:
        return
    console.print(f"\n[yellow]※ 发件地址不是登记邮箱、按“填报单位”归入的邮件 {len(items)} 封"
                  f"（请核实）：[/]")
    for item in items:
        # Addresses, subjects and headers come from mail: never read as rich markup.
        console.print(escape(f"  {item['unit']}　发件人：{item['from']}　"
                             f"邮件认证：{auth_summary(item['auth'])}　{item['message_id']}"))


def print_remind_report(report: Any, delivery: Any) -> None:
    from notifier.reminders import slot_label

    console = make_console()
    if report.slot is None:
        console.print("现在没有到期的催报节点。")
        return
    console.print(f"催报节点：{slot_label(report.slot)}。本次催报 {len(report.queued)} 个单位"
                  + (f"（{'、'.join(report.queued)}）" if report.queued else "")
                  + (f"，此前已催报 {report.already} 个" if report.already else "") + "。")
    if report.no_address:
        console.print(f"[yellow]没有登记邮箱、无法催报的单位：{'、'.join(report.no_address)}[/]")
    console.print("，".join([f"发出邮件 {delivery.sent} 封", *_delivery_parts(delivery)]) + "。")
    for error in delivery.errors[:1]:
        error_console().print(f"发信未完成：{error}（下次运行会补发）")


def print_units(units: list[Any], known: dict[int, list[str]] | None = None) -> None:
    """`known`: per unit id, the addresses the admin confirmed in the console."""
    console = make_console()
    table = Table(title=f"单位名单（{sum(1 for u in units if u.active)} 个）")
    for header in ("单位名称", "别名", "邮箱", "来源"):
        table.add_column(header)
    sources = {"config": "config.yaml", "file": "名单文件", "import": "导入"}
    for unit in units:
        source = sources.get(unit.source, unit.source) + ("" if unit.active else "（已停用）")
        emails = [*unit.emails, *(f"{a}（人工确认）" for a in (known or {}).get(unit.id, []))]
        table.add_row(unit.name, "、".join(unit.aliases), "\n".join(emails) or "—", source)
    console.print(table)
