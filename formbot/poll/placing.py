"""Which unit each form of a mail belongs to (CONTRACT.md, "What arrives"): per form, not
per mail, because a clerk of one unit sometimes sends another unit's form.

Per form, in this order: the unit its 填报单位 names exactly (name or alias); else the
sender's unit (a registered address, or one the admin confirmed); else a close match of
填报单位; else none (the mail waits as unmatched). Pure: the registry is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from parsers.units import Match, UnitRef, by_address, by_name

SENDER = "address"       # Match.method of a form filed by its sender's address
EXACT = ("name", "alias")


@dataclass(frozen=True)
class Placement:
    """Where a mail's forms go: `forms` maps each form key to its unit (None: unmatched)."""

    forms: dict[str, Match | None]
    sender: UnitRef | None            # the sender's own unit, when the address is known

    @property
    def complete(self) -> bool:
        return all(m is not None for m in self.forms.values())

    @property
    def units(self) -> dict[int, UnitRef]:
        """The units the forms went to, in form order."""
        found: dict[int, UnitRef] = {}
        for match in self.forms.values():
            if match is not None:
                found.setdefault(match.unit.id, match.unit)
        return found

    @property
    def mail_unit(self) -> UnitRef | None:
        """The unit the mail itself is filed under: the sender's when one of its forms went
        there, else the one unit all forms name, else the first form's. None when a form
        found no unit: then the whole mail waits for a person, as before."""
        if not self.forms or not self.complete:
            return self.sender if not self.forms else None
        units = self.units
        if self.sender is not None and self.sender.id in units:
            return self.sender
        return next(iter(units.values()))

    @property
    def crossed(self) -> dict[str, UnitRef]:
        """Forms that went to a unit other than the sender's: both units are told and the
        admin sees the mail flagged."""
        if self.sender is None:
            return {}
        return {key: m.unit for key, m in self.forms.items()
                if m is not None and m.unit.id != self.sender.id}


def sender_unit(address: str, units: list[UnitRef],
                learned: Mapping[str, int]) -> tuple[UnitRef | None, str]:
    """The unit whose registered (or admin-confirmed) address sent the mail, and how."""
    match = by_address(address, units)
    if match is not None:
        return match.unit, SENDER
    unit_id = learned.get(address.strip().lower())
    found = next((u for u in units if u.id == unit_id), None)
    return found, "learned"


def place_forms(address: str, unit_texts: Mapping[str, str | None], units: list[UnitRef],
                learned: Mapping[str, int]) -> Placement:
    """Each form (key → its 填报单位 text) to its unit, by the contract's order."""
    sender, how = sender_unit(address, units, learned)
    placed: dict[str, Match | None] = {}
    for key, text in unit_texts.items():
        named = by_name(text, units)
        if named is not None and named.method in EXACT:
            placed[key] = named                        # the form says whose it is
        elif sender is not None:
            placed[key] = Match(sender, how)
        else:
            placed[key] = named                        # a close match, or none
    return Placement(placed, sender)


EVERY = "*"   # store/placements.py: a decision for every form of the mail


@dataclass(frozen=True)
class Decided:
    """What the admin decided about a mail's place (store/placements.py, audited when
    taken): it wins over `place_forms` on every re-read, so `formbot reprocess` never
    undoes a person. Empty when nobody decided anything."""

    mail: int | None = None            # the unit the whole mail was filed under
    rejected: bool = False             # a ※ sender rejected: every form waits unmatched
    forms: dict[str, int | None] = field(default_factory=dict)   # single forms moved

    @property
    def any(self) -> bool:
        return self.mail is not None or self.rejected or bool(self.forms)


def decided(stored: Mapping[str, int | None], *, filed_by_admin: int | None) -> Decided:
    """The decisions stored for a mail (form key or EVERY → unit id, None for no unit), and
    the unit an admin filed the whole mail under (`Message.match_method` admin)."""
    whole = stored.get(EVERY, filed_by_admin)
    return Decided(mail=whole, rejected=EVERY in stored and stored[EVERY] is None,
                   forms={k: v for k, v in stored.items() if k != EVERY})
