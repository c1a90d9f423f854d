"""The admin's views: status (JSON and table) and the summary workbook."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from parsers.specs import FORMS
from store.models import Message, Unit
from store.queries import (
    current_rows,
    failed_messages,
    sender_mismatches,
    unit_progress,
    unmatched_messages,
)

from .config import Settings

SUMMARY_SHEET = "提交情况"
SHEET_NAMES = {"activity": "主题活动申报表", "volunteer_team": "志愿者服务队登记表"}
# RFC 8601 resinfo: "method=result" opens each ";"-separated part after the authserv-id.
_RESINFO = re.compile(r"\s*([A-Za-z][\w.-]*)\s*=\s*([A-Za-z]+)")
# A header is sender-controlled text: what is shown of it stays short.
_AUTH_SHOWN = 300


def _local(moment: datetime | None, settings: Settings) -> datetime | None:
    return moment.astimezone(settings.campaign.zone) if moment else None


def auth_summary(header: str | None) -> str:
    """`dkim=pass spf=fail` from an Authentication-Results value, for a person to read.

    The receiving server (126) puts its verdicts on each method there; the clauses after
    them (header.d=, smtp.mailfrom=, comments) matter less than the verdicts themselves.
    """
    if not header:
        return "无认证结果"
    verdicts = [f"{m.group(1).lower()}={m.group(2).lower()}"
                for part in header.split(";")[1:] if (m := _RESINFO.match(part))]
    return " ".join(verdicts) or " ".join(header.split())[:_AUTH_SHOWN]


def mismatch_entry(message: Message, unit: Unit, settings: Settings) -> dict[str, Any]:
    """One `sender_mismatch` item of the status JSON."""
    received = _local(message.sent_at or message.received_at, settings)
    return {
        "unit": unit.name,
        "message_id": message.message_id or message.key,
        "from": message.from_addr,
        "subject": message.subject,
        "received_at": received.isoformat(timespec="seconds") if received else None,
        # The topmost Authentication-Results, as recorded: the receiving server's (126's)
        # verdict when it adds one; null when the mail had none.
        "auth": " ".join(message.auth_results.split()) if message.auth_results else None,
    }


def status_data(settings: Settings, *, engine: Engine,
                sender_check: bool = False) -> dict[str, Any]:
    """The status JSON of CONTRACT.md, exactly. With `sender_check` (the text table and the
    console), also `sender_mismatch`: current submissions filed by 填报单位 whose From is
    not a registered address of the unit. Not in the JSON: the contract fixes its keys."""
    with Session(engine) as session:
        progress = unit_progress(session=session)
        unmatched = unmatched_messages(session=session)
        failed = failed_messages(session=session)
        mismatched = [mismatch_entry(message, unit, settings) for message, unit
                      in sender_mismatches(session=session, current_only=True)
                      ] if sender_check else []
    units = []
    for item in progress:
        forms = {}
        for spec in FORMS:
            sub = item.forms.get(spec.key)
            received = _local(sub.received_at, settings) if sub else None
            forms[spec.key] = {
                "submitted": sub is not None,
                "rows": sub.row_count if sub else 0,
                "received_at": received.isoformat(timespec="seconds") if received else None,
            }
        units.append({"name": item.unit.name, "forms": forms,
                      "reminders_sent": item.reminders_sent})
    data = {
        "campaign": settings.campaign.code,
        "deadline": settings.campaign.deadline.isoformat(),
        "units_total": len(progress),
        "units_complete": sum(1 for p in progress if len(p.forms) == len(FORMS)),
        "units": units,
        "unmatched": [{"message_id": m.message_id or m.key, "from": m.from_addr,
                       "unit_text": m.unit_text} for m in unmatched],
        "failed": [{"message_id": m.message_id or m.key, "error": m.error or ""} for m in failed],
    }
    if sender_check:
        data["sender_mismatch"] = mismatched
    return data


def _unread(row: object, fields: Any) -> list[str]:
    """A value that could not be read shows what was written, so the 问题 column says why
    its cell is empty (`若干`, `去年`), unless a problem already quotes it."""
    raw: dict[str, str] = getattr(row, "raw", None) or {}
    problems = " ".join(getattr(row, "problems", []) or [])
    notes = []
    for spec_field in fields:
        written = (raw.get(spec_field.key) or "").strip()
        empty = all(getattr(row, c, None) in (None, "") for c in spec_field.columns)
        if written and empty and written not in problems:
            notes.append(f"“{spec_field.label}”原文“{written}”未能读取")
    return notes


def export_title(settings: Settings, progress: list[Any], now: datetime) -> tuple[str, str]:
    complete = sum(1 for p in progress if len(p.forms) == len(FORMS))
    when = _local(now, settings)
    stamp = when.strftime("%Y-%m-%d %H:%M") if when else ""
    return (f"{settings.campaign.code}　{settings.campaign.title}",
            f"导出时间：{stamp}　截止日期：{settings.campaign.deadline.isoformat()}"
            f"　已交齐 {complete}/{len(progress)} 个单位")


def write_export(settings: Settings, *, engine: Engine, out: Path,
                 now: datetime | None = None) -> dict[str, int]:
    """The summary workbook of CONTRACT.md, laid out for reading and printing; returns rows
    written per sheet."""
    from openpyxl import Workbook

    from .workbook import SheetPlan, add_sheet, status_marker

    now = now or datetime.now(settings.campaign.zone)
    workbook = Workbook()
    workbook.remove(workbook.active)
    counts: dict[str, int] = {}
    with Session(engine) as session:
        progress = unit_progress(session=session)
        title, subtitle = export_title(settings, progress, now)
        for spec in FORMS:
            headers = ["填报单位", "序号"]
            columns: list[str] = []
            for field in spec.data_fields:
                headers.extend(field.export_headers)
                columns.extend(field.columns)
            headers += ["联系人", "联系电话", "填报日期", "提交时间", "问题"]
            rows = current_rows(session=session, form=spec.key)
            lines: list[list[object]] = []
            for unit, sub, row in rows:
                received = _local(sub.received_at, settings)
                problems = (list(getattr(row, "problems", [])) + list(sub.problems)
                            + _unread(row, spec.data_fields))
                values: list[object] = [unit.name, row.seq]  # type: ignore[attr-defined]
                values += [getattr(row, c) for c in columns]
                values += [sub.contact, sub.phone, sub.filled_on or sub.filled_on_raw,
                           received.strftime("%Y-%m-%d %H:%M") if received else None,
                           "；".join(problems) or None]
                lines.append(values)
            sent = len({unit.id for unit, _, _ in rows})
            name = SHEET_NAMES[spec.key]
            add_sheet(workbook, SheetPlan(
                name=name, title=f"{title}　{name}",
                subtitle=f"{subtitle}　本表 {sent} 个单位 {len(rows)} 行",
                headers=headers, rows=lines, widths={1: 5}))
            counts[name] = len(rows)
        summary_rows: list[list[object]] = []
        for item in progress:
            last = _local(item.last_received, settings)
            summary_rows.append([item.unit.name,
                                 *("已提交" if s.key in item.forms else "未提交" for s in FORMS),
                                 last.strftime("%Y-%m-%d %H:%M") if last else None,
                                 item.reminders_sent])
        submitted = "　".join(
            f"{SHEET_NAMES[s.key]} {sum(1 for p in progress if s.key in p.forms)}/{len(progress)}"
            for s in FORMS)
        add_sheet(workbook, SheetPlan(
            name=SUMMARY_SHEET, title=f"{title}　提交情况", subtitle=f"{subtitle}　{submitted}",
            headers=["单位", *(SHEET_NAMES[s.key] for s in FORMS), "最近提交时间", "提醒次数"],
            rows=summary_rows, marker=status_marker(range(1, len(FORMS) + 1))))
        counts[SUMMARY_SHEET] = len(progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(out)
    return counts
