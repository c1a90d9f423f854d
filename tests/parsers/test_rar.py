""".rar archives as units send them (parsers/rar.py), on archives written by
tests/support/fixtures/rar.py and proven against a real reader, bsdtar.

bsdtar (Debian libarchive-tools, installed by .ci/install-libreoffice.sh) is required:
tests that need it fail with a message saying so rather than skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import rarfile

from formbot.demo.samples import FormFill, activity_docx, both_xlsx, volunteer_xlsx
from parsers import rar
from parsers.errors import ParseError
from parsers.files import read_attachment, sniff
from parsers.limits import MAX_ENTRIES, Budget, ReadLimits
from tests.parsers.test_files import zipped
from tests.support.fixtures.rar import Member, rar4, rar5

ACT = FormFill("殷行街道总工会", [["殷行讲堂", "讲座", "6月", "宣讲", "约200人"]])
VOL = FormFill("殷行街道总工会", [["殷行助老队", "李四 副主席", "25", "2016年3月", "助老", ""]])
WRITERS = pytest.mark.parametrize("write", [rar4, rar5], ids=["rar4", "rar5"])
TEXT = "填报单位：殷行街道总工会\n".encode() * 40 + bytes(range(256))


def require_bsdtar() -> str:
    path = shutil.which("bsdtar")
    assert path, "bsdtar is missing: install libarchive-tools (bash .ci/install-libreoffice.sh)"
    return path


def bsdtar(*args: str, archive: bytes, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    target = tmp_path / "a.rar"
    target.write_bytes(archive)
    return subprocess.run([require_bsdtar(), *args, str(target)], capture_output=True,
                          env={**os.environ, "LC_ALL": "C.UTF-8"}, check=False, timeout=60)


def as_bsdtar_escapes(name: str) -> str:
    """How bsdtar lists a name it cannot decode: non-ASCII bytes as octal escapes."""
    return "".join(chr(b) if b < 0x80 else f"\\{b:03o}" for b in name.encode("gb18030"))


@pytest.fixture
def tool_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every command rarfile starts: proof that a member went through the tool."""
    calls: list[list[str]] = []
    real = rarfile.custom_popen

    def spy(cmd: list[str]) -> object:
        calls.append(list(cmd))
        return real(cmd)

    monkeypatch.setattr(rarfile, "custom_popen", spy)
    return calls


def forms_of(results: list) -> list[tuple[str, int]]:
    return [(f.spec.key, len(f.rows)) for r in results for f in r.forms]


# --- the writer, against a real reader ------------------------------------------------------

MEMBERS = [
    Member("附件1.docx", TEXT, name_style="gbk"),
    Member("附件二.docx", TEXT, name_style="unicode"),
    Member("压缩/附件三.txt", TEXT, compressed=True, name_style="utf8"),
    Member("附件四.txt", TEXT[::-1], compressed=True, name_style="gbk"),
]


@WRITERS
def test_bsdtar_lists_and_unpacks_what_the_writer_makes(write, tmp_path: Path) -> None:
    archive = write(MEMBERS)
    listing = bsdtar("-tf", archive=archive, tmp_path=tmp_path)
    assert listing.returncode == 0, listing.stderr.decode()
    names = listing.stdout.decode().splitlines()
    if write is rar4:
        # no Unicode flag: bsdtar cannot know the code page and shows GBK's bytes
        assert names == [as_bsdtar_escapes("附件1.docx"), "附件二.docx", "压缩/附件三.txt",
                         as_bsdtar_escapes("附件四.txt")]
    else:
        assert names == [m.name for m in MEMBERS]   # RAR5 names are always UTF-8
    # the stored bytes and the literal streams come out as they went in
    unpacked = bsdtar("-xOf", archive=archive, tmp_path=tmp_path)
    assert unpacked.returncode == 0, unpacked.stderr.decode()
    assert unpacked.stdout == b"".join(m.data for m in MEMBERS)


@WRITERS
def test_bsdtar_checks_the_writers_crc(write, tmp_path: Path) -> None:
    # bsdtar checks the CRC32 of what it decompresses (not of stored members; rarfile
    # does those): the writer's CRC is right, and a flipped literal is caught by it
    archive = write([Member("a.txt", TEXT, compressed=True)])
    assert bsdtar("-xOf", archive=archive, tmp_path=tmp_path).returncode == 0
    damaged = bytearray(archive)
    damaged[len(damaged) - 60] ^= 0x01
    result = bsdtar("-xOf", archive=bytes(damaged), tmp_path=tmp_path)
    assert result.returncode != 0 and b"CRC" in result.stderr


# --- forms in a rar -------------------------------------------------------------------------


@WRITERS
def test_forms_in_a_rar_with_gbk_and_unicode_names(write, tool_calls: list[list[str]]) -> None:
    require_bsdtar()
    archive = write([
        Member("附件1 主题活动申报表.docx", activity_docx(ACT), name_style="gbk"),
        Member("材料/附件2 登记表.xlsx", volunteer_xlsx(VOL), compressed=True,
               name_style="unicode"),
        Member("__MACOSX/._附件1.docx", b"junk"),
        Member("Thumbs.db", b"junk"),
    ])
    assert sniff(archive) == "rar"
    results = read_attachment("殷行.rar", archive)
    assert [r.name for r in results] == ["殷行.rar/附件1 主题活动申报表.docx",
                                         "殷行.rar/附件2 登记表.xlsx"]
    assert [r.problem for r in results] == [None, None]
    assert forms_of(results) == [("activity", 1), ("volunteer_team", 1)]
    (team,) = results[1].forms[0].rows
    assert (team.values["leader_name"], team.values["size"]) == ("李四", 25)
    # the stored .docx was read directly; the compressed .xlsx went through bsdtar
    (unpacking,) = [call for call in tool_calls if "-x" in call]
    assert unpacking[:3] == ["env", "LC_ALL=C.UTF-8", "bsdtar"]


@WRITERS
def test_compressed_members_are_unpacked_by_bsdtar_even_in_the_c_locale(
        write, tool_calls: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    require_bsdtar()
    monkeypatch.setenv("LC_ALL", "C")   # bsdtar would skip a Unicode name it cannot spell
    archive = write([Member("附件一.txt", TEXT, compressed=True, name_style="unicode"),
                     Member("附件二.txt", TEXT[::-1], compressed=True, name_style="gbk")])
    entries = rar.unrar(archive, Budget(10**6), "太大", lambda name: name)
    assert entries == [("附件一.txt", TEXT), ("附件二.txt", TEXT[::-1])]
    assert len([call for call in tool_calls if "-x" in call]) == 2


def test_a_solid_rar5_is_unpacked_by_member_name(tool_calls: list[list[str]]) -> None:
    require_bsdtar()
    archive = rar5([Member("一.txt", TEXT, compressed=True),
                    Member("二.txt", TEXT[::-1], compressed=True)], solid=True)
    entries = rar.unrar(archive, Budget(10**6), "太大", lambda name: name)
    assert entries == [("一.txt", TEXT), ("二.txt", TEXT[::-1])]
    # solid: the whole archive goes to bsdtar, the member chosen by name after `--`
    assert [call[-2:] for call in tool_calls if "-x" in call] == [["--", "一.txt"],
                                                                  ["--", "二.txt"]]


def test_bsdtar_command_line_names_the_archive_after_f() -> None:
    # rarfile's own bsdtar set-up puts `--` between -f and the archive (rarfile 4.5)
    setup = rar._Bsdtar(rarfile.BSDTAR_CONFIG)
    assert setup.open_cmdline(None, "/tmp/x.rar") == [
        "env", "LC_ALL=C.UTF-8", rarfile.BSDTAR_TOOL, "-x", "--to-stdout", "-f", "/tmp/x.rar"]
    assert setup.open_cmdline(None, "/tmp/x.rar", "-a.txt")[-3:] == ["/tmp/x.rar", "--",
                                                                       "-a.txt"]


def test_rar_and_zip_nest_once_but_no_deeper() -> None:
    require_bsdtar()
    inner = rar5([Member("表.xlsx", both_xlsx(ACT, VOL), compressed=True)])
    assert forms_of(read_attachment("外.zip", zipped({"内.rar": inner}))) == [
        ("activity", 1), ("volunteer_team", 1)]
    assert forms_of(read_attachment("外.rar", rar4([Member("内.zip", zipped({
        "表.xlsx": both_xlsx(ACT, VOL)}))]))) == [("activity", 1), ("volunteer_team", 1)]
    deepest = rar4([Member("2.rar", rar4([Member("3.rar", inner)]))])
    (result,) = read_attachment("1.rar", deepest)
    assert result.forms == [] and "嵌套" in (result.problem or "")


# --- what cannot be read, and why -----------------------------------------------------------


@pytest.mark.parametrize("archive", [
    rar4([Member("a.docx", TEXT, encrypted=True)]),
    rar5([Member("a.docx", TEXT, encrypted=True)]),
    rar4([Member("a.docx", TEXT)], encrypted_headers=True),
    rar5([Member("a.docx", TEXT)], encrypted_headers=True),
], ids=["rar4-file", "rar5-file", "rar4-names", "rar5-names"])
def test_encrypted_rar_is_named_not_opened(archive: bytes,
                                           tool_calls: list[list[str]]) -> None:
    (result,) = read_attachment("加密.rar", archive)
    assert (result.kind, result.forms) == ("rar", [])
    assert result.problem == rar.ENCRYPTED and "密码" in result.problem
    assert tool_calls == []


def _flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0xFF
    return bytes(out)


COMPRESSED4 = rar4([Member("a.txt", TEXT, compressed=True)])
COMPRESSED5 = rar5([Member("a.txt", TEXT, compressed=True)])


@pytest.mark.parametrize("archive", [
    COMPRESSED4[:60],                                    # cut off in the mail
    _flip(COMPRESSED4, len(COMPRESSED4) - 40),           # bad data: CRC fails after bsdtar
    _flip(COMPRESSED5, len(COMPRESSED5) - 40),
    _flip(COMPRESSED4, 25),                              # bad file header: its CRC fails
    _flip(rar4([Member("a.txt", TEXT)]), 60),            # stored, bad data
    b"Rar!\x1a\x07\x00" + b"\0" * 20,
    b"Rar!\x1a\x07\x01\x00" + b"\xff" * 20,
], ids=["truncated", "rar4-data", "rar5-data", "rar4-header", "stored-data", "rar4-junk",
        "rar5-junk"])
def test_damaged_rar_is_explained(archive: bytes) -> None:
    require_bsdtar()
    (result,) = read_attachment("坏.rar", archive)
    assert (result.kind, result.forms, result.problem) == ("rar", [], rar.DAMAGED)


@WRITERS
def test_one_volume_of_a_split_rar_is_explained(write) -> None:
    (result,) = read_attachment("材料.part1.rar", write([Member("a.docx", TEXT,
                                                                split_after=True)]))
    assert result.problem == rar.SPLIT


def test_an_empty_rar_is_explained() -> None:
    (result,) = read_attachment("空.rar", rar4([Member("__MACOSX/._a", b"x")]))
    assert result.problem == "压缩包是空的"


def test_missing_tool_is_a_reason_not_a_crash(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setattr(rarfile, "BSDTAR_TOOL", str(tmp_path / "no-bsdtar"))
    monkeypatch.setattr(rarfile, "CURRENT_SETUP", None)
    (result,) = read_attachment("材料.rar", rar5([Member("表.xlsx", both_xlsx(ACT, VOL),
                                                        compressed=True)]))
    assert (result.kind, result.forms, result.problem) == ("rar", [], rar.NO_TOOL)
    # a stored member needs no tool at all
    stored = read_attachment("材料.rar", rar4([Member("表.xlsx", both_xlsx(ACT, VOL))]))
    assert forms_of(stored) == [("activity", 1), ("volunteer_team", 1)]
    # nor does rarfile fall back on another tool (Debian's 7z has no RAR codec)
    assert rarfile.CURRENT_SETUP is None


# --- limits ---------------------------------------------------------------------------------


def test_declared_sizes_are_checked_before_anything_is_unpacked(
        tool_calls: list[list[str]]) -> None:
    limits = ReadLimits(max_unpacked_bytes=len(TEXT) + 100)
    archive = rar4([Member("a.txt", TEXT, compressed=True), Member("b.txt", TEXT,
                                                                   compressed=True)])
    (result,) = read_attachment("炸弹.rar", archive, limits=limits)
    assert "过大" in (result.problem or "")
    assert tool_calls == []


def test_unpacked_bytes_are_charged_to_the_attachment_budget() -> None:
    require_bsdtar()
    budget = Budget(10**6)
    archive = rar5([Member("a.txt", TEXT, compressed=True), Member("b.txt", TEXT)])
    rar.unrar(archive, budget, "太大", lambda name: name)
    assert budget.left == 10**6 - 2 * len(TEXT)
    # a budget already spent by a sibling in the same attachment refuses the rest
    with pytest.raises(ParseError, match="太大"):
        rar.unrar(archive, Budget(len(TEXT)), "太大", lambda name: name)


def test_too_many_headers_are_refused_while_parsing() -> None:
    archive = rar4([Member(f"{i}.txt", b"") for i in range(MAX_ENTRIES + 1)])
    (result,) = read_attachment("多.rar", archive)
    assert "太多" in (result.problem or "")
