"""Links to "超大附件" (large attachments) that 126/163/QQ mail put in the body instead of a file.

They expire after a few days and need a browser session, so formbot does not
download them; the receipt asks the unit to attach the file itself.
"""

from __future__ import annotations

import html
import re

_URL = re.compile(r"https?://[^\s\"'<>）)]+", re.IGNORECASE)
# Hosts and paths the web mail clients use for their large-attachment downloads.
_LARGE_ATTACHMENT = re.compile(
    r"(mail\.(126|163)\.com/large-attachment-download|fs\.(126|163)\.com/|"
    r"dashi\.163\.com/|mail\.163\.com/.*ftn|"
    r"(wx\.)?mail\.qq\.com/(cgi-bin/)?ftn|exmail\.qq\.com/.*ftn|"
    r"ftn\.qq\.com/|attach\.mail\.qq\.com/|"
    r"wx\.mail\.qq\.com/ftn/download|"
    r"mail\.sina\.com\.cn/.*largefile|"
    r"onedrive\.live\.com/|1drv\.ms/|pan\.baidu\.com/)",
    re.IGNORECASE,
)
_WORDS = ("超大附件", "大附件下载", "文件中转站", "云附件")


def large_attachment_links(text: str) -> list[str]:
    """Download links of large attachments found in the mail's text or HTML."""
    body = html.unescape(text or "")
    links = [url.rstrip(".,;，。") for url in _URL.findall(body)]
    found = [url for url in links if _LARGE_ATTACHMENT.search(url)]
    if not found and any(word in body for word in _WORDS):
        # The words without a known host: the client changed its links, but the
        # clerk still sent no file. Any link in such a mail is the one.
        found = [url for url in links if "mailto:" not in url]
    return list(dict.fromkeys(found))
