"""Stored errors as the admin reads them (issue 14 part 4): our own errors are Chinese
sentences already; an exception's text (`KeyError: 'volunteer_team'`, an SQL error) becomes
one sentence a person can act on, and the exception itself stays in the log."""

from __future__ import annotations

import re

_CHINESE = re.compile(r"[\u4e00-\u9fff]")
_EXCEPTION = re.compile(r"^\s*[A-Za-z_][\w.]*(Error|Exception|Warning)\b|Traceback|\bSQL\b|"
                        r"sqlite3\.|psycopg")
GENERIC = "系统读取这封邮件时出错（详情已记入日志），会自动重试；多次失败请联系技术人员"


def error_sentence(error: str | None) -> str:
    text = (error or "").strip()
    if not text:
        return "原因未记录"
    if _CHINESE.search(text) and not _EXCEPTION.search(text):
        return text
    return GENERIC
