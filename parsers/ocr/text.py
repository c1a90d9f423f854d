"""What OCR gets wrong in these forms, put right; a cell's lines joined as Chinese is written.

No numpy here: the parent process (`paper.py`, `pdf.py`) uses these without loading OCR.
"""

from __future__ import annotations

import re

_CJK = r"[\u3400-\u9fff]"
_RANGE_DASH = re.compile(r"(?<=[月年日])\s*[一\-－–~～—‒―]+\s*(?=\d)")
_SEQ_DIGITS = str.maketrans({"l": "1", "I": "1", "|": "1", "i": "1", "O": "0", "o": "0",
                             "Z": "2", "z": "2", "S": "5", "s": "5", "B": "8"})


def fix_text(text: str) -> str:
    """The forms' own punctuation back where OCR read its ASCII look-alike:
    `5月-6月` → `5月—6月` (a date range's dash), `(100字内)` → `（100字内）`,
    `联系人:` → `联系人：`; `1,200` keeps its comma."""
    text = _RANGE_DASH.sub("—", text)
    text = re.sub(rf"\((?=.*?{_CJK}.*?\))", "（", text)
    text = re.sub(r"(?<=（)([^()（）]*?)\)", r"\1）", text)
    text = re.sub(rf"(?<={_CJK})\)", "）", text)
    text = re.sub(rf"(?<={_CJK})\s*:", "：", text)
    text = re.sub(rf"(?<={_CJK}),(?!\d)|(?<!\d),(?={_CJK})", "，", text)
    return text.strip()


def fix_seq(text: str) -> str:
    """A 序号 cell holds a number: `l` and `I` are 1, `O` is 0."""
    fixed = text.translate(_SEQ_DIGITS).replace(" ", "").rstrip(".、")
    return fixed if fixed.isdigit() else text


def join_lines(parts: list[str]) -> str:
    """Lines of one cell joined as Chinese is written: no space where a line broke,
    except between two Latin words."""
    out = ""
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if out and re.match(r"[A-Za-z]", part) and re.search(r"[A-Za-z]$", out):
            out += " "
        out += part
    return out
