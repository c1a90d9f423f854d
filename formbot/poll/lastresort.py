"""The unit of a mail whose forms do not say it, from the attachment's name or the
subject (`定海路街道-申报表.docx`): a last resort, after the form's 填报单位, the sender's
address and the addresses the admin confirmed, and flagged on the form so the unit and
the admin see how it was filed."""

from __future__ import annotations

from formbot.poll.reading import Parsed
from parsers.forms import NO_UNIT, Problem
from parsers.units import Match, UnitRef, named_in

FROM_FILE_NAME = "file_name"    # Message.match_method
FROM_SUBJECT = "subject"


def unit_from_names(parsed: Parsed, units: list[UnitRef]) -> Match | None:
    """The unit the attachments' names, else the subject, name; the forms lacking
    填报单位 get a problem saying where it was taken from instead."""
    if not parsed.forms:
        return None
    names = [name for _, files in parsed.forms.values() for name in files]
    for method, where, texts in ((FROM_FILE_NAME, "附件文件名", names),
                                 (FROM_SUBJECT, "邮件主题", [parsed.envelope.subject])):
        for text in texts:
            unit = named_in(text, units)
            if unit is None:
                continue
            note = Problem(f"表中未填写“填报单位”，已按{where}“{text}”归入“{unit.name}”，请核对")
            for form, _ in parsed.forms.values():
                if not form.unit_text:
                    form.problems = [p for p in form.problems if p.message != NO_UNIT]
                    form.problems.append(note)
            return Match(unit, method)
    return None
