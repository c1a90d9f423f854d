"""Database leases: one holder at a time per name, freed by release or by expiry after a crash."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from .models import Lease


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(engine: Engine, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
    """Take the lease if it is free or expired (one atomic statement either way)."""
    with engine.begin() as conn:
        taken = conn.execute(
            update(Lease)
            .where(Lease.name == name)  # type: ignore[arg-type]
            .where((Lease.expires_at < now) | (Lease.owner == owner))  # type: ignore[operator]
            .values(owner=owner, expires_at=now + ttl)
        ).rowcount
    if taken:
        return True
    try:
        with engine.begin() as conn:
            conn.execute(insert(Lease).values(name=name, owner=owner, expires_at=now + ttl))
    except IntegrityError:
        return _take_from_the_dead(engine, name, owner, now=now, ttl=ttl)
    return True


def _owner_is_dead(owner: str) -> bool:
    """True only for a holder on this machine whose process no longer exists."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _take_from_the_dead(engine: Engine, name: str, owner: str, *, now: datetime,
                        ttl: timedelta) -> bool:
    """A holder killed with -9 never releases; waiting out its lease would stall the
    mailbox for the whole TTL. On the same machine we can see it is gone."""
    with engine.begin() as conn:
        holder = conn.execute(select(Lease.owner).where(Lease.name == name)).scalar()  # type: ignore[arg-type]
        if holder is None or not _owner_is_dead(holder):
            return False
        return bool(conn.execute(
            update(Lease).where(Lease.name == name, Lease.owner == holder)  # type: ignore[arg-type]
            .values(owner=owner, expires_at=now + ttl)
        ).rowcount)


def release(engine: Engine, name: str, owner: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(Lease).where(Lease.name == name, Lease.owner == owner)  # type: ignore[arg-type]
                     .values(expires_at=datetime(1970, 1, 1, tzinfo=UTC)))


@contextmanager
def held(engine: Engine, name: str, *, ttl: timedelta) -> Iterator[bool]:
    """`with held(...) as mine:` — mine is False when another worker has it.

    Leases run on the wall clock, not the campaign's injected `now`: they are about
    processes that may crash, and must expire in real time."""
    owner = new_owner()
    mine = acquire(engine, name, owner, now=datetime.now(UTC), ttl=ttl)
    try:
        yield mine
    finally:
        if mine:
            release(engine, name, owner)
