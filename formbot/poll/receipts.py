"""From a parsed mail to the receipt facts: the bridge between parsers/ and notifier/."""

from __future__ import annotations

from datetime import date

from formbot.poll.paperwork import picture_note
from formbot.settings.config import Settings
from notifier.receipts import FormTaken, ReceiptFacts
from parsers.files import FileResult
from parsers.forms import FormData


def deadline_text(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def build_facts(
    settings: Settings,
    *,
    subject: str,
    unit_name: str | None,
    unit_text: str | None,
    forms: dict[str, tuple[FormData, list[str]]],
    files: list[FileResult],
    missing: set[str],
    notes: list[str],
    missing_by_unit: dict[str, set[str]] | None = None,
) -> ReceiptFacts:
    taken = tuple(
        FormTaken(
            title=form.spec.short,
            rows=len(form.rows),
            files=tuple(file_names),
            problems=tuple(p.describe() for p in form.all_problems),
        )
        for form, file_names in forms.values()
    )
    unreadable = tuple((f.name, f.problem) for f in files if f.problem)
    picture = picture_note(forms, files)     # read from a scan or photo: what to check
    notes = [*notes, picture] if picture else notes
    campaign = settings.campaign
    declared = settings.forms

    def named(keys: set[str]) -> tuple[str, ...]:   # in declared order
        return tuple(s.short for s in declared if s.key in keys)

    return ReceiptFacts(
        campaign_code=campaign.code,
        campaign_title=campaign.title,
        deadline=deadline_text(campaign.deadline),
        contact=campaign.contact,
        unit_name=unit_name,
        unit_text=unit_text,
        original_subject=subject,
        forms=taken,
        unreadable=unreadable,  # type: ignore[arg-type]
        notes=tuple(notes),
        missing=named(missing),
        missing_by_unit=tuple((name, named(keys))
                              for name, keys in (missing_by_unit or {}).items()),
        all_forms=tuple(f.short for f in declared),
    )
