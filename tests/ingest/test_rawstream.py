"""Raw mail streamed from the IMAP socket to the raw store, never whole in memory."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import pytest

from ingest.errors import MailboxError
from ingest.imap import STREAM_CHUNK, ImapTarget, Mailbox, _untagged_to_disk
from ingest.rawstore import RawSink, keep_raw, read_header_block
from tests.support.servers import MailboxServer, any_imap_server  # noqa: F401


def big_mail(n: int, size: int) -> bytes:
    body = random.Random(n).randbytes(size).hex().encode()
    lines = b"\r\n".join(body[i:i + 76] for i in range(0, len(body), 76))
    return (b"From: a@example.cn\r\nTo: b@example.cn\r\nSubject: big %d\r\n"
            b"Message-ID: <big-%d@example.cn>\r\n\r\n" % (n, n)) + lines + b"\r\n"


def target(server: MailboxServer) -> ImapTarget:
    return ImapTarget(host=server.host, port=server.port, security="plain",
                      username=server.user, password=server.password)


def test_fetch_to_disk_keeps_the_exact_bytes_in_uid_order(
    any_imap_server: MailboxServer, tmp_path: Path  # noqa: F811
) -> None:
    mails = [big_mail(1, 3 * STREAM_CHUNK), big_mail(2, 10), big_mail(3, STREAM_CHUNK)]
    uids = [any_imap_server.append(raw) for raw in mails]
    with Mailbox(target(any_imap_server)) as box:
        kept = box.fetch_to_disk(list(reversed(uids)), tmp_path)
        assert [uid for uid, _ in kept] == sorted(uids)
        for (_, raw), expected in zip(kept, mails, strict=True):
            assert raw.path.read_bytes() == expected
            assert raw.sha256 == hashlib.sha256(expected).hexdigest() and raw.size == len(expected)
            assert raw.path.stat().st_mode & 0o077 == 0
        assert box.new_uids(0) == sorted(uids)   # the connection is usable afterwards
        assert box.fetch_to_disk([], tmp_path) == []
    assert not list((tmp_path / "raw").glob(".incoming-*"))


class FakeConnection:
    """What _untagged_to_disk reads from: imaplib's readline/read over canned bytes."""

    def __init__(self, data: bytes, reads: list[int] | None = None) -> None:
        self.stream = io.BytesIO(data)
        self.reads = reads if reads is not None else []

    def readline(self) -> bytes:
        return self.stream.readline()

    def read(self, size: int) -> bytes:
        self.reads.append(size)
        return self.stream.read(size)


def test_uid_after_the_literal_and_other_literals_are_understood(tmp_path: Path) -> None:
    body = b"Subject: x\r\n\r\nhello\r\n"
    header = b"Message-ID: <x@y>\r\n\r\n"
    line = b"* 7 FETCH (BODY[] {%d}\r\n" % len(body)
    connection = FakeConnection(body + b" BODY[HEADER.FIELDS (MESSAGE-ID)] {%d}\r\n%s UID 42)\r\n"
                                % (len(header), header))
    kept = _untagged_to_disk(connection, line, tmp_path)  # type: ignore[arg-type]
    assert list(kept) == [42] and kept[42].path.read_bytes() == body


def test_responses_that_are_not_ours_are_read_and_dropped(tmp_path: Path) -> None:
    assert _untagged_to_disk(FakeConnection(b""), b"* 3 EXISTS\r\n", tmp_path) == {}  # type: ignore[arg-type]
    flags = b"* 2 FETCH (FLAGS (\\Seen) UID 9)\r\n"
    assert _untagged_to_disk(FakeConnection(b""), flags, tmp_path) == {}  # type: ignore[arg-type]


def test_a_body_is_copied_in_chunks(tmp_path: Path) -> None:
    body = b"x" * (2 * STREAM_CHUNK + 5)
    reads: list[int] = []
    connection = FakeConnection(body + b" UID 5)\r\n", reads)
    kept = _untagged_to_disk(connection, b"* 1 FETCH (BODY[] {%d}\r\n" % len(body),  # type: ignore[arg-type]
                             tmp_path)
    assert kept[5].size == len(body) and max(reads) == STREAM_CHUNK


def test_a_connection_lost_mid_body_leaves_no_partial_file(tmp_path: Path) -> None:
    connection = FakeConnection(b"only part of it")
    with pytest.raises(Exception, match="中断"):
        _untagged_to_disk(connection, b"* 1 FETCH (UID 5 BODY[] {1000}\r\n", tmp_path)  # type: ignore[arg-type]
    assert not [p for p in (tmp_path / "raw").rglob("*") if p.is_file()]


def test_a_refused_fetch_is_a_mailbox_error(
    any_imap_server: MailboxServer, tmp_path: Path  # noqa: F811
) -> None:
    with Mailbox(target(any_imap_server)) as box, pytest.raises(MailboxError):
        box.fetch_to_disk([0], tmp_path)  # UID 0 is a syntax error (BAD) everywhere


def test_raw_sink_and_keep_raw_agree_and_dedupe(tmp_path: Path) -> None:
    raw = big_mail(9, 1000)
    path, sha = keep_raw(tmp_path, raw)
    with RawSink(tmp_path) as sink:
        for start in range(0, len(raw), 100):
            sink.write(raw[start:start + 100])
        kept = sink.finish()
    assert (kept.path, kept.sha256) == (path, sha) and path.read_bytes() == raw
    assert len([p for p in (tmp_path / "raw").rglob("*") if p.is_file()]) == 1


def test_header_block_is_only_the_headers(tmp_path: Path) -> None:
    path, _ = keep_raw(tmp_path, b"Message-ID: <a@b>\r\nSubject: s\r\n\r\nbody\n\nmore\r\n\r\n")
    assert read_header_block(path) == b"Message-ID: <a@b>\r\nSubject: s\r\n\r\n"
    path, _ = keep_raw(tmp_path, b"Message-ID: <c@d>\n\nbody\r\n\r\n")
    assert read_header_block(path) == b"Message-ID: <c@d>\n\n"
