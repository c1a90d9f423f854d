"""Forms that come back on paper: PDFs, scans and photos → the lines `forms.py` reads.

A PDF page with a text layer is read exactly (`pdf.py`); a scan, a photo or a PDF page
that is only a picture goes to the OCR worker (`ocr/`). Either way the result is the
same `Line`s a .docx gives, so recognition, normalisation and validation stay in
`forms.py`. What a person should check comes beside them, in `PaperRead`:
every cell's source (the text layer or OCR) and confidence, and the doubtful cells
(a low recognition score, seal ink over the cell, a low-resolution page, a header
that is not the declared one), mapped onto the form rows they ended up in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ParseError
from .headers import find_headers
from .ocr.text import fix_seq
from .ocr.worker import OcrFailed, OcrWorker, WorkerLimits
from .tables import Line

BROKEN_PDF = "PDF 文件已损坏或无法打开，请重新导出，或发送 Word 或 Excel 文件"
MAX_OCR_PAGES = 6   # a form is one or two pages; more pictures wait for a person

# Why a cell is doubtful (keys; `DOUBT_TEXT` says them to a person).
LOW_SCORE, SEAL, LOW_RES, HEADER = "low_score", "seal", "low_resolution", "header"
UNREAD = "unread"
DOUBT_TEXT = {LOW_SCORE: "识别把握不大", SEAL: "被印章遮挡", LOW_RES: "图片清晰度低",
              HEADER: "表头与通知的表格不一致", UNREAD: "可能有字没有识别出来"}
SCORE_UNDER_SEAL = 0.985      # seal ink hides strokes even when the score stays high
SCORE_LOW_RES = 0.97


@dataclass
class CellRead:
    """One table cell as read: where from, how sure, why it may be wrong."""

    text: str
    source: str                   # "ocr" | "pdf" (the PDF's text layer)
    confidence: float             # 0..1; 1.0 for a text layer
    page: int
    row: int                      # in the page's table, 0-based, header row included
    col: int
    doubts: tuple[str, ...] = ()

    @property
    def doubtful(self) -> bool:
        return bool(self.doubts)


@dataclass
class Doubt:
    """A doubtful cell where the form's data ended up: the row's 序号 and the field."""

    form: str                     # FormSpec key
    row: int | None               # FormRow.seq; None for a header cell
    field: str | None             # the field's label
    text: str
    reasons: tuple[str, ...]
    page: int

    def describe(self) -> str:
        where = (f"第{self.row}行" if self.row else "表头") + (f"“{self.field}”" if self.field
                                                            else "")
        why = "、".join(DOUBT_TEXT.get(r, r) for r in self.reasons)
        return f"第{self.page}页{where}：“{self.text}”（{why}），请核对"


@dataclass
class PageNote:
    number: int
    source: str                   # "pdf" | "ocr" | "skipped" | "failed"
    problem: str | None = None
    low_resolution: bool = False


@dataclass
class PaperRead:
    kind: str                                  # "pdf" | "image"
    pages: list[PageNote] = field(default_factory=list)
    cells: dict[int, list[CellRead]] = field(default_factory=dict)   # line index → cells
    doubts: list[Doubt] = field(default_factory=list)

    @property
    def from_picture(self) -> bool:
        """Whether any value was read by OCR (the receipt says so)."""
        return any(page.source == "ocr" for page in self.pages)

    @property
    def problems(self) -> list[str]:
        return [f"第{p.number}页：{p.problem}" for p in self.pages if p.problem]


def _doubts(cell: dict, page_low_res: bool) -> tuple[str, ...]:
    score = cell.get("confidence", 1.0)
    if cell.get("unread"):   # ink seen but not read: the text may lack a character, or be empty
        return (UNREAD,) + ((SEAL,) if cell.get("seal") else ())
    if not cell.get("text"):
        return ()
    found = []
    if score < 0.93:
        found.append(LOW_SCORE)
    if cell.get("seal") and score < SCORE_UNDER_SEAL:
        found.append(SEAL)
    if page_low_res and score < SCORE_LOW_RES:
        found.append(LOW_RES)
    return tuple(found)


class _Builder:
    def __init__(self, kind: str) -> None:
        self.lines: list[Line] = []
        self.paper = PaperRead(kind)
        self.table = -1
        self.last_width: int | None = None     # the previous page ended in a table this wide

    def text(self, text: str) -> None:
        self.lines.append(Line((text,), None))
        self.last_width = None

    def table_rows(self, page: int, rows: list[list[str]], joined: list[list[bool]],
                   reads: list[list[CellRead]] | None, *, first_on_page: bool) -> None:
        width = len(rows[0]) if rows else 0
        continued = first_on_page and self.last_width == width and self.table >= 0
        if continued and self._header_again(rows[0]):
            rows, joined = rows[1:], joined[1:]
            reads = reads[1:] if reads else reads
        if not continued:
            self.table += 1
        for index, cells in enumerate(rows):
            flags = tuple(joined[index]) if any(joined[index]) else ()
            if reads:
                self.paper.cells[len(self.lines)] = reads[index]
            self.lines.append(Line(tuple(cells), self.table, f"第{page}页", flags))
        self.last_width = width

    def _header_again(self, first: list[str]) -> bool:
        """Word repeats the header row on each page ("重复标题行")."""
        previous = [line for line in self.lines if line.table == self.table]
        return bool(previous) and list(previous[0].cells) == first


def _page_from_ocr(builder: _Builder, number: int, page: dict) -> None:
    low_res = bool(page.get("low_resolution"))
    builder.paper.pages.append(PageNote(number, "ocr", low_resolution=low_res))
    for line in page.get("above", []):
        builder.text(line["text"])
    rows = page.get("rows") or []
    if rows:
        texts, joined, reads = [], [], []
        above: list[str] = []
        for r, row in enumerate(rows):
            cells_text, flags, cell_reads = [], [], []
            for c, cell in enumerate(row):
                if not cell:        # covered by a merged cell: across, or down from above
                    down = r > 0 and c < len(above) and _covered_from_above(rows, r, c)
                    text = above[c] if down else ""
                    cells_text.append(text)
                    flags.append(not down)
                    cell_reads.append(CellRead(text, "ocr", 1.0, number, r, c))
                    continue
                text = cell["text"]
                if c == 0 and r > 0:
                    text = fix_seq(text)
                cells_text.append(text)
                flags.append(False)
                cell_reads.append(CellRead(text, "ocr", float(cell.get("confidence", 1.0)),
                                           number, r, c, _doubts(cell, low_res)))
            texts.append(cells_text)
            joined.append(flags)
            reads.append(cell_reads)
            above = cells_text
        builder.table_rows(number, texts, joined, reads, first_on_page=not page.get("above"))
    for line in page.get("below", []):
        builder.text(line["text"])


def _covered_from_above(rows: list[list[dict]], r: int, c: int) -> bool:
    for up in range(r - 1, -1, -1):
        cell = rows[up][c]
        if cell:
            return cell.get("rowspan", 1) > r - up
    return False


def read_paper(kind: str, data: bytes, *, limits: WorkerLimits | None = None,
               max_ocr_pages: int = MAX_OCR_PAGES) -> tuple[list[Line], PaperRead]:
    """A PDF or an image → lines for `forms.read_forms`, and what was read how."""
    builder = _Builder(kind)
    with OcrWorker(limits) as worker:
        if kind == "image":
            _ocr_page(builder, worker, 1, data, max_ocr_pages)
            return builder.lines, builder.paper
        from .pdf import pdf_pages

        try:
            pages, total = pdf_pages(data)
        except (MemoryError, RecursionError):
            raise
        except Exception as exc:  # pdfminer's many errors for a truncated or odd file
            raise ParseError(BROKEN_PDF) from exc
        for page in pages:
            if page.image is not None:
                _ocr_page(builder, worker, page.number, page.image, max_ocr_pages)
                continue
            builder.paper.pages.append(PageNote(page.number, "pdf"))
            first = True
            for block in page.blocks:
                if isinstance(block, str):
                    builder.text(block)
                    first = False
                else:
                    builder.table_rows(page.number, block.rows, block.joined, None,
                                       first_on_page=first)
                    first = False
        for number in range(len(pages) + 1, total + 1):
            builder.paper.pages.append(PageNote(number, "skipped", "页数过多，未读取"))
    return builder.lines, builder.paper


def _ocr_page(builder: _Builder, worker: OcrWorker, number: int, image: bytes,
              max_pages: int) -> None:
    if sum(p.source in ("ocr", "failed") for p in builder.paper.pages) >= max_pages:
        builder.paper.pages.append(PageNote(number, "skipped",
                                            f"图片页超过 {max_pages} 页，未识别，请发送 Word 文件"))
        return
    try:
        page = worker.read(image)
    except OcrFailed as exc:
        builder.paper.pages.append(PageNote(number, "failed", exc.reason))
        return
    _page_from_ocr(builder, number, page)


def mark_doubts(paper: PaperRead, lines: list[Line], forms: list[object]) -> None:
    """Map the doubtful OCR cells onto the rows and fields of the forms read from `lines`;
    flag header cells that do not match the declaration. `forms`: `forms.FormData`."""
    if not paper.cells:
        return
    headers = find_headers(lines)
    for start, header in headers:
        for index in range(header.rows):
            reads = paper.cells.get(start + index, [])
            for column, read in enumerate(reads):
                if read.text and column in header.unknown:
                    read.doubts = (*read.doubts, HEADER)
                if read.doubtful:
                    paper.doubts.append(Doubt(header.spec.key, None, None, read.text,
                                              read.doubts, read.page))
    for number, reads in sorted(paper.cells.items()):
        owner = next((h for s, h in reversed(headers) if s + h.rows <= number), None)
        if owner is None:
            continue
        for column, read in enumerate(reads):
            if not read.doubtful or column not in owner.columns:
                continue
            spec_field = owner.columns[column]
            row = _row_holding(forms, owner.spec.key, spec_field.key, read.text, reads[0].text)
            if row is None and not read.text:
                continue   # ink beside a blank row nobody filled: no row to check
            paper.doubts.append(Doubt(owner.spec.key, row, spec_field.label, read.text,
                                      read.doubts, read.page))


def _row_holding(forms: list[object], form_key: str, field_key: str, text: str,
                 seq_text: str) -> int | None:
    """The 序号 of the form row whose `field_key` holds `text`."""
    candidates = []
    for form in forms:
        if form.spec.key != form_key:  # type: ignore[attr-defined]
            continue
        for row in form.rows:  # type: ignore[attr-defined]
            raw = row.raw.get(field_key, "")
            if field_key == "seq" or (text in raw if text else not raw):
                candidates.append(row.seq)
    if seq_text.isdigit() and int(seq_text) in candidates:
        return int(seq_text)
    if not text:   # an empty cell is placed by its line's 序号 alone
        return None
    return candidates[0] if candidates else None
