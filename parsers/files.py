"""What an attached file is (by its bytes, not its name) and the forms in it.

Clerks send forms as .docx/.xlsx, as legacy .doc/.xls/.wps/.et, inside a zip,
inside a forwarded .eml, with a wrong or no extension. Each file is known by
its bytes; a file that cannot be read gets a reason the receipt can name.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Protocol

from .errors import ParseError
from .forms import FormData, read_forms
from .tables import Line, docx_lines, xlsx_lines

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
RAR_MAGIC = b"Rar!\x1a\x07"
# A form is a few hundred KB unpacked; refusing more keeps a zip bomb (also one
# named .docx, since Office files are zips) from filling memory.
MAX_UNPACKED = 64 * 1024 * 1024
MAX_ENTRIES = 200
DAMAGED_ARCHIVE = "压缩包已损坏，无法打开，请重新打包或直接附上表格"
MAX_DEPTH = 2       # an archive inside an archive is read; one level deeper is not

KIND_NAMES = {
    "docx": "Word 文档",
    "xlsx": "Excel 表格",
    "legacy": "旧版 Word/Excel/WPS 文件（.doc/.xls/.wps/.et）",
    "zip": "压缩包",
    "rar": "RAR 压缩包",
    "message": "转发的邮件",
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


def sniff(data: bytes) -> str:
    """The file's kind from its first bytes (and, for zips, the names inside)."""
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # \x05\x06: an empty zip
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError):
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


def _entry_name(info: zipfile.ZipInfo) -> str:
    """Zip entry names from Chinese Windows are GBK without the UTF-8 flag."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _unzip(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > MAX_ENTRIES:
            raise ParseError(f"压缩包里的文件太多（{len(infos)} 个），请直接附上表格文件")
        if sum(i.file_size for i in infos) > MAX_UNPACKED:
            raise ParseError("压缩包解压后过大，未读取，请直接附上表格文件")
        entries = []
        for info in infos:
            name = _entry_name(info)
            base = name.rsplit("/", 1)[-1]
            if name.startswith("__MACOSX/") or base in (".DS_Store", "Thumbs.db") or not base:
                continue
            if info.flag_bits & 0x1:
                raise ParseError("压缩包加了密码，无法打开，请去掉密码或直接附上表格文件")
            # Read in bounded chunks: the sizes above are what the archive claims.
            with archive.open(info) as handle:
                content = handle.read(MAX_UNPACKED + 1)
            if len(content) > MAX_UNPACKED:
                raise ParseError("压缩包解压后过大，未读取，请直接附上表格文件")
            entries.append((base, content))
        return entries


def _plain_ooxml(data: bytes) -> bytes:
    """A .docm/.dotx read as the .docx it contains. Macros are never run either way;
    python-docx merely refuses the macro-enabled content type."""
    source = zipfile.ZipFile(io.BytesIO(data))
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


def _office_lines(kind: str, data: bytes) -> list[Line]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if sum(i.file_size for i in archive.infolist()) > MAX_UNPACKED:
            raise ParseError("文件解压后过大，疑似损坏，未读取")
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


def read_file(name: str, data: bytes, *, converter: LegacyConverter | None = None) -> FileResult:
    """Forms in one file; never raises for a bad file, says why instead."""
    kind = sniff(data)
    result = FileResult(name=name, kind=kind)
    try:
        if kind in ("docx", "xlsx"):
            lines = _office_lines(kind, data)
        elif kind == "legacy":
            result.kind, lines = _legacy_lines(data, converter)
        elif kind in ("pdf", "image"):
            raise ParseError(f"{KIND_NAMES[kind]}无法读取表格内容，请发送 Word 或 Excel 文件")
        elif kind == "rar":
            raise ParseError("RAR 压缩包暂不能自动读取，请改用 zip 或直接附上表格文件")
        else:
            raise ParseError("无法识别的文件，请发送 Word（.docx）或 Excel（.xlsx）文件")
    except ParseError as exc:
        result.problem = str(exc)
        result.pending_conversion = isinstance(exc, NeedsConverter)
        return result
    except Exception as exc:  # a broken file must not stop the rest of the mail
        result.problem = f"文件已损坏或无法打开（{type(exc).__name__}），请重新保存后再发送"
        return result
    result.forms = read_forms(lines)
    if not result.forms:
        result.problem = "文件中没有找到申报表或登记表的表格（请使用通知所附的表格）"
    return result


def read_attachment(name: str, data: bytes, *, converter: LegacyConverter | None = None,
                    depth: int = 0) -> list[FileResult]:
    """Every form file in an attachment: the file itself, or what a zip or .eml holds."""
    kind = sniff(data)
    if kind == "zip":
        if depth >= MAX_DEPTH:
            return [FileResult(name, kind, problem="压缩包嵌套太多层，请直接附上表格文件")]
        try:
            entries = _unzip(data)
        except ParseError as exc:
            return [FileResult(name, kind, problem=str(exc))]
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError,
                EOFError, RuntimeError):
            return [FileResult(name, kind, problem=DAMAGED_ARCHIVE)]
        if not entries:
            return [FileResult(name, kind, problem="压缩包是空的")]
        results: list[FileResult] = []
        for entry_name, content in entries:
            results += read_attachment(f"{name}/{entry_name}", content, converter=converter,
                                       depth=depth + 1)
        return results
    if kind == "message":
        if depth >= MAX_DEPTH:
            return [FileResult(name, kind, problem="转发的邮件嵌套太多层，请直接附上表格文件")]
        from .mail import parse_mail

        try:
            inner = parse_mail(data)
        except ParseError as exc:
            return [FileResult(name, kind, problem=str(exc))]
        results = []
        for attachment in inner.attachments:
            results += read_attachment(attachment.name, attachment.data, converter=converter,
                                       depth=depth + 1)
        return results or [FileResult(name, kind, problem="转发的邮件里没有附件")]
    return [read_file(name, data, converter=converter)]
