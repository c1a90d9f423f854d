"""A unit registry file (.xlsx or .csv with 单位名称, 别名, 邮箱) → entries."""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass

from .errors import ParseError
from .values import clean_text

_SPLIT = re.compile(r"[,，;；、\s/]+")
_HEADERS = {"name": ("单位名称", "单位", "名称"), "aliases": ("别名", "简称"),
            "emails": ("邮箱", "电子邮箱", "email", "e-mail", "邮件地址")}


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    aliases: tuple[str, ...]
    emails: tuple[str, ...]


def _rows(data: bytes, file_name: str) -> list[list[str]]:
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ParseError(f"{file_name}：这是旧版 .xls 文件，请另存为 .xlsx 或 CSV 后再导入")
    if data.startswith(b"PK\x03\x04"):
        from .spreadsheets import openpyxl

        try:
            workbook = openpyxl().load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # a broken or non-Excel zip: say so, not a traceback
            raise ParseError(
                f"{file_name}：无法作为 Excel 表格打开（{type(exc).__name__}）"
            ) from exc
        try:
            sheet = workbook.worksheets[0]
            return [[clean_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        finally:
            workbook.close()
    # Excel's "Unicode text" export is UTF-16 with a BOM and tabs; its CSV is UTF-8
    # with a BOM ("CSV UTF-8") or GBK (plain "CSV" on a Chinese Windows).
    encodings = ("utf-16",) if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else (
        "utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ParseError(f"{file_name}：无法识别文件编码（请另存为 UTF-8 CSV 或 .xlsx）")
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    return [[clean_text(v) for v in row]
            for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _header(rows: list[list[str]], file_name: str) -> tuple[int, dict[str, int]]:
    """The header row (within the first ten: a title may sit above it) and its columns."""
    for index, row in enumerate(rows[:10]):
        cells = [c.lower() for c in row]
        columns: dict[str, int] = {}
        for key, names in _HEADERS.items():
            # By the names' order, not the columns': with both 单位 and 单位名称
            # present, 单位名称 is the name (单位 may be a number or a category).
            position = next((cells.index(n) for n in names if n in cells), None)
            if position is not None:
                columns[key] = position
        if "name" in columns:
            return index, columns
    raise ParseError(f"{file_name}：找不到“单位名称”列（需要列：单位名称、别名、邮箱）")


def read_registry(data: bytes, file_name: str = "单位名单") -> list[RegistryEntry]:
    rows = _rows(data, file_name)
    index, columns = _header(rows, file_name)

    def cell(row: list[str], key: str) -> str:
        position = columns.get(key)
        return row[position] if position is not None and position < len(row) else ""

    entries: dict[str, RegistryEntry] = {}
    for row in rows[index + 1:]:
        name = cell(row, "name")
        if not name:
            continue
        aliases = tuple(a for a in _SPLIT.split(cell(row, "aliases")) if a)
        emails = tuple(e.lower() for e in _SPLIT.split(cell(row, "emails")) if "@" in e)
        bad = [e for e in _SPLIT.split(cell(row, "emails")) if e and "@" not in e]
        if bad:
            raise ParseError(f"{file_name}：“{name}”的邮箱“{bad[0]}”不是有效地址")
        entries[name] = RegistryEntry(name, aliases, emails)
    return list(entries.values())
