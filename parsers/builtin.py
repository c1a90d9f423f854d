"""The built-in forms of 杨工〔2018〕14号, read from the package's YAML declaration on
first use (never at import), under the names callers have always used."""

from __future__ import annotations

from functools import cache

from parsers.declare import read_declarations
from parsers.specs import BUILTIN_PATH, FormSpec


@cache
def builtin_forms() -> tuple[FormSpec, ...]:
    """The forms of 杨工〔2018〕14号: what a campaign without `campaign.forms` collects.
    Read once per process from the package's YAML, through the same checks as an
    admin's declaration."""
    return read_declarations(BUILTIN_PATH)


def form_by_key(key: str, forms: tuple[FormSpec, ...] | None = None) -> FormSpec:
    return next(f for f in (builtin_forms() if forms is None else forms) if f.key == key)


def __getattr__(name: str) -> object:
    # FORMS, ACTIVITY, VOLUNTEER_TEAM: the built-in forms under the names callers have
    # always imported, loaded on first use rather than at import.
    if name == "FORMS":
        return builtin_forms()
    if name in ("ACTIVITY", "VOLUNTEER_TEAM"):
        return form_by_key(name.lower())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
