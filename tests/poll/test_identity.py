"""A mail is a mail: two deliveries of one mail are one; two mails sharing a Message-ID
are two, each read, stored and answered; databases from before keep working."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import FormFill, activity_docx, build_mail
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.poll.identity import identity_of
from store.db import HEAD, current_revision, open_database
from store.models import Message, Outgoing, Submission
from tests.support.helpers import BOT, NOW, Bot, write_config

DATE = datetime(2018, 6, 10, 9, 0, tzinfo=UTC)


def form_mail(sender: str, unit: str, message_id: str, activity: str) -> bytes:
    fill = FormFill(unit, [[activity, "讲座", "6月", "内容", "20人"]])
    return build_mail(from_addr=sender, to_addr=BOT, subject="报送主题活动申报表", body="附件请查收",
                      attachments=[("申报表.docx", activity_docx(fill))],
                      message_id=message_id, date=DATE)


def delivered(raw: bytes, hop: str, *, crlf: bool = True) -> bytes:
    """The mail as another server delivered it: its own trace headers on top."""
    trace = (f"Return-Path: <bounce-{hop}@example.cn>\r\nDelivered-To: {hop}@126.com\r\n"
             f"Received: from mx.{hop}.example by imap.126.com; Sun, 10 Jun 2018 09:0{len(hop)}:00 +0800\r\n"
             f"X-Spam-Score: 0.{len(hop)}\r\nAuthentication-Results: {hop}; spf=pass\r\n").encode()
    out = trace + raw
    return out if crlf else out.replace(b"\r\n", b"\n")


def _identity(tmp_path: Path, raw: bytes, name: str):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_bytes(raw)
    return identity_of(path, name)


def test_trace_headers_and_line_endings_do_not_make_another_mail(tmp_path: Path) -> None:
    raw = form_mail("dhjd_gh@example.cn", "定海路街道总工会", "<same@example.cn>", "报告会")
    first = _identity(tmp_path, delivered(raw, "a"), "a.eml")
    second = _identity(tmp_path, delivered(raw, "second", crlf=False) + b"\n\n", "b.eml")
    assert first.message_id == second.message_id == "<same@example.cn>"
    assert first.digest == second.digest and first.base_key == "<same@example.cn>"


def test_another_mail_with_the_same_message_id_is_another_identity(tmp_path: Path) -> None:
    one = _identity(tmp_path, form_mail("a@x.cn", "定海路街道总工会", "<0@localhost>", "报告会"), "1")
    two = _identity(tmp_path, form_mail("b@y.cn", "殷行街道总工会", "<0@localhost>", "展示会"), "2")
    assert one.base_key == two.base_key == "<0@localhost>"
    assert one.digest != two.digest
    assert one.key_beside(True) != two.key_beside(True)
    assert one.key_beside(True).startswith("<0@localhost>#")


def test_a_mail_without_message_id_is_keyed_by_its_content(tmp_path: Path) -> None:
    raw = build_mail(from_addr="a@x.cn", to_addr=BOT, subject="s", body="b", attachments=[],
                     date=DATE).replace(b"Message-ID:", b"X-Old-Message-ID:")
    first, second = _identity(tmp_path, raw, "1"), _identity(tmp_path, delivered(raw, "b"), "2")
    assert first.message_id is None and first.base_key == second.base_key
    assert first.base_key.startswith("content:")


@pytest.fixture
def bot(tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]) -> Bot:
    return Bot.at(write_config(tmp_path, *servers))


def _rows(bot: Bot) -> tuple[list[Message], list[Submission], int]:
    with Session(bot.engine) as session:
        messages = list(session.exec(select(Message).order_by(Message.id)))  # type: ignore[arg-type]
        submissions = list(session.exec(select(Submission).order_by(Submission.id)))  # type: ignore[arg-type]
        receipts = session.exec(select(func.count()).select_from(Outgoing).where(
            Outgoing.kind == "receipt")).one()
        return messages, submissions, receipts


def test_one_mail_delivered_twice_is_stored_and_answered_once(
        bot: Bot, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]) -> None:
    imap, smtp = servers
    raw = form_mail("dhjd_gh@example.cn", "定海路街道总工会", "<twice@example.cn>", "报告会")
    imap.append(delivered(raw, "first"))
    bot.poll(NOW)
    imap.append(delivered(raw, "forwarded-by-rule"))
    bot.poll(NOW)
    messages, submissions, receipts = _rows(bot)
    assert [m.key for m in messages] == ["<twice@example.cn>"]
    assert len(submissions) == 1 and receipts == 1 and len(smtp.messages) == 1


def test_two_units_forms_sharing_a_message_id_are_both_stored_and_answered(
        bot: Bot, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]) -> None:
    imap, smtp = servers
    imap.append(form_mail("dhjd_gh@example.cn", "定海路街道总工会", "<0@localhost>", "报告会"))
    imap.append(form_mail("yinhang_gh@example.cn", "殷行街道总工会", "<0@localhost>", "展示会"))
    bot.poll(NOW)
    imap.append(form_mail("kjl_gh@example.cn", "控江路街道总工会", "<0@localhost>", "讲座"))
    bot.poll(NOW)
    messages, submissions, receipts = _rows(bot)
    assert len(messages) == 3 and len({m.key for m in messages}) == 3
    assert messages[0].key == "<0@localhost>"
    assert all(m.message_id == "<0@localhost>" and m.status == "processed" for m in messages)
    assert len({s.unit_id for s in submissions}) == 3 and all(s.current for s in submissions)
    assert receipts == 3 and sorted(r for _, rcpts, _ in smtp.messages for r in rcpts) == [
        "dhjd_gh@example.cn", "kjl_gh@example.cn", "yinhang_gh@example.cn"]


def test_a_database_at_0003_keeps_its_mail_and_tells_mails_apart_after_upgrade(
        tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]) -> None:
    imap, smtp = servers
    config = write_config(tmp_path, imap, smtp)
    bot = Bot.at(config)
    raw = form_mail("dhjd_gh@example.cn", "定海路街道总工会", "<old@example.cn>", "报告会")
    imap.append(delivered(raw, "a"))
    bot.poll(NOW)
    url = bot.engine.url.render_as_string(hide_password=False)   # str() hides it
    bot.engine.dispose()
    engine = open_database(url)
    with engine.begin() as conn:   # the schema as 0003 left it: no digest, no index
        conn.execute(text("DROP INDEX ix_message_digest"))
        conn.execute(text("DROP INDEX ix_message_message_id"))
        conn.execute(text("ALTER TABLE message DROP COLUMN digest"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    engine.dispose()
    assert current_revision(open_database(url)) == HEAD

    bot = Bot.at(config)
    with Session(bot.engine) as session:
        (old,) = session.exec(select(Message)).all()
        assert old.key == "<old@example.cn>" and old.digest is None
    imap.append(delivered(raw, "second-mailbox"))   # the old mail again: still one
    imap.append(form_mail("yinhang_gh@example.cn", "殷行街道总工会", "<old@example.cn>", "展示会"))
    bot.poll(NOW)
    messages, submissions, receipts = _rows(bot)
    assert [m.key.split("#")[0] for m in messages] == ["<old@example.cn>"] * 2
    assert messages[0].digest is not None          # computed from its kept raw mail
    assert len(submissions) == 2 and receipts == 2 and len(smtp.messages) == 2
