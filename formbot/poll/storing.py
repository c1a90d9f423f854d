"""Storing one read mail: unit, submissions, rows, and the receipt queued in the same
transaction. Runs in the main process, message after message in arrival order, so a
later submission always supersedes an earlier one."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from loguru import logger
from sqlmodel import Session

from formbot.poll.blanks import receipt_blanks, replies_reach_mailbox
from formbot.poll.lastresort import FROM_FILE_NAME, FROM_SUBJECT, unit_from_names
from formbot.poll.paperwork import apply_corrections, paper_marks
from formbot.poll.placing import decided as admin_decided
from formbot.poll.placing import place_forms
from formbot.poll.reading import Parsed
from formbot.poll.receipts import build_facts
from formbot.poll.wording import receipt_body
from formbot.settings.config import Settings
from notifier.compose import Sender, compose
from notifier.outbox import enqueue
from notifier.policy import MailFacts, decide, mentions
from notifier.receipts import receipt_subject
from parsers.builtin import builtin_forms
from parsers.units import UnitRef
from store import repo
from store.models import Message, Submission, Unit
from store.placements import placements_for

ADMIN = "admin"            # match_method of a mail the admin filed under a unit
DISMISSED = "dismissed"    # outcome of a mail the admin set aside
LEARNED = "learned"        # match_method: from an address the admin confirmed for the unit
LINK_NOTE = ("邮件里是“超大附件”下载链接，链接会过期，系统无法自动下载。"
             "请把填好的表格直接作为附件（而不是超大附件）重新发送。")


@dataclass
class StoreContext:
    """What every message of one poll shares: settings and the unit registry, read once."""

    settings: Settings
    _units: list[UnitRef] | None = field(default=None, repr=False)
    _learned: dict[str, int] = field(default_factory=dict, repr=False)
    _rows: list[Unit] = field(default_factory=list, repr=False)

    def units(self, session: Session) -> list[UnitRef]:
        """The units a mail may be filed under, each with its registered addresses."""
        return self._registry(session)

    def addresses(self, session: Session, unit_id: int) -> tuple[str, ...]:
        """The unit's own addresses, registered or confirmed by the admin: whether a mail
        came from one is shown to the admin."""
        registered = next((u.emails for u in self._registry(session) if u.id == unit_id), ())
        return (*registered, *(a for a, u in self._learned.items() if u == unit_id))

    def is_known(self, session: Session, address: str) -> bool:
        """A unit's registered address, or one the admin confirmed: not a stranger."""
        address = address.strip().lower()
        return address in self._learned or any(
            address == e.lower() for u in self._registry(session) for e in u.emails)

    def learned(self, session: Session) -> dict[str, int]:
        """Addresses the admin confirmed, each with its unit's id."""
        self._registry(session)
        return dict(self._learned)

    def learned_unit(self, session: Session, address: str) -> UnitRef | None:
        """The unit the admin confirmed this sender for in the console, if any."""
        units = self._registry(session)  # reads the confirmed addresses too
        unit_id = self._learned.get(address.strip().lower())
        return next((u for u in units if u.id == unit_id), None)

    def _registry(self, session: Session) -> list[UnitRef]:
        if self._units is None:
            units = repo.all_units(session=session)
            # Held, so the session's (weak) identity map keeps them: filing each mail under
            # its unit then needs no query.
            self._rows = units
            self._units = [UnitRef(u.id, u.name, tuple(u.aliases), tuple(u.emails))  # type: ignore[arg-type]
                           for u in units]
            registered = {e.lower() for u in units for e in u.emails}
            # A registered address belongs to the registry, whatever the admin once said.
            self._learned = {k.address: k.unit_id for k in repo.known_senders(session=session)
                             if k.address not in registered}
        return self._units


# The words 杨工〔2018〕14号's mail has always been known by (a bare 申报表 in a subject):
# kept for its built-in forms, so today's answers do not change.
_BUILTIN_WORDS = ("申报表", "登记表", "主题活动", "志愿者服务队", "劳模精神", "创新杨浦")


def campaign_names(settings: Settings) -> tuple[str, ...]:
    """What names the campaign (CONTRACT.md): its code, its title, and each form's title,
    short name, title words and 附件 label."""
    campaign = settings.campaign
    legacy = _BUILTIN_WORDS if settings.forms == builtin_forms() else ()
    return tuple(dict.fromkeys(n for n in (*legacy, campaign.code, campaign.title,
                                           *(name for spec in settings.forms
                                             for name in spec.names)) if n))


_ANNEX = re.compile(r"附\s*件\s*[0-9０-９一二三四五六七八九十]")
_SAYS_SENT = ("报送", "附件", "请查收", "见附件", "上报", "申报表", "登记表")
# Where a reply's own text ends and the mail it quotes begins.
_QUOTE = re.compile(r"^(>|-{2,}\s*原始邮件|-{2,}\s*Original Message|在.{0,80}写道|"
                    r"On .{0,120}wrote:)", re.MULTILINE)
NONE_ARRIVED_NOTE = "这封邮件没有附件（可能忘记添加附件了）。"


def _own_text(text: str) -> str:
    """A reply's own words, without the mail it quotes (a receipt's words are ours)."""
    found = _QUOTE.search(text)
    return text[:found.start()] if found else text


def _campaign_words(settings: Settings, units: list[UnitRef]) -> list[str]:
    words = list(campaign_names(settings))
    for unit in units:
        words += [unit.name, *unit.aliases]
    return [w for w in words if len(w) >= 2]


def mail_facts(settings: Settings, parsed: Parsed, units: list[UnitRef], *, known_sender: bool,
               answered_today: int) -> MailFacts:
    """What the answer policy (notifier/policy.py) needs to know about a read mail."""
    envelope = parsed.envelope
    body = envelope.text[:20000]
    names = [f.name for f in parsed.files]
    texts = [envelope.subject, body, *names]
    about = mentions(texts, _campaign_words(settings, units)) or any(
        _ANNEX.search(t) for t in texts)
    reply_to_receipt = "回执" in envelope.subject
    subject = "" if reply_to_receipt else envelope.subject
    says_sent = mentions([subject, _own_text(body)], _SAYS_SENT) or mentions(
        [subject], [w for spec in settings.forms for w in (spec.short, *spec.title_words)])
    return MailFacts(
        headers=envelope.headers, from_addr=envelope.from_addr,
        own_addresses=tuple(settings.own_addresses()), has_forms=bool(parsed.forms),
        attachments=parsed.attachment_count, links=bool(parsed.links),
        known_sender=known_sender, about_campaign=about, says_forms_sent=says_sent,
        answered_today=answered_today,
        limit_known=settings.limits.receipts_per_sender_per_day,
        limit_stranger=settings.limits.receipts_per_stranger_per_day)


def store_message(session: Session, context: StoreContext, message: Message, parsed: Parsed, *,
                  now: datetime) -> None:
    """Store what one read mail carries; the caller commits."""
    envelope, forms = parsed.envelope, parsed.forms
    # A mail read for the first time has nothing to replace; a re-read may move its
    # forms to another unit, whose current rows then change too.
    first_time = message.status == "new" and message.attempts == 0
    touched = set() if first_time else repo.clear_parse(session=session, message=message)
    message.from_addr, message.from_name = envelope.from_addr, envelope.from_name
    message.subject = envelope.subject[:500]
    message.sent_at = envelope.date
    message.auth_results = envelope.header("authentication-results") or None

    repo.add_attachments(session=session, rows=[dict(
        message_ref=message.id, name=result.name[:500], sha256=result.sha256,
        size=result.size, kind=result.kind,
        forms=",".join(f.spec.key for f in result.forms), problem=result.problem)
        for result in parsed.files])

    unit_text = next((f.unit_text for f, _ in forms.values() if f.unit_text), None)
    # What the admin decided in the console (a mail or a form moved, a ※ sender rejected,
    # a mail dismissed) outlives a re-read: `formbot reprocess` must not undo a person.
    admin = admin_decided(placements_for(session, message.key),
                          filed_by_admin=message.unit_id if message.match_method == ADMIN
                          else None)
    decided = admin.mail
    dismissed = message.outcome == DISMISSED
    # Each form to the unit its own 填报单位 names, then the sender's (formbot/poll/placing.py).
    placement = place_forms(envelope.from_addr,
                            {key: form.unit_text for key, (form, _) in forms.items()},
                            context.units(session), context.learned(session))
    ref = None if decided or admin.rejected else placement.mail_unit
    last_resort = None
    if ref is None and not decided and not admin.rejected and unit_text is None:
        # Last of all: the registered unit the attachment's file name or the subject names.
        last_resort = unit_from_names(parsed, context.units(session))
        ref = last_resort.unit if last_resort else None
    unit = session.get(Unit, decided or ref.id) if (decided or ref) else None  # type: ignore[union-attr]
    message.unit_id = unit.id if unit else None
    message.unit_text = unit_text
    method = next((m.method for m in placement.forms.values() if m and ref
                   and m.unit.id == ref.id), None)
    if ref is not None and method is None and placement.sender is not None:
        method = "address"
    if last_resort is not None:
        method = last_resort.method
    message.match_method = ADMIN if decided else (method if unit else None)
    addresses = context.addresses(session, unit.id) if unit and unit.id else ()  # type: ignore[arg-type]
    message.sender_matches_unit = (
        envelope.from_addr.lower() in {a.lower() for a in addresses} if addresses else None)
    crossed = {} if decided or unit is None else placement.crossed
    if not decided and unit is not None and placement.sender is None:
        # A stranger's mail whose forms name different units: each to its own.
        crossed = {k: m.unit for k, m in placement.forms.items()
                   if m is not None and m.unit.id != unit.id}
    form_unit: dict[str, int | None] = {key: ref_unit.id for key, ref_unit in crossed.items()}
    form_unit.update({k: v for k, v in admin.forms.items() if k in forms})   # a form moved

    received_at = envelope.date or now
    corrected = apply_corrections(session, message.key, forms)   # the admin's, kept apart
    for form, file_names in forms.values():
        repo.add_submission(
            session=session,
            submission=Submission(
                message_ref=message.id, unit_id=form_unit.get(form.spec.key, message.unit_id),
                form=form.spec.key,
                received_at=received_at, file_name="、".join(file_names)[:500],
                unit_text=form.unit_text, contact=form.contact, phone=form.phone,
                filled_on=form.filled_on, filled_on_raw=form.filled_on_raw,
                row_count=len(form.rows), problems=[p.describe() for p in form.problems],
                extra_columns=form.extra_columns,
                **paper_marks(parsed, form, file_names, corrected),
            ),
            rows=[{"seq": r.seq, "data": r.values, "raw": r.raw,
                   "problems": [p.describe() for p in r.problems]} for r in form.rows],
        )
    touched |= {(unit_id, key) for key in forms
                if (unit_id := form_unit.get(key, message.unit_id)) is not None}
    by_unit: dict[int, set[str]] = {}
    for unit_id, form_key in touched:
        by_unit.setdefault(unit_id, set()).add(form_key)
    for unit_id in sorted(by_unit):              # one lock order for every worker
        repo.refresh_current(session=session, unit_id=unit_id, forms=by_unit[unit_id])
    if dismissed:
        message.status, message.error = "ignored", None
        message.attempts += 1
        session.add(message)
        return
    named = {u.id: u.name for u in crossed.values()}
    if crossed:
        for own in (unit, placement.sender):
            if own is not None:
                named[own.id] = own.name  # type: ignore[index]
    _answer(session, context, message, parsed, unit, unit_text, now=now,
            also=[f"{spec.short}按表中“填报单位”归入“{crossed[spec.key].name}”。"
                  for spec in context.settings.forms if spec.key in crossed],
            units_named=named or None,
            copy_to=[a for u in crossed.values() for a in context.addresses(session, u.id)],
            form_units={spec.short: crossed[spec.key].name for spec in context.settings.forms
                        if spec.key in crossed and unit is not None
                        and crossed[spec.key].id != unit.id})
    message.status, message.error = "processed", None
    message.attempts += 1
    session.add(message)


def _answer(session: Session, context: StoreContext, message: Message, parsed: Parsed,
            unit: Unit | None, unit_text: str | None, *, now: datetime,
            also: list[str] | None = None, units_named: dict[int, str] | None = None,
            copy_to: list[str] | None = None,
            form_units: dict[str, str] | None = None) -> None:
    """Queue the receipt, unless the mail is one not to answer (notifier/policy.py).
    `units_named`: the units a mail's forms were split between, each told what it still
    has to send."""
    settings = context.settings
    envelope, forms = parsed.envelope, parsed.forms
    answered_today = repo.receipts_since(session=session, address=envelope.from_addr,
                                         since=now - timedelta(days=1))
    facts = mail_facts(settings, parsed, context.units(session),
                       known_sender=context.is_known(session, envelope.from_addr),
                       answered_today=answered_today)
    decision = decide(facts)
    message.outcome = decision.outcome
    if not decision.answer:
        if decision.outcome == "no-reply:rate-limited":
            logger.warning("receipt.rate_limited from={}", envelope.from_addr)
        return
    done = repo.current_forms(session=session, unit_id=unit.id) if unit and unit.id else set()
    notes = list(also or [])
    if decision.none_arrived:
        notes.append(NONE_ARRIVED_NOTE)
    if parsed.links and not forms:
        notes.append(LINK_NOTE)
    if unit is not None and message.sender_matches_unit is False \
            and message.match_method not in (FROM_FILE_NAME, FROM_SUBJECT):
        notes.append(f"本邮件地址不在“{unit.name}”的登记邮箱中，已按表中“填报单位”归入该单位。")
    every = {spec.key for spec in settings.forms}
    by_unit = {name: every - repo.current_forms(session=session, unit_id=unit_id)
               for unit_id, name in (units_named or {}).items()}
    facts = build_facts(settings, subject=envelope.subject, unit_name=unit.name if unit else None,
                        unit_text=unit_text, forms=forms, files=parsed.files,
                        missing=every - done, notes=notes, missing_by_unit=by_unit)
    # The blank forms it asks for go with it (a declaration's `template`).
    blanks = receipt_blanks(settings.forms, unit_known=unit is not None, has_forms=bool(forms),
                            missing=every - done, missing_by_unit=by_unit)
    body = receipt_body(settings, facts, now=now, form_units=form_units,
                        blanks=[name for name, _, _ in blanks],
                        reply_here=replies_reach_mailbox(settings))
    mail = compose(kind="receipt",
                   sender=Sender(settings.smtp.from_address, settings.smtp.from_name),
                   to=[envelope.from_addr], subject=receipt_subject(facts), body=body,
                   now=now, in_reply_to=envelope.message_id, attachments=blanks,
                   cc=[a for a in dict.fromkeys(copy_to or [])
                       if a.lower() != envelope.from_addr.lower()])
    queued = enqueue(session, kind="receipt", dedup_key=f"receipt:{message.key}", message=mail,
                     now=now, unit_id=unit.id if unit else None, message_ref=message.id)
    message.outcome = "receipt" if queued else "receipt-already-sent"
