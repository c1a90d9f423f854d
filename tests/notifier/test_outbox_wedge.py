"""The outbox never wedges: one mail SMTP cannot carry fails alone, the rest goes out.

Reproduces issue 11: a receipt to `Marilù.Gioffré@esempio-università.it` raised
UnicodeEncodeError in the outbox, and every later poll exited 2 at the same place.
All against a real aiosmtpd server, with the clock injected.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlmodel import Session, select

from formbot.cli.commands import main
from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail
from formbot.demo.smtp_server import EmbeddedSMTP
from notifier.compose import Sender, compose
from notifier.outbox import MAX_ATTEMPTS, backoff, drain, enqueue
from store.models import Outgoing
from tests.conftest import PASSWORD
from tests.support.helpers import ACTIVITY, BOT, NOW, Bot, write_config

IDN = "Marilù.Gioffré@esempio-università.it"


def queue(bot: Bot, to: str | list[str], key: str, subject: str = "回执") -> None:
    mail = compose(kind="receipt", sender=Sender(BOT, "杨浦区总工会"),
                   to=[to] if isinstance(to, str) else to, subject=subject,
                   body="已收到。", now=NOW)
    with Session(bot.engine) as session:
        enqueue(session, kind="receipt", dedup_key=key, message=mail, now=NOW)
        session.commit()


def rows(bot: Bot) -> dict[str, Outgoing]:
    with Session(bot.engine) as session:
        return {r.dedup_key: r for r in session.exec(select(Outgoing))}


def form_mail() -> bytes:
    return build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject="申报", body="",
                      attachments=[("a.docx", activity_docx(ACTIVITY))])


def drain_at(bot: Bot, smtp: EmbeddedSMTP, when=NOW):  # type: ignore[no-untyped-def]
    from formbot.poll.pipeline import smtp_target

    return drain(bot.engine, smtp_target(bot.settings), now=when, sender=BOT)


def test_idn_receipt_fails_alone_and_every_poll_exits_0(tmp_path: Path) -> None:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:   # no SMTPUTF8 offered
        config = write_config(tmp_path, imap, smtp)
        bot = Bot.at(config)
        queue(bot, IDN, "stranger")               # ahead of the unit's receipt in the outbox
        imap.append(form_mail())
        runner = CliRunner()
        first = runner.invoke(main, ["poll", "--config", str(config), "--now", NOW.isoformat()])
        assert first.exit_code == 0, first.output
        received = smtp.wait_for(1)
        assert [to for _, to, _ in received] == [["dhjd_gh@example.cn"]]
        stuck = rows(bot)["stranger"]
        assert stuck.status == "failed" and stuck.attempts == 1
        assert "含中文等非英文字符" in (stuck.last_error or "") and IDN in (stuck.last_error or "")
        assert "发信失败 1 封" in first.output and "formbot outbox list" in first.output
        later = runner.invoke(main, ["poll", "--config", str(config), "--now",
                                     (NOW + timedelta(minutes=5)).isoformat()])
        assert later.exit_code == 0, later.output
        assert len(smtp.messages) == 1


def test_idn_receipt_goes_out_when_the_server_offers_smtputf8(tmp_path: Path) -> None:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD, smtputf8=True) as smtp:
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        queue(bot, IDN, "stranger")
        queue(bot, "x@esempio-università.it", "idn-domain")
        report = drain_at(bot, smtp)
        assert report.sent == 2 and report.failed == 0
        (_, first, raw), (_, second, _) = smtp.wait_for(2)
        assert first == [IDN]
        assert f"To: {IDN}\r\n".encode() in raw           # RFC 6532: UTF-8 header as is
        assert second == ["x@xn--esempio-universit-4ob.it"]  # IDNA: no SMTPUTF8 needed
        assert {r.status for r in rows(bot).values()} == {"sent"}


def test_idn_domain_alone_needs_no_smtputf8(tmp_path: Path) -> None:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        queue(bot, "x@esempio-università.it", "idn-domain")
        assert drain_at(bot, smtp).sent == 1
        assert smtp.wait_for(1)[0][1] == ["x@xn--esempio-universit-4ob.it"]


def test_permanent_refusal_and_non_address_fail_at_once_and_the_rest_goes_on(
        tmp_path: Path) -> None:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        smtp.refuse("gone@example.cn", "550 5.1.1 No such user here")
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        queue(bot, "gone@example.cn", "gone")
        queue(bot, "not an address", "junk")
        queue(bot, "kjl_gh@example.cn", "good")
        report = drain_at(bot, smtp)
        assert (report.sent, report.failed, report.errors) == (1, 2, [])
        state = rows(bot)
        assert state["good"].status == "sent"
        assert state["gone"].status == "failed"
        assert "收件邮箱不存在" in (state["gone"].last_error or "")
        assert "收件服务器拒收" in (state["gone"].last_error or "")
        assert state["junk"].status == "failed"
        assert "不是有效的邮件地址" in (state["junk"].last_error or "")
        assert [to for _, to, _ in smtp.messages] == [["kjl_gh@example.cn"]]


def test_temporary_refusal_backs_off_then_fails_after_bounded_attempts(tmp_path: Path) -> None:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        smtp.refuse("busy@example.cn", "451 4.7.1 Try again later")
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        queue(bot, "busy@example.cn", "busy")
        queue(bot, "kjl_gh@example.cn", "good")
        first = drain_at(bot, smtp)
        assert (first.sent, first.retrying, first.failed, first.waiting) == (1, 1, 0, 1)
        busy = rows(bot)["busy"]
        assert busy.status == "pending" and busy.attempts == 1
        assert busy.next_attempt_at == NOW + backoff(1)
        assert "5 分钟后重试" in (busy.last_error or "")
        # Not due yet: a drain a minute later leaves it alone.
        drain_at(bot, smtp, NOW + timedelta(minutes=1))
        assert rows(bot)["busy"].attempts == 1
        when = NOW
        for attempt in range(2, MAX_ATTEMPTS + 1):
            when = rows(bot)["busy"].next_attempt_at
            assert when is not None
            drain_at(bot, smtp, when)
            assert rows(bot)["busy"].attempts == attempt
        busy = rows(bot)["busy"]
        assert busy.status == "failed" and busy.next_attempt_at is None
        assert f"已尝试 {MAX_ATTEMPTS} 次" in (busy.last_error or "")
        assert backoff(MAX_ATTEMPTS) == timedelta(hours=6)   # the back-off is capped


def test_a_mail_sent_to_some_of_its_recipients_does_not_promise_a_retry(
        tmp_path: Path) -> None:
    # The others took it, so it counts as sent and nothing retries the busy address:
    # telling the admin "无需处理，稍后会自动重试" would be untrue.
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        smtp.refuse("busy@example.cn", "451 4.7.1 Try again later")
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        queue(bot, ["kjl_gh@example.cn", "busy@example.cn"], "both")
        report = drain_at(bot, smtp)
        assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
        both = rows(bot)["both"]
        assert both.status == "sent"
        note = both.last_error or ""
        assert "busy@example.cn" in note and "部分收件人被拒收" in note
        assert "自动重试" not in note and "另行告知该单位" in note
        assert [rcpts for _, rcpts, _ in smtp.messages] == [["kjl_gh@example.cn"]]


def test_temporary_refusal_then_accepted(tmp_path: Path) -> None:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        smtp.refuse("busy@example.cn", "421 4.3.2 Service shutting down")  # closes the line
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        queue(bot, "busy@example.cn", "busy")
        queue(bot, "kjl_gh@example.cn", "good")
        report = drain_at(bot, smtp)
        assert (report.sent, report.retrying) == (1, 1)   # reconnected for the next mail
        smtp._recorder.rcpt_replies.clear()
        again = drain_at(bot, smtp, NOW + backoff(1))
        assert again.sent == 1 and rows(bot)["busy"].status == "sent"


def test_server_down_counts_no_attempt_and_the_poll_exits_non_zero(tmp_path: Path) -> None:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap:
        smtp = EmbeddedSMTP(user=BOT, password=PASSWORD).start()
        config = write_config(tmp_path, imap, smtp)
        smtp.stop()
        bot = Bot.at(config)
        queue(bot, "kjl_gh@example.cn", "good")
        result = CliRunner().invoke(main, ["poll", "--config", str(config)])
        assert result.exit_code == 3
        assert "无法连接发信服务器" in result.output and "Traceback" not in result.output
        good = rows(bot)["good"]
        assert good.status == "pending" and good.attempts == 0 and good.next_attempt_at is None


def test_admin_sees_lists_retries_and_drops_failed_mail(tmp_path: Path) -> None:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        config = write_config(tmp_path, imap, smtp)
        bot = Bot.at(config)
        queue(bot, IDN, "stranger", subject="回执：申报")
        queue(bot, "not an address", "junk")
        drain_at(bot, smtp)
        runner = CliRunner()
        status = runner.invoke(main, ["status", "--json", "--config", str(config)])
        assert status.exit_code == 0, status.output
        outbox = json.loads(status.output)["outbox"]
        assert outbox["pending"] == 0 and outbox["retrying"] == []
        stranger = next(item for item in outbox["failed"] if item["to"] == [IDN])
        assert set(stranger) == {"id", "to", "kind", "subject", "attempts", "error", "created_at"}
        assert stranger["kind"] == "receipt" and stranger["subject"] == "回执：申报"
        assert stranger["attempts"] == 1 and "含中文等非英文字符" in stranger["error"]
        table = runner.invoke(main, ["status", "--config", str(config)])
        assert "发送失败的邮件 2 封" in table.output and IDN in table.output

        listed = runner.invoke(main, ["outbox", "list", "--config", str(config)])
        assert listed.exit_code == 0 and IDN in listed.output and "含中文等非英文字符" in listed.output
        ident = str(stranger["id"])
        retried = runner.invoke(main, ["outbox", "retry", ident, "--config", str(config)])
        assert retried.exit_code == 0, retried.output
        assert rows(bot)["stranger"].status == "pending"
        assert rows(bot)["stranger"].attempts == 0
        dropped = runner.invoke(main, ["outbox", "drop", ident, "--config", str(config)])
        assert dropped.exit_code == 0, dropped.output
        assert rows(bot)["stranger"].status == "dropped"
        missing = runner.invoke(main, ["outbox", "drop", "9999", "--config", str(config)])
        assert missing.exit_code == 1 and "9999" in missing.output
        every = runner.invoke(main, ["outbox", "retry", "--all-failed", "--config", str(config)])
        assert every.exit_code == 0 and "1 封" in every.output
        assert rows(bot)["junk"].status == "pending"
        from store.audit import recent
        with Session(bot.engine) as session:
            actions = [e.action for e in recent(session)]
        assert actions.count("outbox-retry") == 2 and actions.count("outbox-drop") == 1


def test_digest_names_failed_outgoing_mail(tmp_path: Path) -> None:
    from formbot.jobs.digest import queue_digest

    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        config = write_config(tmp_path, imap, smtp, campaign__admin_emails=["admin@example.cn"])
        bot = Bot.at(config)
        queue(bot, IDN, "stranger", subject="回执：申报")
        drain_at(bot, smtp)
        assert queue_digest(bot.settings, engine=bot.engine, now=NOW)
        digest = next(r for r in rows(bot).values() if r.kind == "digest")
        from tests.support.helpers import body_of, parse_sent
        body = body_of(parse_sent(digest.raw))
        assert "发送失败、已停止发送的邮件1封" in body and IDN in body and "含中文等非英文字符" in body


def test_console_lists_failed_mail_and_retries_or_drops_it_with_csrf(tmp_path: Path) -> None:
    import re

    from starlette.testclient import TestClient

    from formbot.web.app import create_app
    from formbot.web.auth import LoginThrottle, PasswordHash

    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        queue(bot, IDN, "stranger", subject="回执：申报")
        queue(bot, "not an address", "junk")
        drain_at(bot, smtp)
        ids = {key: row.id for key, row in rows(bot).items()}
        app = create_app(bot.settings, engine=bot.engine, password=PasswordHash("pw for test"),
                         clock=lambda: NOW, throttle=LoginThrottle(limit=3, window=60))
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            def token(path: str) -> str:
                found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
                assert found is not None
                return found.group(1)

            client.post("/login", data={"password": "pw for test", "csrf": token("/login"),
                                        "next": "/"})
            page = client.get("/outbox")
            assert page.status_code == 200
            assert IDN in page.text and "含中文等非英文字符" in page.text and "回执：申报" in page.text
            assert "重试" in page.text and "放弃" in page.text
            assert '发件箱<span class="badge">2</span>' in page.text
            forged = client.post(f"/outbox/{ids['stranger']}/drop", data={"csrf": "x" * 43})
            assert forged.status_code == 403 and rows(bot)["stranger"].status == "failed"
            done = client.post(f"/outbox/{ids['stranger']}/retry", data={"csrf": token("/outbox")})
            assert done.status_code == 200 and "已放回发件箱" in done.text
            assert rows(bot)["stranger"].status == "pending"
            gone = client.post(f"/outbox/{ids['junk']}/drop", data={"csrf": token("/outbox")})
            assert "已放弃" in gone.text and rows(bot)["junk"].status == "dropped"
            audit = client.get("/audit").text
            assert "重发邮件" in audit and "放弃发送邮件" in audit


def test_a_database_from_revision_0003_gains_the_outbox_back_off(tmp_path: Path) -> None:
    from sqlalchemy import inspect, text

    from store.db import HEAD, current_revision, open_database
    from tests.support.helpers import database_url

    url = database_url(tmp_path)
    engine = open_database(url)
    with engine.begin() as conn:   # the outbox as release 0003 made it
        conn.execute(text("ALTER TABLE outgoing DROP COLUMN next_attempt_at"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    engine.dispose()
    engine = open_database(url)
    assert current_revision(engine) == HEAD
    assert "next_attempt_at" in {c["name"] for c in inspect(engine).get_columns("outgoing")}
