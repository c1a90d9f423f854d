"""When reminders (催报) are due: pure date arithmetic on the campaign's slots."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def slot_time(deadline: date, offset_days: int, at: time, zone: ZoneInfo) -> datetime:
    """When slot `offset_days` (negative = before the deadline) falls due, local time."""
    return datetime.combine(deadline + timedelta(days=offset_days), at, tzinfo=zone)


def due_slot(deadline: date, offsets: list[int], at: time, zone: ZoneInfo,
             now: datetime) -> int | None:
    """The latest slot due at `now`, or None. Earlier slots missed while the bot was down
    are not sent any more once a later one is due: one reminder, the most current."""
    due = [o for o in offsets if slot_time(deadline, o, at, zone) <= now]
    return max(due) if due else None


def slot_label(offset_days: int) -> str:
    if offset_days < 0:
        return f"截止前{-offset_days}天"
    if offset_days == 0:
        return "截止当天"
    return f"已逾期{offset_days}天"
