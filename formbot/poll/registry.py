"""The unit registry: config.yaml `units:`, `units_file:`, and `formbot units import`.

One rule when they disagree about a unit (same name): config.yaml wins over
units_file, which wins over an imported list. Units are never deleted, since
submissions and reminders point at them; a config or file unit that
disappears from its source is marked inactive and leaves status and reminders.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from errors import FormbotError
from formbot.settings.config import Settings
from parsers.registry import read_registry
from store import repo
from store.models import Unit

RANK = {"import": 1, "file": 2, "config": 3}


def _upsert(session: Session, existing: dict[str, Unit], name: str, aliases: list[str],
            emails: list[str], source: str) -> str:
    """'added', 'updated', 'same' or 'outranked' (a stronger source owns this name)."""
    unit = existing.get(name)
    if unit is None:
        unit = Unit(name=name, aliases=aliases, emails=emails, source=source)
        session.add(unit)
        existing[name] = unit
        return "added"
    if RANK[source] < RANK.get(unit.source, 0) and unit.active:
        return "outranked"
    changed = (unit.aliases, unit.emails, unit.source, unit.active) != (aliases, emails, source,
                                                                        True)
    unit.aliases, unit.emails, unit.source, unit.active = aliases, emails, source, True
    session.add(unit)
    return "updated" if changed else "same"


def sync_registry(settings: Settings, *, engine: Engine) -> None:
    """Bring config.yaml's units and its units_file into the database."""
    entries: list[tuple[str, list[str], list[str], str]] = []
    if settings.units_file:
        path = Path(settings.units_file)
        if not path.is_file():
            raise FormbotError(f"找不到单位名单文件 {path}（配置项 units_file）")
        entries += [(e.name, list(e.aliases), list(e.emails), "file")
                    for e in read_registry(path.read_bytes(), path.name)]
    entries += [(u.name, list(u.aliases), list(u.emails), "config") for u in settings.units]
    # Several processes start at once (cron, the worker, the admin): whoever inserts a unit
    # second meets the unique name and simply reads again.
    for attempt in range(3):
        try:
            _sync(engine, entries)
            return
        except IntegrityError:
            if attempt == 2:
                raise


def _sync(engine: Engine, entries: list[tuple[str, list[str], list[str], str]]) -> None:
    with Session(engine) as session:
        existing = {u.name: u for u in repo.all_units(session=session)}
        for name, aliases, emails, source in entries:
            _upsert(session, existing, name, aliases, emails, source)
        present = {name for name, *_ in entries}
        for unit in existing.values():
            if unit.source in ("config", "file") and unit.name not in present and unit.active:
                unit.active = False
                session.add(unit)
        session.commit()


def import_units(settings: Settings, *, engine: Engine, path: Path) -> tuple[int, int, list[str]]:
    """`formbot units import FILE`: (added, updated, names owned by config.yaml or units_file)."""
    entries = read_registry(path.read_bytes(), path.name)
    counts = {"added": 0, "updated": 0, "same": 0, "outranked": 0}
    outranked: list[str] = []
    with Session(engine) as session:
        existing = {u.name: u for u in repo.all_units(session=session)}
        for entry in entries:
            result = _upsert(session, existing, entry.name, list(entry.aliases),
                             list(entry.emails), "import")
            counts[result] += 1
            if result == "outranked":
                outranked.append(entry.name)
        session.commit()
    return counts["added"], counts["updated"], outranked


def list_units(*, engine: Engine) -> list[Unit]:
    with Session(engine) as session:
        return repo.all_units(session=session, include_inactive=True)


def known_senders(*, engine: Engine) -> dict[int, list[str]]:
    """Per unit id, the addresses the admin confirmed for it in the console."""
    with Session(engine) as session:
        return repo.confirmed_addresses(session=session)
