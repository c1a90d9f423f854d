"""Mail read part by part (parsers/mailparts.py): the same envelope as parsing it whole,
from bytes or from the kept file, with large attachments left in the raw mail."""

from __future__ import annotations

import base64
import os
import random
from pathlib import Path

import pytest

from formbot.demo.samples import FormFill, activity_docx, build_mail
from formbot.poll.reading import read_message
from parsers import mail as mailmod
from parsers import mailparts
from parsers.mail import parse_mail
from parsers.mailparts import MARKER_PREFIX, StrippedMail, _Base64Stream, strip_parts
from tests.support.fixtures.hostile import cases

DOCX = activity_docx(FormFill("定海路街道总工会", [["报告会", "讲座", "6月", "内容", "200"]]))


# The hostile corpus (built when a test runs: some are big). tests/support/fixtures/corpus.py is not
# used here: its `_mail` builders pop their keyword arguments, so a case built twice comes
# out different the second time, and building it here would change test_corpus's mail.
HOSTILE = {case.id: case for case in cases()}


def _facts(envelope: mailmod.Envelope) -> tuple[object, ...]:
    return (envelope.message_id, envelope.from_addr, envelope.from_name, envelope.to,
            envelope.subject, envelope.date, envelope.headers, envelope.text, envelope.html,
            envelope.problems,
            [(a.name, a.content_type, a.size, a.sha256, a.data) for a in envelope.attachments])


# The two oversized cases are refused by size before any parsing (test_hostile shows it):
# there is no part-by-part parse to compare.
OVERSIZED = {"attachment_50mb", "attachment_over_limit"}


@pytest.mark.parametrize("case_id", sorted(set(HOSTILE) - OVERSIZED))
def test_parsing_part_by_part_gives_what_parsing_whole_gives(
    case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = HOSTILE[case_id].raw(0)[2]
    assert len(raw) <= 8 * 1024 * 1024, "parsed whole twice: keep the cases small"
    split = parse_mail(raw)
    with monkeypatch.context() as patch:
        patch.setattr(mailmod, "strip_parts", lambda source: StrippedMail(source, len(source)))
        whole = parse_mail(raw)
    assert _facts(split) == _facts(whole)


def _big_mail(size: int, *, linesep: str = "\r\n") -> tuple[bytes, bytes]:
    payload = random.Random(size).randbytes(size)
    raw = build_mail(from_addr="dhjd_gh@example.cn", to_addr="bot@example.cn",
                     subject="申报表（附照片）", body="请查收。",
                     attachments=[("申报表.docx", DOCX), ("照片.bin", payload)],
                     filename_style="raw-gbk", message_id="<big@example.cn>")
    if linesep == "\n":
        raw = raw.replace(b"\r\n", b"\n")
    return raw, payload


@pytest.mark.parametrize("linesep", ["\r\n", "\n"])
def test_a_large_attachment_stays_in_the_kept_file_until_it_is_read(
    tmp_path: Path, linesep: str
) -> None:
    raw, payload = _big_mail(3 * 1024 * 1024, linesep=linesep)
    kept = tmp_path / "kept.eml"
    kept.write_bytes(raw)
    stripped = strip_parts(kept)
    assert stripped.size == len(raw) and len(stripped.raw) < 64 * 1024
    assert len(stripped.parts) == 2   # the .docx and the photo; the text body stays
    envelope = mailmod.with_parts(parse_mail(stripped.raw), stripped)
    docx, photo = envelope.attachments
    assert (docx.name, docx.data) == ("申报表.docx", DOCX)
    assert (photo.name, photo.size, photo.data) == ("照片.bin", len(payload), payload)
    assert not isinstance(photo.payload, bytes)   # decoded on demand, not held
    assert envelope.text.strip() == "请查收。"


@pytest.mark.parametrize("chunk", [3, 64, 4099])
def test_reading_in_small_blocks_changes_nothing(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, payload = _big_mail(40_000)
    kept = tmp_path / "kept.eml"
    kept.write_bytes(raw)
    expected = strip_parts(kept)
    monkeypatch.setattr(mailparts, "CHUNK", chunk)
    got = strip_parts(kept)
    from_bytes = strip_parts(raw)
    marker = {m: p for m, p in got.parts.items()}
    assert len(got.raw) == len(expected.raw) == len(from_bytes.raw)
    assert [(p.start, p.end, p.size, p.sha256) for p in marker.values()] == \
        [(p.start, p.end, p.size, p.sha256) for p in expected.parts.values()] == \
        [(p.start, p.end, p.size, p.sha256) for p in from_bytes.parts.values()]
    assert [p.decode() for p in got.parts.values()][-1] == payload


def test_read_message_from_the_kept_file_equals_reading_the_bytes(tmp_path: Path) -> None:
    raw, _ = _big_mail(2 * 1024 * 1024)
    kept = tmp_path / "kept.eml"
    kept.write_bytes(raw)
    by_path, by_bytes = read_message(kept), read_message(raw)
    assert [(f.name, f.kind, f.problem, f.sha256, f.size) for f in by_path.files] == \
        [(f.name, f.kind, f.problem, f.sha256, f.size) for f in by_bytes.files]
    assert len(by_path.forms["activity"][0].rows) == 1
    assert by_path.envelope.attachments == ()


def test_a_marker_sent_by_someone_else_is_just_bytes() -> None:
    forged = MARKER_PREFIX + b"0000000000000000:0"
    raw = build_mail(from_addr="a@example.cn", to_addr="b@example.cn", subject="s", body="",
                     attachments=[("x.bin", forged), ("申报表.docx", DOCX)])
    names = {a.name: a.data for a in parse_mail(raw).attachments}
    assert names == {"x.bin": forged, "申报表.docx": DOCX}


@pytest.mark.parametrize("seed", range(20))
def test_base64_decoded_in_pieces_equals_decoded_whole(seed: int) -> None:
    r = random.Random(seed)
    data = r.randbytes(r.randrange(0, 3000))
    encoded = base64.encodebytes(data)
    if seed % 3 == 0:
        encoded = encoded.replace(b"=", b"")   # padding lost on the way
    stream, out, at = _Base64Stream(), b"", 0
    while at < len(encoded):
        step = r.randrange(1, 200)
        out += stream.feed(encoded[at:at + step])
        at += step
    assert out + stream.close() == data == mailmod._decode_base64(encoded.decode())


def test_a_mail_the_splitter_does_not_follow_is_parsed_whole() -> None:
    boundary = "ünïcode"
    raw = (f"From: a@example.cn\r\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\r\n"
           f"\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\nhi\r\n--{boundary}--\r\n"
           ).encode()
    stripped = strip_parts(raw)
    assert (stripped.raw, stripped.parts) == (raw, {})


def test_deep_nesting_gives_up_stripping_but_still_reads(tmp_path: Path) -> None:
    inner = b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n" \
        b"\r\n" + base64.encodebytes(os.urandom(8000)).replace(b"\n", b"\r\n")
    raw = inner
    for level in range(40):
        raw = (b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (level, level)
               + raw + b"\r\n--b%d--\r\n" % level)
    stripped = strip_parts(raw)
    assert stripped.raw == raw and stripped.parts == {}
    assert parse_mail(raw).problems   # too deep, said so, as before


def test_reading_a_kept_mail_holds_one_decoded_attachment_not_the_mail(tmp_path: Path) -> None:
    """tracemalloc's peak while a 6 MB attachment (8 MB of mail) is read from its file:
    the decoded file once, plus small change, where parsing the mail whole held it several
    times over (raw, text, payload strings, decoded copies: ~8x)."""
    import tracemalloc

    raw, payload = _big_mail(6 * 1024 * 1024)
    kept = tmp_path / "kept.eml"
    kept.write_bytes(raw)
    del raw
    read_message(kept)   # imports and caches first
    tracemalloc.start()
    try:
        parsed = read_message(kept)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [f.size for f in parsed.files if f.name == "照片.bin"] == [len(payload)]
    assert peak < 2.5 * len(payload), peak / len(payload)
