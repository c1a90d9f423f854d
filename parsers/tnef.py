"""Outlook's winmail.dat (TNEF, application/ms-tnef): the files inside it.

Outlook in "rich text" mode wraps a mail's attachments into one winmail.dat; for a
union clerk that is simply "the form I attached". tnefparse knows the format; its
`TNEF` class is not used on mail from outside, though: it copies the rest of the
buffer for every attribute (quadratic on a crafted file), and its MAPI decoder loops
as many times as a 32-bit count in the file says, appending as it goes. Here the
attributes are split with tnefparse's `TNEFObject` on exact slices, and the few MAPI
properties formbot needs (the long file name, embedded data) are read by a loop that
never trusts a count beyond the bytes that are there.
"""

from __future__ import annotations

import struct

from .errors import ParseError
from .headertext import decode_raw_bytes
from .names import safe_name

MAX_ATTRIBUTES = 10_000
MAX_FILES = 200
UNREADABLE = "winmail.dat（Outlook 格式）无法读取，请在 Outlook 中改用 HTML 或纯文本格式重新发送"

_LONG_FILENAME = 0x3707
_DATA_OBJECT = 0x3701
_VARIABLE = {0x001E, 0x001F, 0x000D, 0x0102}
_FIXED = {0x0002: 2, 0x000B: 2, 0x0003: 4, 0x0004: 4, 0x000A: 4, 0x0005: 8, 0x0006: 8,
          0x0007: 8, 0x0014: 8, 0x0040: 8, 0x0048: 16, 0x0001: 0}


def _padded(size: int) -> int:
    return (size + 3) & ~3


def _mapi_properties(blob: bytes) -> dict[int, tuple[int, bytes]]:
    """Property id → (type, first value) for the variable-length properties in `blob`.
    Stops at the first thing that does not add up instead of believing it."""
    found: dict[int, tuple[int, bytes]] = {}
    end = len(blob)
    if end < 4:
        return found
    count, pos = struct.unpack_from("<L", blob)[0], 4
    for _ in range(min(count, end // 8)):
        if pos + 4 > end:
            break
        kind, prop = struct.unpack_from("<HH", blob, pos)
        pos += 4
        if prop >= 0x8000:  # a named property: GUID, then an id or a name
            if pos + 20 > end:
                break
            named = struct.unpack_from("<L", blob, pos + 16)[0]
            pos += 20
            if named == 0:
                pos += 4
            elif pos + 4 <= end:
                pos += 4 + _padded(struct.unpack_from("<L", blob, pos)[0])
        multi, kind = kind & 0x1000, kind & ~0x1000
        values = 1
        if multi or kind in _VARIABLE:
            if pos + 4 > end:
                break
            values = struct.unpack_from("<L", blob, pos)[0]
            pos += 4
        if kind in _VARIABLE:
            if values > (end - pos) // 4:
                break
            for _ in range(values):
                if pos + 4 > end:
                    break
                size = struct.unpack_from("<L", blob, pos)[0]
                pos += 4
                if size > end - pos:
                    return found
                found.setdefault(prop, (kind, blob[pos:pos + size]))
                pos += _padded(size)
        elif kind in _FIXED:
            size = _FIXED[kind] * values
            if size > end - pos:
                break
            pos += _padded(size)
        else:
            break  # an unknown type: its size cannot be known
        if pos > end:
            break
    return found


def _text(kind: int, value: bytes, codepage: str) -> str:
    if kind == 0x001F:
        return value.decode("utf-16-le", errors="replace").split("\x00", 1)[0]
    value = value.split(b"\x00", 1)[0]
    try:
        return value.decode(codepage)
    except (LookupError, ValueError):
        return decode_raw_bytes(value)


def tnef_files(data: bytes) -> list[tuple[str, bytes]]:
    """(name, bytes) of every file attached inside a winmail.dat."""
    from tnefparse.codepage import Codepage
    from tnefparse.tnef import TNEF, TNEFObject

    if len(data) < 6 or struct.unpack_from("<L", data)[0] != TNEF.TNEF_SIGNATURE:
        raise ParseError(UNREADABLE)
    codepage = "gb18030"   # Chinese Outlook; the file usually says so itself
    files: list[dict[str, object]] = []
    offset, seen = 6, 0
    while offset + TNEF.MIN_OBJ_SIZE <= len(data):
        seen += 1
        if seen > MAX_ATTRIBUTES or len(files) > MAX_FILES:
            raise ParseError(UNREADABLE)
        (length,) = struct.unpack_from("<L", data, offset + 5)
        size = min(length + 11, len(data) - offset)
        try:
            attribute = TNEFObject(data[offset:offset + size], do_checksum=False)
        except (struct.error, ValueError, IndexError) as exc:
            raise ParseError(UNREADABLE) from exc
        offset += size
        if attribute.name == TNEF.ATTOEMCODEPAGE and len(attribute.data) >= 4:
            number = struct.unpack_from("<L", attribute.data)[0]
            codepage = "gb18030" if number == 936 else Codepage(number).codepage()
        elif attribute.name == TNEF.ATTATTACHRENDDATA:
            files.append({})   # each attachment starts with its rendering data
        elif attribute.level == TNEF.LVL_ATTACHMENT and files:
            current = files[-1]
            if attribute.name == TNEF.ATTATTACHTITLE:
                current.setdefault("name", _text(0x001E, attribute.data, codepage))
            elif attribute.name == TNEF.ATTATTACHDATA:
                current["data"] = attribute.data
            elif attribute.name == TNEF.ATTATTACHMENT:
                props = _mapi_properties(attribute.data)
                if _LONG_FILENAME in props:
                    current["name"] = _text(*props[_LONG_FILENAME], codepage)
                if _DATA_OBJECT in props and "data" not in current:
                    # An embedded Outlook item: its IID, then a TNEF stream of its own.
                    current["data"] = props[_DATA_OBJECT][1][16:]
    return [(safe_name(str(f.get("name") or "")), bytes(f["data"]))  # type: ignore[arg-type]
            for f in files if f.get("data")]
