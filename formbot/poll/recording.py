"""Recording fetched mail: each kept raw message gets its row (once per key) and its
place on the server, before any of it is read; and marking it handled there once stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.parser import BytesHeaderParser
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from formbot.poll.identity import IDENTITY_HEADERS, Identity, head_digest_of, identity_of
from formbot.settings.config import MailboxSettings
from ingest.imap import Mailbox
from ingest.rawstore import KeptRaw
from store import repo
from store.crashpoints import crashpoint
from store.models import MailboxCopy, Message


def message_key(path: str | Path, sha: str) -> tuple[str, str | None]:
    """The key a mail kept at `path` gets when no other mail has its Message-ID."""
    identity = identity_of(path, sha)
    return identity.base_key, identity.message_id


def _same_mail(recorded: Message, identity: Identity) -> bool:
    """Whether a recorded message is this mail, delivered again."""
    if recorded.digest is None:
        # Recorded before identities had digests: compute its own now, once.
        if recorded.sha256 == identity.sha256:
            recorded.digest = identity.digest
        else:
            try:
                recorded.digest = identity_of(recorded.raw_path, recorded.sha256).digest
            except OSError:
                # Its raw mail is gone: it cannot be compared, so the Message-ID decides,
                # as it did when it was recorded (a second receipt would be worse).
                return True
    return recorded.digest == identity.digest


def _resolve(candidates: list[Message], identity: Identity) -> tuple[Message | None, str]:
    """The recorded message this mail is, or None and the key to record it under."""
    for recorded in candidates:
        if _may_be(recorded, identity) and _same_mail(recorded, identity):
            return recorded, recorded.key
    taken = any(recorded.key == identity.base_key for recorded in candidates)
    return None, identity.key_beside(taken)


def _candidates(session: Session, identities: Sequence[Identity]) -> dict[str, list[Message]]:
    """Per base key, the recorded messages each of these mails may be."""
    found = repo.messages_sharing(
        session=session,
        message_ids=[i.message_id for i in identities if i.message_id],
        keys=[k for i in identities if not i.message_id
              for k in (i.base_key, f"sha256:{i.sha256}")])
    by_base: dict[str, list[Message]] = {i.base_key: [] for i in identities}
    for recorded in found:
        for identity in identities:
            if _may_be(recorded, identity) and recorded not in by_base[identity.base_key]:
                by_base[identity.base_key].append(recorded)
    return by_base


def _may_be(recorded: Message, identity: Identity) -> bool:
    """Same Message-ID, or (without one) the same content key or raw bytes."""
    if identity.message_id is not None:
        return recorded.message_id == identity.message_id
    return recorded.key in (identity.base_key, f"sha256:{identity.sha256}")


def skip_known(session: Session, box: Mailbox, batch: Sequence[int], *, account: str,
               folder: str) -> list[int]:
    """After a mailbox rebuild every UID is "new": read the senders' headers first and
    fetch bodies only of mail never seen before (the ones left out are recorded as copies
    here). A mail whose Message-ID is known but whose headers differ is another mail."""
    heads = box.fetch_identity_headers(batch, IDENTITY_HEADERS)
    ids = {uid: str(BytesHeaderParser().parsebytes(block).get("Message-ID", "")).strip()
           for uid, block in heads.items()}
    recorded = repo.messages_sharing(session=session,
                                     message_ids=[m for m in ids.values() if m], keys=[])
    to_fetch = list(batch)
    for uid, message_id in ids.items():
        if not message_id:
            continue
        head = head_digest_of(heads[uid])
        same = next((m for m in recorded if m.message_id == message_id
                     and (m.digest is None or m.digest.split(".")[0] == head)), None)
        if same is not None:
            repo.add_copy(session=session, message=same, account=account, folder=folder,
                          uidvalidity=box.uidvalidity, uid=uid)
            to_fetch.remove(uid)
    session.commit()
    return to_fetch


def record_all(session: Session, fetched: Sequence[tuple[int, KeptRaw]], *, now: datetime,
                account: str, folder: str, uidvalidity: int) -> list[tuple[Message, bool]]:
    """Record a fetched batch (kept on disk) in one transaction, before any of it is read.
    If another worker recorded one of these meanwhile (the unique key says so), the batch
    is recorded again one by one, each with its own commit, which sorts out whose each is."""
    identities = [identity_of(kept.path, kept.sha256) for _, kept in fetched]
    try:
        known = _candidates(session, identities)
        recorded = [record(session, kept, now=now, account=account, folder=folder,
                            uidvalidity=uidvalidity, uid=uid, commit=False, identity=identity,
                            known=known)
                    for (uid, kept), identity in zip(fetched, identities, strict=True)]
        session.commit()
        return recorded
    except IntegrityError:
        session.rollback()
    return [record(session, kept, now=now, account=account, folder=folder,
                    uidvalidity=uidvalidity, uid=uid, identity=identity)
            for (uid, kept), identity in zip(fetched, identities, strict=True)]


def record(session: Session, kept: KeptRaw, *, now: datetime, account: str, folder: str,
            uidvalidity: int, uid: int, commit: bool = True,
            identity: Identity | None = None,
            known: dict[str, list[Message]] | None = None) -> tuple[Message, bool]:
    """Record the message kept on disk (once per identity). Committed on return, unless
    the caller commits (then a unique-key clash is the caller's to handle). `identity`
    and `known`: its identity and the batch's candidates, when the caller looked them up;
    `known` gains the message, so a mail twice in one batch is recorded once."""
    crashpoint("raw-kept")
    path, sha = kept.path, kept.sha256
    identity = identity or identity_of(path, sha)
    for _attempt in range(3):
        candidates = known[identity.base_key] if known is not None else \
            _candidates(session, [identity])[identity.base_key]
        message, key = _resolve(candidates, identity)
        fresh = message is None
        try:
            if message is None:
                message = Message(key=key, message_id=identity.message_id, sha256=sha,
                                  digest=identity.digest, raw_path=str(path), size=kept.size,
                                  received_at=now)
                session.add(message)
                session.flush()
                candidates.append(message)
            repo.add_copy(session=session, message=message, account=account, folder=folder,
                          uidvalidity=uidvalidity, uid=uid)
            if commit:
                session.commit()
            crashpoint("recorded")
            return message, fresh
        except IntegrityError:
            if not commit:
                raise
            # Another worker recorded a mail under this key between our look and our
            # insert: look again (it is this mail, or this one takes a key of its own).
            session.rollback()
    raise RuntimeError(f"message key still taken after three tries: {identity.base_key}")


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
