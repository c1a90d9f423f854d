"""LibreOffice installed but not python3-uno (the bridge's Python cannot import uno):
the sender is told what is missing and that nothing needs resending, the admin's log and
`formbot doctor` say what to install, and the next poll after it is installed reads
the mail again. Real LibreOffice, real .doc, real servers; "not installed" is a real
interpreter without uno (the venv's own) in place of /usr/bin/python3."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlmodel import Session, select

from formbot.cli.doctor import _converter_checks
from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import FormFill, activity_docx, build_mail
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.poll import converters
from parsers.convert import NO_CONVERTER_PREFIX
from store.models import AttachmentRecord
from tests.conftest import PASSWORD
from tests.support.fixtures.legacy import libreoffice_made
from tests.support.formrows import ActivityRow
from tests.support.helpers import BOT, Bot, body_of, parse_sent, write_config

FILL = FormFill("定海路街道总工会", [["宣讲会", "报告会", "6月", "劳模宣讲", "50"]])


def _rows(bot: Bot) -> int:
    with Session(bot.engine) as session:
        return len(session.exec(select(ActivityRow)).all())


def _problems(bot: Bot) -> list[str | None]:
    with Session(bot.engine) as session:
        return [a.problem for a in session.exec(select(AttachmentRecord))]


def test_a_doc_waits_for_a_missing_uno_and_is_read_once_it_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loguru import logger

    doc = libreoffice_made(activity_docx(FILL), "docx", "doc")
    log: list[str] = []
    sink = logger.add(lambda m: log.append(str(m)), level="ERROR")
    installed = converters.BRIDGE_PYTHON
    monkeypatch.setattr(converters, "BRIDGE_PYTHON", sys.executable)  # no uno module there
    try:
        with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
                EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
            bot = Bot.at(write_config(tmp_path, imap, smtp))
            imap.append(build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT,
                                   subject="申报表", body="",
                                   attachments=[("申报表.doc", doc)],
                                   message_id="<waits@example.cn>"))
            assert bot.poll().processed == 1
            (receipt,) = smtp.wait_for(1)
            text = body_of(parse_sent(receipt[2]))
            assert NO_CONVERTER_PREFIX in text and "python3-uno" in text and "无需重发" in text
            assert "暂时" not in text
            assert any("convert.missing" in line and "apt-get install -y python3-uno" in line
                       for line in log)
            assert _rows(bot) == 0
            assert bot.poll().processed == 0       # still missing: not read again for nothing
            monkeypatch.setattr(converters, "BRIDGE_PYTHON", installed)  # now it is there
            assert bot.poll().processed == 1
            assert _rows(bot) == 1
            assert _problems(bot) == [None]
            assert bot.poll().processed == 0       # read once, not at every poll
            assert len(smtp.messages) == 1         # the receipt said it would be done
    finally:
        logger.remove(sink)


def test_doctor_names_the_missing_package(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert _converter_checks()
    assert "✓ 旧版 .doc/.xls 转换" in capsys.readouterr().out
    monkeypatch.setattr(converters, "BRIDGE_PYTHON", sys.executable)
    assert not _converter_checks()
    out = capsys.readouterr().out
    assert "✗ 旧版 .doc/.xls 转换" in out and "apt-get install -y python3-uno" in out
    monkeypatch.setattr(converters.shutil, "which", lambda name: None)
    assert not _converter_checks()
    out = capsys.readouterr().out
    assert "libreoffice-writer-nogui" in out and "libarchive-tools" in out
