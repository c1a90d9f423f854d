"""A receipt's text from its facts, signed by the department (notifier/office.py): the one
place storing and the console's actions render `receipt.txt.j2`."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from formbot.settings.config import Settings
from notifier.compose import render
from notifier.office import NUMERALS, letterhead
from notifier.receipts import ReceiptFacts


def receipt_body(settings: Settings, facts: ReceiptFacts, *, now: datetime,
                 form_units: dict[str, str] | None = None, blanks: list[str] | None = None,
                 reply_here: bool = True) -> str:
    """`form_units`: form title → the unit it went to, for forms filed under a unit other
    than the mail's own. `blanks`: names of the blank forms attached to the receipt."""
    forms = tuple(dataclasses.replace(f, unit=(form_units or {}).get(f.title, f.unit))
                  for f in facts.forms)
    # A unit that has sent everything and writes without a form is told so, and asked for
    # nothing (issue 14 part 2).
    complete = bool(facts.unit_name) and not facts.missing and not facts.missing_by_unit
    words = letterhead(settings.smtp.from_name, facts.contact,
                       now.astimezone(settings.campaign.zone).date())
    return render("receipt.txt.j2", **{**facts.__dict__, "forms": forms, **words},
                  has_forms=facts.has_forms, complete=complete, numerals=NUMERALS,
                  blanks=blanks or [], reply_here=reply_here)
