"""Normalise what clerks type into form cells: numbers, dates, leaders, text.

Each function returns the normalised value and, when the text cannot be read
as asked, a problem sentence in Chinese for the receipt. Raw text is kept by
the caller; nothing here throws on odd input.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from itertools import pairwise

_SPACES = re.compile(r"[\s\u3000\u00a0]+")
# Full-width punctuation of Chinese prose. NFKC would turn `，` into `,` and `（）`
# into `()`, rewriting what the clerk wrote in every exported activity and team;
# the readers here accept both forms wherever punctuation matters.
_PROSE_PUNCTUATION = re.compile("([，：；！？（）～])")


def clean_text(value: object) -> str:
    """Cell text with full-width letters and digits folded and spaces tidied.

    NFKC folds `２００` to `200` and the ideographic space to a space; the
    punctuation of Chinese text (，：；！？（） as well as 。、“”) is left as written
    since it is part of the text.
    """
    if value is None:
        return ""
    raw = str(value)
    if raw.isascii() and raw.isprintable():  # the common cell: nothing to fold or drop
        return _SPACES.sub(" ", raw).strip()
    # re.split with a group keeps the punctuation at the odd positions.
    parts = _PROSE_PUNCTUATION.split(raw)
    text = "".join(p if i % 2 else unicodedata.normalize("NFKC", p) for i, p in enumerate(parts))
    if not text.replace("\n", "").replace("\t", "").isprintable():
        text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def text_length(text: str) -> int:
    """How long a clerk would say the text is: characters, not counting spaces."""
    return len(_SPACES.sub("", text))


# A head count is one figure; the words around it (约, 余, 名职工, 每场, 人次) only say
# what kind of figure it is, so any run of Chinese characters may surround it. A note in
# brackets after it (`300（人）`, `30人（含党员10名）`) is a remark on the figure, not part
# of it. Digits and numerals are read as figures; symbols or letters beside them (`200+`)
# are not words, and make the cell unreadable rather than guessed.
_NOTE = re.compile(r"[（(][^（）()]*[）)]")
_RANGE = re.compile(r"\d\s*[-~～—–至到]+\s*\d")
_CN_NUMERALS = "零〇一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟"
_FIGURE = re.compile(
    rf"(?P<digits>\d{{1,3}}(?:[,，]\d{{3}})+(?!\d)|\d+(?:\.\d+)?)|(?P<numeral>[{_CN_NUMERALS}]+)"
)
# A numeral run needs a digit in it: 百/千/万 alone are words (百姓, 万众), and 十 alone is ten.
_NUMERAL_DIGIT = re.compile(r"[零〇一二两三四五六七八九十壹贰叁肆伍陆柒捌玖拾]")
_WORDS = re.compile(r"[\u4e00-\u9fff：:。]*")  # 共计：300人。


def _figure_value(match: re.Match[str]) -> int | None:
    """One figure in a count: `1,200` → 1200, `1200.0` → 1200, `三百` → 300; None for
    what is not a whole number (`1.5`) or a numeral cn2an cannot read."""
    digits = match.group("digits")
    if digits is not None:
        plain = digits.replace(",", "").replace("，", "")
        if re.fullmatch(r"\d+(\.0+)?", plain):
            return int(float(plain)) if "." in plain else int(plain)
        return None
    import cn2an  # deferred: 80 ms of start-up that `formbot status` never needs

    try:
        return int(cn2an.cn2an(match.group("numeral").replace("两", "二"), "smart"))
    except (ValueError, KeyError):
        return None


def parse_count(raw: object) -> tuple[int | None, str | None]:
    """`200`, `200人`, `约200人`, `200余人`, `二百人`, `1,200人`, `２００`, `约300名职工`,
    `300（人）`, `30人（含党员10名）` → the figure.

    A range (`100-200人`) gives no number and a problem: guessing would put a
    figure in the summary that the unit never gave. So do two different figures
    (`3场共300人`) and text with no figure at all (`全体职工`).
    """
    if isinstance(raw, bool):
        return None, "不是人数"
    if isinstance(raw, int | float) and raw < 0:
        return None, f"人数不能是负数：{raw}"
    if isinstance(raw, int):
        return raw, None
    if isinstance(raw, float):
        return (int(raw), None) if raw.is_integer() else (None, f"人数不是整数：{raw}")
    text = clean_text(raw).replace("\n", "")
    if not text:
        return None, None
    core = _NOTE.sub("", text).replace(" ", "")
    if _RANGE.search(core):
        return None, f"人数写成了范围“{text}”，请填一个数"
    found = list(_FIGURE.finditer(core))
    touching = any(a.end() == b.start() for a, b in pairwise(found))
    figures = [m for m in found
               if m.group("digits") is not None or _NUMERAL_DIGIT.search(m.group("numeral"))]
    words = _FIGURE.sub("", core)
    values = {_figure_value(m) for m in figures}
    if len(values - {None}) > 1:
        return None, f"人数“{text}”中有不止一个数，请只填一个数"
    # `1.5万`, `3万`: digits glued to a numeral are a mixed figure this does not guess at.
    if not figures or touching or None in values or not _WORDS.fullmatch(words):
        return None, f"无法识别人数“{text}”"
    return values.pop(), None


_CN_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
# A year is four digits, or two when 年 follows (`16年3月`): see `_full_year`. Two digits
# with a dot or dash (`16.3`) could as well be a month and a day, so they stay unread.
_YEAR = r"(?P<y>\d{4}|\d{2}(?=年))"
_DATE_PATTERNS = (
    re.compile(rf"^{_YEAR}\s*[-/.年]\s*(?P<m>\d{{1,2}})\s*[-/.月]\s*(?P<d>\d{{1,2}})\s*日?$"),
    re.compile(rf"^{_YEAR}\s*[-/.年]\s*(?P<m>\d{{1,2}})\s*月?(份)?$"),
    re.compile(rf"^{_YEAR}\s*(年|年度)?$"),
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"),
)
# What a founding date is written with: `2015年至今`, `2017年成立`, `成立于2016年`,
# `2016.3-至今`. Only these words: `2016年春` names no month, and is still flagged.
_FOUNDING_BEFORE = re.compile(r"^(?:(?:正式)?(?:成立|组建|组队|建队|建立|创建|创立))?于")
_FOUNDING_AFTER = re.compile(
    r"(?:正式)?(?:成立|组建|组队|建队|建立|创建|创立|开始|启动)?(?:[-—–~～到]*(?:至今|以来|起))?$"
)


def _full_year(digits: str) -> int:
    """`16` → 2016, `98` → 1998. Teams and activities on these forms are from living
    memory, so 00–49 are this century and 50–99 the last; a fixed pivot keeps parsing
    pure (the same text reads the same on any day)."""
    if len(digits) != 2:
        return int(digits)
    return (2000 if int(digits) < 50 else 1900) + int(digits)


def _cn_date_digits(text: str) -> str:
    """`二〇一六年三月十五日` → `2016年3月15日`: year digit by digit, month/day as numerals."""
    def month_day(match: re.Match[str]) -> str:
        import cn2an

        return str(cn2an.cn2an(match.group(1), "smart")) + match.group(2)

    text = re.sub(
        r"(?<![〇零一二三四五六七八九])([〇零一二三四五六七八九]{4}|[〇零一二三四五六七八九]{2})年",
        lambda m: m.group(1).translate(_CN_DIGITS) + "年", text
    )
    return re.sub(r"([一二三四五六七八九十]{1,3})([月日号])", month_day, text)


def parse_date(raw: object) -> tuple[str | None, str | None]:
    """A date as people write it → `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (the precision given)."""
    if hasattr(raw, "year") and hasattr(raw, "month"):
        day = getattr(raw, "day", None)
        return f"{raw.year:04d}-{raw.month:02d}" + (f"-{day:02d}" if day else ""), None
    text = clean_text(raw).replace("\n", "").replace(" ", "")
    if not text:
        return None, None
    text = _cn_date_digits(text).replace("号", "日").rstrip("。.")
    text = _FOUNDING_AFTER.sub("", _FOUNDING_BEFORE.sub("", text))
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if not match:
            continue
        parts = match.groupdict()
        year = _full_year(parts["y"])
        # `is not None`, not truthiness: month 0 or day 0 is a slip to flag, not a
        # reason to quietly drop to a coarser precision (`2016年0月` → `2016`).
        month = int(parts["m"]) if parts.get("m") is not None else None
        day = int(parts["d"]) if parts.get("d") is not None else None
        if not 1900 <= year <= 2100:
            break
        try:
            # A real calendar day: 2016-02-30 must not reach the summary.
            dt.date(year, 1 if month is None else month, 1 if day is None else day)
        except ValueError:
            break
        if day is not None:
            return f"{year:04d}-{month:02d}-{day:02d}", None
        if month is not None:
            return f"{year:04d}-{month:02d}", None
        return f"{year:04d}", None
    return None, f"无法识别日期“{clean_text(raw)}”"


@dataclass(frozen=True)
class Leader:
    name: str | None
    title: str | None


_TITLE_WORDS = ("主席", "书记", "主任", "队长", "部长", "委员", "经理", "干事", "会长", "组长",
                "院长", "校长", "局长", "科长", "处长", "站长", "负责人", "理事", "秘书长", "所长")
_NAME = r"[\u4e00-\u9fff·]{2,5}"
# Longest first: `张三工会副主席` must give the name 张三, not 张三工会.
_TITLE_PREFIXES = ("常务副", "工会副", "工会", "副")


def _is_name(text: str) -> bool:
    """Two to four Chinese characters (欧阳小明) that are not themselves a title."""
    return (
        bool(re.fullmatch(_NAME, text))
        and len(text) <= 4
        and not any(word in text for word in _TITLE_WORDS)
        and not text.startswith(_TITLE_PREFIXES)
    )


_SEPARATOR = r"\s*[\s,，、/／\-—]+\s*"
_LEADER_PATTERNS = (
    # 主席：张三
    re.compile(rf"^(?P<title>[^:：]{{2,20}})\s*[:：]\s*(?P<name>{_NAME})$"),
    # 张三（工会主席） / 张三(主席)
    re.compile(rf"^(?P<name>{_NAME})\s*[（(](?P<title>[^）)]+)[）)]$"),
    # 张三 主席 / 张三，副主席 / 张三、主席 / 张三/主席 / 张三-主席
    re.compile(rf"^(?P<name>{_NAME}){_SEPARATOR}(?P<title>.+)$"),
)
# 街道工会副主席 张三: title first, and too long for the name's place above.
_TITLE_FIRST = re.compile(rf"^(?P<title>.{{2,20}}?){_SEPARATOR}(?P<name>{_NAME})$")


def _is_title(text: str) -> bool:
    return any(word in text for word in _TITLE_WORDS)


def parse_leader(raw: object) -> tuple[Leader, str | None]:
    """`负责人姓名及职务` → name and title, in either order.

    A lone name is kept with a note that the title is missing; a jumble is kept
    whole as the name and flagged.
    """
    text = clean_text(raw).replace("\n", " ").strip()
    if not text:
        return Leader(None, None), None
    for pattern in _LEADER_PATTERNS:
        match = pattern.match(text)
        if not match:
            continue
        name, title = match.group("name").strip(), match.group("title").strip()
        if not _is_title(name):
            return Leader(name, title), None
        # The part in the name's place is a title (`主席 张三`, `张三：主席`): written the
        # other way round when the other part is a name; else not a split to trust.
        if _is_name(title):
            return Leader(title, name), None
    match = _TITLE_FIRST.match(text)
    if match and _is_title(match.group("title")) and not _is_title(match.group("name")):
        return Leader(match.group("name"), match.group("title")), None
    # No separator: a name glued to a known title word, either way round.
    for word in sorted(_TITLE_WORDS, key=len, reverse=True):
        idx = text.find(word)
        if idx < 0:
            continue
        head, rest = text[:idx], text[idx + len(word):]
        # 主席张三 / 工会主席张三: title first.
        if head in ("", *_TITLE_PREFIXES) and _is_name(rest):
            return Leader(rest, head + word), None
        # 张三主席 / 张三工会副主席: name first; the prefix belongs to the title.
        for prefix in (*_TITLE_PREFIXES, ""):
            name = head[: len(head) - len(prefix)]
            if head.endswith(prefix) and _is_name(name):
                return Leader(name, text[len(name):]), None
    if text.removeprefix("工会").removeprefix("副") in _TITLE_WORDS:
        return Leader(None, text), "负责人未写姓名"
    if _is_name(text):
        return Leader(text, None), "负责人未写职务"
    return Leader(text, None), f"无法区分负责人姓名和职务“{text}”"


def parse_phone(raw: object) -> str:
    """Phone numbers as typed, with full-width digits and stray spaces folded."""
    return clean_text(raw).replace("\n", " ")
