"""The summary workbook of CONTRACT.md (`formbot export`): which rows and sheets; the
layout is workbook.py's."""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from formbot.reports.status import SUMMARY_SHEET, local_time
from formbot.settings.config import Settings
from formbot.settings.declared import complete
from parsers.spreadsheets import openpyxl
from store.queries import current_rows, unit_progress


def _unread(row: Any, fields: Any) -> list[str]:
    """A value that could not be read shows what was written, so the 问题 column says why
    its cell is empty (`若干`, `去年`), unless a problem already quotes it."""
    raw: dict[str, str] = row.raw or {}
    problems = " ".join(row.problems or [])
    notes = []
    for spec_field in fields:
        written = (raw.get(spec_field.key) or "").strip()
        empty = all(row.value(c) in (None, "") for c in spec_field.columns)
        if written and empty and written not in problems:
            notes.append(f"“{spec_field.label}”原文“{written}”未能读取")
    return notes


def _cell(value: object) -> object:
    """A stored value as its cell: numbers (count, number, money) stay numbers; anything
    else JSON gave back (a list from an odd row) is shown as text."""
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)


def export_title(settings: Settings, progress: list[Any], now: datetime) -> tuple[str, str]:
    done = sum(1 for p in progress if complete(settings.forms, p.forms))
    when = local_time(now, settings)
    stamp = when.strftime("%Y-%m-%d %H:%M") if when else ""
    return (f"{settings.campaign.code}　{settings.campaign.title}",
            f"导出时间：{stamp}　截止日期：{settings.campaign.deadline.isoformat()}"
            f"　已交齐 {done}/{len(progress)} 个单位")


def write_export(settings: Settings, *, engine: Engine, out: Path,
                 now: datetime | None = None) -> dict[str, int]:
    """The summary workbook of CONTRACT.md, laid out for reading and printing; returns rows
    written per sheet."""
    Workbook = openpyxl().Workbook

    from formbot.reports.workbook import SheetPlan, add_sheet, status_marker

    now = now or datetime.now(settings.campaign.zone)
    workbook = Workbook()
    workbook.remove(workbook.active)
    counts: dict[str, int] = {}
    forms = settings.forms
    with Session(engine) as session:
        progress = unit_progress(session=session)
        title, subtitle = export_title(settings, progress, now)
        for spec in forms:
            headers = ["填报单位", "序号"]
            columns: list[str] = []
            for field in spec.data_fields:
                headers.extend(field.export_headers)
                columns.extend(field.columns)
            headers += ["联系人", "联系电话", "填报日期", "提交时间", "问题"]
            rows = current_rows(session=session, form=spec.key)
            lines: list[list[object]] = []
            for unit, sub, row in rows:
                received = local_time(sub.received_at, settings)
                problems = (list(row.problems or []) + list(sub.problems)
                            + _unread(row, spec.data_fields))
                values: list[object] = [unit.name, row.seq]
                values += [_cell(row.value(c)) for c in columns]
                values += [sub.contact, sub.phone, sub.filled_on or sub.filled_on_raw,
                           received.strftime("%Y-%m-%d %H:%M") if received else None,
                           "；".join(problems) or None]
                lines.append(values)
            sent = len({unit.id for unit, _, _ in rows})
            name = spec.short
            add_sheet(workbook, SheetPlan(
                name=name, title=f"{title}　{name}",
                subtitle=f"{subtitle}　本表 {sent} 个单位 {len(rows)} 行",
                headers=headers, rows=lines, widths={1: 5}))
            counts[name] = len(rows)
        summary_rows: list[list[object]] = []
        for item in progress:
            last = local_time(item.last_received, settings)
            summary_rows.append([item.unit.name,
                                 *("已提交" if s.key in item.forms else "未提交" for s in forms),
                                 last.strftime("%Y-%m-%d %H:%M") if last else None,
                                 item.reminders_sent])
        submitted = "　".join(
            f"{s.short} {sum(1 for p in progress if s.key in p.forms)}/{len(progress)}"
            for s in forms)
        add_sheet(workbook, SheetPlan(
            name=SUMMARY_SHEET, title=f"{title}　提交情况", subtitle=f"{subtitle}　{submitted}",
            headers=["单位", *(s.short for s in forms), "最近提交时间", "提醒次数"],
            rows=summary_rows, marker=status_marker(range(1, len(forms) + 1))))
        counts[SUMMARY_SHEET] = len(progress)
    _save(workbook, out)
    return counts


def _save(workbook: Any, out: Path) -> None:
    """A path that cannot be written is one sentence, and no half-written file is left."""
    from formbot.settings.fileerrors import cannot_write

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as handle:
            workbook.save(handle)
    except OSError as exc:
        with contextlib.suppress(OSError):   # a path through a file cannot be unlinked either
            out.unlink(missing_ok=True)
        raise cannot_write(exc, what="--out", path=out) from None
