"""A page image → the text of its table cells and of the lines around the table.

Runs inside the OCR worker (`worker.py`): RapidOCR reads the straightened page once
(detection + recognition of every text line), and each text line goes to the cell
that holds its centre. What lies above and below the table (the title, 填报单位, the
note and the footer) comes back as lines of text, as a .docx's paragraphs would.

Only the models inside the rapidocr wheel are used (PP-OCRv6 det/rec small and the
mobile direction classifier): any other choice is downloaded at first use, which
cannot work on a machine with no internet.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from .grid import SEAL_SHARE, PageGrid, find_grid
from .text import fix_text, join_lines

# A recognised line's score under this is doubtful. RapidOCR gives 0.99–1.00 to
# clean print; the misreads measured (seal ink, a blurred photo) scored below.
DOUBTFUL_SCORE = 0.93
# Character height (px) under which a page is "low resolution": 10.5 pt print at
# ~120 dpi; the misreads of 1280-px messenger photos start there.
LOW_RES_HEIGHT = 20
# A character the recogniser dropped while scoring the rest high (a 。 or the last 活 of a
# wrapped cell half under a seal, on a 150-dpi scan or a 1280-px photo) shows two ways:
# the detected line is wider than the characters read from it (by over this share of its
# height: digits and Latin letters leave at most ~0.5), or dark ink in the cell lies
# outside every detected line (a short last line the detector missed).
UNREAD_GAP = 0.55
INK_DARK = 150            # grey level (flattened red channel): print, not a pale seal
MAX_SIDE = 3000   # px: a 48-megapixel photo is scaled down to this before anything


def load_image(data: bytes) -> np.ndarray:
    """Image bytes → a BGR array, turned upright by its EXIF orientation (phones
    store the picture as the sensor saw it and say how to turn it)."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (MAX_SIDE, MAX_SIDE))   # JPEG: decode at a reduced size
        upright = ImageOps.exif_transpose(image).convert("RGB")
    if max(upright.size) > MAX_SIDE:
        upright.thumbnail((MAX_SIDE, MAX_SIDE))
    return np.asarray(upright)[:, :, ::-1].copy()


def engine() -> Any:
    """RapidOCR with the models its wheel ships, on the CPU, quiet."""
    from rapidocr import RapidOCR

    # Detection on the page scaled to 1280 px (the text is 30-40 px high at 200 dpi, still
    # ~20 px there) and no direction classifier (EXIF turns photos upright; the grid
    # finder straightens the rest): 9-10 → 5-6 CPU s a page, same text (bench/ocr.py).
    return RapidOCR(params={
        "Global.log_level": "error",
        "Global.use_cls": False,
        "Det.limit_type": "max",
        "Det.limit_side_len": 1280,
        "EngineConfig.onnxruntime.intra_op_num_threads": 2,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    })


# --- A page ---------------------------------------------------------------------------

def _boxes(result: Any) -> list[tuple[float, float, float, float, str, float, bool]]:
    """(x0, y0, x1, y1, text, score, short) of each recognised text line; `short`: its
    characters fall short of the line the detector found (one was seen but not read)."""
    if result.boxes is None:
        return []
    words = result.word_results
    if not words or len(words) != len(result.txts):   # RapidOCR drops empty ones: unpaired
        words = [()] * len(result.txts)
    found = []
    for box, text, score, chars in zip(result.boxes, result.txts, result.scores, words,
                                       strict=True):
        xs, ys = box[:, 0], box[:, 1]
        x0, y0, x1, y1 = float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())
        found.append((x0, y0, x1, y1, str(text), float(score),
                      _falls_short(str(text), chars, x0, x1, y1 - y0)))
    return found


def _falls_short(text: str, chars: Any, x0: float, x1: float, height: float) -> bool:
    try:
        if "".join(str(c[0]) for c in chars).replace(" ", "") != text.replace(" ", ""):
            return False           # not this line's characters: no judgement
        edges = [float(point[0]) for c in chars for point in c[2]]
    except (TypeError, IndexError, ValueError):
        return False
    if not edges or height <= 0:
        return False
    return max(min(edges) - x0, x1 - max(edges)) > UNREAD_GAP * height


def _stray_ink(image: np.ndarray, box: tuple[int, int, int, int],
               lines: list[tuple], height: float) -> bool:
    """Whether the cell holds a character-sized mark of dark ink outside every detected
    text line: text the detector did not see, so not read."""
    if height <= 0:
        return False
    x0, y0, x1, y1 = box
    margin = 4                 # the ruled lines around the cell
    ink = (image[y0 + margin:y1 - margin, x0 + margin:x1 - margin] < INK_DARK).astype(np.uint8)
    if ink.size == 0 or not ink.any():
        return False
    for line in lines:         # every line on the page: one may reach over from a neighbour
        lx0, ly0 = int(line[0]) - x0 - margin - 2, int(line[1]) - y0 - margin - 2
        lx1, ly1 = int(line[2]) - x0 - margin + 3, int(line[3]) - y0 - margin + 3
        ink[max(0, ly0):max(0, ly1), max(0, lx0):max(0, lx1)] = 0
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    small = 0.2 * height       # a ruled line's remnant is thin; noise is smaller still
    return any(w >= small and h >= small for _, _, w, h, _ in stats[1:count])


def _text_lines(boxes: list[tuple[float, float, float, float, str, float]]) -> list[dict]:
    """Boxes outside the table grouped into lines (same height on the page), left to right:
    the footer's 联系人, 联系电话 and 填报日期 stand apart on one line."""
    lines: list[list[tuple]] = []
    for box in sorted(boxes, key=lambda b: (b[1] + b[3]) / 2):
        centre = (box[1] + box[3]) / 2
        if lines and abs(centre - np.mean([(b[1] + b[3]) / 2 for b in lines[-1]])) < \
                0.5 * (box[3] - box[1]):
            lines[-1].append(box)
        else:
            lines.append([box])
    return [{"text": fix_text("  ".join(b[4] for b in sorted(line))),
             "confidence": min(b[5] for b in line)} for line in lines]


def _cells(grid: PageGrid, boxes: list[tuple], everywhere: list[tuple],
           char_height: float) -> list[list[dict]]:
    """The grid's cells with the text lines whose centre they hold."""
    holder: dict[int, list[tuple]] = {}
    for box in boxes:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        for index, cell in enumerate(grid.cells):
            x0, y0, x1, y1 = cell.box
            if x0 <= cx < x1 and y0 <= cy < y1:
                holder.setdefault(index, []).append(box)
                break
    rows: list[list[dict]] = [[{} for _ in range(grid.cols)] for _ in range(grid.rows)]
    for index, cell in enumerate(grid.cells):
        inside = sorted(holder.get(index, []), key=lambda b: (b[1] + b[3]) / 2)
        # lines of a cell top to bottom; pieces of one line (a wide gap) left to right
        ordered: list[list[tuple]] = []
        for box in inside:
            previous = ordered[-1][0] if ordered else None
            if previous and abs((box[1] + box[3]) - (previous[1] + previous[3])) / 2 \
                    < 0.5 * (box[3] - box[1]):
                ordered[-1].append(box)
            else:
                ordered.append([box])
        text = join_lines([" ".join(b[4] for b in sorted(line)) for line in ordered])
        rows[cell.row][cell.col] = {
            "text": fix_text(text),
            "confidence": round(min((b[5] for b in inside), default=1.0), 4),
            "seal": cell.seal >= SEAL_SHARE,
            "unread": any(b[6] for b in inside) or _stray_ink(grid.image, cell.box, everywhere,
                                                               char_height),
            "rowspan": cell.rowspan, "colspan": cell.colspan,
        }
    return rows


def _split_across_cells(grid: PageGrid, boxes: list[tuple], image: np.ndarray,
                        ocr: Any) -> list[tuple]:
    """A detected text line that runs over a ruled line (two cells' texts close to the
    line between them: `2017-05-` and `法律咨询`) is cut at the cells' edges and each
    piece recognised alone."""
    out = []
    for box in boxes:
        cy = (box[1] + box[3]) / 2
        over = [cell for cell in grid.cells if cell.box[1] <= cy < cell.box[3]
                and min(box[2], cell.box[2]) - max(box[0], cell.box[0]) > 6]
        if len(over) < 2:
            out.append(box)
            continue
        for cell in sorted(over, key=lambda c: c.box[0]):
            x0, x1 = max(box[0], cell.box[0] + 3), min(box[2], cell.box[2] - 3)
            y0, y1 = int(max(0, box[1] - 2)), int(box[3] + 2)
            crop = image[y0:y1, int(x0):int(x1)]
            if crop.size == 0:
                continue
            rec = ocr(np.ascontiguousarray(np.dstack([crop] * 3)), use_det=False,
                      use_cls=False, use_rec=True, return_word_box=False)
            for text, score in zip(rec.txts or (), rec.scores or (), strict=False):
                if text.strip():
                    out.append((float(x0), box[1], float(x1), box[3], str(text), float(score),
                                box[6]))
    return out


def read_page(data: bytes, engine_of: Callable[[], Any]) -> dict:
    """One page image → {rows, above, below, char_height, table}; JSON-able.

    `engine_of` gives the OCR engine, loaded on first use. No ruled table on the page, no
    form to read: the picture is left unread and the engine never loads (a stranger's
    snapshot or an advert would cost ~1 GB and seconds of OCR for nothing)."""
    bgr = load_image(data)
    grid = find_grid(bgr)
    if grid is None:
        return {"char_height": 0.0, "low_resolution": False, "table": False, "rows": [],
                "above": [], "below": []}
    ocr = engine_of()
    image = grid.image
    # Explicit flags: RapidOCR keeps the last call's flags (a rec-only call below).
    result = ocr(np.ascontiguousarray(np.dstack([image] * 3)), use_det=True, use_cls=False,
                 use_rec=True, return_word_box=True)
    boxes = _boxes(result)
    heights = [b[3] - b[1] for b in boxes if len(b[4]) >= 2]
    char_height = float(np.median(heights)) if heights else 0.0
    page: dict[str, Any] = {"char_height": round(char_height, 1),
                            "low_resolution": 0 < char_height < LOW_RES_HEIGHT,
                            "table": grid is not None, "rows": [], "above": [], "below": []}
    _, y0, _, y1 = grid.table
    inside = [b for b in boxes if y0 <= (b[1] + b[3]) / 2 <= y1]
    page["above"] = _text_lines([b for b in boxes if (b[1] + b[3]) / 2 < y0])
    page["below"] = _text_lines([b for b in boxes if (b[1] + b[3]) / 2 > y1])
    page["rows"] = _cells(grid, _split_across_cells(grid, inside, image, ocr), boxes,
                          char_height)
    return page
