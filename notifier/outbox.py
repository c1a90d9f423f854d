"""The outbox: mail is recorded first and sent after, so nothing is lost or sent twice.

A row is written in the same transaction as whatever caused it (the rows of
a submission, a reminder slot), under a unique `dedup_key`. `drain` claims
rows with a short lease, hands each to SMTP and marks it sent. The one window
no design closes: the server accepted the mail and we crash before marking it
sent. That row is sent again on restart (at-least-once, with the same
Message-ID so a mail client can tell).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from loguru import logger
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from errors import DeliveryError
from store.crashpoints import crashpoint
from store.leases import held
from store.models import Outgoing
from store.repo import dialect_insert

from .compose import Composed

DRAIN_LEASE = timedelta(minutes=15)
MAX_ATTEMPTS = 10




@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    security: str           # ssl | starttls | plain
    username: str | None
    password: str | None
    timeout: float = 60.0


def enqueue(
    session: Session,
    *,
    kind: str,
    dedup_key: str,
    message: Composed,
    now: datetime,
    unit_id: int | None = None,
    message_ref: int | None = None,
) -> bool:
    """Record a mail to send, in the caller's transaction; False if that key was recorded before.

    The unique key decides, not a look first: two workers racing both insert, one row
    stays, and the loser's transaction goes on untouched (ON CONFLICT DO NOTHING)."""
    table = Outgoing.__table__  # type: ignore[attr-defined]
    statement = dialect_insert(session)(table).values(
        kind=kind, dedup_key=dedup_key, unit_id=unit_id, message_ref=message_ref,
        recipients=message.recipients, subject=message.subject, raw=message.raw,
        status="pending", attempts=0, created_at=now,
    ).on_conflict_do_nothing(index_elements=["dedup_key"]).returning(table.c.id)
    return session.execute(statement).first() is not None


@dataclass
class DrainReport:
    sent: int = 0
    failed: int = 0
    waiting: int = 0
    errors: list[str] = field(default_factory=list)


def _connect(target: SmtpTarget) -> smtplib.SMTP:
    try:
        if target.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                target.host, target.port, timeout=target.timeout,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=target.timeout)
            if target.security == "starttls":
                client.starttls(context=ssl.create_default_context())
        if target.username and target.password:
            client.login(target.username, target.password)
    except smtplib.SMTPAuthenticationError:
        raise DeliveryError(
            f"发信服务器 {target.host} 拒绝登录：请检查 smtp.username 和密码（126/163 须用授权码）"
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(
            f"无法连接发信服务器 {target.host}:{target.port}（{type(exc).__name__}: {exc}）"
        ) from None
    return client


def _finish(engine: Engine, row_id: int, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(update(Outgoing).where(Outgoing.id == row_id).values(**values))  # type: ignore[arg-type]


def drain(engine: Engine, target: SmtpTarget, *, now: datetime, sender: str) -> DrainReport:
    """Send every pending mail. SMTP down: stop, keep them pending, say so once.

    One drainer at a time (a database lease): two workers never hand the same row to
    SMTP, and a drainer killed mid-way is replaced as soon as it is seen to be dead."""
    with held(engine, "outbox", ttl=DRAIN_LEASE) as mine:
        if not mine:
            return DrainReport()
        return _drain(engine, target, now=now, sender=sender)


def _drain(engine: Engine, target: SmtpTarget, *, now: datetime, sender: str) -> DrainReport:
    report = DrainReport()
    with Session(engine) as session:
        pending = session.exec(
            select(Outgoing.id, Outgoing.recipients).where(Outgoing.status == "pending")
            .order_by(Outgoing.id)  # type: ignore[arg-type]
        ).all()
    if not pending:
        return report
    client: smtplib.SMTP | None = None
    try:
        for row_id, recipients in pending:
            if client is None:
                try:
                    client = _connect(target)
                except DeliveryError as exc:
                    _finish(engine, row_id, last_error=str(exc))
                    report.errors.append(str(exc))
                    report.waiting = len(pending) - report.sent - report.failed
                    return report
            with Session(engine) as session:
                row = session.get(Outgoing, row_id)
                assert row is not None
                raw, attempts = row.raw, row.attempts + 1
            try:
                client.sendmail(sender, list(recipients), raw)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError,
                    smtplib.SMTPSenderRefused) as exc:
                permanent = getattr(exc, "smtp_code", 500) >= 500 or isinstance(
                    exc, smtplib.SMTPRecipientsRefused)
                give_up = permanent or attempts >= MAX_ATTEMPTS
                _finish(engine, row_id, status="failed" if give_up else "pending",
                        attempts=attempts, last_error=f"{type(exc).__name__}: {exc}")
                report.failed += give_up
                logger.warning("outbox.refused id={} error={}", row_id, exc)
                continue
            except (OSError, smtplib.SMTPException) as exc:
                _finish(engine, row_id, attempts=attempts,
                        last_error=f"{type(exc).__name__}: {exc}")
                report.errors.append(f"发信中断：{exc}")
                client = None
                break
            # The window: accepted by SMTP, not yet recorded. A crash here resends once.
            crashpoint("smtp-accepted")
            _finish(engine, row_id, status="sent", sent_at=now, attempts=attempts, last_error=None)
            report.sent += 1
            logger.info("outbox.sent id={} to={}", row_id, ",".join(recipients))
    finally:
        if client is not None:
            try:
                client.quit()
            except (TimeoutError, OSError, smtplib.SMTPException):
                client.close()
    with Session(engine) as session:
        report.waiting = len(session.exec(
            select(Outgoing.id).where(Outgoing.status == "pending")).all())
    return report
