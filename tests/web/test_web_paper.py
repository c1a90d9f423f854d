"""A scan that came inside a zip, in the console: its page image is shown beside the rows
like a scan attached directly, and one inside a forwarded mail too; the admin's correction
of a cell read by OCR is stored at once, without reading the picture again.

Real servers (pymap, aiosmtpd), a real scan (LibreOffice → PDF → OpenCV, 200 dpi, a seal),
read by the real OCR worker once for the module (seconds a page)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pytest
from PIL import Image
from sqlmodel import Session, select
from starlette.testclient import TestClient

from errors import FormbotError
from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import build_mail
from formbot.demo.scans import FILLS, docx_for, scan, to_pdf
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.poll import pipeline
from formbot.web import paper
from formbot.web.app import create_app
from formbot.web.auth import LoginThrottle, PasswordHash
from parsers.mail import parse_mail
from parsers.ocr.worker import OcrWorker
from store.audit import AuditEntry
from store.models import Message, Submission
from tests.conftest import PASSWORD
from tests.support.helpers import BOT, NOW, Bot, sheet_table, write_config

VOLUNTEER_FILL = FILLS[1][1]       # 殷行街道工会's volunteer form
ADMIN = "correct horse battery"
SENDER = "yinhang_gh@example.cn"


@dataclass
class Zipped:
    bot: Bot
    smtp: EmbeddedSMTP
    client: TestClient
    scan_jpg: bytes

    def message(self) -> Message:
        with Session(self.bot.engine) as session:
            found = session.exec(select(Message)).one()
            session.expunge(found)
            return found

    def submission(self) -> Submission:
        with Session(self.bot.engine) as session:
            found = session.exec(select(Submission).where(
                Submission.form == "volunteer_team", Submission.current == True)).one()  # noqa: E712
            session.expunge(found)
            return found

    def csrf(self, path: str) -> str:
        match = re.search(r'name="csrf" value="([^"]+)"', self.client.get(path).text)
        assert match
        return match.group(1)


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.fixture(scope="module")
def scan_jpg(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    (pdf,) = to_pdf([docx_for("volunteer", VOLUNTEER_FILL)], tmp_path_factory.mktemp("pdf"))
    return scan(pdf, 200, seed=1)


# Per test, not per module: with FORMBOT_TEST_DATABASE each test's PostgreSQL databases are
# dropped after it, so a module-wide bot would lose its database after the first test.
@pytest.fixture
def zipped(tmp_path_factory: pytest.TempPathFactory, scan_jpg: bytes) -> Iterator[Zipped]:
    """One mail holding 报送.zip with the scan and a note, polled once."""
    tmp_path = tmp_path_factory.mktemp("bot")
    with pytest.MonkeyPatch.context() as env, EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        env.setenv("FORMBOT_IMAP_PASSWORD", PASSWORD)   # for the module: one poll, one OCR
        env.setenv("FORMBOT_SMTP_PASSWORD", PASSWORD)
        imap.append(build_mail(
            from_addr=SENDER, to_addr=BOT, subject="殷行街道工会登记表", body="见压缩包",
            message_id="<zip-scan@example.cn>",
            attachments=[("报送.zip", _zip({"说明.txt": "扫描件见附件".encode(),
                                            "登记表扫描件.jpg": scan_jpg}))]))
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        report = bot.poll()
        assert (report.new, report.processed, report.failed) == (1, 1, 0)
        assert len(smtp.wait_for(1)) == 1
        app = create_app(bot.settings, engine=bot.engine, password=PasswordHash(ADMIN),
                         clock=lambda: NOW, throttle=LoginThrottle(limit=3, window=60))
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            found = Zipped(bot, smtp, client, scan_jpg)
            client.post("/login", data={"password": ADMIN, "csrf": found.csrf("/login"),
                                        "next": "/"})
            yield found


def test_the_page_of_a_scan_inside_a_zip_is_shown_beside_the_rows(zipped: Zipped) -> None:
    sub = zipped.submission()
    assert sub.source == "ocr" and sub.row_count == len(VOLUNTEER_FILL.rows)
    assert sub.file_name == "报送.zip/登记表扫描件.jpg"
    message = zipped.message()
    page = zipped.client.get(f"/messages/{message.id}")
    assert page.status_code == 200 and "从图片（扫描件或照片）识别" in page.text
    urls = re.findall(r'<img src="([^"]+\.png[^"]*)"', page.text)
    assert len(urls) == 1
    png = zipped.client.get(urls[0].replace("&amp;", "&"))
    assert png.status_code == 200, png.text
    assert png.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(png.content)) as shown, \
            Image.open(io.BytesIO(zipped.scan_jpg)) as scanned:
        assert shown.height > shown.width          # the page upright, as scanned
        assert shown.size == scanned.size or max(shown.size) == paper.PAGE_PIXELS
    # an address without the file's name (an older page) shows the zip's only picture
    bare = zipped.client.get(urls[0].split("?")[0])
    assert bare.status_code == 200 and bare.content == png.content
    other = zipped.client.get(urls[0].split("?")[0] + "?file=报送.zip/说明.txt")
    assert other.status_code == 404 and "请下载邮件原件查看" in other.text


def _exported(zipped: Zipped) -> list[list[object]]:
    response = zipped.client.post("/export", data={"csrf": zipped.csrf("/")})
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    return sheet_table(book["志愿者服务队登记表"])


def test_a_correction_is_stored_without_reading_the_picture_again(zipped: Zipped) -> None:
    message = zipped.message()
    before = [row[:] for row in _exported(zipped)]
    team = before[0].index("登记服务队名称")
    assert [r[team] for r in before[1:]] == [r[0] for r in VOLUNTEER_FILL.rows]
    started = OcrWorker.started
    done = zipped.client.post(f"/messages/{message.id}/correct", data={
        "csrf": zipped.csrf(f"/messages/{message.id}"), "form": "volunteer_team", "seq": "3",
        "field": "size", "value": "约16人"}, follow_redirects=True)
    assert "已更正志愿者服务队登记表第3行“服务队人数”为“约16人”" in done.text
    assert OcrWorker.started == started, "the correction started the OCR worker"
    after = _exported(zipped)
    size = after[0].index("服务队人数")
    assert [r[size] for r in after[1:]] == [30, 12, 16]       # read by its kind, as typed
    assert [r[team] for r in after[1:]] == [r[team] for r in before[1:]]
    with Session(zipped.bot.engine) as session:
        (entry,) = session.exec(select(AuditEntry).where(AuditEntry.action == "correct-cell"))
        assert "第3行“服务队人数”：“约15人” → “约16人”" in entry.detail
    # `reprocess` reads the picture again (the worker starts) and keeps the correction
    pipeline.reprocess(zipped.bot.settings, engine=zipped.bot.engine, now=NOW)
    assert OcrWorker.started > started
    assert [r[size] for r in _exported(zipped)[1:]] == [30, 12, 16]
    assert len(zipped.smtp.wait_for(1)) == 1          # no second receipt


def forwarded(inner_attachments: dict[str, bytes]) -> bytes:
    """A mail saved as 原邮件.eml and attached as a file, holding the scans (a mail
    forwarded as message/rfc822 is opened with the mail itself)."""
    inner = EmailMessage()
    inner["From"], inner["To"], inner["Subject"] = SENDER, "leader@example.cn", "登记表"
    inner.set_content("扫描件见附件")
    for name, data in inner_attachments.items():
        inner.add_attachment(data, maintype="image", subtype="jpeg", filename=name)
    outer = EmailMessage()
    outer["From"], outer["To"], outer["Subject"] = SENDER, BOT, "Fw: 登记表"
    outer.set_content("转发")
    outer.add_attachment(inner.as_bytes(), maintype="application", subtype="octet-stream",
                         filename="原邮件.eml")
    return outer.as_bytes()


def test_a_page_inside_a_forwarded_mail_is_found_by_its_name(tmp_path: Path) -> None:
    """No OCR here: the page image reads only the kept raw mail."""
    first, second = _page(900, 1200), _page(1200, 900)
    raw = tmp_path / "fw.eml"
    raw.write_bytes(forwarded({"第一页.jpg": first, "第二页.jpg": second}))
    (attachment,) = parse_mail(raw.read_bytes()).attachments
    message = Message(key="k", message_id="<fw@example.cn>", sha256="x", raw_path=str(raw))
    shown = {}
    for name in ("第一页.jpg", "第二页.jpg"):
        with Image.open(io.BytesIO(paper.page_image(message, attachment.sha256, 1, name))) as i:
            shown[name] = i.size
    assert shown == {"第一页.jpg": (900, 1200), "第二页.jpg": (1200, 900)}
    with pytest.raises(FormbotError, match="没有找到这个图片"):
        paper.page_image(message, attachment.sha256, 1, "别的.jpg")


def _page(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (240, 240, 240)).save(out, "JPEG")
    return out.getvalue()

