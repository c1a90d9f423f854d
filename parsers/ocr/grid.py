"""A scanned or photographed page → its ruled table as cells (OpenCV).

The forms are ruled tables ("Table Grid"), so the ruling itself says where each cell
is: the table's outline gives the perspective to undo (a phone held at an angle, a
sheet fed crooked), and the ruled lines inside it give rows, columns and merged cells.
Text is read afterwards, cell by cell (`read.py`).

Why each step:
- the red channel is the image a seal does not darken (red ink is bright in it), so
  the seal neither breaks ruled lines nor hides the text under it; where the seal lies
  is kept to flag the cells it covers;
- dividing by a blurred copy flattens a photo's uneven light before thresholding;
- a morphological opening with a long thin kernel keeps ruled lines and drops text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

MIN_TABLE_AREA = 0.04     # of the page: a smaller outline is a stamp or a box, not the form
LINE_GAP = 0.012          # of the table's size: ruled lines closer than this are one line
SEAL_SHARE = 0.08         # of a cell's area in seal ink: the cell is "under a seal"


@dataclass
class CellBox:
    row: int
    col: int
    rowspan: int
    colspan: int
    box: tuple[int, int, int, int]     # x0, y0, x1, y1 in the straightened page
    seal: float = 0.0                  # share of the cell covered by red seal ink


@dataclass
class PageGrid:
    image: np.ndarray                  # the straightened page, grey, lighting flattened
    table: tuple[int, int, int, int]   # the table's outline in `image`
    rows: int
    cols: int
    cells: list[CellBox] = field(default_factory=list)
    straightened: bool = False


def _flatten(gray: np.ndarray) -> np.ndarray:
    """Uneven light (a photo's shadow, a scanner's grey edge) divided out."""
    size = max(31, (min(gray.shape) // 20) | 1)
    background = cv2.morphologyEx(gray, cv2.MORPH_CLOSE,
                                  cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    background = cv2.GaussianBlur(background, (0, 0), size / 4)
    flat = cv2.divide(gray, np.maximum(background, 1), scale=255)
    return flat


def seal_mask(bgr: np.ndarray) -> np.ndarray:
    """Red ink: much more red than green and blue."""
    b, g, r = (c.astype(np.int16) for c in cv2.split(bgr))
    return ((r - np.maximum(g, b) > 60) & (r > 110)).astype(np.uint8)


def _ruled(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the horizontal and the vertical ruled lines."""
    binary = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                   cv2.THRESH_BINARY_INV, 25, 15)
    h, w = binary.shape
    horizontal = cv2.morphologyEx(binary, cv2.MORPH_OPEN,
                                  cv2.getStructuringElement(cv2.MORPH_RECT, (max(20, w // 40), 1)))
    vertical = cv2.morphologyEx(binary, cv2.MORPH_OPEN,
                                cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(20, h // 60))))
    # Close the small gaps a thin or blurred line has, so the outline is one contour.
    horizontal = cv2.dilate(horizontal, np.ones((3, 7), np.uint8))
    vertical = cv2.dilate(vertical, np.ones((7, 3), np.uint8))
    return horizontal, vertical


def _outline(horizontal: np.ndarray, vertical: np.ndarray) -> np.ndarray | None:
    """The four corners of the largest ruled table on the page (tl, tr, br, bl)."""
    mask = cv2.bitwise_or(horizontal, vertical)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    contour = max(contours, key=cv2.contourArea)
    if cv2.contourArea(contour) < MIN_TABLE_AREA * mask.shape[0] * mask.shape[1]:
        return None
    hull = cv2.convexHull(contour).reshape(-1, 2).astype(np.float32)
    # The corners: extremes of x+y and x-y, robust where approxPolyDP finds 5 or 6 points.
    s, d = hull.sum(axis=1), hull[:, 0] - hull[:, 1]
    return np.array([hull[s.argmin()], hull[d.argmax()], hull[s.argmax()], hull[d.argmin()]],
                    dtype=np.float32)


def _straighten(bgr: np.ndarray, corners: np.ndarray) -> tuple[np.ndarray, bool]:
    """The page warped so that the table's outline is an upright rectangle, the text
    around it carried along (the unit's line above, the footer below)."""
    tl, tr, br, bl = corners
    width = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
    height = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
    offsets = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    target = (tl + offsets).astype(np.float32)
    if np.abs(target - corners).max() < 2:
        return bgr, False                      # already square to the page
    matrix = cv2.getPerspectiveTransform(corners, target)
    h, w = bgr.shape[:2]
    warped = cv2.warpPerspective(bgr, matrix, (w, h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
    return warped, True


def _positions(profile: np.ndarray, threshold: float, gap: int) -> list[int]:
    """Centres of the runs of `profile` above `threshold` (one per ruled line)."""
    found: list[int] = []
    start = None
    for i, value in enumerate([*profile.tolist(), 0.0]):
        if value >= threshold and start is None:
            start = i
        elif value < threshold and start is not None:
            centre = (start + i - 1) // 2
            if found and centre - found[-1] < gap:
                found[-1] = (found[-1] + centre) // 2
            else:
                found.append(centre)
            start = None
    return found


def _present(mask: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> bool:
    """Whether a ruled line runs along most of the band (x0..x1, y0..y1)."""
    band = mask[max(0, y0):y1, max(0, x0):x1]
    if band.size == 0:
        return False
    along = band.any(axis=0) if band.shape[1] >= band.shape[0] else band.any(axis=1)
    return float(along.mean()) > 0.6


def find_grid(bgr: np.ndarray) -> PageGrid | None:
    """The page's ruled table as cells, or None when the page holds no ruled table."""
    horizontal, vertical = _ruled(_flatten(bgr[:, :, 2]))
    corners = _outline(horizontal, vertical)
    if corners is None:
        return None
    bgr, straightened = _straighten(bgr, corners)
    seal = seal_mask(bgr)
    gray = _flatten(bgr[:, :, 2])
    horizontal, vertical = _ruled(gray)
    corners = _outline(horizontal, vertical)
    if corners is None:
        return None
    x0, y0 = (int(v) for v in corners.min(axis=0))
    x1, y1 = (int(v) for v in corners.max(axis=0))
    width, height = x1 - x0, y1 - y0
    # A column line may stop at a merged header cell, a row line at a merged column:
    # a line counts when it runs half the table (the outline's sides run all); a seal's
    # rim, darkened by a messenger's JPEG, runs less.
    ys = _positions(horizontal[y0:y1 + 1, x0:x1 + 1].astype(bool).sum(axis=1),
                    0.5 * width, max(8, int(LINE_GAP * height)))
    xs = _positions(vertical[y0:y1 + 1, x0:x1 + 1].astype(bool).sum(axis=0),
                    0.5 * height, max(8, int(LINE_GAP * width)))
    ys, xs = [y + y0 for y in ys], [x + x0 for x in xs]
    if len(ys) < 2 or len(xs) < 2:
        return None
    grid = PageGrid(gray, (x0, y0, x1, y1), len(ys) - 1, len(xs) - 1,
                    straightened=straightened)
    owner: dict[tuple[int, int], CellBox] = {}
    pad = 4
    for r in range(grid.rows):
        for c in range(grid.cols):
            if (r, c) in owner:
                continue
            # Grow right while no vertical line separates, then down while no horizontal.
            cs = 1
            while c + cs < grid.cols and not _present(
                    vertical, xs[c + cs] - pad, ys[r] + pad, xs[c + cs] + pad + 1, ys[r + 1] - pad):
                cs += 1
            rs = 1
            while r + rs < grid.rows and not _present(
                    horizontal, xs[c] + pad, ys[r + rs] - pad, xs[c + cs] - pad,
                    ys[r + rs] + pad + 1):
                rs += 1
            box = (xs[c], ys[r], xs[c + cs], ys[r + rs])
            area = seal[box[1]:box[3], box[0]:box[2]]
            cell = CellBox(r, c, rs, cs, box, float(area.mean()) if area.size else 0.0)
            grid.cells.append(cell)
            for dr in range(rs):
                for dc in range(cs):
                    owner.setdefault((r + dr, c + dc), cell)
    return grid
