"""Hostile and broken mail through the real pipeline (pymap + aiosmtpd), one poll per mode.

Every case of tests/support/fixtures/hostile.py is delivered into one mailbox and read by one
poll: "inline" reads in the poller (batches below PARALLEL_MIN, so only the expensive
mail goes to a worker), "pool" reads whole batches in worker processes. Per case: the
message is recorded and processed, its rows are stored, and its receipt names the file
and the reason (or no receipt goes out, for auto-replies and lists). Good mail before,
among and after the hostile proves the worker went on.
"""

from __future__ import annotations

import email
import email.policy
import resource
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.poll import reading
from formbot.poll.reading import ISOLATE_RAW, Readers, read_limits
from formbot.poll.readpool import ReaderPool, ReaderTimedOut
from formbot.reports.status import status_data
from formbot.settings.config import ConfigError
from formbot.settings.loading import load_settings
from parsers.errors import ParseError
from parsers.limits import MB, ReadLimits
from store.models import AttachmentRecord, Message, Submission
from tests.conftest import PASSWORD
from tests.support.fixtures.hostile import (
    ACT,
    BOT,
    Case,
    cases,
    dying_reader,
    iter_raws,
    sleepy_reader,
    zipped,
)
from tests.support.formrows import ActivityRow
from tests.support.helpers import UNITS, Bot, body_of, live_readers, write_config

CASES = cases()
HOSTILE_UNITS = [{**unit, "emails": [*unit["emails"], *(f"c{n:03d}@hostile.example.cn"
                                                      for n in range(len(CASES)))]}
                 if unit["name"] == "定海路街道总工会" else unit for unit in UNITS]
BY_ID = {case.id: case for case in CASES}


@dataclass
class Seen:
    """What one poll left behind for one case, read out while the database exists."""

    status: str = ""
    outcome: str = ""
    error: str | None = None
    rows: int = 0
    files: list[tuple[str, str | None]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)   # activity rows' text cells, as stored
    receipt: str | None = None
    receipt_subject: str = ""
    receipt_to: list[str] = field(default_factory=list)
    receipt_headers: list[str] = field(default_factory=list)


@dataclass
class Poll:
    mode: str
    seconds: float
    processed: int
    failed: int
    seen: dict[str, Seen]


def _selected(mode: str) -> list[Case]:
    # The two big mails are refused by size before any reading: once is enough. pymap
    # itself cannot store a mail nested thousands deep (RecursionError in its parser):
    # those are read straight from their bytes below.
    return [c for c in CASES if (mode == "inline" or "big" not in c.tags)
            and "too-deep-for-pymap" not in c.tags]


@pytest.fixture(scope="module", params=["inline", "pool"])
def poll(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Poll]:
    mode = request.param
    selected = _selected(mode)
    tmp = tmp_path_factory.mktemp(f"hostile-{mode}")
    with pytest.MonkeyPatch.context() as patch, \
            EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        patch.setenv("FORMBOT_IMAP_PASSWORD", PASSWORD)
        patch.setenv("FORMBOT_SMTP_PASSWORD", PASSWORD)
        # Each hostile mail comes from a unit's registered address (a unit's broken client):
        # what its receipt says about the mail is what is checked, and a stranger's mail with
        # no attachment gets no receipt at all (CONTRACT.md, tests/notifier/test_policy.py).
        bot = Bot.at(write_config(tmp, imap, smtp, units=HOSTILE_UNITS,
                                  mailbox__batch_size=7 if mode == "inline" else 50))
        keys = {}
        for case, sender, message_id, raw in iter_raws(selected):
            imap.append(raw)
            keys[message_id] = (case.id, sender)
        started = time.monotonic()
        report = bot.poll()
        seconds = time.monotonic() - started
        sent = smtp.messages  # the poll drained its outbox over SMTP before returning
        seen = {case.id: Seen() for case in selected}
        with Session(bot.engine) as session:
            for message in session.exec(select(Message)):
                case_id, _ = keys[message.key]
                item = seen[case_id]
                item.status, item.outcome, item.error = message.status, message.outcome, message.error
                submissions = list(session.exec(
                    select(Submission).where(Submission.message_ref == message.id)))
                item.rows = sum(s.row_count for s in submissions)
                for row in session.exec(select(ActivityRow).where(
                        col(ActivityRow.submission_id).in_([s.id for s in submissions]))):
                    item.texts += [row.name or "", row.form or "", row.content or ""]
                item.files = [(a.name, a.problem) for a in session.exec(
                    select(AttachmentRecord).where(AttachmentRecord.message_ref == message.id))]
        for _, rcpts, raw in sent:
            receipt = email.message_from_bytes(raw, policy=email.policy.default)
            case_id, _ = keys[str(receipt["In-Reply-To"])]
            item = seen[case_id]
            item.receipt = body_of(receipt)  # type: ignore[arg-type]
            item.receipt_subject = str(receipt["Subject"])
            item.receipt_to = rcpts
            item.receipt_headers = [k.lower() for k in receipt]
        bot.engine.dispose()
        yield Poll(mode, seconds, report.processed, report.failed, seen)


def test_there_are_over_a_hundred_cases() -> None:
    assert len(CASES) >= 100
    assert len(BY_ID) == len(CASES)  # ids are unique


def test_one_poll_processes_every_case_and_stays_quick(poll: Poll) -> None:
    selected = _selected(poll.mode)
    assert (poll.processed, poll.failed) == (len(selected), 0)
    assert poll.seconds < 45, f"{poll.mode}: {poll.seconds:.1f}s"


@pytest.mark.parametrize("case_id", list(BY_ID))
def test_case(poll: Poll, case_id: str) -> None:
    case = BY_ID[case_id]
    if case_id not in poll.seen:
        if "too-deep-for-pymap" in case.tags:
            _read_directly(case)
            return
        # Only the two big mails are left out of the pool-mode poll (refused by size before
        # any reading, so once is enough); the inline-mode run checks them.
        assert poll.mode == "pool" and "big" in case.tags
        return
    seen = poll.seen[case_id]
    assert seen.status == "processed", seen.error
    assert seen.rows == case.rows
    for name, _ in seen.files:
        assert name.isprintable() and name.strip(), repr(name)
        assert ".." not in name.split("/") and "\\" not in name
        assert len(name) <= 250
    if not case.answered:
        assert seen.outcome.startswith("no-reply"), seen.outcome
        assert seen.receipt is None
        return
    assert seen.outcome == "receipt"
    assert seen.receipt is not None, "no receipt"
    for phrase in case.receipt:
        assert phrase in seen.receipt, f"{phrase!r} not in receipt:\n{seen.receipt}"
    if not case.rows:
        # Why nothing was taken is on record: a file's problem, or a receipt asking again.
        reasons = [problem for _, problem in seen.files if problem]
        assert reasons or "来信已收到" in seen.receipt or "表格是空的" in seen.receipt
        for _, problem in seen.files:
            if problem:
                assert problem in seen.receipt  # the reason the sender can act on
    # A receipt is one plain mail to the sender only: no header a subject could forge.
    assert "\n" not in seen.receipt_subject and "\r" not in seen.receipt_subject
    assert len(seen.receipt_to) == 1 and seen.receipt_to[0].endswith("@hostile.example.cn")
    assert "bcc" not in seen.receipt_headers


def _read_directly(case: Case) -> None:
    parsed = reading.read_message(case.raw(0)[2])
    assert parsed.attachment_count  # so the sender is answered
    text = " ".join(f"{f.name}：{f.problem}" for f in parsed.files)
    for phrase in case.receipt:
        assert phrase in text


def test_long_and_control_character_names_read_well_in_the_receipt(poll: Poll) -> None:
    long_name = poll.seen["name_1000"]
    (name, _), = long_name.files
    assert len(name) <= 120 and name.endswith(".docx") and "…" in name
    control = poll.seen["name_controls"]
    (name, _), = control.files
    assert name == "申 报 表 [31m xcod.docx"


def test_control_characters_never_reach_the_rows(poll: Poll) -> None:
    seen = poll.seen["cells_control_chars"]
    assert seen.texts[0] == "活动[31m" and seen.texts[2] == "内容"
    for case in ("cells_control_chars", "cells_bidi_zero_width", "huge_cell", "html_table_form"):
        assert all(text.replace("\n", "").isprintable() for text in poll.seen[case].texts), case


# --- Limits from config.yaml ---------------------------------------------------------

def test_limits_are_settings_with_safe_defaults(tmp_path: Path) -> None:
    imap = smtp = type("Server", (), {"host": "127.0.0.1", "port": 1})()
    defaults = read_limits(load_settings(write_config(tmp_path, imap, smtp)).limits)
    assert defaults == ReadLimits()
    assert (defaults.max_message_bytes, defaults.max_attachment_bytes,
            defaults.max_unpacked_bytes, defaults.max_parts, defaults.parse_seconds) == (
        60 * MB, 30 * MB, 64 * MB, 500, 60)
    config = write_config(tmp_path, imap, smtp, limits={
        "max_message_mb": 10, "max_attachment_mb": 5, "max_unpacked_mb": 20, "max_parts": 100,
        "parse_seconds": 15})
    limits = read_limits(load_settings(config).limits)
    assert limits == ReadLimits(10 * MB, 5 * MB, 20 * MB, 100, 15)


@pytest.mark.parametrize(("key", "value"), [
    ("max_message_mb", 0), ("max_attachment_mb", -1), ("max_unpacked_mb", 5000),
    ("max_parts", 1), ("max_parts", 10**6), ("parse_seconds", 0), ("parse_seconds", "slow"),
])
def test_bad_limits_are_refused_naming_the_key(tmp_path: Path, key: str, value: object) -> None:
    imap = smtp = type("Server", (), {"host": "127.0.0.1", "port": 1})()
    with pytest.raises(ConfigError, match=f"limits.{key}"):
        load_settings(write_config(tmp_path, imap, smtp, limits={key: value}))


def test_configured_limits_reach_the_parsers() -> None:
    docx = activity_docx(ACT)
    raw = build_mail(from_addr="a@example.cn", to_addr=BOT, subject="申报表", body="",
                     attachments=[("申报表.docx", docx), ("材料.zip", zipped({"a.docx": docx}))])
    tight = ReadLimits(max_message_bytes=len(raw) - 1)
    parsed = reading.read_message(raw, limits=tight)
    assert not parsed.forms and "邮件过大" in (parsed.files[0].problem or "")
    small = ReadLimits(max_attachment_bytes=len(docx) - 1)
    names = {f.name: f.problem for f in reading.read_message(raw, limits=small).files}
    assert "附件过大" in (names["申报表.docx"] or "")
    unpacked = ReadLimits(max_unpacked_bytes=1000)
    names = {f.name: f.problem for f in reading.read_message(raw, limits=unpacked).files}
    assert "解压后过大" in (names["申报表.docx"] or "") and "解压后过大" in (names["材料.zip"] or "")
    parts = ReadLimits(max_parts=1)
    assert "部分过多" in (reading.read_message(raw, limits=parts).files[0].problem or "")


# --- Time: a mail that hangs is stopped, the rest go on --------------------------------

def _mail(n: int, *, hang: bool = False, die: str = "") -> bytes:
    files = [("申报表.docx", activity_docx(ACT))]
    if hang:  # big enough to be read in a worker whatever the batch
        files.append(("padding.bin", b"x" * (ISOLATE_RAW + 1)))
    headers = {"X-Test-Hang": "yes"} if hang else {"X-Test-Die": die} if die else None
    return build_mail(from_addr=f"t{n}@example.cn", to_addr=BOT, subject=f"申报表{n}", body="",
                      attachments=files, message_id=f"<t{n}@example.cn>",
                      extra_headers=headers)


def test_a_hanging_mail_is_killed_after_parse_seconds_and_the_rest_are_read() -> None:
    readers = Readers(None, ReadLimits(parse_seconds=2), worker=sleepy_reader)
    raws = [_mail(1), _mail(2, hang=True), _mail(3), _mail(4, hang=False)]
    started = time.monotonic()
    try:
        results = list(readers.read_all(raws))
    finally:
        readers.close()
    assert time.monotonic() - started < 30
    assert isinstance(results[1], ParseError) and "解析超时" in str(results[1])
    for index in (0, 2, 3):
        assert not isinstance(results[index], Exception), results[index]
        assert results[index].forms["activity"][0].rows  # type: ignore[union-attr]
    assert not live_readers()


def test_a_backlog_with_hanging_mail_in_the_pool_loses_nothing_else() -> None:
    raws = [_mail(n, hang=n in (2, 6)) for n in range(10)]
    readers = Readers(None, ReadLimits(parse_seconds=2), worker=sleepy_reader)
    try:
        results = list(readers.read_all(raws))
    finally:
        readers.close()
    timed_out = [i for i, r in enumerate(results) if isinstance(r, Exception)]
    assert timed_out == [2, 6]
    assert all("解析超时" in str(results[i]) for i in timed_out)


@pytest.mark.parametrize("how", ["kill", "exit"])
def test_a_reader_killed_mid_mail_fails_that_mail_alone(how: str) -> None:
    # The second dies after the first's worker is gone: the pool goes on with a new one.
    raws = [_mail(n, die=how if n in (1, 7) else "") for n in range(10)]
    readers = Readers(None, ReadLimits(parse_seconds=60), worker=dying_reader)
    started = time.monotonic()
    try:
        results = list(readers.read_all(raws))
    finally:
        readers.close()
    assert time.monotonic() - started < 60   # never the time limit: death is seen at once
    failed = [i for i, r in enumerate(results) if isinstance(r, Exception)]
    assert failed == [1, 7]
    assert all("解析进程意外退出" in str(results[i]) for i in failed)
    assert all(r.forms["activity"][0].rows for r in results if not isinstance(r, Exception))  # type: ignore[union-attr]
    assert not live_readers()


def test_a_pool_enforces_the_time_limit_while_nobody_waits() -> None:
    """The limit is kept by the pool itself: a hanging worker is killed at its deadline
    even while the poller is busy storing, and its neighbour's job is untouched."""
    pool = ReaderPool(2)
    try:
        hanging = pool.submit(time.sleep, 3600, seconds=1)
        quick = pool.submit(sum, [1, 2, 3], seconds=30)
        assert quick.result(timeout=60) == 6
        with pytest.raises(ReaderTimedOut):
            hanging.result(timeout=60)
    finally:
        pool.close()
    assert not live_readers()


def test_when_no_worker_can_start_only_the_mail_that_needed_one_fails(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    readers = Readers(None)

    def no_processes() -> None:
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(readers, "_start", no_processes)
    results = list(readers.read_all([_mail(1), _mail(2, hang=True), _mail(3)]))
    assert [type(r).__name__ for r in results] == ["Parsed", "ParseError", "Parsed"]
    assert "无法启动解析进程" in str(results[1])


def test_a_hanging_mail_fails_with_a_reason_the_status_shows(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP], monkeypatch: pytest.MonkeyPatch
) -> None:
    imap, smtp = servers
    bot = Bot.at(write_config(tmp_path, imap, smtp))
    monkeypatch.setattr(reading, "_read_in_worker", sleepy_reader)
    monkeypatch.setattr(reading, "read_limits", lambda *_: ReadLimits(parse_seconds=2))
    for raw in (_mail(1), _mail(2, hang=True), _mail(3)):
        imap.append(raw)
    started = time.monotonic()
    report = bot.poll()
    assert time.monotonic() - started < 30
    assert (report.processed, report.failed) == (2, 1)
    (failed,) = status_data(bot.settings, engine=bot.engine)["failed"]
    assert failed["message_id"] == "<t2@example.cn>" and "解析超时" in failed["error"]
    assert len(smtp.wait_for(2)) == 2


# --- Memory: bounded for a 50 MB attachment and a zip bomb ------------------------------

_MEASURE = textwrap.dedent("""
    import resource, sys
    from pathlib import Path
    from formbot.poll.reading import read_message
    from formbot.demo.samples import activity_docx, build_mail, FormFill
    from parsers.limits import MB, ReadLimits
    warm = build_mail(from_addr="a@b.cn", to_addr="c@d.cn", subject="s", body="",
                      attachments=[("a.docx", activity_docx(FormFill("x", [["a", "b", "c", "d", "1"]])))])
    read_message(warm)   # imports and caches in place before measuring
    raw = Path(sys.argv[1]).read_bytes()
    limits = ReadLimits(max_message_bytes=int(sys.argv[2]) * MB)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    parsed = read_message(raw, limits=limits)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((after - before) // 1024, [f.problem for f in parsed.files])
""")


def _peak_growth_mb(tmp_path: Path, raw: bytes, max_message_mb: int = 60) -> tuple[int, str]:
    path = tmp_path / "mail.eml"
    path.write_bytes(raw)
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(path), str(max_message_mb)],
                          capture_output=True, text=True, timeout=120, check=True,
                          cwd=Path(__file__).parents[2])
    growth, problems = done.stdout.split(" ", 1)
    return int(growth), problems


def test_memory_stays_bounded_for_a_50_mb_attachment_and_zip_bombs(tmp_path: Path) -> None:
    big = BY_ID["attachment_50mb"].raw(0)[2]
    growth, problems = _peak_growth_mb(tmp_path, big)
    assert "邮件过大" in problems and growth < 20, growth   # refused from its size alone
    # Allowed in (a mailbox configured for 100 MB): read, then refused by attachment size.
    growth, problems = _peak_growth_mb(tmp_path, big, max_message_mb=100)
    assert "附件过大" in problems and growth < 6 * len(big) // MB, growth
    for case_id in ("zip_bomb_flat", "zip_bomb_nested", "docx_bomb_media", "zip_bomb_stored_claims"):
        growth, problems = _peak_growth_mb(tmp_path, BY_ID[case_id].raw(0)[2])
        assert growth < 200, (case_id, growth, problems)


def test_workers_cap_their_address_space() -> None:
    readers = Readers(None)
    try:
        pool = readers._start()
        soft, _ = pool.submit(resource.getrlimit, resource.RLIMIT_AS,
                              seconds=30).result(timeout=90)
    finally:
        readers.close()
    assert soft == reading.WORKER_MEMORY


def test_the_winmail_dat_fixture_is_real_tnef() -> None:
    """tnefparse's own reader (not used on mail from outside) agrees with the fixture and
    with formbot's bounded reader."""
    from tnefparse.tnef import TNEF

    from parsers.tnef import tnef_files
    from tests.support.fixtures.hostile import tnef

    files = [("主题活动申报表（定海路街道）.docx", b"PK-form"), ("b.xlsx", b"xx")]
    data = tnef(files)
    assert [(a.long_filename(), a.data) for a in TNEF(data).attachments] == files
    assert tnef_files(data) == files
