"""Data access: small functions with a keyword-only `session`, no business rules."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from .models import (
    AttachmentRecord,
    FolderState,
    KnownSender,
    MailboxCopy,
    Message,
    RowRecord,
    Submission,
    Unit,
)

# Core table objects, for the statements the poller runs per message: the ORM's
# per-statement work is most of their cost.
SUBMISSIONS = Submission.__table__  # type: ignore[attr-defined]
MESSAGES = Message.__table__  # type: ignore[attr-defined]
UNITS = Unit.__table__  # type: ignore[attr-defined]
ROWS = RowRecord.__table__  # type: ignore[attr-defined]


def all_units(*, session: Session, include_inactive: bool = False) -> list[Unit]:
    statement = select(Unit).order_by(Unit.id)  # type: ignore[arg-type]
    if not include_inactive:
        statement = statement.where(Unit.active == True)  # noqa: E712
    return list(session.exec(statement))


def folder_state(*, session: Session, account: str, folder: str) -> FolderState | None:
    return session.exec(
        select(FolderState).where(FolderState.account == account, FolderState.folder == folder)
    ).first()


def dialect_insert(session: Session):  # type: ignore[no-untyped-def]
    """The database's own INSERT, which has ON CONFLICT (SQLite and PostgreSQL alike)."""
    dialect = session.get_bind().dialect.name
    return postgresql_insert if dialect == "postgresql" else sqlite_insert


def save_folder_state(*, session: Session, account: str, folder: str, uidvalidity: int,
                      last_uid: int) -> None:
    # An upsert, not read-then-insert: two workers meeting a folder for the first time would
    # otherwise both insert and one would die on the unique key.
    values = {"account": account, "folder": folder, "uidvalidity": uidvalidity,
              "last_uid": last_uid}
    statement = dialect_insert(session)(FolderState).values(**values)
    session.execute(statement.on_conflict_do_update(
        index_elements=["account", "folder"],
        set_={"uidvalidity": uidvalidity, "last_uid": last_uid}))


def message_by_key(*, session: Session, key: str) -> Message | None:
    return session.exec(select(Message).where(Message.key == key)).first()


def messages_by_keys(*, session: Session, keys: Sequence[str]) -> dict[str, Message]:
    """The recorded messages among `keys`, by key: a fetched batch looked up at once."""
    if not keys:
        return {}
    found = session.exec(select(Message).where(col(Message.key).in_(list(set(keys)))))
    return {message.key: message for message in found}


def messages_sharing(*, session: Session, message_ids: Collection[str],
                     keys: Collection[str]) -> list[Message]:
    """The recorded messages with one of these Message-IDs or keys: those a fetched mail
    may be a second delivery of (formbot/poll/identity.py decides which it is)."""
    if not message_ids and not keys:
        return []
    return list(session.exec(select(Message).where(
        col(Message.message_id).in_(list(set(message_ids)))
        | col(Message.key).in_(list(set(keys)))).order_by(Message.id)))  # type: ignore[arg-type]


def add_copy(*, session: Session, message: Message, account: str, folder: str,
             uidvalidity: int, uid: int) -> None:
    # A copy seen before (a re-fetch after a crash) is left as it is: one statement, not a
    # look then an insert.
    session.execute(dialect_insert(session)(MailboxCopy).values(
        message_ref=message.id, account=account, folder=folder, uidvalidity=uidvalidity,
        uid=uid, handled=False,
    ).on_conflict_do_nothing(index_elements=["account", "folder", "uidvalidity", "uid"]))


def mark_copies_handled(*, session: Session, account: str, folder: str, uidvalidity: int,
                        uids: Sequence[int]) -> None:
    session.exec(update(MailboxCopy).where(  # type: ignore[call-overload]
        MailboxCopy.account == account, MailboxCopy.folder == folder,
        MailboxCopy.uidvalidity == uidvalidity, col(MailboxCopy.uid).in_(list(uids)),
    ).values(handled=True))


def messages_to_retry(*, session: Session, max_attempts: int) -> list[Message]:
    return list(session.exec(
        select(Message).where(col(Message.status).in_(["new", "failed"]),
                              Message.attempts < max_attempts).order_by(Message.id)  # type: ignore[arg-type]
    ))


def claim_pending(*, session: Session, message_id: int) -> bool:
    """Lock the message's row for the current transaction if it still waits to be stored
    (new or failed); False when another worker has stored it. A worker storing it at this
    very moment holds the lock: this waits, then sees its result (PostgreSQL re-checks
    the condition on the committed row; SQLite serialises writers anyway)."""
    claimed = session.execute(update(MESSAGES).where(
        MESSAGES.c.id == message_id, MESSAGES.c.status.in_(["new", "failed"]),
    ).values(attempts=MESSAGES.c.attempts))
    return bool(claimed.rowcount)


def clear_parse(*, session: Session, message: Message) -> set[tuple[int, str]]:
    """Forget what an earlier parse of this message stored (a re-parse replaces it).
    Returns the (unit, form) pairs it had submissions for."""
    old = list(session.exec(select(Submission).where(Submission.message_ref == message.id)))
    touched = {(s.unit_id, s.form) for s in old if s.unit_id is not None}
    ids = [s.id for s in old]
    session.exec(delete(RowRecord).where(col(RowRecord.submission_id).in_(ids)))  # type: ignore[call-overload]
    session.exec(delete(Submission).where(Submission.message_ref == message.id))  # type: ignore[call-overload, arg-type]
    session.exec(delete(AttachmentRecord).where(AttachmentRecord.message_ref == message.id))  # type: ignore[call-overload, arg-type]
    session.flush()
    return touched  # type: ignore[return-value]


def message_ids_for(*, session: Session, keys: Sequence[str] | None) -> list[int]:
    """Database ids of the messages with these Message-IDs/keys, or of every message."""
    statement = select(Message.id).order_by(Message.id)  # type: ignore[arg-type]
    if keys:
        # Mail clients show a Message-ID without its angle brackets, and a shell needs
        # them quoted: accept it either way.
        wanted = list(keys) + [f"<{k.strip('<>')}>" for k in keys]
        statement = statement.where(col(Message.key).in_(wanted)
                                    | col(Message.message_id).in_(wanted))
    return list(session.exec(statement))  # type: ignore[arg-type]


def add_attachments(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(AttachmentRecord.__table__), list(rows))  # type: ignore[attr-defined]


def add_submission(*, session: Session, submission: Submission,
                   rows: Sequence[dict[str, Any]]) -> int:
    """Insert a submission and its rows (one executemany); returns the submission's id.
    Each row is `seq`, `data` (values by column key), `raw` and `problems`. Core
    statements, not the ORM's unit of work: at a deadline's backlog this is a good part
    of the poller's time."""
    values = submission.model_dump(exclude={"id"})
    submission_id = session.execute(
        insert(SUBMISSIONS).values(values).returning(SUBMISSIONS.c.id)).scalar_one()
    if rows:
        session.execute(insert(ROWS), [{
            "submission_id": submission_id, "form": submission.form, "seq": row["seq"],
            "data": row.get("data") or {}, "raw": row.get("raw") or {},
            "problems": row.get("problems") or []} for row in rows])
    return submission_id


def refresh_current(*, session: Session, unit_id: int, forms: Collection[str]) -> None:
    """For each of the unit's `forms`, the latest submission with rows is current;
    order-independent, so reprocessing or parallel parsing cannot let an older one win.
    A form sent with no row filled in (the blank template by mistake, or tables quoted
    from the notice) neither counts as submitted nor wipes the rows the unit sent before."""
    # Two workers storing for one unit at once (PostgreSQL: two mailboxes, or the console
    # assigning while the poller stores) would each miss the other's uncommitted row and
    # both leave theirs current. The unit's row lock makes the second wait and then see
    # the first's. (SQLite has one writer at a time; there FOR UPDATE is left out.)
    if session.get_bind().dialect.name != "sqlite":
        session.execute(select(UNITS.c.id).where(UNITS.c.id == unit_id).with_for_update())
    for form in sorted(forms):
        ours = (SUBMISSIONS.c.unit_id == unit_id) & (SUBMISSIONS.c.form == form)
        # "Later" is the order the mail reached the mailbox (message ids are given in UID
        # order as mail is fetched), not its Date header: an office PC whose clock runs a
        # day slow must not let the original beat its correction.
        latest = (select(SUBMISSIONS.c.id).where(ours, SUBMISSIONS.c.row_count > 0)
                  .order_by(SUBMISSIONS.c.message_ref.desc(), SUBMISSIONS.c.id.desc())
                  .limit(1).scalar_subquery())
        # One statement per form: each submission set to whether it is the latest, touching
        # only those that change. (No filled one: `id = NULL` is NULL, so false.)
        should = func.coalesce(SUBMISSIONS.c.id == latest, False)
        session.execute(update(SUBMISSIONS).where(ours, SUBMISSIONS.c.current != should)
                        .values(current=should))


def current_forms(*, session: Session, unit_id: int) -> set[str]:
    return set(session.exec(select(Submission.form).where(
        Submission.unit_id == unit_id, Submission.current == True)))  # noqa: E712


def record_failure(*, session: Session, message: Message, error: str, when: datetime) -> None:
    message.status = "failed"
    message.error = error[:2000]
    session.add(message)


def receipts_since(*, session: Session, address: str, since: datetime) -> int:
    """How many messages from `address` were answered with a receipt since `since`."""
    return session.exec(select(func.count()).select_from(Message).where(
        Message.from_addr == address, Message.outcome == "receipt",
        Message.received_at >= since)).one()


def known_senders(*, session: Session) -> list[KnownSender]:
    return list(session.exec(select(KnownSender).order_by(KnownSender.address)))  # type: ignore[arg-type]


def confirmed_addresses(*, session: Session) -> dict[int, list[str]]:
    """Per unit id, the addresses the admin confirmed for it in the console."""
    found: dict[int, list[str]] = {}
    for known in known_senders(session=session):
        found.setdefault(known.unit_id, []).append(known.address)
    return found


def remember_sender(*, session: Session, address: str, unit_id: int, when: datetime, who: str,
                    message_ref: int | None) -> None:
    """Later mail from `address` is `unit_id`'s; a second decision replaces the first."""
    values = {"address": address.strip().lower(), "unit_id": unit_id, "learned_at": when,
              "learned_by": who, "message_ref": message_ref}
    statement = dialect_insert(session)(KnownSender).values(**values)
    session.execute(statement.on_conflict_do_update(
        index_elements=["address"],
        set_={k: v for k, v in values.items() if k != "address"}))


def forget_sender(*, session: Session, address: str, unit_id: int) -> bool:
    """False when the address is not (or no longer) remembered for this unit: another
    admin may have just given it to another unit, which this must not undo."""
    result = session.execute(delete(KnownSender).where(
        KnownSender.address == address.strip().lower(),  # type: ignore[arg-type]
        KnownSender.unit_id == unit_id))  # type: ignore[arg-type]
    return bool(result.rowcount)  # type: ignore[attr-defined]
