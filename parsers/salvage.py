"""The good part of a hostile mail: a mail with more parts than allowed, or nested deeper
than any client nests, is flattened into its leaf parts, the likeliest files first, and
read up to the limit; the rest is named as not read.

A line walk with an explicit stack (no recursion, any depth), like the email package's
feedparser: a line `--boundary` of any open multipart ends the part being read.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser

_HEADER_LINE = re.compile(rb"([\041-\071\073-\176]+:|[\t ])")
# Files a form may be in, by name or type: read before other parts when some must be left.
_LIKELY = re.compile(rb"\.(docx?|xlsx?|xlsm|wps|et|zip|rar|7z|pdf|eml)\b|application/|message/",
                     re.IGNORECASE)


@dataclass
class Salvaged:
    raw: bytes          # a flat multipart/mixed mail of the parts kept
    kept: int
    left: int           # leaf parts not kept
    depth: int          # deepest nesting met


def _leaf_rank(header: bytes) -> int:
    if _LIKELY.search(header):
        return 0
    return 1 if b"filename" in header.lower() or b"name=" in header.lower() else 2


def salvage(raw: bytes, max_parts: int) -> Salvaged | None:
    """The mail's leaf parts (up to `max_parts`, files first, then in order) as one flat
    mail with the original headers; None when it has no leaf part to speak of."""
    lines = raw.splitlines(keepends=True)
    top_end = next((i for i, line in enumerate(lines) if line in (b"\n", b"\r\n")), len(lines))
    top = [line for line in _unfold(lines[:top_end])
           if not line.lower().startswith((b"content-type:", b"content-transfer-encoding:"))]
    stack: list[bytes] = []           # open boundaries, innermost last
    leaves: list[tuple[int, int, bytes]] = []   # (rank, order, part bytes)
    total = depth = forwarded = 0
    header: list[bytes] = []
    body: list[bytes] = []
    state = "headers"                 # headers | body | skip
    at = 0

    def finish() -> None:
        nonlocal total
        if state == "body" and header:
            total += 1
            head = b"".join(header)
            leaves.append((_leaf_rank(head), total, head + b"".join(body)))

    while at < len(lines):
        line = lines[at]
        at += 1
        if line.startswith(b"--") and stack:
            text = line[2:].rstrip(b"\r\n \t")
            hit = next((d for d in range(len(stack) - 1, -1, -1)
                        if text in (stack[d], stack[d] + b"--")), None)
            if hit is not None:
                finish()
                closing = text == stack[hit] + b"--"
                del stack[hit + (0 if closing else 1):]
                header, body = [], []
                state = "skip" if closing else "headers"
                continue
        if state == "skip":
            continue
        if state == "body":
            body.append(line)
            continue
        if line not in (b"\n", b"\r\n") and _HEADER_LINE.match(line):
            header.append(line)
            continue
        # The header block ends: what is this entity?
        headers = BytesHeaderParser().parsebytes(b"".join(header) + b"\n")
        maintype = headers.get_content_maintype()
        if maintype == "multipart" and headers.get_boundary():
            stack.append(str(headers.get_boundary()).encode("ascii", "replace"))
            depth = max(depth, len(stack) + forwarded)
            header, state = [], "skip"     # the preamble
        elif maintype == "message" and headers.get_content_subtype() == "rfc822":
            header, state = [], "headers"  # the forwarded mail's own headers follow
            forwarded += 1                 # (a rough count: levels are never closed)
            depth = max(depth, len(stack) + forwarded)
        else:
            header.append(line if line in (b"\n", b"\r\n") else b"\r\n")
            if line not in (b"\n", b"\r\n"):
                body.append(line)
            state = "body"
    finish()
    if not leaves:
        return None
    kept = sorted(sorted(leaves)[:max_parts], key=lambda leaf: leaf[1])
    boundary = b"=_salvaged_" + os.urandom(8).hex().encode()
    out = [*top, b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n', b"\r\n"]
    for _, _, part in kept:
        out += [b"--" + boundary + b"\r\n", part.rstrip(b"\r\n") + b"\r\n"]
    out.append(b"--" + boundary + b"--\r\n")
    return Salvaged(b"".join(out), len(kept), total - len(kept), depth)


def _unfold(lines: list[bytes]) -> list[bytes]:
    """Header lines with their continuation lines joined, so one can be left out whole."""
    out: list[bytes] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += line
        else:
            out.append(line)
    return out
