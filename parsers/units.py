"""Which registered unit a form's `填报单位` means. Pure: the registry is passed in.

Clerks write their unit's name many ways: with or without 杨浦区/上海市, 工会
or 总工会 or 工会委员会, full-width brackets, spaces. Names are compared after
stripping those; a fuzzy match is taken only when it is both strong and
clearly ahead of the runner-up, because a wrong unit is worse than asking the
admin (an unmatched submission waits for a person).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from .values import clean_text

# Justified by tests/test_units.py: 88 accepts one-character slips (定海路 / 定海街道)
# and rejects neighbours that share most characters (控江路 vs 江浦路).
FUZZY_THRESHOLD = 88.0
FUZZY_MARGIN = 6.0

_PREFIXES = ("中国", "上海市", "上海", "杨浦区", "杨浦", "区")
_STAMP = re.compile(r"[（(]\s*(盖章|公章|签章|章)\s*[)）]")
_SUFFIXES = ("工会委员会", "工会联合会", "总工会", "联合工会", "工会", "委员会", "工委")


@dataclass(frozen=True)
class UnitRef:
    id: int
    name: str
    aliases: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    unit: UnitRef
    method: str        # address | name | alias | fuzzy
    score: float = 100.0


def unit_key(text: str) -> str:
    """The distinctive core of a unit name: `上海市杨浦区定海路街道总工会` → `定海路街道`."""
    # `定海路街道总工会（盖章）`: the stamp note is not part of the name.
    core = _STAMP.sub("", clean_text(text))
    core = re.sub(r"[\s()（）【】\[\]“”\"'·.,，。:：]", "", core)
    changed = True
    while changed and core:
        changed = False
        for prefix in _PREFIXES:
            if core.startswith(prefix) and len(core) > len(prefix) + 1:
                core, changed = core[len(prefix):], True
        for suffix in _SUFFIXES:
            if core.endswith(suffix) and len(core) > len(suffix) + 1:
                core, changed = core[: -len(suffix)], True
    return core


def by_address(address: str, units: Iterable[UnitRef]) -> Match | None:
    address = address.strip().lower()
    if not address:
        return None
    found = [u for u in units if address in (e.lower() for e in u.emails)]
    # One address registered for two units tells us nothing: leave it to the name.
    return Match(found[0], "address") if len(found) == 1 else None


def by_name(text: str | None, units: Iterable[UnitRef]) -> Match | None:
    if not text or not clean_text(text):
        return None
    units = list(units)
    key = unit_key(text)
    if not key:
        return None
    exact = [u for u in units if unit_key(u.name) == key]
    if len(exact) == 1:
        return Match(exact[0], "name")
    alias = [u for u in units if any(unit_key(a) == key for a in u.aliases)]
    if len(alias) == 1 and not exact:
        return Match(alias[0], "alias")
    if exact or alias:
        return None  # ambiguous registry: two units answer to this name
    scored = sorted(
        ((max(fuzz.ratio(key, unit_key(n)) for n in (u.name, *u.aliases)), u) for u in units),
        key=lambda pair: pair[0],
        reverse=True,
    )
    if not scored or scored[0][0] < FUZZY_THRESHOLD:
        return None
    if len(scored) > 1 and scored[0][0] - scored[1][0] < FUZZY_MARGIN:
        return None
    return Match(scored[0][1], "fuzzy", scored[0][0])


def identify(address: str, unit_text: str | None, units: Iterable[UnitRef]) -> Match | None:
    """Registered address first, then the name written on the form."""
    units = list(units)
    return by_address(address, units) or by_name(unit_text, units)
