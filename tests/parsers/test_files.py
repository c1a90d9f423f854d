"""Files as units really send them: zips, forwarded .eml, macro files, wrong names, links."""

from __future__ import annotations

import io
import zipfile

import pytest

from formbot.demo.samples import FormFill, activity_docx, both_xlsx, build_mail, volunteer_docx
from parsers.files import MAX_UNPACKED, read_attachment, read_file, sniff
from parsers.links import large_attachment_links

ACT = FormFill("定海路街道总工会", [["宣讲会", "报告会", "6月", "内容", "约200人"]])
VOL = FormFill("定海路街道总工会", [["助老队", "张三 主席", "30", "2016年3月", "助老", ""]])


class GbkZipInfo(zipfile.ZipInfo):
    """What Windows' built-in zip writes on a Chinese system: GBK bytes, no UTF-8 flag."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # zipfile calls it by this name
        return self.filename.encode("gb18030"), self.flag_bits & ~0x800


def zipped(entries: dict[str, bytes], *, gbk_names: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr((GbkZipInfo if gbk_names else zipfile.ZipInfo)(name), data)
    return out.getvalue()


def forms_of(results: list) -> list[tuple[str, int]]:
    return [(f.spec.key, len(f.rows)) for r in results for f in r.forms]


def test_a_zip_with_both_forms_and_gbk_names() -> None:
    data = zipped({"附件1 主题活动申报表.docx": activity_docx(ACT),
                   "附件2 志愿者服务队登记表.docx": volunteer_docx(VOL),
                   "__MACOSX/._附件1.docx": b"junk"}, gbk_names=True)
    results = read_attachment("材料.zip", data)
    assert [r.name for r in results] == ["材料.zip/附件1 主题活动申报表.docx",
                                         "材料.zip/附件2 志愿者服务队登记表.docx"]
    assert forms_of(results) == [("activity", 1), ("volunteer_team", 1)]


def test_a_zip_inside_a_zip_is_read_once_more_but_no_deeper() -> None:
    inner = zipped({"a.xlsx": both_xlsx(ACT, VOL)})
    assert forms_of(read_attachment("外.zip", zipped({"内.zip": inner}))) == [
        ("activity", 1), ("volunteer_team", 1)]
    deepest = zipped({"3.zip": zipped({"2.zip": inner})})
    (result,) = read_attachment("1.zip", deepest)
    assert result.forms == [] and "嵌套" in (result.problem or "")


def test_a_zip_bomb_is_refused_without_unpacking() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.docx", b"\0" * (MAX_UNPACKED + 1))
    (result,) = read_attachment("bomb.zip", out.getvalue())
    assert "过大" in (result.problem or "")


def test_broken_and_empty_zips_are_explained() -> None:
    (broken,) = read_attachment("x.zip", b"PK\x03\x04" + b"\x00" * 40)
    assert broken.problem
    (empty,) = read_attachment("空.zip", zipped({}))
    assert empty.problem == "压缩包是空的"


def test_a_forwarded_eml_file_is_opened() -> None:
    eml = build_mail(from_addr="dhjd_gh@example.cn", to_addr="x@126.com", subject="转发",
                     body="", attachments=[("申报表.docx", activity_docx(ACT))])
    results = read_attachment("转发的邮件.eml", eml)
    assert forms_of(results) == [("activity", 1)] and results[0].name == "申报表.docx"


def test_wrong_or_missing_extension_does_not_matter() -> None:
    assert forms_of([read_file("附件1.pdf", activity_docx(ACT))]) == [("activity", 1)]
    assert forms_of([read_file("noname", both_xlsx(ACT, VOL))]) == [
        ("activity", 1), ("volunteer_team", 1)]
    assert sniff(activity_docx(ACT)) == "docx"


def macro_enabled(docx: bytes) -> bytes:
    """A .docm: the same document with the macro-enabled content type and a VBA part."""
    source = zipfile.ZipFile(io.BytesIO(docx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "[Content_Types].xml":
                content = content.replace(
                    b"application/vnd.openxmlformats-officedocument.wordprocessingml"
                    b".document.main+xml",
                    b"application/vnd.ms-word.document.macroEnabled.main+xml")
            target.writestr(info, content)
        target.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0 AutoOpen Shell calc.exe")
    return out.getvalue()


def test_a_docm_is_read_and_its_macros_are_never_run() -> None:
    result = read_file("申报表.docm", macro_enabled(activity_docx(ACT)))
    assert result.problem is None and forms_of([result]) == [("activity", 1)]


def test_a_broken_rar_is_explained() -> None:
    # readable ones, encrypted ones and the rest: tests/parsers/test_rar.py
    (result,) = read_attachment("材料.rar", b"Rar!\x1a\x07\x00" + b"\0" * 20)
    assert result.kind == "rar" and "损坏" in (result.problem or "")


@pytest.mark.parametrize("body", [
    "从网易邮箱发来的超大附件：\n主题活动申报表.docx (1.2M, 2018年6月25日 10:00 到期)\n"
    "下载: https://mail.163.com/large-attachment-download/index.html?p=X&file=abc",
    '<a href="http://fs.126.com/fs/display/?p=X1&amp;file=Y">申报表.xlsx</a> 超大附件',
    "通过QQ邮箱发来的超大附件: https://wx.mail.qq.com/ftn/download?func=3&k=abc&key=def",
])
def test_large_attachment_links_are_found(body: str) -> None:
    (link,) = large_attachment_links(body)
    assert link.startswith("http") and "&amp;" not in link


def test_ordinary_links_are_not_large_attachments() -> None:
    assert large_attachment_links("通知见 https://www.shyp.gov.cn/ghgz/notice.html") == []


def test_kingsoft_wps_and_et_names_are_read_by_their_bytes() -> None:
    # WPS Office's .wps/.et are OLE files like .doc/.xls: LibreOffice's real .doc and .xls,
    # named as Kingsoft names them, are known by their bytes and read as forms
    from parsers.convert import ColdConverter
    from tests.support.fixtures.legacy import libreoffice_made

    doc = libreoffice_made(activity_docx(ACT), "docx", "doc")
    xls = libreoffice_made(both_xlsx(ACT, VOL), "xlsx", "xls")
    assert sniff(doc) == sniff(xls) == "legacy"
    wps = read_file("申报表.wps", doc, converter=ColdConverter(timeout=120))
    assert (wps.kind, wps.problem) == ("doc", None)
    assert forms_of([wps]) == [("activity", 1)]
    assert wps.forms[0].rows[0].values["participants"] == 200
    et = read_file("登记表.et", xls)          # .xls is read directly, no LibreOffice
    assert (et.kind, et.problem) == ("xls", None)
    assert forms_of([et]) == [("activity", 1), ("volunteer_team", 1)]
    assert et.forms[1].rows[0].values["leader_name"] == "张三"
