"""Forms read from paper, for people: what was read from a picture and which cells a person
should check (kept with each submission, said in the receipt), and the admin's corrections
put back into the rows each time a mail is stored, so they survive `formbot reprocess`."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from formbot.poll.reading import Parsed
from parsers.files import FileResult
from parsers.forms import FormData, correct_value
from store.corrections import corrections_for

PICTURE_NOTE = ("{forms}是从图片（扫描件或照片）中自动识别的，可能有识别错误。"
                "请核对下列单元格，如有错误请回复说明，或直接发送 Word/Excel 文件：")
PICTURE_NOTE_CLEAN = ("{forms}是从图片（扫描件或照片）中自动识别的，请核对收取的内容；"
                      "如有错误请回复说明，或直接发送 Word/Excel 文件。")
MAX_LISTED = 20    # a receipt names this many cells at most; the console shows them all


def _files_of(files: list[FileResult], names: list[str]) -> list[FileResult]:
    return [f for f in files if f.name in names and f.paper is not None]


def apply_corrections(session: Session, message_key: str,
                      forms: dict[str, tuple[FormData, list[str]]]) -> set[tuple[str, int, str]]:
    """Put the admin's corrections of this mail into its forms' rows; returns the cells
    corrected, as (form key, row 序号, field key)."""
    done: set[tuple[str, int, str]] = set()
    for fix in corrections_for(session, message_key):
        form = forms.get(fix.form)
        if form is not None and correct_value(form[0], fix.seq, fix.field, fix.value):
            done.add((fix.form, fix.seq, fix.field))
    return done


def paper_marks(parsed: Parsed, form: FormData, names: list[str],
                corrected: set[tuple[str, int, str]]) -> dict[str, Any]:
    """`Submission.source` and `Submission.doubts` for one form of the mail."""
    files = _files_of(parsed.files, names)
    if not files:
        return {"source": None, "doubts": []}
    source = "ocr" if any(f.paper.from_picture for f in files) else "pdf"  # type: ignore[union-attr]
    keys = {f.label: f.key for f in form.spec.data_fields}
    doubts = []
    for result in files:
        for doubt in result.paper.doubts:  # type: ignore[union-attr]
            key = keys.get(doubt.field or "")
            if doubt.form != form.spec.key or (form.spec.key, doubt.row, key) in corrected:
                continue
            doubts.append({"row": doubt.row, "field": doubt.field, "field_key": key,
                           "text": doubt.text, "reasons": list(doubt.reasons),
                           "page": doubt.page, "file": result.name, "sha256": result.sha256,
                           "sentence": doubt.describe()})
    return {"source": source, "doubts": doubts}


def picture_note(forms: dict[str, tuple[FormData, list[str]]],
                 files: list[FileResult]) -> str | None:
    """The receipt's note on forms read from a picture, naming the doubtful cells."""
    read: list[tuple[str, list[str]]] = []
    for form, names in forms.values():
        own = _files_of(files, names)
        if not any(f.paper.from_picture for f in own):  # type: ignore[union-attr]
            continue
        doubts = [d.describe() for f in own for d in f.paper.doubts  # type: ignore[union-attr]
                  if d.form == form.spec.key]
        read.append((form.spec.short, doubts))
    if not read:
        return None
    titles = "、".join(f"《{short}》" for short, _ in read)
    cells = [f"{short} {sentence}" for short, doubts in read for sentence in doubts]
    if not cells:
        return PICTURE_NOTE_CLEAN.format(forms=titles)
    listed = [f"\n  - {c}" for c in cells[:MAX_LISTED]]
    more = f"\n  - 另有 {len(cells) - MAX_LISTED} 处，请一并核对" if len(cells) > MAX_LISTED else ""
    return PICTURE_NOTE.format(forms=titles) + "".join(listed) + more
