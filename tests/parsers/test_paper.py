"""Forms that come back on paper: a text PDF (LibreOffice), a 200-dpi stamped scan inside an
image-only PDF, a phone photo stored sideways, and a scanned JPG mailed through the pipeline.

The PDFs are made by LibreOffice from the sample .docx (needs soffice and a CJK font:
.ci/install-ocr.sh); the scans and photos are degraded by formbot/scans.py. Every OCR'd
page costs seconds, so each is read once per session.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import Session, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import FormFill, activity_docx, build_mail
from formbot.demo.scans import FILLS, docx_for, photo, scan, to_pdf
from formbot.demo.smtp_server import EmbeddedSMTP
from parsers.files import FileResult, read_file
from parsers.forms import FormData
from parsers.ocr.text import fix_seq, fix_text, join_lines
from parsers.ocr.worker import OcrFailed, OcrWorker, WorkerLimits
from store.models import Submission
from tests.conftest import PASSWORD
from tests.support.formrows import ActivityRow
from tests.support.helpers import BOT, Bot, body_of, parse_sent, write_config

ACTIVITY_FILL = FILLS[0][1]
VOLUNTEER_FILL = FILLS[1][1]
LONG = FormFill("定海路街道总工会", [
    [f"活动{n}", "报告会", "2018年6月", "邀请全国劳模讲述成长经历，" * 4, f"{n}0人"]
    for n in range(1, 19)], blank_rows=0)


@pytest.fixture(scope="session")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    work = tmp_path_factory.mktemp("pdf")
    made = to_pdf([docx_for("activity", ACTIVITY_FILL), docx_for("volunteer", VOLUNTEER_FILL),
                   activity_docx(LONG)], work)
    return dict(zip(["activity", "volunteer", "long"], made, strict=True))


@pytest.fixture(scope="session")
def scanned(pdfs: dict[str, bytes]) -> FileResult:
    """The volunteer form scanned at 200 dpi (crooked, blurred, JPEG q60, a seal), the
    scanner's PDF holding only the picture."""
    image = Image.open(io.BytesIO(scan(pdfs["volunteer"], 200)))
    out = io.BytesIO()
    image.save(out, "PDF", resolution=200)
    return read_file("扫描件.pdf", out.getvalue())


@pytest.fixture(scope="session")
def photographed(pdfs: dict[str, bytes]) -> FileResult:
    return read_file("IMG_2018.jpg", photo(pdfs["activity"]))


def fields(form: FormData) -> list[list[str]]:
    """Each form row's fields as typed, in the form's order (序号 aside)."""
    return [[row.raw.get(f.key, "") for f in form.spec.data_fields] for row in form.rows]


def values(result: FileResult) -> list[list[str]]:
    """Each form row's fields as typed, whitespace aside."""
    (form,) = result.forms
    return [["".join(v.split()) for v in row] for row in fields(form)]


def expected(fill: FormFill) -> list[list[str]]:
    return [["".join(v.split()) for v in row] for row in fill.rows]


def test_a_text_pdf_is_read_exactly_from_its_text_layer(pdfs: dict[str, bytes]) -> None:
    result = read_file("主题活动申报表.pdf", pdfs["activity"])
    assert result.problem is None
    (form,) = result.forms
    assert form.unit_text == "定海路街道总工会"
    assert (form.contact, form.phone, form.filled_on) == ("王芳", "65430000", "2018-06-10")
    # wrapped lines joined the Chinese way: `劳模先进事\n迹报告会` is one word again
    assert fields(form) == ACTIVITY_FILL.rows
    assert [row.values["participants"] for row in form.rows] == [200, 1200, 200]
    assert result.paper is not None and not result.paper.from_picture
    assert [p.source for p in result.paper.pages] == ["pdf"] and result.paper.doubts == []


def test_a_table_continued_on_the_next_page_is_one_form(pdfs: dict[str, bytes]) -> None:
    result = read_file("long.pdf", pdfs["long"])
    assert result.paper is not None and len(result.paper.pages) >= 2
    (form,) = result.forms
    assert [row.raw["name"] for row in form.rows] == [f"活动{n}" for n in range(1, 19)]
    assert form.contact == "王芳"


def test_an_image_only_pdf_page_is_read_by_ocr_with_each_cell_marked(
        scanned: FileResult) -> None:
    assert scanned.problem is None
    assert scanned.paper is not None and scanned.paper.from_picture
    assert [p.source for p in scanned.paper.pages] == ["ocr"]
    (form,) = scanned.forms
    assert form.spec.key == "volunteer_team" and form.unit_text == "殷行街道工会"
    assert values(scanned) == expected(VOLUNTEER_FILL)
    assert [row.values["size"] for row in form.rows] == [30, 12, 15]
    cells = [cell for reads in scanned.paper.cells.values() for cell in reads]
    assert cells and all(c.source == "ocr" and 0 <= c.confidence <= 1 for c in cells)
    # the seal lies over the lower right cells: the cells it covers say so
    flagged = [c for c in cells if c.doubtful]
    assert len(flagged) <= len(cells) // 5
    for doubt in scanned.paper.doubts:
        assert doubt.form == "volunteer_team" and "请核对" in doubt.describe()


def test_a_phone_photo_stored_sideways_is_turned_and_straightened(
        photographed: FileResult) -> None:
    assert photographed.problem is None, photographed.problem
    (form,) = photographed.forms
    assert form.unit_text == "定海路街道总工会" and form.filled_on == "2018-06-10"
    assert values(photographed) == expected(ACTIVITY_FILL)
    # OCR reads the dash of `6月—7月` as 一 or -: put back as the form writes it
    assert form.rows[0].raw["schedule"] == "2018年6月—7月"


def test_the_cells_a_low_resolution_photo_gets_wrong_are_among_the_flagged_ones(
        pdfs: dict[str, bytes]) -> None:
    """The same photo as a messenger sends it (1280 px): the seal hides the last 活 of a
    wrapped `展示工匠绝活`, which is neither detected nor read while the rest of the cell
    scores 0.99. The ink left unread in the cell flags it."""
    result = read_file("微信图片.jpg", photo(pdfs["activity"], long_side=1280))
    assert result.problem is None and result.paper is not None
    (form,) = result.forms
    labels = [f.label for f in form.spec.data_fields]
    wrong = {(seq, label) for seq, (got, want) in enumerate(
        zip(values(result), expected(ACTIVITY_FILL), strict=True), 1)
        for label, g, w in zip(labels, got, want, strict=True) if g != w}
    flagged = {(d.row, d.field) for d in result.paper.doubts if d.row}
    flagged |= {(p.row, p.field) for p in form.all_problems if p.row and p.field}
    # this page is here because OCR misreads a cell of it; were it read right, pick a harder one
    assert wrong, "every cell read right: the test no longer checks the flags"
    assert wrong <= flagged, f"wrong but not flagged: {wrong - flagged}"
    assert len(flagged) <= len(form.rows) * len(labels) // 5
    unread = [d for d in result.paper.doubts if "unread" in d.reasons]
    assert unread and all("可能有字没有识别出来" in d.describe() for d in unread)


def test_what_ocr_gets_wrong_in_these_forms_is_put_right() -> None:
    assert fix_text("2018年5月一6月") == "2018年5月—6月"
    assert fix_text("5月-6月") == "5月—6月"
    assert fix_text("2017-05-20") == "2017-05-20"
    assert fix_text("服务内容(50字内)") == "服务内容（50字内）"
    assert fix_text("李秀英(工会主席)") == "李秀英（工会主席）"
    assert fix_text("联系人:王芳") == "联系人：王芳"
    assert fix_text("1,200人") == "1,200人"
    assert fix_text("王志强,副主席") == "王志强，副主席"
    assert [fix_seq(t) for t in ("l", "I", "1.", "2、", "O", "备注")] == ["1", "1", "1", "2", "0",
                                                                         "备注"]
    assert join_lines(["劳模先进事", "迹报告会"]) == "劳模先进事迹报告会"
    assert join_lines(["2017-05-", "20"]) == "2017-05-20"
    assert join_lines(["Open", "Day"]) == "Open Day"


MODELS = ("PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx")


def test_the_ocr_models_ship_in_the_wheel_and_nothing_is_fetched(tmp_path: Path) -> None:
    """RapidOCR loads its models from site-packages and reads a page with every network
    connection refused; other model choices would download at first use."""
    import rapidocr

    models = Path(rapidocr.__file__).parent / "models"
    assert all((models / name).stat().st_size > 1_000_000 for name in MODELS)
    before = sorted(p.name for p in models.iterdir())
    image = tmp_path / "line.png"
    page = Image.new("RGB", (640, 120), "white")
    from PIL import ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 48)
    ImageDraw.Draw(page).text((20, 30), "填报单位：定海路", font=font, fill="black")
    page.save(image)
    script = f"""
import socket
def refuse(*args, **kwargs):
    raise OSError("network refused in this test")
socket.socket.connect = refuse
socket.create_connection = refuse
import urllib.request
urllib.request.urlopen = refuse
from parsers.ocr.read import engine
result = engine()({str(image)!r}, use_det=True, use_cls=False, use_rec=True)
print("".join(result.txts))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "定海路" in done.stdout
    assert sorted(p.name for p in models.iterdir()) == before


def test_a_page_over_its_time_limit_is_stopped(pdfs: dict[str, bytes]) -> None:
    # A real scanned table: loading the models alone takes seconds, reading it more, so a
    # 0.2 s limit is over whatever the machine's speed (a broken image would fail fast).
    page = scan(pdfs["activity"], 200, seed=5)
    with OcrWorker(WorkerLimits(page_seconds=0.2)) as worker:
        with pytest.raises(OcrFailed, match="超时"):
            worker.read(page)
        assert worker._process is None
        started = list(worker.pids)
    assert len(started) == 1


def test_a_page_over_the_memory_ceiling_fails_alone() -> None:
    with OcrWorker(WorkerLimits(memory_bytes=200 * 1024**2)) as worker, \
            pytest.raises(OcrFailed):
        worker.read(b"\xff\xd8\xff not a picture")


def test_a_mailed_scan_of_a_filled_form_arrives_as_rows(
        tmp_path: Path, pdfs: dict[str, bytes]) -> None:
    jpg = scan(pdfs["activity"], 200, seed=5)
    raw = build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject="定海路街道总工会报送申报表",
                     body="扫描件请查收。", attachments=[("扫描件.jpg", jpg)],
                     message_id="<scan-1@example.cn>")
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        imap.append(raw)
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        report = bot.poll()
        assert (report.new, report.processed, report.failed) == (1, 1, 0)
        with Session(bot.engine) as session:
            activity = list(session.exec(select(ActivityRow).order_by(ActivityRow.id)))
            subs = list(session.exec(select(Submission)))
        assert [r.name for r in activity] == [row[0] for row in ACTIVITY_FILL.rows]
        assert [r.participants for r in activity] == [200, 1200, 200]
        assert [s.file_name for s in subs] == ["扫描件.jpg"]
        (_, rcpts, sent), = smtp.wait_for(1)
        assert rcpts == ["dhjd_gh@example.cn"]
        assert "主题活动申报表：已收到3行" in body_of(parse_sent(sent))


def test_a_picture_without_a_ruled_table_never_loads_the_ocr_engine() -> None:
    """A stranger's snapshot or an advert holds no form: no OCR (~1 GB, seconds) for it."""
    import io

    from PIL import Image, ImageDraw

    from parsers.ocr.read import read_page

    picture = Image.new("RGB", (1200, 900), "white")
    ImageDraw.Draw(picture).text((100, 100), "SALE 50% OFF", fill="black")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")

    def no_engine() -> object:
        raise AssertionError("the OCR engine was loaded for a picture without a table")

    page = read_page(buffer.getvalue(), no_engine)
    assert page["table"] is False and page["rows"] == []
