"""Whom never to answer: RFC 3834 and the rules Dovecot Pigeonhole's vacation uses.

Answering an auto-reply, a bounce or a list is how two bots end up mailing
each other for ever, or how a forged sender makes us spam a stranger.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_SYSTEM_SENDERS = re.compile(
    r"^(mailer-daemon|postmaster|listserv|majordomo|nobody|noreply|no-reply|donotreply|"
    r"do-not-reply|bounce[s]?|owner-.*|.*-request|.*-owner|.*-bounces?)@",
    re.IGNORECASE,
)
_AUTO_SUBJECT = re.compile(
    r"^\s*(自动回复|自动答复|auto[- ]?reply|automatic reply|out of (the )?office|"
    r"undeliverable|delivery status notification|退信|系统退信|邮件退回)",
    re.IGNORECASE,
)


def reason_not_to_answer(
    headers: Mapping[str, str], from_addr: str, own_addresses: Iterable[str]
) -> str | None:
    """Why this mail must get no automatic answer, or None when answering is safe.

    `headers` may spell names in any case (`List-Id`, an `email.message.Message`).
    """
    headers = {str(name).lower(): str(value) for name, value in headers.items()}
    sender = (from_addr or "").strip().lower()
    if not sender:
        return "no-sender"
    if sender in {a.lower() for a in own_addresses}:
        return "own-address"
    if _SYSTEM_SENDERS.match(sender):
        return "system-sender"
    # RFC 3834 §5: only the keyword `no` (optionally with parameters) is safe to answer;
    # a prefix test would also let through made-up values such as `notification`.
    auto = headers.get("auto-submitted", "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return "auto-submitted"
    if headers.get("precedence", "").strip().lower() in ("bulk", "junk", "list"):
        return "precedence-bulk"
    if any(name.startswith("list-") for name in headers) or "mailing-list" in headers \
            or "x-mailing-list" in headers:
        return "mailing-list"   # ezmlm says `Mailing-List:`, not `List-Id:`
    # A filter upstream (SpamAssassin, the provider's) judged it spam: answering would be
    # backscatter to whoever the spammer put in From.
    if headers.get("x-spam-flag", "").strip().lower().startswith("yes") or \
            headers.get("x-spam-status", "").strip().lower().startswith("yes"):
        return "spam"
    if headers.get("return-path", "").strip() == "<>":
        return "null-return-path"
    suppress = headers.get("x-auto-response-suppress", "").lower()
    if any(word in suppress for word in ("all", "autoreply", "oof")):
        return "auto-response-suppressed"
    if headers.get("x-autoreply") or headers.get("x-autorespond"):
        return "auto-submitted"
    if "multipart/report" in headers.get("content-type", "").lower():
        return "delivery-report"
    if "disposition-notification" in headers.get("content-type", "").lower():
        return "read-notification"
    if _AUTO_SUBJECT.match(headers.get("subject", "")):
        return "auto-reply-subject"
    return None
