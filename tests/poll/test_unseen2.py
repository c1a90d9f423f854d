"""Round two: a union office's whole campaign, driven only through the contract.

Every case runs `formbot …` as a subprocess on a config.yaml pointing at the embedded
IMAP/SMTP servers, with the clock injected (`--now`), and looks only at what the contract
promises: the status JSON, the export workbook and the mail the SMTP server received.
Where CONTRACT.md is silent, the expectation is what a union clerk or the admin would
expect; those places say so in a comment.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest
import yaml

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import (
    activity_docx,
    activity_xlsx,
    both_docx,
    volunteer_docx,
    volunteer_xlsx,
)
from formbot.demo.smtp_server import EmbeddedSMTP
from tests.cli.test_cli import run
from tests.cli.test_registry_cli import registry_xlsx
from tests.support.fixtures.legacy import libreoffice_made
from tests.support.fixtures.unseen import png_1x1
from tests.support.fixtures.unseen2 import (
    DH,
    DH_UNIT,
    KJ,
    KJ_UNIT,
    QQ,
    YH,
    YH_UNIT,
    Office,
    at,
    fill,
    forwarded,
    raw_mail,
    send,
    text,
    to,
)
from tests.support.helpers import BOT

Servers = tuple[EmbeddedIMAP, EmbeddedSMTP]

ACT_ROWS = (
    ["劳模先进事迹报告会", "报告会", "2018年6月—7月", "邀请全国劳模讲述成长经历", "约200人"],
    ["“杨浦工匠”技能展示", "现场展示", "2018年9月", "展示工匠绝活", "1,200人"],
    ["劳模进社区", "志愿服务", "2018年下半年", "劳模走进社区服务居民", "二百人"],
)
VOL_ROWS = (
    ["助老服务队", "张三 主席", "30人", "2016年3月", "为社区老人提供助餐服务", "服务老人500人次"],
    ["法律服务队", "李四（工会主席）", "约15人", "2017-05-20", "法律咨询", ""],
)


def act(unit: str = DH_UNIT, *rows: list[str]) -> bytes:
    return activity_docx(fill(unit, *(rows or ACT_ROWS)))


def vol(unit: str = DH_UNIT, *rows: list[str]) -> bytes:
    return volunteer_xlsx(fill(unit, *(rows or VOL_ROWS)))


def rows_of(office: Office, sheet: str, unit: str) -> list[dict[str, object]]:
    return [r for r in office.sheet(sheet) if r["填报单位"] == unit]


def assert_receipt_headers(message: object, original_id: str) -> None:
    assert message["Auto-Submitted"] == "auto-replied"                  # type: ignore[index]
    assert message["X-Formbot-Kind"] == "receipt"                       # type: ignore[index]
    assert message["In-Reply-To"] == original_id                        # type: ignore[index]
    assert original_id in str(message["References"])                    # type: ignore[index]
    assert str(message["From"]).endswith(f"<{BOT}>")                    # type: ignore[index]


# =========================================================================================
# Receipts over a campaign: several mails, corrections, duplicates
# =========================================================================================

def test_activity_monday_volunteer_wednesday_two_receipts(tmp_path: Path,
                                                          servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    office.deliver(send(DH, [("附件1.docx", act())], when=at(11, 9, 12),
                        message_id="<mon-act@dh.example.cn>"))
    office.poll(at(11, 9, 30))
    first, = office.new_mail()
    assert to(first) == DH
    assert_receipt_headers(first, "<mon-act@dh.example.cn>")
    body = text(first)
    assert DH_UNIT in body and "主题活动申报表" in body and "已收到3行" in body
    assert "尚未收到" in body and "志愿者服务队登记表" in body.split("尚未收到")[1]
    dh = office.unit(DH_UNIT)
    assert dh["forms"]["activity"] == {"submitted": True, "rows": 3,
                                       "received_at": "2018-06-11T09:12:00+08:00"}
    assert dh["forms"]["volunteer_team"]["submitted"] is False

    office.deliver(send(DH, [("附件2.xlsx", vol())], when=at(13, 15, 0),
                        message_id="<wed-vol@dh.example.cn>"))
    office.poll(at(13, 15, 5))
    second, = office.new_mail()
    assert_receipt_headers(second, "<wed-vol@dh.example.cn>")
    body = text(second)
    assert "志愿者服务队登记表" in body and "已收到2行" in body
    assert "尚未收到" not in body and "均已收齐" in body
    data = office.status()
    assert data["units_complete"] == 1
    dh = next(u for u in data["units"] if u["name"] == DH_UNIT)
    assert dh["forms"]["volunteer_team"]["rows"] == 2


def test_correction_mail_replaces_rows_in_status_export_and_receipt(tmp_path: Path,
                                                                    servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    office.deliver(send(DH, [("附件1.docx", act()), ("附件2.xlsx", vol())], when=at(11),
                        message_id="<first@dh.example.cn>"))
    office.poll(at(11, 10, 5))
    office.new_mail()
    corrected = ["劳模先进事迹报告会（更正）", "报告会", "2018年7月", "改为7月举办", "300人"]
    office.deliver(send(DH, [("附件1（更正）.docx", act(DH_UNIT, corrected))],
                        subject="【更正】定海路街道主题活动申报表", when=at(12),
                        message_id="<fix@dh.example.cn>"))
    office.poll(at(12, 10, 5))
    receipt, = office.new_mail()
    assert "已收到1行" in text(receipt) and "均已收齐" in text(receipt)
    assert office.unit(DH_UNIT)["forms"]["activity"]["rows"] == 1
    exported = rows_of(office, "主题活动申报表", DH_UNIT)
    assert [r["活动名称"] for r in exported] == ["劳模先进事迹报告会（更正）"]
    assert exported[0]["参与人数"] == 300
    assert len(rows_of(office, "志愿者服务队登记表", DH_UNIT)) == 2


def test_correction_from_a_pc_whose_clock_runs_a_day_behind_still_wins(
        tmp_path: Path, servers: Servers) -> None:
    """The clerk mails the form from her phone, then the 【更正】 from the office PC whose
    clock is a day slow: its Date header is *earlier* than the first mail's. CONTRACT: "A
    later submission from the same unit replaces that unit's rows" — later as it arrived
    at the mailbox (the sender's clock is not the office's); a user expects the correction."""
    office = Office.open(tmp_path, servers)
    office.deliver(send(DH, [("附件1.docx", act())], when=at(12, 9, 0),
                        message_id="<phone@dh.example.cn>"))
    office.poll(at(12, 9, 5))
    corrected = ["劳模进社区（更正）", "志愿服务", "2018年8月", "改期", "50人"]
    office.deliver(send(DH, [("附件1.docx", act(DH_UNIT, corrected))],
                        subject="【更正】主题活动申报表", when=at(11, 10, 0),
                        message_id="<pc@dh.example.cn>"))
    office.poll(at(12, 10, 5))
    assert office.unit(DH_UNIT)["forms"]["activity"]["rows"] == 1
    assert [r["活动名称"] for r in rows_of(office, "主题活动申报表", DH_UNIT)] == \
        ["劳模进社区（更正）"]


def test_same_message_delivered_again_with_new_transport_headers(tmp_path: Path,
                                                                 servers: Servers) -> None:
    """126 redelivers the mail (a second MX hop adds a Received line): same Message-ID,
    different bytes. CONTRACT: one receipt; "Polling the same mail twice never duplicates"."""
    office = Office.open(tmp_path, servers)
    raw = send(DH, [("附件1.docx", act()), ("附件2.xlsx", vol())],
               message_id="<twice@dh.example.cn>")
    office.deliver(raw)
    office.poll(at(10, 10, 0))
    office.deliver(b"Received: from mx2.126.example by 126.example; Sun, 10 Jun 2018 10:20:00 "
                   b"+0800\r\n" + raw)
    office.poll(at(10, 10, 30))
    assert len(office.all_mail()) == 1
    dh = office.unit(DH_UNIT)
    assert dh["forms"]["activity"]["rows"] == 3 and dh["forms"]["volunteer_team"]["rows"] == 2
    assert len(rows_of(office, "主题活动申报表", DH_UNIT)) == 3


def test_same_form_attached_loose_and_again_in_a_zip_is_counted_once(
        tmp_path: Path, servers: Servers) -> None:
    """A clerk attaches 附件1.docx and 附件2.xlsx, and "to be safe" also 材料.zip holding the
    very same two files. Silent in CONTRACT; a user expects 3 + 2 rows, not each twice."""
    office = Office.open(tmp_path, servers)
    a, v = act(), vol()
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("附件1.docx", a)
        archive.writestr("附件2.xlsx", v)
    office.deliver(send(DH, [("附件1.docx", a), ("附件2.xlsx", v),
                             ("材料.zip", packed.getvalue())]))
    office.poll()
    dh = office.unit(DH_UNIT)
    assert (dh["forms"]["activity"]["rows"], dh["forms"]["volunteer_team"]["rows"]) == (3, 2)
    assert len(rows_of(office, "主题活动申报表", DH_UNIT)) == 3
    assert "已收到3行" in text(office.new_mail()[0])


def test_same_form_sent_as_word_and_as_excel_in_one_mail_is_counted_once(
        tmp_path: Path, servers: Servers) -> None:
    """The clerk filled the Word template and, for good measure, the Excel one with the same
    rows, and attaches both. Silent in CONTRACT; a user expects the three activities once."""
    office = Office.open(tmp_path, servers)
    same = fill(DH_UNIT, *ACT_ROWS)
    office.deliver(send(DH, [("附件1.docx", activity_docx(same)),
                             ("附件1.xlsx", activity_xlsx(same))]))
    office.poll()
    assert office.unit(DH_UNIT)["forms"]["activity"]["rows"] == 3
    assert len(rows_of(office, "主题活动申报表", DH_UNIT)) == 3


# =========================================================================================
# Who sent it
# =========================================================================================

def test_private_address_naming_an_alias_is_filed_under_the_registry_name(
        tmp_path: Path, servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    office.deliver(send(QQ, [("表1.docx", act("殷行街道工会")), ("表2.xlsx", vol("殷行街道工会"))]))
    office.poll()
    receipt, = office.new_mail()
    assert to(receipt) == QQ and YH_UNIT in text(receipt)
    assert office.unit(YH_UNIT)["forms"]["volunteer_team"]["rows"] == 2
    assert {r["填报单位"] for r in office.sheet("主题活动申报表")} == {YH_UNIT}
    assert office.status()["unmatched"] == []


def test_unknown_unit_waits_as_unmatched_and_is_filed_nowhere(tmp_path: Path,
                                                              servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    office.deliver(send("hr@zhkj.example", [("附件1.docx", act("杨浦区中和科技有限公司工会"))],
                        message_id="<stranger@zhkj.example>"))
    office.poll()
    data = office.status()
    assert data["unmatched"] == [{"message_id": "<stranger@zhkj.example>",
                                  "from": "hr@zhkj.example",
                                  "unit_text": "杨浦区中和科技有限公司工会"}]
    assert not any(f["submitted"] for u in data["units"] for f in u["forms"].values())
    assert office.sheet("主题活动申报表") == []
    receipt, = office.new_mail()
    assert "未能确认" in text(receipt) and "杨浦区中和科技有限公司工会" in text(receipt)


def test_forms_of_two_units_in_one_mail_from_a_private_address(tmp_path: Path,
                                                               servers: Servers) -> None:
    """The 区总 colleague who collected two units' forms on WeChat mails them in one mail
    from her own QQ box: 定海路's activity form and 殷行's volunteer form, each with its
    填报单位. CONTRACT: a unit is identified "else by 填报单位" — each form names its unit,
    so each unit gets its own form (and 定海路 is not credited with 殷行's teams)."""
    office = Office.open(tmp_path, servers)
    office.deliver(send(QQ, [("定海路-附件1.docx", act(DH_UNIT)),
                             ("殷行-附件2.xlsx", vol(YH_UNIT))]))
    office.poll()
    dh, yh = office.unit(DH_UNIT), office.unit(YH_UNIT)
    assert dh["forms"]["activity"]["submitted"] is True
    assert dh["forms"]["volunteer_team"]["submitted"] is False
    assert yh["forms"]["volunteer_team"] == {**yh["forms"]["volunteer_team"],
                                             "submitted": True, "rows": 2}
    assert {r["填报单位"] for r in office.sheet("志愿者服务队登记表")} == {YH_UNIT}
    # One receipt to the colleague, telling each unit what it still owes.
    receipt, = office.new_mail()
    said = text(receipt)
    assert said.startswith("各有关单位：")            # not one of the two units by name
    assert f"{DH_UNIT}：尚未收到志愿者服务队登记表" in said
    assert f"{YH_UNIT}：尚未收到主题活动申报表" in said


def test_forwarded_mail_holding_a_zip_of_the_docx_counts_once(tmp_path: Path,
                                                              servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("附件1.docx", act())
    inner = send(DH, [("材料.zip", packed.getvalue())], message_id="<inner@dh.example.cn>")
    office.deliver(forwarded(QQ, inner, subject="转发：定海路街道报送材料", when=at(10),
                             message_id="<fwd@qq.example>"))
    office.poll()
    assert office.unit(DH_UNIT)["forms"]["activity"]["rows"] == 3
    assert len(rows_of(office, "主题活动申报表", DH_UNIT)) == 3
    receipt, = office.new_mail()
    assert_receipt_headers(receipt, "<fwd@qq.example>")


# =========================================================================================
# Mail that must not be answered, and mail that must
# =========================================================================================

NO_REPLY = {
    "auto-submitted": ({"From": DH, "Subject": "自动回复：报送材料",
                        "Auto-Submitted": "auto-replied"}, "我休假至6月20日，急事请致电。"),
    "126-autoreply": ({"From": YH, "Subject": "自动回复: 回执（已收到）：报送材料",
                       "X-Autoreply": "yes"}, "您的来信已收到，我会尽快处理。"),
    "bounce": ({"From": "MAILER-DAEMON@126.example", "Subject": "系统退信",
                "Return-Path": "<>"},
               "抱歉，您的邮件被退回。原邮件：催报提醒 主题活动申报表 志愿者服务队登记表"),
    "mailing-list": ({"From": "news@ypgh.example", "Subject": "杨浦工会周报：主题活动申报表填写说明",
                      "List-Id": "<weekly.ypgh.example>"}, "本周要闻……"),
}


@pytest.mark.parametrize("case", list(NO_REPLY))
def test_automatic_mail_gets_no_receipt(case: str, tmp_path: Path, servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    headers, body = NO_REPLY[case]
    office.deliver(raw_mail({**headers, "To": BOT, "Date": "Sun, 10 Jun 2018 10:00:00 +0800",
                             "Message-ID": f"<{case}@example.cn>"}, body))
    office.poll()
    assert office.all_mail() == []
    assert office.status()["unmatched"] == []


def test_advert_with_an_inline_logo_from_a_stranger_gets_no_receipt(tmp_path: Path,
                                                                    servers: Servers) -> None:
    """An advert (HTML with its logo as a cid: inline picture, no List-* headers, as small
    Chinese senders make them). CONTRACT: "anything else (spam, newsletters) is recorded and
    left unanswered" — a picture shown inside the HTML is not an attachment a person sent."""
    office = Office.open(tmp_path, servers)
    office.deliver(raw_mail(
        {"From": "sales@banner-print.example", "To": BOT, "Subject": "条幅、展板印刷，特惠",
         "Date": "Sun, 10 Jun 2018 10:00:00 +0800", "Message-ID": "<ad@banner-print.example>"},
        "条幅展板印刷，量大从优。",
        html='<html><body><img src="cid:logo@edm.example"><p>条幅展板印刷</p></body></html>',
        inline_image=png_1x1()))
    office.poll()
    assert office.all_mail() == []


def test_registered_unit_without_a_form_is_asked_again(tmp_path: Path,
                                                       servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    office.deliver(send(KJ, [], subject="关于报送时间", body="我们周五前发送。",
                        message_id="<later@kjl.example.cn>"))
    office.poll()
    receipt, = office.new_mail()
    assert_receipt_headers(receipt, "<later@kjl.example.cn>")
    body = text(receipt)
    assert KJ_UNIT in body and "重新发送" in body
    assert "主题活动申报表" in body and "志愿者服务队登记表" in body
    assert office.unit(KJ_UNIT)["forms"]["activity"]["submitted"] is False


def test_blank_template_attached_by_mistake_is_not_a_submission(tmp_path: Path,
                                                                servers: Servers) -> None:
    """The clerk attaches the filled activity form and, by mistake, the untouched volunteer
    template (only 填报单位 typed). Silent in CONTRACT; a user expects no "均已收齐", the
    volunteer form still listed as missing, and reminders to keep coming."""
    office = Office.open(tmp_path, servers)
    blank = volunteer_docx(fill(DH_UNIT))
    office.deliver(send(DH, [("附件1.docx", act()), ("附件2.docx", blank)]))
    office.poll()
    body = text(office.new_mail()[0])
    assert "均已收齐" not in body
    assert "尚未收到" in body and "志愿者服务队登记表" in body.split("尚未收到")[1]
    assert office.unit(DH_UNIT)["forms"]["volunteer_team"]["submitted"] is False
    office.remind(at(14, 9, 30))
    reminder, = [m for m in office.new_mail() if to(m) == DH]
    assert "志愿者服务队登记表" in text(reminder)


def test_unit_replying_to_the_reminder_with_its_forms_gets_a_receipt(
        tmp_path: Path, servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    office.remind(at(8, 9, 0))
    reminder = next(m for m in office.new_mail() if to(m) == YH)
    quoted = "\n".join("> " + line for line in text(reminder).splitlines())
    office.deliver(send(YH, [("附件1.docx", act(YH_UNIT)), ("附件2.xlsx", vol(YH_UNIT))],
                        subject=f"回复：{reminder['Subject']}",
                        body=f"已补报，请查收。\n\n{quoted}", when=at(9),
                        message_id="<reply@yh.example.cn>",
                        extra_headers={"In-Reply-To": reminder["Message-ID"],
                                       "References": reminder["Message-ID"]}))
    office.poll(at(9, 10, 5))
    receipt, = office.new_mail()
    assert_receipt_headers(receipt, "<reply@yh.example.cn>")
    assert "均已收齐" in text(receipt)
    assert office.status()["units_complete"] == 1


def test_status_received_at_is_shanghai_time_when_the_mail_is_dated_in_utc(
        tmp_path: Path, servers: Servers) -> None:
    """Outlook.com/Gmail write Date in +0000; CONTRACT's example shows +08:00 times."""
    from datetime import UTC, datetime

    office = Office.open(tmp_path, servers)
    office.deliver(send(DH, [("附件1.docx", act())], when=datetime(2018, 6, 11, 2, 21, tzinfo=UTC)))
    office.poll(at(11, 10, 30))
    assert office.unit(DH_UNIT)["forms"]["activity"]["received_at"] == \
        "2018-06-11T10:21:00+08:00"
    summary = {r["单位"]: r for r in office.sheet("提交情况")}
    assert summary[DH_UNIT]["最近提交时间"] == "2018-06-11 10:21"


# =========================================================================================
# Reminders
# =========================================================================================

def test_reminder_campaign_slot_by_slot(tmp_path: Path, servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    office.deliver(send(DH, [("附件1.docx", act()), ("附件2.xlsx", vol())], when=at(7)),
                   send(YH, [("附件1.docx", act(YH_UNIT))], when=at(7)))
    office.poll(at(7, 10, 5))
    office.new_mail()                                            # the two receipts

    office.remind(at(8, 9, 0))                                   # slot -7
    first = office.new_mail()
    assert sorted(to(m) for m in first) == sorted([YH, KJ])      # not the complete 定海路
    for message in first:
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["X-Formbot-Kind"] == "reminder"
        assert "2018年6月15日" in text(message)
    yh = next(m for m in first if to(m) == YH)
    assert YH_UNIT in text(yh) and "志愿者服务队登记表" in text(yh)
    assert "主题活动申报表" not in text(yh)
    kj = next(m for m in first if to(m) == KJ)
    assert "主题活动申报表" in text(kj) and "志愿者服务队登记表" in text(kj)

    office.remind(at(8, 18, 0))                                  # same slot, run again
    assert office.new_mail() == []

    office.remind(at(14, 10, 0))                                 # down over -3: only -1
    late = office.new_mail()
    assert sorted(to(m) for m in late) == sorted([YH, KJ])
    assert all("截止前1天" in str(m["Subject"]) for m in late)
    office.remind(at(14, 11, 0))
    assert office.new_mail() == []

    data = office.status()
    sent = {u["name"]: u["reminders_sent"] for u in data["units"]}
    assert sent == {DH_UNIT: 0, YH_UNIT: 2, KJ_UNIT: 2, "区教育工会": 0}
    summary = {r["单位"]: r for r in office.sheet("提交情况")}
    assert (summary[YH_UNIT]["主题活动申报表"], summary[YH_UNIT]["志愿者服务队登记表"],
            summary[YH_UNIT]["提醒次数"]) == ("已提交", "未提交", 2)
    assert (summary[DH_UNIT]["志愿者服务队登记表"], summary[DH_UNIT]["提醒次数"]) == ("已提交", 0)

    # 殷行 sends its last form late on the deadline day: no overdue reminder for it.
    office.deliver(send(YH, [("附件2.xlsx", vol(YH_UNIT))], when=at(15, 23, 30)))
    office.poll(at(15, 23, 35))
    office.new_mail()
    office.remind(at(16, 9, 0))
    overdue = office.new_mail()
    assert [to(m) for m in overdue] == [KJ]
    assert "已过" in text(overdue[0])


def test_remind_now_given_in_utc_is_read_against_the_campaign_zone(tmp_path: Path,
                                                                   servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    early = office.cli("remind", "--now", "2018-06-08T00:59:00Z")      # 08:59 in Shanghai
    assert "没有到期" in early.stdout and office.new_mail() == []
    office.cli("remind", "--now", "2018-06-08T01:00:00Z")             # 09:00: slot -7
    assert sorted(to(m) for m in office.new_mail()) == sorted([DH, YH, KJ])


# =========================================================================================
# Export workbook
# =========================================================================================

def test_export_keeps_mail_text_as_text_and_counts_as_numbers(tmp_path: Path,
                                                              servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    rows = (["=HYPERLINK(\"http://x.example\",\"点我\")", "+线上直播", "-", "@全体职工", "约200人"],
            ["劳模讲堂", "报告会", "2018年7月", "讲述成长经历", "1,200人"])
    teams = (["=1+1服务队", "-王五 队长", "30人", "2016.3", "@社区 助老", "+服务500人次"],)
    office.deliver(send(DH, [("附件1.docx", act(DH_UNIT, *rows)),
                             ("附件2.xlsx", vol(DH_UNIT, *teams))]))
    office.poll()
    book = office.export()
    assert book.sheetnames == ["主题活动申报表", "志愿者服务队登记表", "提交情况"]
    activity = book["主题活动申报表"]
    # The header row is one of the first five (a title row may stand above it).
    at = next(i for i in range(1, 6) if activity.cell(i, 1).value == "填报单位")
    header = [c.value for c in activity[at]]
    assert header == ["填报单位", "序号", "活动名称", "活动形式", "时间安排", "主要内容和形式",
                      "参与人数", "联系人", "联系电话", "填报日期", "提交时间", "问题"]
    first = {h: c for h, c in zip(header, activity[at + 1], strict=False)}
    assert first["活动名称"].value == "=HYPERLINK(\"http://x.example\",\"点我\")"
    for name in ("活动名称", "活动形式", "主要内容和形式"):
        assert first[name].data_type == "s", name
    assert first["活动形式"].value == "+线上直播"
    assert first["主要内容和形式"].value == "@全体职工"
    assert first["参与人数"].value == 200 and first["参与人数"].data_type == "n"
    second = {h: c.value for h, c in zip(header, activity[at + 2], strict=False)}
    assert second["参与人数"] == 1200

    team_sheet = book["志愿者服务队登记表"]
    header = [c.value for c in team_sheet[3]]
    team = {h: c for h, c in zip(header, team_sheet[4], strict=False)}
    assert team["登记服务队名称"].value == "=1+1服务队" and team["登记服务队名称"].data_type == "s"
    assert team["服务队人数"].value == 30 and team["服务队人数"].data_type == "n"
    assert team["服务队组建时间"].value == "2016-03"
    assert team["服务队组建时间"].data_type == "s"
    assert team["服务成效简介"].value == "+服务500人次"
    assert team["服务成效简介"].data_type == "s"


def test_summary_sheet_lists_every_registered_unit(tmp_path: Path, servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    office.poll()
    rows = office.sheet("提交情况")
    assert [r["单位"] for r in rows] == [DH_UNIT, YH_UNIT, KJ_UNIT, "区教育工会"]
    assert all((r["主题活动申报表"], r["志愿者服务队登记表"], r["提醒次数"])
               == ("未提交", "未提交", 0) for r in rows)


# =========================================================================================
# Unit registry
# =========================================================================================

def test_units_imported_from_xlsx_and_csv_are_matched_by_any_of_their_addresses(
        tmp_path: Path, servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    xlsx = tmp_path / "名单.xlsx"
    xlsx.write_bytes(registry_xlsx([
        ["五角场街道总工会", "五角场街道工会、五角场工会", "wjc_gh@example.cn；wjc_office@qq.example"],
    ]))
    office.cli("units", "import", str(xlsx))
    table = tmp_path / "名单.csv"
    with table.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([["单位名称", "别名", "邮箱"],
                                      ["新江湾城街道总工会", "新江湾城街道工会",
                                       "xjwc_gh@example.cn\nxjwc2018@163.example"]])
    office.cli("units", "import", str(table))
    listed = office.cli("units", "list").stdout
    assert "五角场街道总工会" in listed and "xjwc2018@163.example" in listed

    office.deliver(send("wjc_office@qq.example", [("附件1.docx", act("五角场"))]),
                   send("xjwc2018@163.example", [("附件2.xlsx", vol(""))]))
    office.poll()
    data = office.status()
    assert data["units_total"] == 6 and data["unmatched"] == []
    units = {u["name"]: u for u in data["units"]}
    assert units["五角场街道总工会"]["forms"]["activity"]["submitted"] is True
    assert units["新江湾城街道总工会"]["forms"]["volunteer_team"]["rows"] == 2
    receipts = {to(m): text(m) for m in office.new_mail()}
    assert "五角场街道总工会" in receipts["wjc_office@qq.example"]
    assert "新江湾城街道总工会" in receipts["xjwc2018@163.example"]


def test_units_import_takes_addresses_copied_from_the_address_book(tmp_path: Path,
                                                                   servers: Servers) -> None:
    """The admin pastes addresses from Outlook/Foxmail's address book: `王芳 <addr>`.
    Silent in CONTRACT; a user expects the address inside the brackets to be registered
    (or, at the least, a sentence saying what to fix — never a unit that cannot match)."""
    office = Office.open(tmp_path, servers)
    xlsx = tmp_path / "名单.xlsx"
    xlsx.write_bytes(registry_xlsx([["长白新村街道总工会", "", "王芳 <cbxc_gh@163.example>"]]))
    result = office.cli("units", "import", str(xlsx), check=False)
    if result.returncode != 0:   # refused: it must say which unit and address, in one line
        assert "长白新村街道总工会" in result.stderr and "Traceback" not in result.stderr
        return
    office.deliver(send("cbxc_gh@163.example", [("附件1.docx", act(""))]))
    office.poll()
    unit = office.unit("长白新村街道总工会")
    assert unit["forms"]["activity"]["submitted"] is True


# =========================================================================================
# Files
# =========================================================================================

def test_libreoffice_doc_named_fujian1_sent_as_octet_stream(tmp_path: Path,
                                                            servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    doc = libreoffice_made(both_docx(fill(DH_UNIT, *ACT_ROWS), fill(DH_UNIT, *VOL_ROWS)),
                           "docx", "doc")
    raw = send(DH, [("附件1.doc", doc)])
    raw = raw.replace(b"application/msword", b"application/octet-stream")
    office.deliver(raw)
    office.poll()
    dh = office.unit(DH_UNIT)
    assert (dh["forms"]["activity"]["rows"], dh["forms"]["volunteer_team"]["rows"]) == (3, 2)
    body = text(office.new_mail()[0])
    assert "附件1.doc" in body and "均已收齐" in body


# =========================================================================================
# reprocess
# =========================================================================================

def test_reprocess_all_after_polling_changes_nothing(tmp_path: Path, servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    office.deliver(send(DH, [("附件1.docx", act()), ("附件2.xlsx", vol())],
                        message_id="<rp@dh.example.cn>"),
                   send(YH, [("附件1.docx", act(YH_UNIT))], message_id="<rp@yh.example.cn>"))
    office.poll()
    before = (office.status(), office.sheet("主题活动申报表"), office.sheet("志愿者服务队登记表"))
    office.new_mail()
    office.cli("reprocess", "--all", "--now", "2018-06-11T10:00:00+08:00")
    office.cli("reprocess", "--all", "--now", "2018-06-12T10:00:00+08:00")
    after = (office.status(), office.sheet("主题活动申报表"), office.sheet("志愿者服务队登记表"))
    assert after == before
    assert office.new_mail() == []


def test_reprocess_one_message_by_the_id_as_a_mail_client_shows_it(tmp_path: Path,
                                                                   servers: Servers) -> None:
    """Foxmail/126 show the Message-ID without angle brackets, and `<…>` needs quoting in a
    shell. Silent in CONTRACT; a user expects `formbot reprocess rp@dh.example.cn` to work."""
    office = Office.open(tmp_path, servers)
    office.deliver(send(DH, [("附件1.docx", act())], message_id="<rp@dh.example.cn>"))
    office.poll()
    office.new_mail()
    result = office.cli("reprocess", "rp@dh.example.cn", check=False)
    assert result.returncode == 0, result.stderr
    assert office.unit(DH_UNIT)["forms"]["activity"]["rows"] == 3
    assert office.new_mail() == []


# =========================================================================================
# Errors a person can act on
# =========================================================================================

def one_sentence(result: object) -> str:
    """CONTRACT: "non-zero with a one-line reason on stderr … never a bare traceback"."""
    stderr = result.stderr.strip()                                      # type: ignore[attr-defined]
    assert result.returncode != 0                                       # type: ignore[attr-defined]
    assert stderr, "nothing on stderr"
    assert "Traceback" not in stderr, stderr
    assert len(stderr.splitlines()) == 1, f"reason spread over several lines: {stderr!r}"
    return stderr


def test_password_variable_that_was_never_exported(tmp_path: Path, servers: Servers) -> None:
    office = Office.open(tmp_path, servers, mailbox__password_env="FORMBOT_126_AUTH_CODE")
    assert "FORMBOT_126_AUTH_CODE" in one_sentence(office.cli("poll", check=False))


def test_mail_server_name_that_does_not_resolve(tmp_path: Path, servers: Servers) -> None:
    office = Office.open(tmp_path, servers, mailbox__host="imap.126.invalid")
    sentence = one_sentence(office.cli("poll", check=False))
    assert "imap.126.invalid" in sentence


def test_wrong_smtp_password_during_poll_is_said_and_the_receipt_follows_once(
        tmp_path: Path, servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    office.deliver(send(DH, [("附件1.docx", act())], message_id="<smtp@dh.example.cn>"))
    failed = office.cli("poll", "--now", "2018-06-10T10:00:00+08:00",
                        env={"FORMBOT_SMTP_PASSWORD": "wrong-code"}, check=False)
    sentence = one_sentence(failed)
    assert "wrong-code" not in sentence
    assert office.all_mail() == []
    assert office.unit(DH_UNIT)["forms"]["activity"]["rows"] == 3   # stored all the same
    office.poll(at(10, 10, 5))
    office.poll(at(10, 10, 10))
    receipt, = office.all_mail()
    assert_receipt_headers(receipt, "<smtp@dh.example.cn>")


def test_config_typed_with_a_tab_is_one_sentence(tmp_path: Path, servers: Servers) -> None:
    office = Office.open(tmp_path, servers)
    data = yaml.safe_load(office.config.read_text("utf-8"))
    body = yaml.safe_dump(data, allow_unicode=True).replace("\n  folder:", "\n\tfolder:", 1)
    office.config.write_text(body, "utf-8")
    sentence = one_sentence(office.cli("status", check=False))
    assert str(office.config) in sentence


# =========================================================================================
# demo
# =========================================================================================

def test_demo_in_an_empty_directory_needs_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "空目录"
    empty.mkdir()
    result = run("demo", cwd=empty, env={"FORMBOT_IMAP_PASSWORD": "", "FORMBOT_SMTP_PASSWORD": ""})
    assert result.returncode == 0, result.stderr
    book = openpyxl.load_workbook(empty / "demo-export.xlsx")
    assert book.sheetnames == ["主题活动申报表", "志愿者服务队登记表", "提交情况"]
    assert "已交齐" in result.stdout


def test_remind_with_smtp_refusing_is_one_sentence_and_sent_once_later(
        tmp_path: Path, servers: Servers) -> None:
    """The 09:00 reminder round meets a revoked 126 authorisation code; the admin fixes it and
    runs remind again. CONTRACT: one-line reason on stderr; each (unit, slot) at most once."""
    office = Office.open(tmp_path, servers)
    refused = office.cli("remind", "--now", "2018-06-08T09:00:00+08:00",
                         env={"FORMBOT_SMTP_PASSWORD": "revoked"}, check=False)
    assert "revoked" not in one_sentence(refused)
    assert office.all_mail() == []
    office.remind(at(8, 9, 30))
    office.remind(at(8, 10, 0))
    assert sorted(to(m) for m in office.all_mail()) == sorted([DH, YH, KJ])
    assert {u["name"]: u["reminders_sent"] for u in office.status()["units"]}[YH_UNIT] == 1
