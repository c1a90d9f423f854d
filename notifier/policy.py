"""Whether a read mail gets an automatic answer: one pure function over what is known
about the mail (CONTRACT.md, "Mail the bot sends"). No backscatter: the bot answers
units, and strangers only when they plausibly tried to submit a form."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .rfc3834 import reason_not_to_answer

RECEIPT = "receipt"
FOR_PERSON = "waiting-for-person"          # a unit's question or thanks: a person answers


@dataclass(frozen=True)
class MailFacts:
    headers: Mapping[str, str]
    from_addr: str
    own_addresses: tuple[str, ...]
    has_forms: bool
    attachments: int            # files a person attached: not signatures, invites, logos
    links: bool                 # "超大附件" download links (a unit trying to submit)
    known_sender: bool          # a unit's registered address, or one the admin confirmed
    about_campaign: bool        # names the campaign, a form, 附件N or a registered unit
    says_forms_sent: bool       # 报送, 附件, 请查收, a form's name in the subject
    answered_today: int         # receipts to this address in the last day
    limit_known: int
    limit_stranger: int


@dataclass(frozen=True)
class Decision:
    answer: bool
    outcome: str                 # Message.outcome: receipt, no-reply:<why>, waiting-for-person
    none_arrived: bool = False   # the receipt says no attachment came with the mail


def decide(facts: MailFacts) -> Decision:
    reason = reason_not_to_answer(facts.headers, facts.from_addr, facts.own_addresses)
    if reason:
        return Decision(False, f"no-reply:{reason}")
    tried = facts.attachments > 0 or facts.links
    none_arrived = False
    if not facts.has_forms and not tried:
        if not facts.known_sender:
            return Decision(False, "no-reply:not-about-campaign")
        if not facts.says_forms_sent:
            return Decision(False, FOR_PERSON)
        none_arrived = True
    elif not facts.has_forms and not (facts.known_sender or facts.about_campaign):
        return Decision(False, "no-reply:not-about-campaign")  # a stranger's picture, invoice
    # The stranger's smaller limit is for mail without a form (where backscatter lives); a
    # clerk sending several units' forms from a private address keeps the larger one.
    known = facts.known_sender or facts.has_forms
    limit = facts.limit_known if known else facts.limit_stranger
    if facts.answered_today >= limit:
        # A flood, or a forged sender using us to mail a stranger: stop answering today.
        return Decision(False, "no-reply:rate-limited")
    return Decision(True, RECEIPT, none_arrived)


def mentions(texts: Iterable[str], words: Iterable[str]) -> bool:
    words = [w for w in words if w]
    return any(word in text for text in texts for word in words)
