"""What an attached file is (by its bytes, not its name) and the forms in it."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

from .forms import FormData, read_forms
from .tables import docx_lines, xlsx_lines

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# An Office file is a zip of XML; a form is a few hundred KB unpacked. Refusing
# more than this keeps a zip bomb named .docx from filling memory.
MAX_UNPACKED = 64 * 1024 * 1024

KIND_NAMES = {
    "docx": "Word 文档",
    "xlsx": "Excel 表格",
    "legacy": "旧版 Word/Excel/WPS 文件（.doc/.xls/.wps/.et）",
    "zip": "压缩包",
    "pdf": "PDF 文件",
    "image": "图片",
    "text": "文本",
    "unknown": "无法识别的文件",
}


def sniff(data: bytes) -> str:
    """The file's kind from its first bytes (and, for zips, the names inside)."""
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile:
            return "unknown"
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        return "zip"
    if data.startswith(OLE_MAGIC):
        return "legacy"
    if data.startswith(b"%PDF"):
        return "pdf"
    if data[:4] in (b"\x89PNG", b"GIF8") or data[:3] == b"\xff\xd8\xff":
        return "image"
    return "unknown"


@dataclass
class FileResult:
    name: str
    kind: str
    forms: list[FormData] = field(default_factory=list)
    problem: str | None = None       # why nothing could be read, for the receipt
    sha256: str = ""
    size: int = 0


def _unpacked_size(data: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(info.file_size for info in archive.infolist())


def read_file(name: str, data: bytes) -> FileResult:
    """Forms in one attached file; never raises for a bad file, says why instead."""
    kind = sniff(data)
    result = FileResult(name=name, kind=kind)
    if kind in ("docx", "xlsx"):
        if _unpacked_size(data) > MAX_UNPACKED:
            result.problem = "文件解压后过大，疑似损坏，未读取"
            return result
        try:
            lines = docx_lines(data) if kind == "docx" else xlsx_lines(data)
        except Exception as exc:  # a broken file must not stop the rest of the mail
            result.problem = f"文件已损坏或无法打开（{type(exc).__name__}），请重新保存后再发送"
            return result
        result.forms = read_forms(lines)
        if not result.forms:
            result.problem = "文件中没有找到申报表或登记表的表格（请使用通知所附的表格）"
    elif kind == "legacy":
        result.problem = "旧版 .doc/.xls 文件暂不能自动读取，请另存为 .docx 或 .xlsx 后重新发送"
    elif kind in ("pdf", "image"):
        result.problem = f"{KIND_NAMES[kind]}无法读取表格内容，请发送 Word 或 Excel 文件"
    elif kind == "zip":
        result.problem = "压缩包暂不能自动读取，请直接附上 Word 或 Excel 文件"
    else:
        result.problem = "无法识别的文件，请发送 Word（.docx）或 Excel（.xlsx）文件"
    return result
