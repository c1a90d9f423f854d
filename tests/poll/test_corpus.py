"""Every corpus mail through the real pipeline (pymap + aiosmtpd): rows, unit, receipt."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.smtp_server import EmbeddedSMTP
from store.models import Message, Submission, Unit
from tests.support.fixtures.corpus import CASES, Case
from tests.support.formrows import ActivityRow, VolunteerTeamRow
from tests.support.helpers import Bot, body_of, parse_sent, write_config


def _rows(session: Session, table: type, form: str) -> list[object]:
    return list(session.exec(
        select(table).join(Submission, Submission.id == table.submission_id)  # type: ignore[attr-defined]
        .where(Submission.form == form).order_by(table.id)))  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_mail(case: Case, tmp_path: Path,
                     servers: tuple[EmbeddedIMAP, EmbeddedSMTP]) -> None:
    imap, smtp = servers
    bot = Bot.at(write_config(tmp_path, imap, smtp))
    imap.append(case.build())
    report = bot.poll()
    assert (report.processed, report.failed) == (1, 0), report.errors

    with Session(bot.engine) as session:
        (message,) = session.exec(select(Message)).all()
        unit = session.get(Unit, message.unit_id) if message.unit_id else None
        for table, form, expected in ((ActivityRow, "activity", case.activity),
                                      (VolunteerTeamRow, "volunteer_team", case.volunteer)):
            got = _rows(session, table, form)
            assert len(got) == len(expected), form
            for row, want in zip(got, expected, strict=True):
                assert {k: getattr(row, k) for k in want} == want
    if case.activity or case.volunteer:
        assert (unit.name if unit else None) == case.unit

    if not case.answered:
        assert smtp.messages == []
        return
    (_, _, raw), = smtp.wait_for(1)
    text = body_of(parse_sent(raw))
    for phrase in case.receipt:
        assert phrase in text, f"{phrase!r} not in receipt:\n{text}"
