"""Recording fetched mail: each kept raw message gets its row (once per key) and its
place on the server, before any of it is read; and marking it handled there once stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.parser import BytesHeaderParser
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from formbot.settings.config import MailboxSettings
from ingest.imap import Mailbox
from ingest.rawstore import KeptRaw, read_header_block
from store import repo
from store.crashpoints import crashpoint
from store.models import MailboxCopy, Message


def message_key(path: str | Path, sha: str) -> tuple[str, str | None]:
    # The header block only: parsing a whole 27 MB mail just for its Message-ID would cost
    # the email package ~200 MB (text, then a UCS-4 buffer, then its lines).
    headers = BytesHeaderParser().parsebytes(read_header_block(path))
    message_id = str(headers.get("Message-ID", "") or "").strip() or None
    return (message_id or f"sha256:{sha}"), message_id


def skip_known(session: Session, box: Mailbox, batch: Sequence[int], *, account: str,
               folder: str) -> list[int]:
    """After a mailbox rebuild every UID is "new": read Message-IDs first and fetch bodies
    only of mail never seen before (the ones left out are recorded as copies here)."""
    ids = box.fetch_message_ids(batch)
    known = repo.known_keys(session=session, keys=list(ids.values()))
    to_fetch = list(batch)
    for uid, key in ids.items():
        if key in known:
            message = repo.message_by_key(session=session, key=key)
            repo.add_copy(session=session, message=message, account=account,  # type: ignore[arg-type]
                          folder=folder, uidvalidity=box.uidvalidity, uid=uid)
            to_fetch.remove(uid)
    session.commit()
    return to_fetch


def record_all(session: Session, fetched: Sequence[tuple[int, KeptRaw]], *, now: datetime,
                account: str, folder: str, uidvalidity: int) -> list[tuple[Message, bool]]:
    """Record a fetched batch (kept on disk) in one transaction, before any of it is read.
    If another worker recorded one of these meanwhile (the unique key says so), the batch
    is recorded again one by one, each with its own commit, which sorts out whose each is."""
    keys = [message_key(kept.path, kept.sha256) for _, kept in fetched]
    try:
        known = repo.messages_by_keys(session=session, keys=[key for key, _ in keys])
        recorded = [record(session, kept, now=now, account=account, folder=folder,
                            uidvalidity=uidvalidity, uid=uid, commit=False, keyed=keyed,
                            known=known)
                    for (uid, kept), keyed in zip(fetched, keys, strict=True)]
        session.commit()
        return recorded
    except IntegrityError:
        session.rollback()
    return [record(session, kept, now=now, account=account, folder=folder,
                    uidvalidity=uidvalidity, uid=uid, keyed=keyed)
            for (uid, kept), keyed in zip(fetched, keys, strict=True)]


def record(session: Session, kept: KeptRaw, *, now: datetime, account: str, folder: str,
            uidvalidity: int, uid: int, commit: bool = True,
            keyed: tuple[str, str | None] | None = None,
            known: dict[str, Message] | None = None) -> tuple[Message, bool]:
    """Record the message kept on disk (once per key). Committed on return, unless the
    caller commits (then a unique-key clash is the caller's to handle). `keyed` and
    `known`: its key and the batch's recorded messages, when the caller looked them up;
    `known` gains the message, so a mail twice in one batch is recorded once."""
    crashpoint("raw-kept")
    path, sha = kept.path, kept.sha256
    key, message_id = keyed or message_key(path, sha)
    message = known.get(key) if known is not None else repo.message_by_key(session=session,
                                                                            key=key)
    fresh = message is None
    try:
        if message is None:
            message = Message(key=key, message_id=message_id, sha256=sha, raw_path=str(path),
                              size=kept.size, received_at=now)
            session.add(message)
            session.flush()
            if known is not None:
                known[key] = message
        repo.add_copy(session=session, message=message, account=account, folder=folder,
                      uidvalidity=uidvalidity, uid=uid)
        if commit:
            session.commit()
        crashpoint("recorded")
    except IntegrityError:
        if not commit:
            raise
        # Another worker recorded it between our look and our insert: theirs to process.
        session.rollback()
        message, fresh = repo.message_by_key(session=session, key=key), False
        assert message is not None
    return message, fresh


def mark_handled(session: Session, box: Mailbox, mailbox: MailboxSettings, *, account: str,
                  folder: str) -> None:
    """Flag or move every copy whose message is done, including ones retried from disk."""
    uids = list(session.exec(
        select(MailboxCopy.uid).join(Message, Message.id == MailboxCopy.message_ref).where(
            MailboxCopy.account == account, MailboxCopy.folder == folder,
            MailboxCopy.uidvalidity == box.uidvalidity, MailboxCopy.handled == False,  # noqa: E712
            Message.status.in_(["processed", "ignored"]),  # type: ignore[attr-defined]
        )
    ))
    if not uids:
        return
    box.mark_handled(uids, mailbox.processed_folder)
    crashpoint("marked-on-server")
    repo.mark_copies_handled(session=session, account=account, folder=folder,
                             uidvalidity=box.uidvalidity, uids=uids)
    session.commit()
