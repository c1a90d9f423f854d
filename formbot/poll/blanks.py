"""The blank forms the bot's mail carries: a declaration's `template`, read when a
reminder or a receipt asks a unit for that form, so the unit need not look for the
电子版 on a website.

Only a template that exists and is small enough goes out; anything else is logged and
the mail goes without it (a reminder is never held up by a missing file).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from loguru import logger

from formbot.settings.config import Settings
from notifier.compose import Attachment
from parsers.specs import FormSpec

# A blank form is a few dozen KB; a bigger file is a mistake (a filled export, a scan),
# and every reminder would carry it to every unit.
MAX_TEMPLATE_BYTES = 4 * 1024 * 1024

# Not left to mimetypes alone: its table depends on the machine's /etc/mime.types.
MIME = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".doc": "application/msword",
    ".xls": "application/vnd.ms-excel",
    ".wps": "application/vnd.ms-works",
    ".et": "application/vnd.ms-excel",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
}


def _mime(path: Path) -> str:
    suffix = path.suffix.lower()
    return MIME.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def blank_form(spec: FormSpec) -> Attachment | None:
    """The form's template as an attachment, or None (no template, missing, too big)."""
    if not spec.template:
        return None
    path = Path(spec.template)
    try:
        size = path.stat().st_size
        if size > MAX_TEMPLATE_BYTES:
            logger.warning("blank_form.too_big form={} path={} bytes={} limit={}",
                           spec.key, path, size, MAX_TEMPLATE_BYTES)
            return None
        data = path.read_bytes()
    except OSError as exc:
        logger.warning("blank_form.unreadable form={} path={} error={}", spec.key, path,
                       exc.strerror or type(exc).__name__)
        return None
    return path.name, data, _mime(path)


def load_blanks(forms: Iterable[FormSpec]) -> dict[str, Attachment]:
    """Each form's template that can go out, by form key (read once for a reminder round)."""
    return {spec.key: blank for spec in forms if (blank := blank_form(spec)) is not None}


def chosen(blanks: Mapping[str, Attachment], keys: Iterable[str]) -> list[Attachment]:
    """The templates of `keys`, in that order, each file once (two forms may share one
    file: the notice's 附件1 and 附件2 in one document)."""
    found: list[Attachment] = []
    for key in keys:
        blank = blanks.get(key)
        if blank is not None and blank not in found:
            found.append(blank)
    return found


def blank_forms(forms: Iterable[FormSpec], keys: Collection[str]) -> list[Attachment]:
    """The templates of the forms `keys` names, in declared order, each file once."""
    wanted = [spec for spec in forms if spec.key in keys]
    return chosen(load_blanks(wanted), [spec.key for spec in wanted])


def receipt_blanks(forms: Iterable[FormSpec], *, unit_known: bool, has_forms: bool,
                   missing: Collection[str],
                   missing_by_unit: Mapping[str, Collection[str]] | None = None,
                   ) -> list[Attachment]:
    """The blank forms a receipt asks for: what the unit (or each unit a mail was split
    between) still owes; with no unit and no form read, every form (the receipt asks
    for them all again)."""
    forms = list(forms)
    if missing_by_unit:
        keys: set[str] = set().union(*missing_by_unit.values())
    elif unit_known:
        keys = set(missing)
    elif not has_forms:
        keys = {spec.key for spec in forms}
    else:
        keys = set()
    return blank_forms(forms, keys)


def replies_reach_mailbox(settings: Settings) -> bool:
    """Whether "reply to this mail" brings the forms to the mailbox the bot reads: the
    reply goes to the sender, smtp.from_address."""
    read = {box.username.lower() for box in settings.all_mailboxes()}
    return settings.smtp.from_address.lower() in read
