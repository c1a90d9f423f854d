"""The outbox: a receipt is recorded first, survives SMTP outages, and goes out once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail
from formbot.demo.smtp_server import EmbeddedSMTP
from store.models import Outgoing
from tests.conftest import PASSWORD
from tests.support.helpers import ACTIVITY, BOT, NOW, Bot, write_config


def outbox(bot: Bot) -> list[Outgoing]:
    with Session(bot.engine) as session:
        return list(session.exec(select(Outgoing)))


def test_smtp_down_keeps_the_receipt_and_sends_it_once_when_back(tmp_path: Path) -> None:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap:
        smtp = EmbeddedSMTP(user=BOT, password=PASSWORD).start()
        config = write_config(tmp_path, imap, smtp)
        port = smtp.port
        smtp.stop()                               # the SMTP server is down
        bot = Bot.at(config)
        imap.append(build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject="申报",
                               body="", attachments=[("a.docx", activity_docx(ACTIVITY))]))
        down = bot.poll()
        assert down.processed == 1 and down.delivery.sent == 0
        assert down.delivery.waiting == 1 and "无法连接发信服务器" in down.delivery.errors[0]
        (row,) = outbox(bot)
        assert row.status == "pending" and row.kind == "receipt"

        # Still down on the next poll: still one pending row, nothing duplicated.
        bot.poll(NOW + timedelta(minutes=5))
        assert [r.status for r in outbox(bot)] == ["pending"]

        with EmbeddedSMTP(user=BOT, password=PASSWORD, port=port) as smtp_back:
            up = bot.poll(NOW + timedelta(minutes=10))
            assert up.delivery.sent == 1
            assert len(smtp_back.wait_for(1)) == 1
            bot.poll(NOW + timedelta(minutes=15))
            assert len(smtp_back.messages) == 1
        assert [r.status for r in outbox(bot)] == ["sent"]

