"""The words of an office (issue 14 part 4): every mail the bot sends reads as a notice of
the department that runs the campaign — signed (落款) with its name and the date, Chinese
spacing (no ASCII space against a Chinese character), sections numbered 一、二、三 without
gaps. Pure helpers for the templates and the facts that fill them."""

from __future__ import annotations

import re
from datetime import date

NUMERALS = "一二三四五六七八九十"
_CJK = r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]"
# An ASCII space with a Chinese character (or full-width punctuation) on either side.
_SPACE_BY_CJK = re.compile(rf"(?<={_CJK})[ \t]+|[ \t]+(?={_CJK})")


def day_text(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def tidy(text: str) -> str:
    """Text from config.yaml or a mail, set in Chinese: a space beside a Chinese character
    becomes a full-width space between words, none at either end."""
    return _SPACE_BY_CJK.sub("　", " ".join(text.split())).strip("　 ")


def department(from_name: str, contact: str) -> str:
    """Who signs: the sender name of config.yaml (smtp.from_name), else the department the
    campaign's contact line starts with (`区总工会宣传教育部 张琳 25032216`)."""
    name = from_name.strip()
    if name and not name.isascii():
        return tidy(name)
    first = contact.split()[0] if contact.split() else ""
    return tidy(first) or "区总工会宣传教育部"


def letterhead(from_name: str, contact: str, day: date) -> dict[str, str]:
    """What every template signs with: `signed` (the department), `dated` (the date), and
    `contact` set in Chinese."""
    return {"signed": department(from_name, contact), "dated": day_text(day),
            "contact": tidy(contact)}
