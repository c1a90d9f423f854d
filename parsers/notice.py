"""A notice document's paragraphs → the campaign it starts: its code (文号), title,
deadline and contact, for `formbot forms draft`. Each guess says where it came from."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from .draft import NoticeInfo
from .tables import Line
from .values import clean_text

_CODE = re.compile(r"[\u4e00-\u9fff]{1,8}\s*[〔\[［【(（]\s*(\d{4})\s*[〕\]］】)）]\s*\d+\s*号")
_OPENING = re.compile(r"^关于(?:进一步|认真|广泛|积极|组织)?(?:开展|举办|做好|组织|推荐|评选|报送|"
                      r"征集|申报|实施)?")
_CLOSING = re.compile(r"的(?:通知|通告|函|意见|方案)$")
_DEADLINE = re.compile(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]\s*"
                       r"(?:\d{1,2}\s*[:：]\s*\d{2}\s*)?(?:前|之前|以前|为止|截止)")
_DATED = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日$")
_CONTACT = re.compile(r"联\s*系\s*人\s*[:：]\s*(.+?)\s*(?:联系电话|电\s*话|$)")
_PHONE = re.compile(r"(?:联系电话|电\s*话)\s*[:：]\s*([\d\-－ ()（）转、/]+\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _compact(text: str) -> str:
    """`区总工会宣传教育部   张  琳、曹理仰` → `区总工会宣传教育部 张琳、曹理仰`: a name
    spaced out to two characters' width is one name."""
    tokens = text.split()
    out: list[str] = []
    for token in tokens:
        if out and len(out[-1]) == 1 and re.fullmatch(r"[\u4e00-\u9fff]", out[-1]):
            out[-1] += token
        else:
            out.append(token)
    return " ".join(out)


def _title(paragraphs: list[str]) -> str | None:
    for index, text in enumerate(paragraphs[:15]):
        if not text.startswith("关于"):
            continue
        whole = text
        for more in paragraphs[index + 1:index + 3]:
            if _CLOSING.search(whole):
                break
            whole += more
        if not _CLOSING.search(whole):
            continue
        core = _CLOSING.sub("", _OPENING.sub("", whole)).strip()
        # “弘扬劳模精神，建功‘创新杨浦’”主题活动 → 弘扬劳模精神，建功“创新杨浦”主题活动
        if core.startswith("“") and "”" in core:
            end = core.rindex("”")
            core = core[1:end].replace("‘", "“").replace("’", "”") + core[end + 1:]
        return core or None
    return None


def notice_info(lines: Sequence[Line]) -> NoticeInfo | None:
    """The campaign a notice document starts, or None when these lines are no notice
    (no 文号 and no 关于…的通知 title)."""
    paragraphs = [clean_text(line.text) for line in lines if line.table is None and line.text]
    info = NoticeInfo()
    head = " ".join(paragraphs[:8])
    if (code := _CODE.search(head)):
        info.code = re.sub(r"\s+", "", code.group(0))
    info.title = _title(paragraphs)
    if info.code is None and info.title is None:
        return None
    body = "\n".join(paragraphs)
    dated = [m for p in paragraphs if (m := _DATED.match(p))]
    if (deadline := _DEADLINE.search(body)):
        year_text, month, day = deadline.groups()
        if year_text:
            year, source = int(year_text), None
        elif dated:
            year, source = int(dated[-1].group(1)), "年份取自通知落款日期"
        elif code:
            year, source = int(code.group(1)), "年份取自文号"
        else:
            year, source = None, None
        if year is not None:
            try:
                info.deadline = dt.date(year, int(month), int(day))
            except ValueError:
                info.notes.append(f"截止日期“{deadline.group(0)}”不是有效日期")
            if source and info.deadline:
                info.notes.append(f"deadline：{source}，请确认")
        else:
            info.notes.append(f"deadline：通知写“{deadline.group(0)}”，没有年份，请填写")
    else:
        info.notes.append("deadline：没找到报送截止日期，请填写")
    person = next((m.group(1) for p in paragraphs if (m := _CONTACT.search(p))), None)
    phone = next((m.group(1) for p in paragraphs if (m := _PHONE.search(p))), None)
    contact = " ".join(_compact(t) for t in (person, phone) if t)
    info.contact = contact or None
    if (email := _EMAIL.search(body)):
        info.email = email.group(0)
    return info
