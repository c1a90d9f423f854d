"""Paper through the whole bot: a photo beside a .docx is read (a signature logo is not);
the receipt says what was read from a picture and names the cells to check; the
submission keeps its source and doubts; the console shows the page image beside the rows
and the admin's correction of a cell is audited and survives `formbot reprocess`.
And the unit's line found where it stands (page header) or, last, in the file's name.

Real servers (pymap, aiosmtpd), real files (python-docx, LibreOffice, OpenCV scans)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import docx
import pytest
from PIL import Image
from sqlmodel import Session, select
from starlette.testclient import TestClient

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import FormFill, activity_docx, build_mail
from formbot.demo.scans import FILLS, docx_for, scan, to_pdf
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.poll import pipeline
from formbot.reports.status import status_data
from formbot.web.app import create_app
from formbot.web.auth import LoginThrottle, PasswordHash
from store.audit import AuditEntry
from store.corrections import CellCorrection
from store.models import AttachmentRecord, Message, Submission
from tests.conftest import PASSWORD
from tests.support.helpers import ACTIVITY, BOT, NOW, Bot, body_of, parse_sent, write_config

VOLUNTEER_FILL = FILLS[1][1]       # 殷行街道工会's volunteer form, scanned with a seal
ADMIN = "correct horse battery"
SENDER = "yinhang_gh@example.cn"


def _picture(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def photo_mail(scan_jpg: bytes) -> bytes:
    """What a clerk sends from a phone client: an HTML body with the signature's logo
    (`cid:`), the activity form as .docx, the volunteer form as a scan, and an emoticon."""
    msg = EmailMessage()
    msg["From"], msg["To"] = SENDER, BOT
    msg["Subject"] = "殷行街道工会报送两张表"
    msg["Message-ID"] = "<photo-1@example.cn>"
    msg["Date"] = "Sun, 10 Jun 2018 09:00:00 +0800"
    msg.set_content("两张表见附件，登记表是扫描件。")
    msg.add_alternative('<p>两张表见附件。</p><img src="cid:logo@sig">', subtype="html")
    msg.get_payload()[1].add_related(_picture(240, 80), "image", "png", cid="<logo@sig>")
    activity = FormFill("殷行街道工会", ACTIVITY.rows, contact="刘洋", phone="55210011")
    msg.add_attachment(activity_docx(activity), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                       filename="申报表.docx")
    msg.add_attachment(scan_jpg, maintype="image", subtype="jpeg", filename="登记表扫描件.jpg")
    msg.add_attachment(_picture(120, 120), maintype="image", subtype="png", filename="微笑.png")
    return msg.as_bytes()


@dataclass
class Paper:
    bot: Bot
    smtp: EmbeddedSMTP
    client: TestClient
    receipt: str

    def submissions(self) -> dict[str, Submission]:
        with Session(self.bot.engine) as session:
            subs = session.exec(select(Submission).order_by(Submission.id)).all()
            for sub in subs:
                session.expunge(sub)
            return {s.form: s for s in subs}

    def message(self) -> Message:
        with Session(self.bot.engine) as session:
            found = session.exec(select(Message)).one()
            session.expunge(found)
            return found

    def csrf(self, path: str) -> str:
        match = re.search(r'name="csrf" value="([^"]+)"', self.client.get(path).text)
        assert match
        return match.group(1)


@pytest.fixture(scope="module")
def scan_jpg(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The volunteer form printed by LibreOffice and scanned at 200 dpi with a seal."""
    (pdf,) = to_pdf([docx_for("volunteer", VOLUNTEER_FILL)], tmp_path_factory.mktemp("pdf"))
    return scan(pdf, 200, seed=1)


def test_a_photographed_form_from_mail_to_the_console(tmp_path: Path, scan_jpg: bytes) -> None:
    """One mail, polled once (OCR costs seconds a page), checked step by step."""
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        imap.append(photo_mail(scan_jpg))
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        report = bot.poll()
        assert (report.new, report.processed, report.failed) == (1, 1, 0)
        ((_, _, sent),) = smtp.wait_for(1)
        app = create_app(bot.settings, engine=bot.engine, password=PasswordHash(ADMIN),
                         clock=lambda: NOW, throttle=LoginThrottle(limit=3, window=60))
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            token = re.search(r'name="csrf" value="([^"]+)"',
                              client.get("/login").text).group(1)  # type: ignore[union-attr]
            client.post("/login", data={"password": ADMIN, "csrf": token, "next": "/"})
            paper = Paper(bot, smtp, client, body_of(parse_sent(sent)))
            a_photo_beside_a_docx_is_read_and_a_logo_is_not(paper)
            the_receipt_says_read_from_a_picture_and_names_each_doubtful_cell(paper)
            the_console_shows_the_page_beside_the_rows_with_the_doubts(paper)
            an_admins_correction_is_audited_and_survives_reprocess(paper)


def a_photo_beside_a_docx_is_read_and_a_logo_is_not(paper: Paper) -> None:
    subs = paper.submissions()
    assert set(subs) == {"activity", "volunteer_team"}
    assert subs["volunteer_team"].row_count == len(VOLUNTEER_FILL.rows)
    assert subs["volunteer_team"].file_name == "登记表扫描件.jpg"
    assert (subs["activity"].source, subs["volunteer_team"].source) == (None, "ocr")
    with Session(paper.bot.engine) as session:
        names = [a.name for a in session.exec(select(AttachmentRecord))]
    assert sorted(names) == ["申报表.docx", "登记表扫描件.jpg"]   # no logo, no emoticon
    assert "均已收齐" in paper.receipt


def the_receipt_says_read_from_a_picture_and_names_each_doubtful_cell(paper: Paper) -> None:
    doubts = paper.submissions()["volunteer_team"].doubts
    assert "《志愿者服务队登记表》是从图片（扫描件或照片）中自动识别的" in paper.receipt
    assert "或直接发送 Word/Excel 文件" in paper.receipt
    assert "《主题活动申报表》是从图片" not in paper.receipt     # the .docx was not
    assert doubts, "the seal over the scan leaves cells to check"
    for doubt in doubts:
        assert f"志愿者服务队登记表 {doubt['sentence']}" in paper.receipt
        assert doubt["sentence"].endswith("请核对") and doubt["reasons"]


def the_console_shows_the_page_beside_the_rows_with_the_doubts(paper: Paper) -> None:
    message = paper.message()
    page = paper.client.get(f"/messages/{message.id}")
    assert page.status_code == 200
    assert "从图片（扫描件或照片）识别" in page.text
    image_url = re.search(r'<img src="([^"]+\.png[^"]*)"', page.text).group(1)  # type: ignore[union-attr]
    for doubt in paper.submissions()["volunteer_team"].doubts:
        assert doubt["sentence"] in page.text
    png = paper.client.get(image_url)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(png.content)) as shown:
        assert shown.height > shown.width          # the page upright, as scanned
    anonymous = TestClient(paper.client.app, base_url="http://127.0.0.1:8000")
    assert anonymous.get(image_url, follow_redirects=False).status_code in (302, 303, 401)


def _team_names(paper: Paper) -> list[str]:
    """The current volunteer rows' team names, through the console's own row reader (so
    the test holds whatever the row tables look like)."""
    from formbot.web.pages import rows_of

    with Session(paper.bot.engine) as session:
        sub = session.exec(select(Submission).where(Submission.form == "volunteer_team",
                                                    Submission.current == True)).one()  # noqa: E712
        return [row["team_name"] if isinstance(row, dict) else (
                    row.data["team_name"] if hasattr(row, "data") else row.team_name)
                for row in rows_of(session, sub)]


def an_admins_correction_is_audited_and_survives_reprocess(paper: Paper) -> None:
    message = paper.message()
    done = paper.client.post(f"/messages/{message.id}/correct", data={
        "csrf": paper.csrf(f"/messages/{message.id}"), "form": "volunteer_team", "seq": "2",
        "field": "team_name", "value": "小巷工匠维修服务队（已核对）"}, follow_redirects=True)
    assert "已更正志愿者服务队登记表第2行“登记服务队名称”" in done.text
    assert _team_names(paper)[1] == "小巷工匠维修服务队（已核对）"
    with Session(paper.bot.engine) as session:
        (entry,) = session.exec(select(AuditEntry).where(AuditEntry.action == "correct-cell"))
        assert "第2行“登记服务队名称”" in entry.detail
        assert len(session.exec(select(CellCorrection)).all()) == 1
    pipeline.reprocess(paper.bot.settings, engine=paper.bot.engine, now=NOW)
    assert _team_names(paper)[1] == "小巷工匠维修服务队（已核对）"
    assert len(paper.smtp.wait_for(1)) == 1          # no second receipt
    refused = paper.client.post(f"/messages/{message.id}/correct", data={
        "csrf": paper.csrf(f"/messages/{message.id}"), "form": "volunteer_team", "seq": "99",
        "field": "team_name", "value": "x"}, follow_redirects=True)
    assert "没有第 99 行" in refused.text


# The unit's line where it stands, through the pipeline (fast: no OCR).

def _header_docx(unit: str) -> bytes:
    """The activity form with its 填报单位 line left blank and the unit in the page header."""
    document = docx.Document(io.BytesIO(activity_docx(FormFill("", ACTIVITY.rows))))
    document.sections[0].header.paragraphs[0].text = f"填报单位：{unit}"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_strangers_form_with_the_unit_in_the_page_header_is_filed_under_it(
        tmp_path: Path) -> None:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        imap.append(build_mail(from_addr="clerk@qq.example", to_addr=BOT, subject="申报表",
                               body="请查收", message_id="<hdr@example.cn>",
                               attachments=[("申报表.docx", _header_docx("控江路街道总工会"))]))
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        bot.poll()
        data = status_data(bot.settings, engine=bot.engine)
        unit = next(u for u in data["units"] if u["name"] == "控江路街道总工会")
        assert unit["forms"]["activity"]["submitted"]
        assert data["unmatched"] == []


def test_the_file_name_is_the_last_resort_and_says_so(tmp_path: Path) -> None:
    blank_unit = activity_docx(FormFill("", ACTIVITY.rows))
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        imap.append(build_mail(from_addr="clerk@qq.example", to_addr=BOT, subject="报送",
                               body="请查收", message_id="<name@example.cn>",
                               attachments=[("定海路街道-附件1.docx", blank_unit)]))
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        bot.poll()
        data = status_data(bot.settings, engine=bot.engine)
        unit = next(u for u in data["units"] if u["name"] == "定海路街道总工会")
        assert unit["forms"]["activity"]["submitted"]
        with Session(bot.engine) as session:
            message = session.exec(select(Message)).one()
            sub = session.exec(select(Submission)).one()
        assert message.match_method == "file_name"
        note = "表中未填写“填报单位”，已按附件文件名“定海路街道-附件1.docx”归入“定海路街道总工会”，请核对"
        assert sub.problems == [note]
        ((_, _, sent),) = smtp.wait_for(1)
        receipt = body_of(parse_sent(sent))
        assert note in receipt
        assert "本邮件地址不在" not in receipt


def test_which_pictures_beside_other_attachments_may_be_pages() -> None:
    from formbot.poll.reading import _could_be_a_page

    messenger = _picture(1280, 960)          # a photo as WeChat sends it
    assert _could_be_a_page(False, messenger)
    assert not _could_be_a_page(True, messenger)          # shown in the HTML body (cid:)
    assert not _could_be_a_page(False, _picture(240, 80))  # a signature's logo
    assert not _could_be_a_page(False, _picture(1600, 120))  # a banner, not a page
    assert _could_be_a_page(False, b"\x89PNG\r\n\x1a\n broken")   # read_file says why


def test_too_many_photos_in_one_mail_wait_for_a_person(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from formbot.poll import reading
    from formbot.poll.reading import TOO_MANY_PHOTOS, read_message

    # The limit lowered to one, as each page tried costs seconds of OCR: the second
    # picture is not even tried.
    monkeypatch.setattr(reading, "MAX_PHOTOS", 1)
    MAX_PHOTOS = 1
    pages = [(f"p{n}.png", _blank_page(n)) for n in range(MAX_PHOTOS + 1)]
    raw = build_mail(from_addr=SENDER, to_addr=BOT, subject="照片", body="见附件",
                     attachments=[("a.docx", activity_docx(ACTIVITY)), *pages])
    parsed = read_message(raw)
    problems = {f.name: f.problem for f in parsed.files}
    assert problems[f"p{MAX_PHOTOS}.png"] == TOO_MANY_PHOTOS
    assert sum(p == TOO_MANY_PHOTOS for p in problems.values()) == 1
    assert len(parsed.files) == MAX_PHOTOS + 2


def _blank_page(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (900, 1200), 250 - seed).save(out, "PNG")   # distinct bytes each
    return out.getvalue()


def test_a_unit_named_in_a_file_name_or_subject() -> None:
    from parsers.units import UnitRef, named_in

    units = [UnitRef(1, "定海路街道总工会", ("定海路街道工会",), ()),
             UnitRef(2, "五角场街道总工会", (), ()), UnitRef(3, "五角场镇总工会", (), ())]
    assert named_in("定海路街道-附件1.docx", units).id == 1  # type: ignore[union-attr]
    assert named_in("Fw: 五角场镇总工会报送", units).id == 3  # type: ignore[union-attr]
    assert named_in("附件1.docx", units) is None
    assert named_in("五角场报送", units) is None      # which 五角场 is for a person to say
