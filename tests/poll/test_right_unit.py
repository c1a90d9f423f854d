"""The right unit, always (issue 14 part 1): each form goes to the unit its 填报单位 names
exactly, else to the sender's unit, else a close match; a unit's rows are never replaced
by a form that names another unit; both units are told and the admin sees it flagged."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import FormFill, activity_docx, build_mail, volunteer_docx
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.poll.placing import place_forms
from formbot.reports.status import status_data
from parsers.units import UnitRef
from store.models import Submission, Unit
from tests.support.helpers import (
    ACTIVITY,
    BOT,
    TZ,
    VOLUNTEER,
    Bot,
    body_of,
    parse_sent,
    write_config,
)

WJC, XJW = "五角场街道总工会", "新江湾城街道总工会"
WJC_MAIL, XJW_MAIL = "wjc_gh@example.cn", "xjwc_gh@example.cn"
UNITS = [{"name": WJC, "aliases": ["五角场街道工会"], "emails": [WJC_MAIL]},
         {"name": XJW, "aliases": [], "emails": [XJW_MAIL]},
         {"name": "殷行街道总工会", "aliases": [], "emails": ["yinhang_gh@example.cn"]}]
SENT = datetime(2018, 6, 10, 14, 0, tzinfo=TZ)
OWN_ROWS = [["五角场劳模论坛", "论坛", "2018年6月", "劳模与职工面对面", "80人"],
            ["创新成果展", "展览", "2018年7月", "展示职工创新成果", "300人"]]


@pytest.fixture
def bot(tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]) -> Bot:
    imap, smtp = servers
    return Bot.at(write_config(tmp_path, imap, smtp, units=UNITS, campaign__reminders=[]))


def _mail(sender: str, message_id: str, parts: list[tuple[str, bytes]], sent: datetime) -> bytes:
    return build_mail(from_addr=sender, to_addr=BOT, subject="报送附件1、附件2", body="请查收",
                      attachments=parts, message_id=message_id, date=sent)


def test_another_units_form_goes_to_that_unit_and_both_are_told(
        servers: tuple[EmbeddedIMAP, EmbeddedSMTP], bot: Bot) -> None:
    imap, smtp = servers
    # 五角场 first sends its own activity form ...
    imap.append(_mail(WJC_MAIL, "<own@wjc>", [(
        "附件1.docx", activity_docx(FormFill(WJC, OWN_ROWS)))], SENT))
    bot.poll(SENT + timedelta(minutes=5))
    # ... then, from its registered address, 新江湾城's 附件1 with its own 附件2.
    imap.append(_mail(WJC_MAIL, "<mixed@wjc>", [
        ("附件1.docx", activity_docx(dataclasses.replace(ACTIVITY, unit_text=XJW))),
        ("附件2.docx", volunteer_docx(dataclasses.replace(VOLUNTEER, unit_text=WJC)))],
        SENT + timedelta(hours=1)))
    bot.poll(SENT + timedelta(hours=1, minutes=5))

    with Session(bot.engine) as session:
        names = {u.id: u.name for u in session.exec(select(Unit))}
        current = {(names[s.unit_id], s.form): s.row_count for s in session.exec(  # type: ignore[index]
            select(Submission).where(Submission.current == True))}  # noqa: E712
    # 五角场's own activity rows still count; 新江湾城's form is 新江湾城's.
    assert current == {(WJC, "activity"): 2, (WJC, "volunteer_team"): 2,
                       (XJW, "activity"): 3}
    data = status_data(bot.settings, engine=bot.engine)
    xjw = next(u for u in data["units"] if u["name"] == XJW)
    assert xjw["forms"]["activity"]["submitted"] is True

    sent = [parse_sent(raw) for _, _, raw in smtp.wait_for(2)]
    receipt = sent[-1]
    # The sender gets the receipt, 新江湾城's registered address a copy.
    assert receipt["To"] == WJC_MAIL and XJW_MAIL in str(receipt["Cc"])
    body = body_of(receipt)
    assert f"主题活动申报表按表中“填报单位”归入“{XJW}”" in body
    assert XJW in body and WJC in body
    # The admin sees it flagged: status data lists the form filed under another unit.
    crossed = status_data(bot.settings, engine=bot.engine, sender_check=True)["crossed"]
    assert [(c["unit"], c["sender_unit"], c["form"]) for c in crossed] == [
        (XJW, WJC, "主题活动申报表")]


def test_per_form_order_name_then_sender_then_close_match() -> None:
    units = [UnitRef(1, WJC, ("五角场街道工会",), (WJC_MAIL,)), UnitRef(2, XJW, (), (XJW_MAIL,)),
             UnitRef(3, "控江路街道总工会", (), ())]
    # The named unit first, even from another unit's registered address.
    placed = place_forms(WJC_MAIL, {"activity": XJW, "volunteer_team": "五角场街道工会"}, units, {})
    assert {k: m.unit.id for k, m in placed.forms.items() if m} == {"activity": 2,
                                                                    "volunteer_team": 1}
    assert placed.mail_unit.id == 1 and set(placed.crossed) == {"activity"}  # type: ignore[union-attr]
    # A name no unit has: the sender's unit; a close name from a known sender: still the sender's.
    placed = place_forms(WJC_MAIL, {"activity": "某某公司工会", "volunteer_team": "控江街道总工会"},
                         units, {})
    assert {m.unit.id for m in placed.forms.values() if m} == {1}
    # A stranger: close match; a confirmed address counts as the sender's unit.
    placed = place_forms("x@qq.com", {"activity": "控江路街总工会"}, units, {})
    assert placed.forms["activity"] is not None and placed.forms["activity"].unit.id == 3
    placed = place_forms("clerk@qq.com", {"activity": None}, units, {"clerk@qq.com": 2})
    assert placed.mail_unit.id == 2  # type: ignore[union-attr]
    placed = place_forms("x@qq.com", {"activity": "某某公司工会"}, units, {})
    assert placed.mail_unit is None and not placed.complete
