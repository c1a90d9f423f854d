"""A backlog through the pipeline: batches read ahead on the workers, stored in order one
transaction per group, a failing mail undone alone, receipts sent batch by batch, and a
stop that leaves the rest "new" for the next poll."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.poll import pipeline, recording
from store.models import Message, Outgoing, Submission
from tests.conftest import PASSWORD
from tests.support.formrows import ActivityRow
from tests.support.helpers import BOT, NOW, SENDERS, Bot, numbered_mail, write_config


@pytest.fixture
def backlog(tmp_path: Path) -> tuple[Bot, EmbeddedSMTP, int]:
    count = 23   # five batches of five: read ahead, stored behind, the last one short
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        for n in range(count):
            imap.append(numbered_mail(n, "backlog"))
        bot = Bot.at(write_config(tmp_path, imap, smtp, mailbox__batch_size=5,
                                  limits={"receipts_per_sender_per_day": 1000}))
        yield bot, smtp, count


def _count(bot: Bot, table: type, *where: object) -> int:
    with Session(bot.engine) as session:
        return session.exec(select(func.count()).select_from(table).where(*where)).one()


def test_a_backlog_is_stored_in_order_and_answered_batch_by_batch(
    backlog: tuple[Bot, EmbeddedSMTP, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    bot, smtp, count = backlog
    drains: list[int] = []
    real = pipeline.drain

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        done = real(*args, **kwargs)
        drains.append(done.sent)
        return done

    monkeypatch.setattr(pipeline, "drain", counting)
    report = bot.poll()
    assert (report.processed, report.failed, report.delivery.sent) == (count, 0, count)
    assert len(drains) > 1 and drains[0] > 0 and sum(drains) == count
    assert len(smtp.wait_for(count)) == count
    with Session(bot.engine) as session:
        messages = session.exec(select(Message).order_by(Message.id)).all()  # type: ignore[arg-type]
        assert [m.key for m in messages] == [f"<backlog-{n}@example.cn>" for n in range(count)]
        # Stored in UID order: each unit's last mail is its current submission.
        last = {m.unit_id: m.id for m in messages}
        current = session.exec(select(Submission).where(Submission.current == True)).all()  # noqa: E712
        assert sorted(s.message_ref for s in current) == sorted(last.values())
        assert len(last) == len(SENDERS)


@pytest.mark.parametrize("failure", ["error", "flush"])
def test_a_mail_failing_while_stored_is_undone_alone(
    backlog: tuple[Bot, EmbeddedSMTP, int], monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    bot, _, count = backlog
    real = pipeline.store_message

    def half_then_fail(session, context, message, parsed, *, now):  # type: ignore[no-untyped-def]
        real(session, context, message, parsed, now=now)   # its rows and receipt written...
        if message.key == "<backlog-7@example.cn>":
            session.flush()
            if failure == "flush":   # a database error, which leaves the savepoint inactive
                session.add(Message(key=message.key, sha256="x", raw_path="x", size=1,
                                    received_at=now))
                session.flush()
            raise RuntimeError("存储缺陷")                  # ...then the mail fails

    monkeypatch.setattr(pipeline, "store_message", half_then_fail)
    report = bot.poll()
    assert (report.processed, report.failed) == (count - 1, 1)
    assert _count(bot, Submission) == _count(bot, ActivityRow) == count - 1
    assert _count(bot, Outgoing) == count - 1
    with Session(bot.engine) as session:
        bad = session.exec(select(Message).where(Message.key == "<backlog-7@example.cn>")).one()
        assert (bad.status, bad.attempts) == ("failed", 1)
        assert ("存储缺陷" if failure == "error" else "IntegrityError") in (bad.error or "")

    monkeypatch.setattr(pipeline, "store_message", real)
    again = bot.poll(NOW)
    assert (again.processed, again.failed) == (1, 0)
    assert _count(bot, Submission) == _count(bot, ActivityRow) == count


def test_a_stop_mid_backlog_leaves_the_rest_new_and_the_next_poll_reads_it(
    backlog: tuple[Bot, EmbeddedSMTP, int]
) -> None:
    bot, smtp, count = backlog
    stored: list[int] = []

    def stop_after_seven() -> bool:
        stored.append(1)
        return len(stored) >= 7

    first = pipeline.run_once(bot.settings, engine=bot.engine, now=NOW,
                              should_stop=stop_after_seven)
    assert 0 < first.processed < count and first.failed == 0
    statuses = Counter(m.status for m in _messages(bot))
    assert statuses["processed"] == first.processed
    assert statuses["processed"] + statuses["new"] == len(_messages(bot))

    second = bot.poll(NOW)
    assert first.processed + second.processed == count
    assert {m.status for m in _messages(bot)} == {"processed"} and len(_messages(bot)) == count
    assert _count(bot, Submission) == _count(bot, ActivityRow) == count
    receipts = Counter(m["In-Reply-To"] for m in _sent(smtp))
    assert len(receipts) == count and set(receipts.values()) == {1}


def _messages(bot: Bot) -> list[Message]:
    with Session(bot.engine) as session:
        return list(session.exec(select(Message)).all())


def _sent(smtp: EmbeddedSMTP) -> list[object]:
    from tests.support.helpers import parse_sent

    return [parse_sent(raw) for _, _, raw in smtp.messages]


def test_a_batch_another_worker_recorded_meanwhile_is_recorded_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.rawstore import KeptRaw, keep_raw
    from store import repo
    from store.models import MailboxCopy

    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        bot = Bot.at(write_config(tmp_path, imap, smtp))
    kept = []
    for uid, raw in enumerate([numbered_mail(n, "backlog") for n in range(3)], start=1):
        path, sha = keep_raw(bot.settings.data_dir, raw)
        kept.append((uid, KeptRaw(path, sha, len(raw))))
    with Session(bot.engine) as other:   # another mailbox's poll got mail 1 first
        recording.record(other, kept[1][1], now=NOW, account="other@x", folder="INBOX",
                         uidvalidity=7, uid=9)
    real, late = repo.messages_sharing, {"<backlog-1@example.cn>"}

    def looked_too_early(*, session: Session, message_ids: list[str],
                         keys: list[str]) -> list[Message]:
        found = real(session=session, message_ids=message_ids, keys=keys)
        if late & set(message_ids):   # our look came just before their insert
            late.clear()
            return [m for m in found if m.message_id != "<backlog-1@example.cn>"]
        return found

    monkeypatch.setattr(repo, "messages_sharing", looked_too_early)
    with Session(bot.engine) as session:
        recorded = recording.record_all(session, kept, now=NOW, account=f"{BOT}@x",
                                        folder="INBOX", uidvalidity=1)
        assert [fresh for _, fresh in recorded] == [True, False, True]
    assert _count(bot, Message) == 3 and _count(bot, MailboxCopy) == 4
