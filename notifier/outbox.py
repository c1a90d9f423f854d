"""The outbox: mail is recorded first and sent after, so nothing is lost or sent twice.

A row is written in the same transaction as whatever caused it (the rows of
a submission, a reminder slot), under a unique `dedup_key`. `drain` claims
rows with a short lease, hands each to SMTP and marks it sent. The one window
no design closes: the server accepted the mail and we crash before marking it
sent. That row is sent again on restart (at-least-once, with the same
Message-ID so a mail client can tell).

One mail never holds up the others. What the server cannot take from one mail (an
address it cannot carry, a permanent 5xx) fails that mail at once, with the reason in
Chinese for the admin (what happened and what to do; the server's own reply, English,
goes to the log only); a temporary refusal (4xx, a dropped connection) is retried with
back-off (`next_attempt_at`) and fails after MAX_ATTEMPTS. Only what concerns every mail
(the server unreachable, our login or our sender refused) stops the drain; the rows then
wait untouched for the next one.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from loguru import logger
from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from store.crashpoints import crashpoint, failpoint
from store.leases import held
from store.models import Outgoing
from store.repo import dialect_insert

from .addresses import InvalidAddress, wire_address
from .compose import Composed
from .smtperrors import (
    FIX_ADDRESS,
    UTF8,
    WAIT,
    DeliveryError,
    connect_error,
    network_reason,
    refusal,
    reply_text,
)

DRAIN_LEASE = timedelta(minutes=15)
MAX_ATTEMPTS = 10                        # temporary failures of one mail, then it fails
PARTLY_SENT = "这些地址不会再收到这一封，请核实后另行告知该单位"
BACKOFF_FIRST = timedelta(minutes=5)     # doubled at each temporary failure…
BACKOFF_MAX = timedelta(hours=6)         # …up to this: ten attempts span about a day




@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    security: str           # ssl | starttls | plain
    username: str | None
    password: str | None = field(repr=False)   # never in a log line or a traceback
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
    failed: int = 0          # mails given up in this drain (each with its reason)
    retrying: int = 0        # mails refused for now, waiting for their next attempt
    waiting: int = 0         # mails still pending after this drain
    errors: list[str] = field(default_factory=list)   # what stopped the drain (the server)


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th temporary failure of one mail."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def _connect(target: SmtpTarget) -> smtplib.SMTP:
    client: smtplib.SMTP | None = None
    try:
        if target.security == "ssl":
            client = smtplib.SMTP_SSL(target.host, target.port, timeout=target.timeout,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=target.timeout)
            if target.security == "starttls":
                client.starttls(context=ssl.create_default_context())
        if target.username and target.password:
            client.login(target.username, target.password)
        client.ehlo_or_helo_if_needed()   # its extensions (SMTPUTF8) are known from here
    except (OSError, smtplib.SMTPException) as exc:
        if client is not None:
            client.close()
        raise connect_error(exc, target, username=target.username) from None
    return client


def _finish(engine: Engine, row_id: int, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(update(Outgoing).where(Outgoing.id == row_id).values(**values))  # type: ignore[arg-type]


def drain(engine: Engine, target: SmtpTarget, *, now: datetime, sender: str) -> DrainReport:
    """Send every pending mail that is due. SMTP down: stop, keep them pending, say so once.

    One drainer at a time (a database lease): two workers never hand the same row to
    SMTP, and a drainer killed mid-way is replaced as soon as it is seen to be dead."""
    with held(engine, "outbox", ttl=DRAIN_LEASE) as mine:
        if not mine:
            return DrainReport()
        return _drain(engine, target, now=now, sender=sender)


class _MailFailed(Exception):
    """This one mail was refused; `temporary` says whether to try it again later.

    `reason` and `advice` are for the admin; `reply`, the server's own words, for the log."""

    def __init__(self, reason: str, *, temporary: bool, advice: str = "",
                 reply: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary
        self.advice = advice
        self.reply = reply


class _ServerRefused(Exception):
    """The server refused what every mail shares (our sender): stop the drain."""


def _due(engine: Engine, now: datetime) -> list[int]:
    with Session(engine) as session:
        return list(session.exec(
            select(Outgoing.id).where(Outgoing.status == "pending", or_(
                col(Outgoing.next_attempt_at).is_(None), col(Outgoing.next_attempt_at) <= now))
            .order_by(col(Outgoing.id))).all())  # type: ignore[arg-type]


def _drain(engine: Engine, target: SmtpTarget, *, now: datetime, sender: str) -> DrainReport:
    report = DrainReport()
    due = _due(engine, now)
    client: smtplib.SMTP | None = None
    try:
        for row_id in due:
            with Session(engine) as session:
                row = session.get(Outgoing, row_id)
                assert row is not None
                raw, attempts, recipients = row.raw, row.attempts + 1, list(row.recipients)
            try:
                envelope = _envelope(sender, recipients)
            except _MailFailed as exc:
                _fail(engine, row_id, attempts, exc, now, report)
                continue
            if client is None:
                try:
                    client = _connect(target)
                except DeliveryError as exc:
                    # The server, not this mail: no attempt is counted against it.
                    _finish(engine, row_id, last_error=str(exc))
                    report.errors.append(str(exc))
                    break
            failpoint("outbox-send")
            try:
                refused = _send(client, raw, envelope)
            except _ServerRefused as exc:
                _finish(engine, row_id, last_error=str(exc))
                report.errors.append(str(exc))
                break
            except _MailFailed as exc:
                if client.sock is None:      # a 421 or a dropped line: a new connection next
                    client = None
                if exc.temporary and attempts < MAX_ATTEMPTS:
                    _retry_later(engine, row_id, attempts, exc, now, report)
                else:
                    _fail(engine, row_id, attempts, exc, now, report)
                continue
            # The window: accepted by SMTP, not yet recorded. A crash here resends once.
            crashpoint("smtp-accepted")
            note = _partly_refused(row_id, refused) if refused else None
            _finish(engine, row_id, status="sent", sent_at=now, attempts=attempts,
                    last_error=note, next_attempt_at=None)
            report.sent += 1
            logger.info("outbox.sent id={} to={}", row_id, ",".join(recipients))
    finally:
        if client is not None:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
    with Session(engine) as session:
        report.waiting = len(session.exec(
            select(Outgoing.id).where(Outgoing.status == "pending")).all())
    return report


@dataclass(frozen=True)
class _Envelope:
    sender: str
    recipients: list[str]
    utf8: bool


def _envelope(sender: str, recipients: list[str]) -> _Envelope:
    """The addresses as SMTP carries them; a mail with none it can carry fails here."""
    if not recipients:
        raise _MailFailed("这封邮件没有收件人", temporary=False, advice="这一封可在发件箱中放弃")
    try:
        wired = [wire_address(sender), *(wire_address(r) for r in recipients)]
    except InvalidAddress as exc:
        raise _MailFailed(str(exc), temporary=False, advice=FIX_ADDRESS) from None
    return _Envelope(wired[0].text, [w.text for w in wired[1:]], any(w.needs_utf8 for w in wired))


def _refused(recipients: dict[str, tuple[int, bytes]]) -> tuple[str, str, str]:
    """Refused recipients as the admin reads them (each address, what its server meant),
    the advice, and the servers' replies for the log."""
    meant = {address: refusal(code, text) for address, (code, text) in recipients.items()}
    what = "；".join(f"{address}（{m.what}）" for address, m in meant.items())
    # Waiting is no advice for a mail refused for good at another address too.
    advices = [m.advice for m in meant.values()]
    advice = "；".join(dict.fromkeys(a for a in advices if a != WAIT or set(advices) == {WAIT}))
    replies = "; ".join(f"{address}: {reply_text(code, text)}"
                        for address, (code, text) in recipients.items())
    return what, advice, replies


def _send(client: smtplib.SMTP, raw: bytes, envelope: _Envelope) -> dict[str, tuple[int, bytes]]:
    """Hand one mail to the server; the recipients it refused while taking it for others."""
    options: list[str] = []
    if envelope.utf8:
        if not client.has_extn("smtputf8"):
            raise _MailFailed(
                f"收件地址 {'、'.join(envelope.recipients)} 含中文等非英文字符，"
                f"本部门的发信服务器不能投递这样的地址", temporary=False, advice=UTF8)
        options.append("SMTPUTF8")
    try:
        return client.sendmail(envelope.sender, envelope.recipients, raw, options)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        what, advice, replies = _refused(exc.recipients)
        raise _MailFailed(f"收件服务器拒收：{what}", temporary=all(400 <= c < 500 for c in codes),
                          advice=advice, reply=replies) from None
    except smtplib.SMTPSenderRefused as exc:
        meant = refusal(exc.smtp_code, exc.smtp_error)
        answer = reply_text(exc.smtp_code, exc.smtp_error)
        if envelope.utf8 or exc.smtp_code in (552, 452):   # this mail's size or its SMTPUTF8
            raise _MailFailed(f"发信服务器不接受这封邮件：{meant.what}",
                              temporary=exc.smtp_code < 500, advice=meant.advice,
                              reply=answer) from None
        logger.warning("outbox.sender_refused reply={}", answer)
        raise _ServerRefused(f"发信服务器拒绝发件人 {envelope.sender}（{meant.what}）："
                             f"请检查 smtp.from_address 是否就是登录的邮箱") from None
    except smtplib.SMTPResponseException as exc:       # DATA refused, or any other reply
        meant = refusal(exc.smtp_code, exc.smtp_error)
        raise _MailFailed(f"发信服务器拒收这封邮件：{meant.what}", temporary=exc.smtp_code < 500,
                          advice=meant.advice,
                          reply=reply_text(exc.smtp_code, exc.smtp_error)) from None
    except (OSError, smtplib.SMTPException) as exc:    # reset, timeout, disconnected
        client.close()
        raise _MailFailed(f"发送中断（{network_reason(exc)}）", temporary=True,
                          reply=f"{type(exc).__name__}: {exc}") from None
    except Exception as exc:  # the boundary: a bug with one mail must not stop the others
        logger.opt(exception=exc).error("outbox.unexpected error={}", type(exc).__name__)
        client.close()
        raise _MailFailed("发送时出现程序错误，详情见日志", temporary=True) from None


def _partly_refused(row_id: int, refused: dict[str, tuple[int, bytes]]) -> str:
    what, advice, replies = _refused(refused)
    logger.warning("outbox.partly_refused id={} server_reply={}", row_id, replies)
    # The mail counts as sent, so nothing retries it for these addresses, even when their
    # refusal was temporary: "wait" would be wrong advice.
    if not advice or advice == WAIT:
        advice = PARTLY_SENT
    return f"已发出，但部分收件人被拒收：{what}。{advice}。"


def _retry_later(engine: Engine, row_id: int, attempts: int, failure: _MailFailed,
                 now: datetime, report: DrainReport) -> None:
    wait = backoff(attempts)
    _finish(engine, row_id, attempts=attempts, next_attempt_at=now + wait,
            last_error=f"{failure.reason}，{_minutes(wait)}后重试"
                       f"（第 {attempts}/{MAX_ATTEMPTS} 次，自动进行，无需处理）。")
    report.retrying += 1
    logger.warning("outbox.retry_later id={} attempts={} reason={} server_reply={}", row_id,
                   attempts, failure.reason, failure.reply or "-")


def _fail(engine: Engine, row_id: int, attempts: int, failure: _MailFailed, now: datetime,
          report: DrainReport) -> None:
    tried = f"，已尝试 {attempts} 次" if attempts > 1 else ""
    advice = failure.advice if failure.advice and failure.advice != WAIT else \
        "请排除原因后在发件箱中重发，或放弃这一封"
    _finish(engine, row_id, status="failed", attempts=attempts, next_attempt_at=None,
            last_error=f"{failure.reason}{tried}，已停止发送。{advice}。")
    report.failed += 1
    logger.warning("outbox.failed id={} attempts={} reason={} server_reply={}", row_id,
                   attempts, failure.reason, failure.reply or "-")


def _minutes(wait: timedelta) -> str:
    minutes = int(wait.total_seconds() // 60)
    return f"{minutes // 60} 小时" if minutes >= 60 and minutes % 60 == 0 else f"{minutes} 分钟"
