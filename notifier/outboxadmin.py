"""What the admin sees of the outbox and may do to it: list, retry, drop.

Shared by `formbot status` (table and JSON), `formbot outbox …`, the digest and the
console, so each shows the same mail with the same words. Every change is audited in
the same transaction as itself, as the console's other actions are.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from errors import FormbotError
from store import audit
from store.models import Outgoing

KIND = {"receipt": "回执", "reminder": "催报", "digest": "汇总"}
# Listed at most; the count says how many there are in all.
SHOWN = 200


def _item(row: Outgoing, zone: tzinfo | None) -> dict[str, Any]:
    created = row.created_at.astimezone(zone) if zone else row.created_at
    return {"id": row.id, "to": list(row.recipients), "kind": row.kind, "subject": row.subject,
            "attempts": row.attempts, "error": row.last_error or "",
            "created_at": created.isoformat(timespec="seconds")}


def outbox_state(session: Session, zone: tzinfo | None = None) -> dict[str, Any]:
    """`status --json`'s "outbox": how many wait, which are being retried, which failed."""
    pending = session.exec(select(func.count()).select_from(Outgoing)
                           .where(Outgoing.status == "pending")).one()
    retrying = []
    for row in session.exec(select(Outgoing).where(Outgoing.status == "pending",
                                                   col(Outgoing.attempts) > 0)
                            .order_by(col(Outgoing.id)).limit(SHOWN)):
        item = _item(row, zone)
        when = row.next_attempt_at
        if when and zone:
            when = when.astimezone(zone)
        item["next_attempt_at"] = when.isoformat(timespec="seconds") if when else None
        retrying.append(item)
    failed = [_item(row, zone) for row in session.exec(
        select(Outgoing).where(Outgoing.status == "failed")
        .order_by(col(Outgoing.id).desc()).limit(SHOWN))]
    return {"pending": int(pending), "retrying": retrying, "failed": failed}


def _describe(row: Outgoing) -> str:
    to = "、".join(row.recipients)
    return f"{KIND.get(row.kind, row.kind)} #{row.id}（收件人 {to}，{row.subject}）"


def retry(engine: Engine, *, ids: list[int] | None = None, all_failed: bool = False,
          now: datetime, who: str) -> int:
    """Put failed (or waiting) mail back in line, due now, its attempts counted afresh."""
    with Session(engine) as session:
        query = select(Outgoing)
        if all_failed:
            query = query.where(Outgoing.status == "failed")
        else:
            query = query.where(col(Outgoing.id).in_(ids or []))
        found = list(session.exec(query.order_by(col(Outgoing.id))))
        if not all_failed:
            _all_there(ids or [], found)
        for row in found:
            if row.status == "sent":
                raise FormbotError(f"第 {row.id} 封邮件已经发出，无需重试")
            row.status, row.attempts, row.next_attempt_at = "pending", 0, None
            row.last_error = f"管理员要求重发（{now:%Y-%m-%d %H:%M}）"
            session.add(row)
            audit.record(session, at=now, who=who, action="outbox-retry",
                         detail=f"重新发送 {_describe(row)}")
        session.commit()
    return len(found)


def drop(engine: Engine, *, ident: int, now: datetime, who: str) -> Outgoing:
    """Give up a mail for good: it is kept (status dropped) but never sent."""
    with Session(engine) as session:
        row = session.get(Outgoing, ident)
        _all_there([ident], [row] if row else [])
        assert row is not None
        if row.status == "sent":
            raise FormbotError(f"第 {ident} 封邮件已经发出，无法放弃")
        if row.status != "dropped":
            row.status, row.next_attempt_at = "dropped", None
            session.add(row)
            audit.record(session, at=now, who=who, action="outbox-drop",
                         detail=f"放弃发送 {_describe(row)}")
            session.commit()
        session.refresh(row)
        session.expunge(row)
    return row


def _all_there(ids: list[int], found: list[Outgoing]) -> None:
    missing = sorted(set(ids) - {row.id for row in found})
    if missing:
        raise FormbotError(f"发件箱中没有编号为 {'、'.join(map(str, missing))} 的邮件"
                           f"（用 formbot outbox list 查看编号）")
