"""A large Word or Excel form read without its photos (parsers/slim.py): the same rows as
the whole file, the pictures empty in what the reader holds, the raw mail untouched."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import docx
import pytest
from docx.shared import Cm
from openpyxl import load_workbook
from openpyxl.drawing.image import Image as SheetImage
from PIL import Image

from formbot.demo.samples import FormFill, activity_docx, activity_xlsx, build_mail
from formbot.poll.reading import read_message
from parsers.limits import ReadLimits
from parsers.mail import open_mail, parse_mail, with_parts
from parsers.mailparts import EncodedPart
from parsers.slim import SLIM_AT, without_pictures

FILL = FormFill("定海路街道总工会", [
    ["劳模先进事迹报告会", "报告会", "2018年6月", "邀请全国劳模讲述成长经历", "约200人"],
    ["“杨浦工匠”技能展示", "现场展示", "2018年9月", "展示工匠绝活", "1,200人"]])


def photo(side: int = 1400) -> bytes:
    """A photo that does not compress, as camera pictures do not: > SLIM_AT as PNG."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG",
                                                                            compress_level=1)
    return out.getvalue()


def docx_with_photos() -> bytes:
    document = docx.Document(io.BytesIO(activity_docx(FILL)))
    document.add_paragraph("活动照片：")
    document.add_picture(io.BytesIO(photo()), width=Cm(15))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_with_photo() -> bytes:
    book = load_workbook(io.BytesIO(activity_xlsx(FILL)))
    book.active.add_image(SheetImage(io.BytesIO(photo())), "H2")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def kept(tmp_path: Path, name: str, data: bytes) -> Path:
    raw = build_mail(from_addr="dhjd_gh@example.cn", to_addr="bot@example.cn",
                     subject="定海路街道总工会报送申报表", body="请查收。",
                     attachments=[(name, data)], message_id="<slim@example.cn>")
    path = tmp_path / "kept.eml"
    path.write_bytes(raw)
    return path


def encoded_part(path: Path) -> EncodedPart:
    mail = open_mail(path, ReadLimits())
    (attachment,) = with_parts(parse_mail(mail.raw), mail).attachments
    assert isinstance(attachment.payload, EncodedPart)
    return attachment.payload


@pytest.mark.parametrize(("name", "make", "pictures"), [
    ("附件1：主题活动申报表（含照片）.docx", docx_with_photos, "word/media/"),
    ("附件1：主题活动申报表（含照片）.xlsx", xlsx_with_photo, "xl/media/"),
])
def test_a_large_form_with_photos_reads_the_same_rows_without_them(
        tmp_path: Path, name: str, make, pictures: str) -> None:  # type: ignore[no-untyped-def]
    data = make()
    assert len(data) > SLIM_AT
    path = kept(tmp_path, name, data)
    raw_before = path.read_bytes()

    slim = without_pictures(encoded_part(path), ReadLimits().max_unpacked_bytes)
    assert slim is not None and len(slim) < len(data) // 10
    with zipfile.ZipFile(io.BytesIO(slim)) as archive, zipfile.ZipFile(io.BytesIO(data)) as whole:
        assert archive.namelist() == whole.namelist()      # every part still there
        media = [i for i in archive.infolist() if i.filename.startswith(pictures)]
        assert media and all(i.file_size == 0 for i in media)

    parsed = read_message(path)
    (file,) = parsed.files
    assert file.problem is None and file.size == len(data)
    form, _ = parsed.forms["activity"]
    assert [row.values["name"] for row in form.rows] == ["劳模先进事迹报告会", "“杨浦工匠”技能展示"]
    assert form.unit_text == "定海路街道总工会"
    assert path.read_bytes() == raw_before          # the kept mail is as it came


def test_a_large_file_that_is_no_office_package_is_left_alone(tmp_path: Path) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:
        out.writestr("照片.png", photo())
    path = kept(tmp_path, "照片.zip", archive.getvalue())
    assert without_pictures(encoded_part(path), ReadLimits().max_unpacked_bytes) is None
