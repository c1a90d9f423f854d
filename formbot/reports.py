"""The admin's views: status (JSON and table) and the summary workbook."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from notifier.outboxadmin import outbox_state
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
        outbox = outbox_state(session, settings.campaign.zone)
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
        # Additive (issue 11): outgoing mail waiting, being retried, or given up.
        "outbox": outbox,
    }
    if sender_check:
        data["sender_mismatch"] = mismatched
    return data


def _text_cell(sheet: Any, value: object) -> Any:
    """A cell that is never a formula: text from mail stays text, whatever it starts with."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # openpyxl would make "=…" a formula
        cell.quotePrefix = value[:1] in "=+-@"  # Excel keeps it text when edited
    return cell


def write_export(settings: Settings, *, engine: Engine, out: Path) -> dict[str, int]:
    """The summary workbook of CONTRACT.md; returns rows written per sheet.

    The file is opened first: a path that cannot be written is one sentence before any
    sheet exists (a write-only sheet left unsaved prints its own traceback at exit)."""
    from .fileerrors import cannot_write

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle = out.open("wb")
    except OSError as exc:
        raise cannot_write(exc, what="--out", path=out) from None
    try:
        with handle:
            counts = _write_workbook(settings, engine, handle)
    except OSError as exc:
        out.unlink(missing_ok=True)
        raise cannot_write(exc, what="--out", path=out) from None
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return counts


def _write_workbook(settings: Settings, engine: Engine, handle: Any) -> dict[str, int]:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    counts: dict[str, int] = {}
    with Session(engine) as session:
        for spec in FORMS:
            sheet = workbook.create_sheet(SHEET_NAMES[spec.key])
            headers = ["填报单位", "序号"]
            columns: list[str] = []
            for field in spec.data_fields:
                headers.extend(field.export_headers)
                columns.extend(field.columns)
            headers += ["联系人", "联系电话", "填报日期", "提交时间", "问题"]
            sheet.append(headers)
            rows = current_rows(session=session, form=spec.key)
            for unit, sub, row in rows:
                received = _local(sub.received_at, settings)
                problems = list(getattr(row, "problems", [])) + list(sub.problems)
                values: list[object] = [unit.name, row.seq]  # type: ignore[attr-defined]
                values += [getattr(row, c) for c in columns]
                values += [sub.contact, sub.phone, sub.filled_on or sub.filled_on_raw,
                           received.strftime("%Y-%m-%d %H:%M") if received else None,
                           "；".join(problems) or None]
                sheet.append([_text_cell(sheet, v) for v in values])
            counts[sheet.title] = len(rows)
        summary = workbook.create_sheet(SUMMARY_SHEET)
        summary.append(["单位", *(SHEET_NAMES[s.key] for s in FORMS), "最近提交时间", "提醒次数"])
        progress = unit_progress(session=session)
        for item in progress:
            last = _local(item.last_received, settings)
            summary.append([_text_cell(summary, item.unit.name),
                            *("已提交" if s.key in item.forms else "未提交" for s in FORMS),
                            last.strftime("%Y-%m-%d %H:%M") if last else None,
                            item.reminders_sent])
        counts[SUMMARY_SHEET] = len(progress)
    workbook.save(handle)
    return counts
