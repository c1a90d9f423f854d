"""A PDF's pages → tables and the text around them, or page images for OCR.

WPS's and Word's "输出为PDF" keep a text layer: pdfplumber reads its ruled tables
exactly (measured: every cell of the sample forms), and the page's other text lines
(title, 填报单位, 注, the footer) in reading order. A page with no characters, or only
`(cid:…)` glyphs (a font without a Unicode map), is a picture of a page: it is
rendered and read by OCR instead (`paper.py`).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from .ocr.text import join_lines

MAX_PAGES = 20        # a form is one or two pages; a 300-page PDF is not a form
RENDER_DPI = 200      # what the OCR was measured at; 150 still reads, slower text less
MAX_RENDER_SIDE = 3000
_PAGE_NUMBER = re.compile(r"^(第\s*\d+\s*页.*|-?\s*\d+\s*-?|\d+\s*/\s*\d+|Page \d+.*)$")


@dataclass
class PdfTable:
    rows: list[list[str]]
    joined: list[list[bool]]          # cell merged into the one to its left


@dataclass
class PdfPage:
    number: int                       # 1-based
    blocks: list[str | PdfTable] = field(default_factory=list)   # in reading order
    image: bytes | None = None        # PNG of a page with no usable text layer


def _cell_grid(table: object) -> PdfTable:
    """A pdfplumber table with merged cells resolved: a cell merged across columns is
    kept in its first column (the others `joined`, as `tables.docx_lines` does), a cell
    merged down rows is repeated in each (as Word and Excel readers do)."""
    raw = table.extract()  # type: ignore[attr-defined]
    rows_geo = table.rows  # type: ignore[attr-defined]
    xs: dict[int, float] = {}
    for r in rows_geo:
        for c, box in enumerate(r.cells):
            if box is not None:
                xs.setdefault(c, (box[0] + box[2]) / 2)
    spans = list(table.cells)  # type: ignore[attr-defined]
    rows: list[list[str]] = []
    joined: list[list[bool]] = []
    for r, values in enumerate(raw):
        texts: list[str] = []
        flags: list[bool] = []
        ry = (rows_geo[r].bbox[1] + rows_geo[r].bbox[3]) / 2
        for c, value in enumerate(values):
            if value is not None:
                texts.append(join_lines(value.split("\n")))
                flags.append(False)
                continue
            x = xs.get(c, 0.0)
            owner = next((s for s in spans if s[0] <= x <= s[2] and s[1] <= ry <= s[3]), None)
            if owner is not None and owner[1] < rows_geo[r].bbox[1] - 1 and rows:
                # merged down: the text of the cell above in this column
                texts.append(rows[-1][c] if c < len(rows[-1]) else "")
                flags.append(False)
            else:
                texts.append("")
                flags.append(True)
        rows.append(texts)
        joined.append(flags)
    return PdfTable(rows, joined)


def _usable(page: object) -> bool:
    chars = page.chars  # type: ignore[attr-defined]
    if len(chars) < 10:
        return False
    text = "".join(c.get("text", "") for c in chars)
    return text.count("(cid:") * 5 < len(chars) and "(cid:" not in text[:200]


def _render(document: object, index: int) -> bytes:
    page = document[index]  # type: ignore[index]
    width, height = page.get_size()
    scale = min(RENDER_DPI / 72, MAX_RENDER_SIDE / max(width, height, 1))
    image = page.render(scale=scale).to_pil().convert("RGB")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def pdf_pages(data: bytes, *, max_pages: int = MAX_PAGES) -> tuple[list[PdfPage], int]:
    """The first `max_pages` pages, and how many the file has."""
    import pdfplumber
    import pypdfium2

    pages: list[PdfPage] = []
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        total = len(pdf.pages)
        document = None
        for index, page in enumerate(pdf.pages[:max_pages]):
            read = PdfPage(index + 1)
            if not _usable(page):
                document = document or pypdfium2.PdfDocument(data)
                read.image = _render(document, index)
                pages.append(read)
                page.close()
                continue
            tables = sorted(page.find_tables(), key=lambda t: t.bbox[1])
            placed: list[tuple[float, str | PdfTable]] = [
                (t.bbox[1], _cell_grid(t)) for t in tables]
            for line in page.extract_text_lines():
                middle = (line["top"] + line["bottom"]) / 2
                if any(t.bbox[1] <= middle <= t.bbox[3] and t.bbox[0] <= line["x0"] + 1 <=
                       t.bbox[2] for t in tables):
                    continue
                text = line["text"].strip()
                if text and not _PAGE_NUMBER.match(text):
                    placed.append((line["top"], text))
            read.blocks = [block for _, block in sorted(placed, key=lambda p: p[0])]
            pages.append(read)
            page.close()
        if document is not None:
            document.close()
    return pages, total
