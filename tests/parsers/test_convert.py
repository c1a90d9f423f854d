"""Legacy files → .docx/.xlsx/lines, on real .doc/.xls made by LibreOffice from sample forms.

The legacy fixtures are produced once per session by `soffice --convert-to` from the
.docx/.xlsx that formbot.demo.samples builds, so every test reads files LibreOffice really
wrote: Word 97 .doc, Excel 97 .xls, and a .docx re-saved by LibreOffice. (LibreOffice
no longer writes Excel 95, so its "Book" stream is imitated by renaming a stream.)
"""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import olefile
import openpyxl
import pytest
from msoffcrypto.format.ooxml import OOXMLFile

from formbot.demo.samples import FormFill, activity_docx, both_docx, both_xlsx, volunteer_xlsx
from parsers.convert import (
    OLE_MAGIC,
    ColdConverter,
    ConversionError,
    legacy_kind,
    legacy_lines,
)
from parsers.errors import ParseError
from parsers.forms import FormData, read_forms
from parsers.tables import docx_lines, xlsx_lines
from parsers.warm import WarmConverter
from parsers.xls import xls_lines
from tests.support.fixtures import two_row

ACTIVITY = FormFill(
    "杨浦区卫生工作者协会",
    [
        ["“最美医务工作者”事迹报告会", "报告会", "2018年6月—7月",
         "邀请劳模讲述坚守岗位、精益求精的先进事迹，" * 6, "约200人"],
        ["家庭医生技能竞赛", "竞赛", "2018年9月", "开展家庭医生岗位技能竞赛。", "1,200人"],
        ["职工读书会", "学习会", "每月一次", "交流岗位成才体会。", "二百人"],
    ],
    contact="郑华", phone="65120000", filled_on="2018.6.14",
)
VOLUNTEER = FormFill(
    "杨浦区卫生工作者协会",
    [
        ["杨浦卫生职工健康志愿服务队", "郑华 办公室主任", "80", "2014.6", "社区义诊、健康讲座",
         "开展社区义诊40余场，受益居民5000余人次。"],
        ["“暖心”服务队", "吴丽华（工会副主席）", "20", "2017年9月", "独居老人结对关爱", ""],
    ],
    contact="郑华", phone="65120000", filled_on="2018年6月14日", blank_rows=2,
)


def _typed_xlsx() -> bytes:
    """Cells of every type a clerk's sheet holds, for xls_lines against xlsx_lines."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "类型"
    sheet.append(["文本", "２００人", None, "  两个  空格  "])
    sheet.append([200, 3.5, -7, 1e6, 0.1])
    sheet.append([dt.date(2016, 3, 15), dt.datetime(2018, 6, 10, 9, 30), True, False])
    sheet.append([])
    sheet.append([None, None, "after an empty row and two empty cells"])
    workbook.create_sheet("第二页").append(["另一个工作表"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


ORIGINALS = {
    "both.docx": both_docx(ACTIVITY, VOLUNTEER),
    "activity.docx": activity_docx(ACTIVITY),
    "volunteer.xlsx": volunteer_xlsx(VOLUNTEER),
    "both.xlsx": both_xlsx(ACTIVITY, VOLUNTEER),
    "typed.xlsx": _typed_xlsx(),
    # 负责人 merged over 姓名 | 职务, the other headings merged down both header rows.
    "two_row.xlsx": two_row.volunteer_xlsx("殷行街道总工会", [
        ["1", "殷行助老服务队", "刘洋", "主席", "30", "2016.3", "上门助老", "服务200余人次"],
        ["2", "殷行护河队", "陈敏", "副主席", "12", "2017年5月", "河道巡护", ""]]),
}


def _soffice_convert(sources: list[Path], target: str, outdir: Path, profile: Path) -> None:
    subprocess.run(
        ["soffice", "--headless", "--norestore", "--nolockcheck",
         f"-env:UserInstallation={profile.as_uri()}", "--convert-to", target,
         "--outdir", str(outdir), *map(str, sources)],
        check=True, capture_output=True, timeout=120,
    )


@pytest.fixture(scope="session")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """name → bytes of files LibreOffice wrote; one soffice run per target format."""
    base = tmp_path_factory.mktemp("legacy")
    for name, data in ORIGINALS.items():
        (base / name).write_bytes(data)
    profile = base / "profile"
    docx = [base / "both.docx", base / "activity.docx"]
    xlsx = [base / "volunteer.xlsx", base / "both.xlsx", base / "typed.xlsx",
            base / "two_row.xlsx"]
    _soffice_convert(docx, "doc", base / "doc", profile)
    _soffice_convert(xlsx, "xls", base / "xls", profile)
    _soffice_convert([base / "both.docx"], "docx", base / "resaved", profile)
    return {
        "both.doc": (base / "doc" / "both.doc").read_bytes(),
        "activity.doc": (base / "doc" / "activity.doc").read_bytes(),
        "volunteer.xls": (base / "xls" / "volunteer.xls").read_bytes(),
        "both.xls": (base / "xls" / "both.xls").read_bytes(),
        "typed.xls": (base / "xls" / "typed.xls").read_bytes(),
        "two_row.xls": (base / "xls" / "two_row.xls").read_bytes(),
        "resaved.docx": (base / "resaved" / "both.docx").read_bytes(),
    }


@pytest.fixture(scope="module")
def warm() -> WarmConverter:
    with WarmConverter(timeout=30) as converter:
        yield converter


def _summary(forms: list[FormData]) -> list[tuple]:
    """Everything read_forms took from a file, in comparable form."""
    return [
        (form.spec.key, form.unit_text, form.contact, form.phone, form.filled_on,
         form.extra_columns, [p.describe() for p in form.problems],
         [(row.seq, row.values, row.raw, [p.describe() for p in row.problems])
          for row in form.rows])
        for form in forms
    ]


def _expected(name: str) -> list[tuple]:
    data = ORIGINALS[name]
    return _summary(read_forms(docx_lines(data) if name.endswith("docx") else xlsx_lines(data)))


def _with_stream(data: bytes, stream: str, change, tmp_path: Path) -> bytes:
    """`data` with one OLE stream rewritten (same length), as a damaged file would be."""
    path = tmp_path / "changed.ole"
    path.write_bytes(data)
    with olefile.OleFileIO(str(path), write_mode=True) as ole:
        ole.write_stream(stream, change(ole.openstream(stream).read()))
    return path.read_bytes()


def _renamed(data: bytes, old: str, new: str) -> bytes:
    """`data` with the OLE directory entry `old` renamed to `new` (at most as long)."""
    at = data.index((old + "\0").encode("utf-16-le"))
    assert at % 128 == 0  # a directory entry starts with its name, entries are 128 bytes
    name = (new + "\0").encode("utf-16-le")
    entry = name.ljust(64, b"\0") + len(name).to_bytes(2, "little")
    return data[:at] + entry + data[at + 66:]


def _processes(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True)
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


def _group(pgid: int) -> list[str]:
    return subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True).stdout.split()


# --- legacy_kind ------------------------------------------------------------------------

def test_the_samples_round_trip_through_libreoffice_unchanged(legacy):
    # The comparisons below mean something only if the forms carry real content.
    expected = _expected("both.docx")
    assert [form[0] for form in expected] == ["activity", "volunteer_team"]
    assert [len(form[-1]) for form in expected] == [3, 2]
    assert _summary(read_forms(docx_lines(legacy["resaved.docx"]))) == expected


def test_legacy_kind_tells_word_from_excel(legacy, tmp_path):
    assert legacy_kind(legacy["both.doc"]) == "doc"
    assert legacy_kind(legacy["volunteer.xls"]) == "xls"
    assert legacy_kind(_renamed(legacy["both.xls"], "Workbook", "Book")) == "xls"  # Excel 95
    # Word's FIB says the document is encrypted (fEncrypted).
    locked = _with_stream(legacy["both.doc"], "WordDocument",
                          lambda d: d[:11] + bytes([d[11] | 0x01]) + d[12:], tmp_path)
    assert legacy_kind(locked) == "encrypted"


def test_legacy_kind_finds_a_password_protected_ooxml():
    encrypted = io.BytesIO()
    OOXMLFile(io.BytesIO(ORIGINALS["both.docx"])).encrypt("123456", encrypted)
    assert encrypted.getvalue().startswith(OLE_MAGIC)
    assert legacy_kind(encrypted.getvalue()) == "encrypted"
    with pytest.raises(ConversionError, match="密码"):
        legacy_lines(encrypted.getvalue(), ColdConverter())
    with pytest.raises(ConversionError, match="密码"):
        ColdConverter().convert(encrypted.getvalue(), "doc")


def test_legacy_kind_is_none_for_anything_else(legacy):
    assert legacy_kind(ORIGINALS["both.docx"]) is None
    assert legacy_kind(b"") is None
    assert legacy_kind(b"%PDF-1.4\n") is None
    assert legacy_kind(OLE_MAGIC + os.urandom(3000)) is None  # an OLE header, then garbage
    # A compound file without Word or Excel streams (as .msg or .ppt files are): the
    # .doc with its WordDocument directory entry renamed.
    assert legacy_kind(_renamed(legacy["both.doc"], "WordDocument", "__substg1.0_")) is None


# --- xls read directly ------------------------------------------------------------------

@pytest.mark.parametrize(("legacy_name", "original"), [
    ("volunteer.xls", "volunteer.xlsx"), ("both.xls", "both.xlsx"),
    ("two_row.xls", "two_row.xlsx"),   # merged cells: joined flags and two-row headers
])
def test_xls_lines_are_the_lines_of_the_same_workbook_as_xlsx(legacy, legacy_name, original):
    assert xls_lines(legacy[legacy_name]) == xlsx_lines(ORIGINALS[original])
    assert _summary(read_forms(xls_lines(legacy[legacy_name]))) == _expected(original)


def test_a_two_row_header_in_an_xls_is_read(legacy):
    [form] = read_forms(xls_lines(legacy["two_row.xls"]))
    assert [(row.values["leader_name"], row.values["leader_title"]) for row in form.rows] == [
        ("刘洋", "主席"), ("陈敏", "副主席")]


def test_xls_lines_read_every_cell_type_as_xlsx_lines_do(legacy):
    lines = xls_lines(legacy["typed.xls"])
    assert lines == xlsx_lines(ORIGINALS["typed.xlsx"])
    assert lines[1].cells == ("200", "3.5", "-7", "1000000", "0.1")
    assert lines[2].cells[:2] == ("2016-03-15", "2018-06-10 09:30:00")
    assert lines[-1].where == "工作表“第二页”" and lines[-1].table == 1


class _Recorder:
    def __init__(self, result: bytes) -> None:
        self.result, self.calls = result, []

    def convert(self, data: bytes, source_kind: str) -> bytes:
        self.calls.append(source_kind)
        return self.result


def test_legacy_lines_reads_xls_directly_and_falls_back_to_conversion(legacy, monkeypatch):
    recorder = _Recorder(ORIGINALS["both.xlsx"])
    assert _summary(read_forms(legacy_lines(legacy["both.xls"], recorder))) == \
        _expected("both.xlsx")
    assert recorder.calls == []

    def refuse(data: bytes) -> list:
        raise ValueError("Workbook is encrypted")  # as xlrd says for some ET files

    monkeypatch.setattr("parsers.xls.xls_lines", refuse)
    assert _summary(read_forms(legacy_lines(legacy["both.xls"], recorder))) == \
        _expected("both.xlsx")
    assert recorder.calls == ["xls"]


def test_legacy_lines_refuses_what_is_not_word_or_excel():
    with pytest.raises(ConversionError) as caught:
        legacy_lines(OLE_MAGIC + b"\0" * 600, _Recorder(b""))
    assert isinstance(caught.value, ParseError)
    assert ".docx/.xlsx" in str(caught.value)


# --- converters -------------------------------------------------------------------------

def _check_conversions(converter, legacy) -> None:
    for legacy_name, original in (("both.doc", "both.docx"), ("activity.doc", "activity.docx")):
        docx = converter.convert(legacy[legacy_name], "doc")
        assert _summary(read_forms(docx_lines(docx))) == _expected(original)
    xlsx = converter.convert(legacy["both.xls"], "xls")
    assert _summary(read_forms(xlsx_lines(xlsx))) == _expected("both.xlsx")
    assert _summary(read_forms(legacy_lines(legacy["both.doc"], converter))) == \
        _expected("both.docx")


def test_cold_converter_turns_legacy_files_back_into_the_same_forms(legacy):
    _check_conversions(ColdConverter(), legacy)


def test_warm_converter_turns_legacy_files_back_into_the_same_forms(legacy, warm):
    _check_conversions(warm, legacy)


@pytest.mark.parametrize("converter", ["cold", "warm"])
def test_a_damaged_file_is_a_conversion_error(legacy, tmp_path, warm, converter):
    chosen = warm if converter == "warm" else ColdConverter(timeout=30)
    zeroed_doc = _with_stream(legacy["both.doc"], "WordDocument", lambda d: bytes(len(d)),
                              tmp_path)
    garbled_xls = _with_stream(legacy["both.xls"], "Workbook", lambda d: b"\xff" * len(d),
                               tmp_path)
    for data, kind in ((zeroed_doc, "doc"), (garbled_xls, "xls"), (OLE_MAGIC + b"x" * 900, "doc"),
                       (legacy["both.xls"], "doc")):
        with pytest.raises(ConversionError) as caught:
            chosen.convert(data, kind)
        assert "请另存为 .docx/.xlsx" in str(caught.value)
    # and the converter still works afterwards
    assert chosen.convert(legacy["activity.doc"], "doc").startswith(b"PK")


def test_warm_converter_is_thread_safe(legacy, warm):
    results: list[bytes] = []

    def work() -> None:
        results.append(warm.convert(legacy["activity.doc"], "doc"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 4
    assert all(_summary(read_forms(docx_lines(r))) == _expected("activity.docx") for r in results)


def test_warm_converter_survives_its_soffice_being_killed(legacy, warm):
    warm.convert(legacy["activity.doc"], "doc")
    pid, restarts = warm.soffice_pid, warm.restarts
    os.killpg(pid, signal.SIGKILL)  # soffice and soffice.bin: its whole process group
    docx = warm.convert(legacy["both.doc"], "doc")
    assert _summary(read_forms(docx_lines(docx))) == _expected("both.docx")
    assert warm.soffice_pid != pid and warm.restarts == restarts + 1


def test_warm_converter_restarts_a_hung_soffice(legacy, warm):
    warm.convert(legacy["activity.doc"], "doc")
    pid = warm.soffice_pid
    os.killpg(pid, signal.SIGSTOP)  # frozen: alive but never answers
    warm.timeout = 2
    try:
        with pytest.raises(ConversionError):
            warm.convert(legacy["activity.doc"], "doc")
    finally:
        warm.timeout = 30
    assert _group(pid) == []
    assert warm.convert(legacy["activity.doc"], "doc").startswith(b"PK")
    assert warm.soffice_pid != pid


def test_warm_converter_leaves_no_soffice_behind(legacy):
    converter = WarmConverter()
    with converter:
        converter.convert(legacy["activity.doc"], "doc")
        profile, pid = converter.profile_dir, converter.soffice_pid
        assert len(_processes(str(profile))) >= 1
    assert _processes(str(profile)) == []
    assert _group(pid) == []
    assert not profile.exists()
    with pytest.raises(RuntimeError):
        converter.convert(legacy["activity.doc"], "doc")


def test_warm_converter_without_uno_says_so_and_leaves_nothing(legacy):
    # The venv's own Python has no uno module, so the bridge cannot start.
    with WarmConverter(python=sys.executable) as converter:
        with pytest.raises(ConversionError) as caught:
            converter.convert(legacy["activity.doc"], "doc")
        assert "uno" in caught.value.detail
        assert _processes(str(converter.profile_dir)) == []


def test_cold_converter_kills_a_hanging_soffice(legacy, tmp_path):
    marker = f"formbot-test-hang-{os.getpid()}"
    fake = tmp_path / "soffice"
    fake.write_text(f"#!/bin/sh\nsleep 60 # {marker}\n")  # a child that outlives its parent
    fake.chmod(0o755)
    with pytest.raises(ConversionError, match="请另存为"):
        ColdConverter(soffice=str(fake), timeout=1).convert(legacy["activity.doc"], "doc")
    assert _processes(marker) == []
    with pytest.raises(ConversionError) as caught:
        ColdConverter(soffice=str(tmp_path / "missing")).convert(legacy["activity.doc"], "doc")
    assert "cannot run" in caught.value.detail


def test_no_temporary_files_are_left(legacy, warm, tmp_path, monkeypatch):
    # A temp dir of its own: other processes' cold conversions come and go in /tmp.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ColdConverter().convert(legacy["activity.doc"], "doc")
    assert list(tmp_path.glob("formbot-cold-*")) == []
    warm.convert(legacy["activity.doc"], "doc")   # started lazily: its dirs exist after
    jobs = warm.profile_dir.parent / "jobs"
    assert list(jobs.iterdir()) == []
    assert oct(warm.profile_dir.parent.stat().st_mode & 0o777) == "0o700"


@pytest.mark.parametrize(("source", "suffix", "target"), [
    ("activity.docx", "docx", "doc"), ("volunteer.xlsx", "xlsx", "xls"),
])
def test_a_file_libreoffice_saved_with_an_open_password_is_named_as_such(
        source, suffix, target, warm):
    from parsers.files import read_file
    from tests.support.fixtures.legacy import libreoffice_encrypted

    locked = libreoffice_encrypted(ORIGINALS[source], suffix, target)
    result = read_file(f"表.{target}", locked, converter=warm)
    assert result.forms == [] and "打开密码" in (result.problem or "")
