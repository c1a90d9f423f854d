"""`formbot reprocess`: the kept raw mail parsed again replaces the old parse, nothing doubles."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlmodel import Session, func, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import FormFill, activity_docx, build_mail
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.poll import pipeline, reading
from formbot.reports.status import status_data
from store.models import Outgoing, Submission
from tests.cli.test_cli import run
from tests.conftest import PASSWORD
from tests.support.formrows import ActivityRow
from tests.support.helpers import BOT, NOW, Bot, write_config


def count(bot: Bot, table: type) -> int:
    with Session(bot.engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


def test_reprocess_after_the_registry_learns_an_alias(tmp_path: Path) -> None:
    fill = FormFill("杨浦区新江湾城街道工会", [["宣讲会", "报告会", "6月", "x", "50"],
                                              ["读书会", "座谈", "7月", "y", "30"]])
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        config = write_config(tmp_path, imap, smtp)
        bot = Bot.at(config)
        imap.append(build_mail(from_addr="xjwc@qq.example", to_addr=BOT, subject="申报表",
                               body="", attachments=[("a.docx", activity_docx(fill))],
                               message_id="<xjwc@example.cn>"))
        bot.poll()
        assert status_data(bot.settings, engine=bot.engine)["unmatched"][0]["unit_text"] == \
            "杨浦区新江湾城街道工会"

        data = yaml.safe_load(config.read_text("utf-8"))
        data["units"].append({"name": "新江湾城街道总工会", "aliases": [], "emails": []})
        config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
        result = run("reprocess", "--all", "--config", str(config), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        again = run("reprocess", "<xjwc@example.cn>", "--config", str(config), cwd=tmp_path)
        assert again.returncode == 0, again.stderr

        bot = Bot.at(config)
        data = status_data(bot.settings, engine=bot.engine)
        assert data["unmatched"] == []
        unit = next(u for u in data["units"] if u["name"] == "新江湾城街道总工会")
        assert unit["forms"]["activity"]["rows"] == 2
        assert (count(bot, Submission), count(bot, ActivityRow), count(bot, Outgoing)) == (1, 2, 1)
        assert len(smtp.messages) == 1


def test_reprocess_fixes_a_failed_message_and_answers_it_once(
    tmp_path: Path, monkeypatch: object
) -> None:
    fill = FormFill("定海路街道总工会", [["宣讲会", "报告会", "6月", "x", "50"]])
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        imap.append(build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject="申报表",
                               body="", attachments=[("a.docx", activity_docx(fill))],
                               message_id="<broken@example.cn>"))
        real = reading.parse_mail

        def broken(raw: bytes) -> None:
            raise RuntimeError("old parser bug")

        monkeypatch.setattr(reading, "parse_mail", broken)  # type: ignore[attr-defined]
        bot.poll()
        assert status_data(bot.settings, engine=bot.engine)["failed"]
        monkeypatch.setattr(reading, "parse_mail", real)  # type: ignore[attr-defined]
        report = pipeline.reprocess(bot.settings, engine=bot.engine, now=NOW,
                                    message_ids=["<broken@example.cn>"])
        assert (report.processed, report.failed, report.delivery.sent) == (1, 0, 1)
        pipeline.reprocess(bot.settings, engine=bot.engine, now=NOW)
        assert status_data(bot.settings, engine=bot.engine)["failed"] == []
        assert count(bot, ActivityRow) == 1 and len(smtp.messages) == 1


def test_reprocess_needs_a_target(tmp_path: Path) -> None:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        config = write_config(tmp_path, imap, smtp)
        neither = run("reprocess", "--config", str(config), cwd=tmp_path)
        unknown = run("reprocess", "<nope@example.cn>", "--config", str(config), cwd=tmp_path)
    assert neither.returncode == 1 and "--all" in neither.stderr
    assert unknown.returncode == 1 and "没有找到这封邮件" in unknown.stderr


def test_reprocess_keeps_what_the_admin_decided(tmp_path: Path) -> None:
    from formbot.poll.storing import ADMIN, DISMISSED
    from store.models import Message, Unit

    stranger = FormFill("某某科技公司工会", [["读书会", "座谈", "6月", "x", "10"]])
    other = FormFill("某某物业公司工会", [["讲座", "讲座", "6月", "x", "5"]])
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        for key, fill in (("<assigned@x.example>", stranger), ("<dismissed@x.example>", other)):
            imap.append(build_mail(from_addr="hr@corp.example", to_addr=BOT, subject="表",
                                   body="", attachments=[("a.docx", activity_docx(fill))],
                                   message_id=key))
        bot.poll()
        with Session(bot.engine) as session:  # what the console's assign and dismiss record
            unit = session.exec(select(Unit).where(Unit.name == "控江路街道总工会")).one()
            assigned = session.exec(select(Message).where(Message.key == "<assigned@x.example>")).one()
            assigned.unit_id, assigned.match_method = unit.id, ADMIN
            dismissed = session.exec(select(Message).where(Message.key == "<dismissed@x.example>")).one()
            dismissed.status, dismissed.outcome = "ignored", DISMISSED
            session.add(assigned)
            session.add(dismissed)
            session.commit()
        pipeline.reprocess(bot.settings, engine=bot.engine, now=NOW)
        data = status_data(bot.settings, engine=bot.engine)
        kongjiang = next(u for u in data["units"] if u["name"] == "控江路街道总工会")
        assert kongjiang["forms"]["activity"]["submitted"]
        assert data["unmatched"] == []
        assert len(smtp.messages) == 2   # the two first receipts only
