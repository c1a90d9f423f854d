"""Which registered unit a form's `填报单位` means. Pure: the registry is passed in.

Clerks write their unit's name many ways: with or without 杨浦区/上海市, 工会
or 总工会 or 工会委员会, full-width brackets, spaces, or without the 街道/镇 of their
place (`殷行工会`). Names are compared after stripping those; a name without its kind
of place is taken only when one unit alone has that place name (`_same_place`); a
fuzzy match is taken only when it is both strong and
clearly ahead of the runner-up, because a wrong unit is worse than asking the
admin (an unmatched submission waits for a person).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from .values import clean_text

# Justified by tests/parsers/test_units.py: 88 accepts one-character slips (定海路 / 定海街道)
# and rejects neighbours that share most characters (控江路 vs 江浦路).
FUZZY_THRESHOLD = 88.0
FUZZY_MARGIN = 6.0

_PREFIXES = ("中国", "上海市", "上海", "杨浦区", "杨浦", "区")
# What kind of place a unit serves, after its own name: `殷行街道` is 殷行 + 街道. Clerks
# drop it (`殷行工会`); the longer spellings first, each with the kind it stands for.
_KINDS = (("街道办事处", "街道"), ("街道办", "街道"), ("街道", "街道"), ("镇", "镇"),
          ("乡", "乡"), ("社区", "社区"))
MIN_CORE = 2   # one character names no place: `江` must not find 江浦路
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
    """The distinctive core of a unit name: `上海市杨浦区定海路街道总工会` → `定海路街道`.
    Cached for names of a name's length: every form of every mail is compared with every
    registered unit's names (a long text from a stranger's form is not kept)."""
    return _cached_key(text) if len(text) <= 64 else _unit_key(text)


@lru_cache(maxsize=4096)
def _cached_key(text: str) -> str:
    return _unit_key(text)


def _unit_key(text: str) -> str:
    # `定海路街道总工会（盖章）`: the stamp note is not part of the name.
    core = _STAMP.sub("", clean_text(text))
    # `__殷行街道总工会____`: typed over the template's underline, which is no part either.
    core = re.sub(r"[\s()（）【】\[\]“”\"'·.,，。:：_＿]", "", core)
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


def unit_core(key: str) -> tuple[str, str | None]:
    """A unit key split into its place name and the kind of place: `殷行街道` →
    (`殷行`, `街道`), `五角场镇` → (`五角场`, `镇`), `殷行` → (`殷行`, None)."""
    for suffix, kind in _KINDS:
        if key.endswith(suffix) and len(key) - len(suffix) >= MIN_CORE:
            return key[: -len(suffix)], kind
    return key, None


def _same_place(key: str, units: list[UnitRef]) -> list[UnitRef]:
    """Units whose place name is `key`'s, when the text left out the kind of place
    (`殷行工会` for 殷行街道总工会) or gave the same kind another way (`殷行街道办事处`).
    A different kind is a different unit: 五角场镇 is not 五角场街道."""
    core, kind = unit_core(key)
    if len(core) < MIN_CORE:
        return []
    found = {
        u.id: u for u in units for name in (u.name, *u.aliases)
        if (theirs := unit_core(unit_key(name)))[0] == core and kind in (None, theirs[1])
    }
    return list(found.values())


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
    same_place = _same_place(key, units)
    if len(same_place) == 1:
        return Match(same_place[0], "name")  # the name without 街道/镇 is still the name
    if same_place:
        # 五角场 when 五角场街道 and 五角场镇 are both registered: which one is for the
        # admin to say; a fuzzy score would pick the shorter name, not the right one.
        return None
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


def named_in(text: str, units: Iterable[UnitRef]) -> UnitRef | None:
    """The one registered unit whose name, alias or distinctive core (`定海路街道`)
    appears in `text` (a file name, a subject): the last resort when no form says
    which unit it is. None when none or several do."""
    text = clean_text(text)
    found: dict[int | None, tuple[int, UnitRef]] = {}
    for unit in units:
        names = (unit.name, *unit.aliases)
        keys = {n for n in names if n} | {k for n in names if len(k := unit_key(n)) >= 3}
        hit = max((len(k) for k in keys if k in text), default=0)
        if hit:
            found[unit.id] = (hit, unit)
    if not found:
        return None
    ranked = sorted(found.values(), key=lambda pair: pair[0], reverse=True)
    if len(ranked) > 1 and ranked[0][0] == ranked[1][0]:
        return None
    return ranked[0][1]
