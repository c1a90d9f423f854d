"""A server's English refusal reaches the admin as a Chinese sentence (issue 14 part 4):
what happened and what to do, in `formbot outbox list`, `status --json`'s outbox, the
console's 发件箱 and the digest; the server's own reply is in the log only.

Real aiosmtpd refusing with the replies real servers send, real pymap, the CLI as the
admin runs it, the clock injected.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner
from sqlmodel import Session, select

from formbot.cli.commands import main
from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail
from formbot.demo.smtp_server import EmbeddedSMTP
from notifier.smtperrors import refusal
from store.models import Outgoing
from tests.conftest import PASSWORD
from tests.support.helpers import ACTIVITY, BOT, NOW, SENDERS, UNITS, Bot, write_config

REPLIES = {
    SENDERS[0]: "550 5.1.1 <dhjd_gh@example.cn>: Recipient address rejected: User unknown",
    SENDERS[1]: "553 SMTPUTF8 required",
    SENDERS[2]: "450 4.2.1 Mailbox busy, try again later",
}
MEANT = {SENDERS[0]: "收件邮箱不存在", SENDERS[1]: "不接受含中文等非英文字符的邮件地址",
         SENDERS[2]: "收件邮箱暂时不可用"}
ADDRESS = re.compile(r"[\w.+-]+@[\w.-]+")


def english_words(text: str) -> list[str]:
    """Latin words of two letters or more, once addresses are taken out."""
    return re.findall(r"[A-Za-z]{2,}", ADDRESS.sub("", text))


def form_mail(sender: str) -> bytes:
    """Each unit sends its own form, so each receipt goes to its sender alone."""
    unit = next(u["name"] for u in UNITS if sender in u["emails"])
    form = replace(ACTIVITY, unit_text=unit)
    return build_mail(from_addr=sender, to_addr=BOT, subject="申报", body="",
                      attachments=[("活动.docx", activity_docx(form))])


def test_english_refusals_reach_the_admin_in_chinese_and_the_log_keeps_the_reply(
        tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from formbot.web.app import create_app
    from formbot.web.auth import LoginThrottle, PasswordHash

    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        for address, reply in REPLIES.items():
            smtp.refuse(address, reply)
        config = write_config(tmp_path, imap, smtp, campaign__admin_emails=["admin@example.cn"])
        for sender in SENDERS:
            imap.append(form_mail(sender))
        runner = CliRunner()
        polled = runner.invoke(main, ["poll", "--config", str(config), "--now", NOW.isoformat()])
        assert polled.exit_code == 0, polled.output

        bot = Bot.at(config)
        with Session(bot.engine) as session:
            stored = {row.recipients[0]: row.last_error or "" for row in session.exec(
                select(Outgoing).where(Outgoing.kind == "receipt"))}
        assert set(stored) == set(SENDERS)
        for address, reason in stored.items():
            assert MEANT[address] in reason and address in reason, reason
            assert english_words(reason) == [], reason
            assert "请" in reason or "无需处理" in reason, reason     # says what to do
        assert "已停止发送" in stored[SENDERS[0]] and "单位名单中改正" in stored[SENDERS[0]]
        assert "已停止发送" in stored[SENDERS[1]] and "英文字母、数字" in stored[SENDERS[1]]
        assert "后重试" in stored[SENDERS[2]] and "无需处理" in stored[SENDERS[2]]

        listed = runner.invoke(main, ["outbox", "list", "--config", str(config)]).output
        status = runner.invoke(main, ["status", "--json", "--config", str(config)]).output
        outbox = json.loads(status)["outbox"]
        shown = [item["error"] for item in outbox["failed"] + outbox["retrying"]]
        assert len(shown) == 3 and sorted(shown) == sorted(stored.values())
        digest = runner.invoke(main, ["digest", "--config", str(config),
                                      "--now", NOW.isoformat()]).output
        app = create_app(bot.settings, engine=bot.engine, password=PasswordHash("pw for test"),
                         clock=lambda: NOW, throttle=LoginThrottle(limit=3, window=60))
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            found = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
            assert found is not None
            client.post("/login", data={"password": "pw for test", "csrf": found.group(1),
                                        "next": "/"})
            page = client.get("/outbox").text
        for where, text in {"outbox list": listed, "status --json": status, "digest": digest,
                            "console": page}.items():
            for address, reply in REPLIES.items():
                assert MEANT[address] in text, (where, text)
                words = reply.split(" ", 2)[-1]
                assert words not in text and "User unknown" not in text, (where, text)
            assert "SMTPUTF8" not in text, (where, text)
        assert english_words(digest.split("三、", 1)[-1]) == [], digest   # the outbox section

        log = (tmp_path / "data" / "logs" / "formbot.log").read_text(encoding="utf-8")
        for reply in REPLIES.values():   # the server's words, for whoever reads the log
            assert reply in log, log


def test_every_refusal_meaning_is_chinese_with_advice() -> None:
    """The table read as a whole: no reply, known or not, gives the admin English."""
    replies = [(550, "5.1.1 User unknown"), (550, "Mailbox unavailable"), (553, "5.1.3 Bad"),
               (552, "5.2.2 Over quota"), (552, "Message size exceeds fixed limit"),
               (554, "5.7.1 Rejected as spam"), (550, "5.7.26 DMARC policy"),
               (554, "Relay access denied"), (421, "4.3.2 Service shutting down"),
               (451, "Try later"), (553, "SMTPUTF8 required"), (550, "5.6.7 Non-ASCII"),
               (599, "Whatever"), (None, None), (500, b"\xff\xfe garbage")]
    for code, text in replies:
        meant = refusal(code, text)
        sentence = meant.what + meant.advice
        assert meant.what and meant.advice and re.search(r"[\u4e00-\u9fff]", sentence)
        assert english_words(sentence.replace("smtp.from_address", "")
                             .replace("smtp.username", "")) == [], (code, text, sentence)
    assert refusal(451, "4.2.2 Mailbox full").advice.startswith("无需处理")
    assert "不存在" in refusal(550, "User unknown").what
