"""Forms read from paper, in the console: the page image beside the rows, the doubtful
cells listed, and the admin's correction of a cell (audited, kept apart, re-applied on
every re-read of the mail: `formbot/poll/paperwork.py`)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from loguru import logger
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from errors import FormbotError
from formbot.settings.config import Settings
from ingest.rawstore import read_raw
from parsers.files import sniff, unpacked
from parsers.forms import FormData, FormRow, Problem, correct_value
from parsers.mail import parse_mail
from parsers.specs import FormSpec
from store import audit
from store.corrections import CellCorrection, corrections_for, put_correction
from store.models import AttachmentRecord, Message, RowRecord, Submission

PAGE_PIXELS = 1800          # the long side of a page shown in the console
SOURCE = {"ocr": "从图片（扫描件或照片）识别", "pdf": "从 PDF 文字层读取"}


@dataclass
class PaperView:
    """What the message page shows beside one submission read from paper."""

    source: str
    # (the mail's attachment's sha256, page number, the file's name as read: "x.zip/scan.jpg"
    # for a scan inside a zip, the inner attachment's name for one in a forwarded mail)
    pages: list[tuple[str, int, str]]
    doubts: list[dict]
    corrections: list[CellCorrection] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)   # (key, label)


def paper_views(session: Session, message: Message, submissions: list[Submission],
                forms: Sequence[FormSpec]) -> dict[int, PaperView]:
    """Per submission id, for those read from a PDF or a picture."""
    records = list(session.exec(select(AttachmentRecord).where(
        AttachmentRecord.message_ref == message.id).order_by(col(AttachmentRecord.id))))
    fixes = corrections_for(session, message.key)
    views: dict[int, PaperView] = {}
    for sub in submissions:
        if not sub.source or sub.id is None:
            continue
        names = set(sub.file_name.split("、"))
        pages = list(dict.fromkeys((d["sha256"], d["page"], d.get("file") or "")
                                   for d in sub.doubts if d.get("sha256")))
        if not pages:
            pages = [(r.sha256, 1, r.name) for r in records
                     if r.name in names and r.kind in ("image", "pdf") and r.sha256]
        spec = next((f for f in forms if f.key == sub.form), None)
        if spec is None:   # a form no longer declared: nothing to correct against
            continue
        views[sub.id] = PaperView(
            SOURCE.get(sub.source, sub.source), pages, list(sub.doubts),
            [f for f in fixes if f.form == sub.form],
            [(f.key, f.label) for f in spec.data_fields])
    return views


def _paper_file(message: Message, sha256: str, name: str) -> bytes | None:
    """The picture or PDF read as `name` from the attachment `sha256` of the kept mail: the
    attachment itself, or the file inside it (a zip, a forwarded mail) that bore that name."""
    envelope = parse_mail(read_raw(message.raw_path))
    for attachment in envelope.attachments:
        if attachment.sha256 != sha256:
            continue
        for inner_name, data in unpacked(attachment.name, attachment.data):
            if sniff(data) in ("image", "pdf") and (not name or inner_name == name):
                return data
    return None


def page_image(message: Message, sha256: str, page: int, name: str = "") -> bytes:
    """One page of a kept picture or PDF as PNG: a picture turned upright (EXIF) and scaled
    to the screen, a PDF page rendered (pypdfium2). `name`: the file's name as read, which
    finds it inside a zip or a forwarded mail. Raises FormbotError when there is none."""
    from PIL import Image, ImageOps

    data = _paper_file(message, sha256, name)
    if data is None:
        raise FormbotError("这封邮件里没有找到这个图片或 PDF，请下载邮件原件查看")
    kind = sniff(data)
    try:
        if kind == "image":
            with Image.open(io.BytesIO(data)) as opened:
                image = ImageOps.exif_transpose(opened).convert("RGB")
        elif kind == "pdf":
            import pypdfium2

            document = pypdfium2.PdfDocument(data)
            try:
                if not 1 <= page <= len(document):
                    raise FormbotError(f"这个 PDF 没有第 {page} 页")
                pdf_page = document[page - 1]
                scale = PAGE_PIXELS / max(pdf_page.get_size())
                image = pdf_page.render(scale=scale).to_pil().convert("RGB")
            finally:
                document.close()
        else:
            raise FormbotError("这个附件不是图片或 PDF，无法显示页面")
    except FormbotError:
        raise
    except Exception as exc:  # a broken picture: a sentence, not a traceback
        logger.warning("console.page_image_failed error={}", exc)
        raise FormbotError("这个附件无法显示为图片，请下载邮件原件查看") from exc
    image.thumbnail((PAGE_PIXELS, PAGE_PIXELS))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False)
    return out.getvalue()


def correct_cell(settings: Settings, *, engine: Engine, message_id: int, form: str,
                 seq: int, field_key: str, value: str, now: datetime, who: str) -> str:
    """Keep the admin's correction of one cell, audited, and put it into the stored row at
    once: the value read by the field's kind, the cell's problems and doubt replaced. The
    mail is not read again (OCR costs seconds a page); `formbot reprocess`, which does read
    it again, applies the kept correction (`formbot/poll/paperwork.py`). Returns a sentence
    for the admin."""
    spec = next((f for f in settings.forms if f.key == form), None)
    label = next((f.label for f in spec.data_fields if f.key == field_key), None) \
        if spec else None
    if spec is None or label is None:
        raise FormbotError("没有这个表格栏目，请刷新页面后再试")
    value = value.strip()
    if not value or len(value) > 2000:
        raise FormbotError("请填写更正后的内容（不超过 2000 字）")
    with Session(engine) as session:
        message = session.get(Message, message_id)
        if message is None:
            raise FormbotError("没有这封邮件（可能已被删除），请刷新页面")
        sub = session.exec(select(Submission).where(
            Submission.message_ref == message_id, Submission.form == form)).first()
        record = session.exec(select(RowRecord).where(
            RowRecord.submission_id == sub.id, RowRecord.seq == seq)).first() \
            if sub is not None else None
        if sub is None or record is None:
            raise FormbotError(f"{spec.short}没有第 {seq} 行，请核对行号")
        was = record.raw.get(field_key, "")
        key = message.key
        put_correction(session, message_key=key, form=form, seq=seq, field=field_key,
                       value=value, was=was, at=now, who=who)
        _correct_row(spec, sub, record, field_key, value)
        audit.record(session, at=now, who=who, action="correct-cell",
                     detail=f"邮件 {key} {spec.short}第{seq}行“{label}”：“{was}” → “{value}”")
        session.commit()
    return f"已更正{spec.short}第{seq}行“{label}”为“{value}”；重新读取这封邮件时也会保留。"


def _correct_row(spec: FormSpec, sub: Submission, record: RowRecord, field_key: str,
                 value: str) -> None:
    """The stored row as the pipeline would store it with the correction applied: the same
    reading by kind (`parsers.forms.correct_value`), on this one cell."""
    row = FormRow(record.seq, dict(record.data), dict(record.raw))
    correct_value(FormData(spec, rows=[row]), record.seq, field_key, value)
    label = next(f.label for f in spec.data_fields if f.key == field_key)
    own = Problem("", row=record.seq, field=label).describe()   # "第2行“…”：": this cell's
    # New objects, not changed in place: the JSON columns are written only when replaced.
    record.data, record.raw = dict(row.values), dict(row.raw)
    record.problems = [p for p in record.problems if not p.startswith(own)] + \
        [p.describe() for p in row.problems]
    sub.doubts = [d for d in sub.doubts
                  if not (d.get("row") == record.seq and d.get("field_key") == field_key)]
