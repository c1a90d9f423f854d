"""What an attached file is (by its bytes, not its name) and the forms in it.

Clerks send forms as .docx/.xlsx, as legacy .doc/.xls/.wps/.et, inside a zip or a
.rar, inside a forwarded .eml or an Outlook winmail.dat, with a wrong or no extension.
Each file is known by its bytes; a file that cannot be read gets a reason the receipt
can name.

Hostile files are refused before they cost anything: a zip's central directory and
its claimed sizes are checked before it is opened (Office files are zips too), bytes
are read in bounded chunks against one `Budget` per attachment, and the XML parts of
a .docx/.xlsx may not declare a DOCTYPE (entity bombs, external entities).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .errors import ParseError
from .forms import FormData, read_forms
from .limits import (
    MAX_ENTRIES,
    MAX_ZIP_DIRECTORY,
    Budget,
    NeedsIsolation,
    ReadLimits,
    megabytes,
)
from .names import safe_name
from .paper import PaperRead, mark_doubts, read_paper
from .specs import FormSpec
from .tables import Line, docx_lines, xlsx_lines

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
RAR_MAGIC = b"Rar!\x1a\x07"
TNEF_MAGIC = b"\x78\x9f\x3e\x22"
# A form is a few hundred KB unpacked; refusing more keeps a zip bomb (also one
# named .docx, since Office files are zips) from filling memory. The limit in force
# comes from `ReadLimits` (config.yaml `limits.max_unpacked_mb`); this is its default.
MAX_UNPACKED = ReadLimits().max_unpacked_bytes
DAMAGED_ARCHIVE = "压缩包已损坏，无法打开，请重新打包或直接附上表格"
TOO_BIG_UNPACKED = "压缩包解压后过大（超过 {}），未读取，请直接附上表格文件"
TRUNCATED = "文件不完整或已损坏（可能在发送时被截断），请重新保存后再发送"
MAX_DEPTH = 2       # an archive inside an archive is read; one level deeper is not

KIND_NAMES = {
    "docx": "Word 文档",
    "xlsx": "Excel 表格",
    "legacy": "旧版 Word/Excel/WPS 文件（.doc/.xls/.wps/.et）",
    "zip": "压缩包",
    "rar": "RAR 压缩包",
    "message": "转发的邮件",
    "tnef": "Outlook 的 winmail.dat",
    "body": "邮件正文中的表格",
    "pdf": "PDF 文件",
    "image": "图片",
    "unknown": "无法识别的文件",
}
_MAIL_HEADER = re.compile(rb"^(Received|From|Return-Path|Message-ID|Date|MIME-Version|Subject):",
                          re.IGNORECASE | re.MULTILINE)
_MACRO_TYPES = {
    b"application/vnd.ms-word.document.macroEnabled.main+xml":
        b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    b"application/vnd.ms-word.template.macroEnabledTemplate.main+xml":
        b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    b"application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml":
        b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
}


class LegacyConverter(Protocol):
    """Turns a legacy "doc" or "xls" file into .docx/.xlsx bytes (parsers/convert.py)."""

    def convert(self, data: bytes, source_kind: str) -> bytes: ...


# --- Zips, opened only when their directory is sane ------------------------------------

def _directory_size(data: bytes) -> int | None:
    """The size of a zip's central directory as its end record states it (zip64 too),
    or None when there is no end record at all."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 65535))
    if end < 0 or end + 22 > len(data):
        return None
    size = struct.unpack_from("<L", data, end + 12)[0]
    locator = end - 20
    if size == 0xFFFFFFFF and locator >= 0 and data[locator:locator + 4] == b"PK\x06\x07":
        record = data.rfind(b"PK\x06\x06", 0, locator)
        if record >= 0 and record + 56 <= len(data):
            size = struct.unpack_from("<Q", data, record + 40)[0]
    return size


class _TooManyEntries(ParseError):
    pass


def _open_zip(data: bytes) -> zipfile.ZipFile:
    """A ZipFile, after checking that listing it cannot fill memory: Python builds an
    object per directory entry, and a 30 MB zip can list 600,000 empty files."""
    size = _directory_size(data)
    if size is not None and size > MAX_ZIP_DIRECTORY:
        raise _TooManyEntries("压缩包里的文件太多，请直接附上表格文件")
    archive = zipfile.ZipFile(io.BytesIO(data))
    if len(archive.infolist()) > MAX_ENTRIES:
        archive.close()
        raise _TooManyEntries(f"压缩包里的文件太多（超过 {MAX_ENTRIES} 个），请直接附上表格文件")
    return archive


def sniff(data: bytes) -> str:
    """The file's kind from its first bytes (and, for zips, the names inside)."""
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # \x05\x06: an empty zip
        try:
            with _open_zip(data) as archive:
                names = set(archive.namelist())
        except _TooManyEntries:
            return "zip"  # unzipping says why it is not read
        except Exception:  # BadZipFile, NotImplementedError (a "version 6.4" zip) …
            return "unknown"
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        return "zip"
    if data.startswith(OLE_MAGIC):
        return "legacy"
    if data.startswith(RAR_MAGIC):
        return "rar"
    if data.startswith(TNEF_MAGIC):
        return "tnef"
    if data.startswith(b"%PDF"):
        return "pdf"
    if data[:4] in (b"\x89PNG", b"GIF8") or data[:3] == b"\xff\xd8\xff":
        return "image"
    head = data[:4096]
    if len(_MAIL_HEADER.findall(head)) >= 2:
        return "message"
    return "unknown"


@dataclass
class FileResult:
    name: str
    kind: str
    forms: list[FormData] = field(default_factory=list)
    problem: str | None = None       # why nothing could be read, for the receipt
    sha256: str = ""
    size: int = 0
    pending_conversion: bool = False  # read without LibreOffice; a converter would help
    # A PDF, scan or photo: each cell's source and confidence, the doubtful cells (paper.py)
    paper: PaperRead | None = None


def _entry_name(info: zipfile.ZipInfo) -> str:
    """Zip entry names from Chinese Windows are GBK without the UTF-8 flag."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget,
                too_big: str) -> bytes:
    """An entry's bytes, read in bounded chunks: the sizes a zip claims may lie."""
    out = bytearray()
    with archive.open(info) as handle:
        while chunk := handle.read(min(1024 * 1024, budget.left + 1)):
            budget.take(len(chunk), too_big)
            out += chunk
    return bytes(out)


def member_base(name: str) -> str | None:
    """The name an archive member is read under (its file name, made safe), or None for
    a folder or what archivers add beside the files (macOS forks, thumbnail caches)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if name.startswith("__MACOSX/") or base in (".DS_Store", "Thumbs.db") or not base:
        return None
    return safe_name(base)


def _unzip(data: bytes, budget: Budget) -> list[tuple[str, bytes]]:
    too_big = TOO_BIG_UNPACKED.format(megabytes(budget.total))
    with _open_zip(data) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > 200:
            raise ParseError(f"压缩包里的文件太多（{len(infos)} 个），请直接附上表格文件")
        if sum(i.file_size for i in infos) > budget.left:
            raise ParseError(too_big)
        entries = []
        for info in infos:
            base = member_base(_entry_name(info))
            if base is None:
                continue
            if info.flag_bits & 0x1:
                raise ParseError("压缩包加了密码，无法打开，请去掉密码或直接附上表格文件")
            entries.append((base, _read_entry(archive, info, budget, too_big)))
        return entries


def _unrar(data: bytes, budget: Budget) -> list[tuple[str, bytes]]:
    from .rar import unrar  # deferred: rarfile is needed only when a .rar arrives

    return unrar(data, budget, TOO_BIG_UNPACKED.format(megabytes(budget.total)), member_base)


# --- Office files ---------------------------------------------------------------------

_ROOT = re.compile(r"<[A-Za-z_]")
_DECLARATION = re.compile(r"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
XML_HEAD = 64 * 1024   # a real XML prolog is a line; DOCTYPE can only come before the root
HOSTILE_XML = "文件内部含有不允许的 XML 声明（DOCTYPE/ENTITY），疑似恶意或损坏的文件，未读取"


def _xml_head(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or raw[1:2] == b"\x00" or raw[:1] == b"\x00":
        encoding = "utf-16-be" if raw.startswith(b"\xfe\xff") or raw[:1] == b"\x00" else \
            "utf-16-le"
        return raw.decode(encoding, errors="replace")
    return raw.decode("utf-8", errors="replace")


def check_office_xml(archive: zipfile.ZipFile) -> None:
    """Refuse a .docx/.xlsx whose XML declares a DTD: python-docx's parser and openpyxl's
    (defusedxml) would not expand entities either, but nothing in a real Office file
    needs one, so such a file is not read at all and the receipt says why."""
    for info in archive.infolist():
        if not info.filename.lower().endswith((".xml", ".rels", ".vml")):
            continue
        with archive.open(info) as handle:
            head = _xml_head(handle.read(XML_HEAD))
        root = _ROOT.search(head)
        prolog = head[:root.start()] if root else head
        if _DECLARATION.search(prolog) or (root is None and info.file_size > XML_HEAD):
            raise ParseError(HOSTILE_XML)


def _plain_ooxml(data: bytes) -> bytes:
    """A .docm/.dotx read as the .docx it contains. Macros are never run either way;
    python-docx merely refuses the macro-enabled content type."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        types = source.read("[Content_Types].xml")
        if not any(old in types for old in _MACRO_TYPES):
            return data
        for old, new in _MACRO_TYPES.items():
            types = types.replace(old, new)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                content = types if info.filename == "[Content_Types].xml" else source.read(info)
                target.writestr(info.filename, content)
    return out.getvalue()


def _office_lines(kind: str, data: bytes, budget: Budget) -> list[Line]:
    # python-docx and openpyxl read every part whole, bounded by the sizes the zip
    # states (zipfile never returns more than that), so the stated total is the cost.
    with _open_zip(data) as archive:
        budget.take(sum(i.file_size for i in archive.infolist()),
                    f"文件解压后过大（超过 {megabytes(budget.total)}），疑似损坏，未读取")
        check_office_xml(archive)
    return docx_lines(_plain_ooxml(data)) if kind == "docx" else xlsx_lines(data)


class NeedsConverter(ParseError):
    """A legacy file met without a converter (a worker process, or no LibreOffice)."""


class _NoConverter:
    """Where LibreOffice is not available: .xls is still read directly, .doc is explained."""

    def convert(self, data: bytes, source_kind: str) -> bytes:
        raise NeedsConverter("旧版 .doc/.wps 文件暂不能自动读取，请另存为 .docx 后重新发送")


def _legacy_lines(data: bytes, converter: LegacyConverter | None) -> tuple[str, list[Line]]:
    from .convert import legacy_kind, legacy_lines

    kind = legacy_kind(data) or "legacy"
    return kind, legacy_lines(data, converter or _NoConverter())


def _no_form(forms: Sequence[FormSpec] | None) -> str:
    """What a file without any of the campaign's forms is told (the built-in two keep the
    wording units have always read)."""
    from parsers.builtin import builtin_forms

    if forms is None or tuple(forms) == builtin_forms():
        return "文件中没有找到申报表或登记表的表格（请使用通知所附的表格）"
    return f"文件中没有找到{'、'.join(f.short for f in forms)}的表格（请使用通知所附的表格）"


def read_file(name: str, data: bytes, *, converter: LegacyConverter | None = None,
              limits: ReadLimits | None = None, budget: Budget | None = None,
              forms: Sequence[FormSpec] | None = None) -> FileResult:
    """Forms in one file; never raises for a bad file, says why instead. `forms`: the
    campaign's declarations (default: the built-in forms of 杨工〔2018〕14号)."""
    limits = limits or ReadLimits()
    budget = budget or Budget(limits.max_unpacked_bytes)
    kind = sniff(data)
    result = FileResult(name=name, kind=kind)
    try:
        if len(data) > limits.max_attachment_bytes:
            raise ParseError(f"文件过大（{megabytes(len(data))}，上限 "
                             f"{megabytes(limits.max_attachment_bytes)}），未读取；"
                             "请只发送填好的表格")
        if kind in ("docx", "xlsx"):
            lines = _office_lines(kind, data, budget)
        elif kind == "legacy":
            result.kind, lines = _legacy_lines(data, converter)
        elif kind in ("pdf", "image"):
            lines, result.paper = read_paper(kind, data)
        elif kind == "rar":  # read_attachment unpacks it; a file here is not read whole
            raise ParseError("RAR 压缩包未能读取，请直接附上表格文件")
        elif data.startswith(b"PK\x03\x04"):
            raise ParseError(TRUNCATED)
        else:
            raise ParseError("无法识别的文件，请发送 Word（.docx）或 Excel（.xlsx）文件")
    except ParseError as exc:
        result.problem = str(exc)
        result.pending_conversion = isinstance(exc, NeedsConverter)
        return result
    except NeedsIsolation:
        raise
    except MemoryError:
        result.problem = "文件内容过多，读取时超出内存限制，未读取，请只发送填好的表格"
        return result
    except RecursionError:
        result.problem = "文件结构嵌套过深，疑似损坏，未读取，请重新保存后再发送"
        return result
    except Exception as exc:  # a broken file must not stop the rest of the mail
        result.problem = f"文件已损坏或无法打开（{type(exc).__name__}），请重新保存后再发送"
        return result
    result.forms = read_forms(lines, forms)
    if result.paper is not None:
        mark_doubts(result.paper, lines, result.forms)
    if not result.forms:
        result.problem = _no_form(forms)
        if result.paper is not None and result.paper.problems:
            result.problem += "；" + "；".join(result.paper.problems)
    return result


def read_attachment(name: str, data: bytes, *, converter: LegacyConverter | None = None,
                    depth: int = 0, limits: ReadLimits | None = None,
                    budget: Budget | None = None,
                    forms: Sequence[FormSpec] | None = None) -> list[FileResult]:
    """Every form file in an attachment: the file itself, or what a zip, .eml or
    winmail.dat holds. `budget` is shared by everything inside one attachment."""
    limits = limits or ReadLimits()
    budget = budget or Budget(limits.max_unpacked_bytes)
    kind = sniff(data)
    if kind in ("zip", "rar", "message", "tnef") and len(data) > limits.max_attachment_bytes:
        return [read_file(name, data, converter=converter, limits=limits, budget=budget,
                          forms=forms)]
    if kind in ("zip", "rar"):
        if depth >= MAX_DEPTH:
            return [FileResult(name, kind, problem="压缩包嵌套太多层，请直接附上表格文件")]
        try:
            entries = _unzip(data, budget) if kind == "zip" else _unrar(data, budget)
        except ParseError as exc:
            return [FileResult(name, kind, problem=str(exc))]
        except NeedsIsolation:
            raise
        except Exception:  # BadZipFile, zlib.error, EOFError, NotImplementedError …
            return [FileResult(name, kind, problem=DAMAGED_ARCHIVE)]
        if not entries:
            return [FileResult(name, kind, problem="压缩包是空的")]
        results: list[FileResult] = []
        for entry_name, content in entries:
            results += read_attachment(f"{name}/{entry_name}", content, converter=converter,
                                       depth=depth + 1, limits=limits, budget=budget,
                                       forms=forms)
        return results
    if kind in ("message", "tnef"):
        what = "转发的邮件" if kind == "message" else "winmail.dat"
        if depth >= MAX_DEPTH:
            return [FileResult(name, kind, problem=f"{what}嵌套太多层，请直接附上表格文件")]
        try:
            inner = _inner_files(kind, data, limits)
        except ParseError as exc:
            return [FileResult(name, kind, problem=str(exc))]
        except RecursionError:
            return [FileResult(name, kind, problem=f"{what}结构嵌套过深，无法读取")]
        results = []
        for inner_name, content in inner:
            results += read_attachment(inner_name, content, converter=converter,
                                       depth=depth + 1, limits=limits, budget=budget,
                                       forms=forms)
        return results or [FileResult(name, kind, problem=f"{what}里没有附件")]
    return [read_file(name, data, converter=converter, limits=limits, budget=budget,
                      forms=forms)]


def unpacked(name: str, data: bytes, *, limits: ReadLimits | None = None,
             depth: int = 0) -> Iterator[tuple[str, bytes]]:
    """The files an attachment holds, named as `read_attachment` names their results: the
    file itself, or each file inside a zip, rar, forwarded mail or winmail.dat, nested ones
    too. Nothing is read; a container that cannot be opened yields nothing (for the
    console's page image of a scan that came inside a zip or a forwarded mail)."""
    limits = limits or ReadLimits()
    kind = sniff(data)
    if kind not in ("zip", "rar", "message", "tnef") or len(data) > limits.max_attachment_bytes:
        yield name, data
        return
    if depth >= MAX_DEPTH:
        return
    budget = Budget(limits.max_unpacked_bytes)
    try:
        if kind in ("zip", "rar"):
            inner = [(f"{name}/{entry}", content) for entry, content in
                     (_unzip(data, budget) if kind == "zip" else _unrar(data, budget))]
        else:
            inner = _inner_files(kind, data, limits)
    except Exception:  # broken or refused: read_attachment said why when the mail came
        return
    for inner_name, content in inner:
        yield from unpacked(inner_name, content, limits=limits, depth=depth + 1)


def _inner_files(kind: str, data: bytes, limits: ReadLimits) -> list[tuple[str, bytes]]:
    if kind == "tnef":
        from .tnef import tnef_files

        return tnef_files(data)
    from .mail import parse_mail, structure_problem

    problem = structure_problem(data, limits)
    if problem:
        raise ParseError(f"转发的邮件{problem}")
    return [(a.name, a.data) for a in parse_mail(data).attachments]
