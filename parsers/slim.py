"""A large Word or Excel attachment without its pictures.

What makes a clerk's form 20 MB is the activity photos pasted under the table; the form
itself is a few kilobytes of XML. Decoded whole, the file would sit in the reader's
memory while a table is read from it (bench/memory.py: +20 MB for a 20 MB .docx). So a
large attachment is decoded into a temporary file, and the reader gets a copy of the
package in which every picture is an empty part: same part names, relationships and
content types, so python-docx and openpyxl open it as they open the original. Nothing is
lost: the raw mail keeps the file as it came, and no form is read from a picture inside
a Word or Excel file.
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile

from .mailparts import EncodedPart

SLIM_AT = 4 * 1024 * 1024       # below this the file is simply decoded in memory
_PICTURES = re.compile(r"^(word|xl)/media/", re.IGNORECASE)
_PACKAGES = ("word/document.xml", "xl/workbook.xml")


def slimmed(payload: bytes | EncodedPart, max_unpacked: int) -> bytes | None:
    """A large attachment still in the raw mail, without its pictures; else None (the
    caller decodes it as it is)."""
    if isinstance(payload, EncodedPart) and payload.size >= SLIM_AT \
            and payload.head().startswith(b"PK\x03\x04"):   # a zip: maybe a package
        return without_pictures(payload, max_unpacked)
    return None


def without_pictures(part: EncodedPart, max_unpacked: int) -> bytes | None:
    """The Office package in `part` with its pictures emptied, or None when it is not one
    (or not one worth it: damaged, or its text parts larger than `max_unpacked`, which the
    ordinary reading reports with its own words)."""
    try:
        with tempfile.TemporaryFile(prefix="formbot-attachment-") as handle:
            part.decode_into(handle)     # a full disk: OSError, read the ordinary way
            handle.seek(0)
            with zipfile.ZipFile(handle) as source:
                infos = source.infolist()
                names = {info.filename for info in infos}
                if not any(name in names for name in _PACKAGES) or len(names) != len(infos):
                    return None    # not a package, or one with a name twice: as it is
                kept = [i for i in infos if not _PICTURES.match(i.filename)]
                if sum(i.file_size for i in kept) > max_unpacked or len(infos) > 10_000:
                    return None
                out = io.BytesIO()
                with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as slim:
                    for info in infos:
                        if _PICTURES.match(info.filename):
                            slim.writestr(info.filename, b"")
                        else:
                            slim.writestr(info.filename, source.read(info))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError,
            OSError, ValueError, RuntimeError):
        return None   # decoded as it is, and read (or refused) the ordinary way
    return out.getvalue()
