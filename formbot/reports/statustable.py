"""`formbot status` for a person (issue 14 part 6): who is still missing first, a count
line, each missing unit's contact, then what waits for a person — mail to answer, forms
filed under another unit, mail without a unit, failures, outgoing mail that is stuck.
Message-IDs only with `--verbose`: a person finds a mail by its sender and subject."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from formbot.reports.sentences import error_sentence
from parsers.specs import FormSpec


def _when(text: str | None) -> str:
    return text[5:16].replace("T", " ") if text else "—"


def _ident(item: dict[str, Any], verbose: bool) -> str:
    return f"　{item['message_id']}" if verbose and item.get("message_id") else ""


def print_status_table(console: Console, data: dict[str, Any], forms: Sequence[FormSpec], *,
                       verbose: bool = False) -> None:
    units = data["units"]
    missing = [u for u in units if not all(f["submitted"] for f in u["forms"].values())]
    complete = [u for u in units if u not in missing]
    suspect = {item["unit"] for item in data.get("sender_mismatch", [])}
    contacts = data.get("contacts", {})
    console.print(escape(
        f"{data['campaign']}　截止日期 {data['deadline']}　已交齐 {data['units_complete']}/"
        f"{data['units_total']} 个单位，未交齐 {len(missing)} 个"))
    table = Table(show_lines=False)
    table.add_column("单位")
    for spec in forms:
        table.add_column(spec.short)
    table.add_column("最近提交")
    table.add_column("催报", justify="right")
    table.add_column("联系方式")
    for unit in [*missing, *complete]:      # who still owes a form first
        cells, times = [], []
        for spec in forms:
            form = unit["forms"][spec.key]
            if form["submitted"]:
                cells.append(f"[green]已提交[/]（{form['rows']}行）")
                times.append(form["received_at"])
            else:
                cells.append("[red]未提交[/]")
        name = escape(unit["name"]) + (" ※" if unit["name"] in suspect else "")
        contact = contacts.get(unit["name"], "") if unit in missing else ""
        table.add_row(name, *cells, _when(max(times) if times else None),
                      str(unit["reminders_sent"]), escape(contact) or "")
    console.print(table)
    _waiting(console, data.get("waiting", []), verbose)
    _crossed(console, data.get("crossed", []), verbose)
    _mismatch(console, data.get("sender_mismatch", []), verbose)
    if data["unmatched"]:
        console.print(f"\n[yellow]带表格但未能确认单位的邮件 {len(data['unmatched'])} 封"
                      f"（请在管理后台“待确认单位”页归入单位）：[/]")
        for item in data["unmatched"]:
            named = item["unit_text"] or "（未填）"
            line = f"  {item['from']}　表中填报单位：{named}" + _ident(item, verbose)
            console.print(escape(line))
    if data["failed"]:
        console.print(f"\n[red]处理失败的邮件 {len(data['failed'])} 封（系统会自动重试）：[/]")
        for item in data["failed"]:
            console.print(escape(f"  {item.get('from') or ''}　{error_sentence(item['error'])}"
                                 + _ident(item, verbose)))


def _waiting(console: Console, items: list[dict[str, Any]], verbose: bool) -> None:
    if not items:
        return
    console.print(f"\n[yellow]等待工作人员回复的来信 {len(items)} 封（系统不自动回复；"
                  f"回复后在管理后台“来信待处理”页标记为已处理）：[/]")
    for item in items:
        who = item["unit"] or item["from"]
        console.print(escape(f"  {_when(item['received_at'])}　{who}（{item['from']}）"
                             f"　主题：{item['subject'] or '（无主题）'}" + _ident(item, verbose)))
        if item.get("text"):
            console.print(escape(f"    “{item['text']}”"))


def _crossed(console: Console, items: list[dict[str, Any]], verbose: bool) -> None:
    if not items:
        return
    console.print(f"\n[yellow]由其他单位的邮箱发来、按“填报单位”归入的表格 {len(items)} 份"
                  f"（两个单位都已收到回执，请核实）：[/]")
    for item in items:
        console.print(escape(f"  {item['form']} → {item['unit']}　由 {item['sender_unit']}"
                             f"（{item['from']}）发来" + _ident(item, verbose)))


def _mismatch(console: Console, items: list[dict[str, Any]], verbose: bool) -> None:
    from formbot.reports.status import auth_summary

    if not items:
        return
    console.print(f"\n[yellow]※ 发件地址不是登记邮箱、按“填报单位”归入的邮件 {len(items)} 封"
                  f"（请在管理后台确认或拒绝该地址）：[/]")
    for item in items:
        auth = f"　邮件认证：{auth_summary(item['auth'])}" if item["auth"] else ""
        console.print(escape(f"  {item['unit']}　发件人：{item['from']}{auth}"
                             + _ident(item, verbose)))
