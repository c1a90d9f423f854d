"""Reading one kept mail: envelope, files, forms. No database, so it can run in a worker
process; a backlog is read on every core while storing stays in order in the main one.

Limits (config.yaml `limits:`) reach the parsers as one `ReadLimits`. Cheap guards run
everywhere: sizes and part counts before parsing, unpacked bytes per attachment. Time
is bounded by isolation: a mail is read in a worker process, killed after
`parse_seconds`, when it is part of a backlog, when its raw size is large, or when
reading it in the poller turns out to be expensive (`NeedsIsolation`: more unpacked
bytes or more attachments than a form mail has). A small ordinary mail is read in the
poller, as before, without paying for a process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import io
import itertools
import os
import resource
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from formbot.poll.readpool import ReaderDied, ReaderPool, ReaderTimedOut, ReaderUnavailable
from formbot.settings.config import LimitSettings
from parsers.body import html_lines, text_lines
from parsers.errors import ParseError
from parsers.files import FileResult, LegacyConverter, read_attachment, sniff
from parsers.forms import EMPTY_FORM, NO_UNIT, FormData, FormRow, Problem, read_forms
from parsers.limits import MB, Budget, Meter, NeedsIsolation, ReadLimits, megabytes
from parsers.links import large_attachment_links
from parsers.mail import (
    Envelope,
    header_envelope,
    mail_problem,
    needs_salvage,
    open_mail,
    parse_mail,
    salvaged_envelope,
    with_parts,
)
from parsers.mailparts import source_size
from parsers.slim import slimmed
from parsers.specs import FormSpec
from store.crashpoints import failpoint

# Below this many mails a pool costs more to start than it saves.
PARALLEL_MIN = 8
# A mail is read in the poller's own process only while it stays this cheap; past it,
# in a worker under the time limit. A form mail is ~50 KB with one or two attachments.
ISOLATE_RAW = 1 * MB
ISOLATE_UNPACKED = 4 * MB
ISOLATE_ATTACHMENTS = 20
# Address space of a worker: imports take ~0.5 GB, a 60 MB mail a few hundred MB more.
WORKER_MEMORY = 3 * 1024 * MB
# How often a wait for a worker's result checks that the pool itself is still there.
WAIT_TICK = 1.0

# A kept mail's path (what the poller passes), or a mail's bytes (tests, tools).
MailSource = bytes | Path

MESSAGE_NAME = "（整封邮件）"
BODY_NAME = "邮件正文"
TIMED_OUT = ("解析超时：超过 {seconds:g} 秒仍未读完，已停止读取（可能是过大或损坏的附件）；"
             "下次轮询会再试，仍失败请人工查看")
WORKER_DIED = "解析进程意外退出（可能是损坏的附件耗尽了内存），下次轮询会再试，仍失败请人工查看"


@dataclass
class Parsed:
    envelope: Envelope                # without attachment bytes (they are in the raw mail)
    attachment_count: int
    files: list[FileResult]
    forms: dict[str, tuple[FormData, list[str]]]
    links: list[str]

    @property
    def needs_conversion(self) -> bool:
        return any(f.pending_conversion for f in self.files)


def read_limits(limits: LimitSettings | ReadLimits | None) -> ReadLimits:
    """config.yaml's `limits:` (megabytes, seconds) as the parsers take them (bytes)."""
    if limits is None:
        return ReadLimits()
    if isinstance(limits, ReadLimits):
        return limits
    return ReadLimits(
        max_message_bytes=int(limits.max_message_mb * MB),
        max_attachment_bytes=int(limits.max_attachment_mb * MB),
        max_unpacked_bytes=int(limits.max_unpacked_mb * MB),
        max_parts=limits.max_parts,
        parse_seconds=limits.parse_seconds,
    )


# Photos of pages in one mail read by OCR (seconds each); past it a person looks. A form
# is one or two pages, so two forms are at most four.
MAX_PHOTOS = 6
TOO_MANY_PHOTOS = (f"邮件中的图片超过 {MAX_PHOTOS} 张，此图片未识别；"
                   "请发送 Word 或 Excel 文件，或每封邮件只附一张表格的照片")
# The smallest picture a page can be read from: a messenger's photo is 1280 px on its
# long side, a signature's logo or a pasted emoticon a few hundred at most.
PAGE_LONG_SIDE, PAGE_SHORT_SIDE = 800, 500


def _could_be_a_page(inline: bool, data: bytes) -> bool:
    """Whether a picture beside other attachments may be a photo or scan of a form: not
    one the HTML body shows (`cid:`, a signature or a logo), and large enough."""
    if inline:
        return False
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:   # reads the header only
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return True   # read_file says what is wrong with it
    return max(width, height) >= PAGE_LONG_SIDE and min(width, height) >= PAGE_SHORT_SIDE


def _read_attachments(envelope: Envelope, converter: LegacyConverter | None,
                      limits: ReadLimits, meter: Meter | None,
                      forms: Sequence[FormSpec] | None) -> list[FileResult]:
    results: list[FileResult] = []
    seen: set[str] = set()
    photos = 0
    for attachment in envelope.attachments:
        if attachment.decoration and (attachment.content_type.startswith("image/")
                                      or not attachment.inline):
            continue  # a signature, an invite, a logo: nobody sent it as a submission
        if attachment.sha256 in seen:
            continue  # the same file attached twice is one file
        seen.add(attachment.sha256)
        # Decoded here, once, and dropped before the next: one attachment in memory at a time.
        data = slimmed(attachment.payload, limits.max_unpacked_bytes) or attachment.data
        if len(envelope.attachments) > 1 and sniff(data) == "image":
            if not _could_be_a_page(attachment.inline, data):
                continue  # a logo in a signature, a picture in the body: not a submission
            photos += 1
            if photos > MAX_PHOTOS:
                results.append(FileResult(attachment.name, "image", sha256=attachment.sha256,
                                          size=attachment.size, problem=TOO_MANY_PHOTOS))
                continue
        try:
            found = read_attachment(attachment.name, data, converter=converter,
                                    limits=limits,
                                    budget=Budget(limits.max_unpacked_bytes, meter),
                                    forms=forms)
        except NeedsIsolation:
            raise
        except Exception as exc:  # one unreadable file must not lose the others
            logger.exception("file.unreadable name={}", attachment.name)
            found = [FileResult(attachment.name, "unknown",
                                problem=f"读取时出错（{type(exc).__name__}），工作人员会人工查看")]
        for result in found:
            result.sha256, result.size = attachment.sha256, attachment.size
        results += found
        del data   # before the next attachment is decoded
    return results


def _body_forms(envelope: Envelope, forms_declared: Sequence[FormSpec] | None
                ) -> FileResult | None:
    """A form pasted into the mail instead of attached (an HTML table, or tab-separated
    lines), read like a file; only when no attachment held a form, so a body quoting
    the attached table does not count its rows twice."""
    lines = html_lines(envelope.html) or text_lines(envelope.text)
    # Only filled tables: a reply quoting the notice quotes its blank forms too.
    forms = [form for form in read_forms(lines, forms_declared) if form.rows] if lines else []
    if not forms:
        return None
    return FileResult(BODY_NAME, "body", forms=forms)


def _row_key(row: FormRow) -> tuple[tuple[str, str], ...]:
    """A row as typed, whitespace aside: the same activity in two files gives the same key."""
    return tuple(sorted((k, "".join(v.split())) for k, v in row.raw.items() if v))


def merge_forms(files: list[FileResult]) -> dict[str, tuple[FormData, list[str]]]:
    """One form per kind per message: a form split over files or tables is one submission."""
    merged: dict[str, tuple[FormData, list[str]]] = {}
    for result in files:
        for form in result.forms:
            if form.spec.key not in merged:
                merged[form.spec.key] = (form, [result.name])
                continue
            first, names = merged[form.spec.key]
            if result.name not in names:
                # The same form sent twice in one mail (loose and again in a zip, or as
                # .docx and .xlsx): rows another file already gave are not taken again.
                seen = {_row_key(row) for row in first.rows}
                copies = [row for row in form.rows if _row_key(row) in seen]
                form.rows = [row for row in form.rows if _row_key(row) not in seen]
                if copies and not form.rows:
                    first.problems.append(Problem(
                        f"附件“{result.name}”与“{names[0]}”内容相同，只计一次"))
            offset = len(first.rows)
            for row in form.rows:
                row.seq += offset
                row.problems = [dataclasses.replace(p, row=row.seq) for p in row.problems]
            first.rows.extend(form.rows)
            first.problems.extend(p for p in form.problems if p not in first.problems)
            # The first may be a blank copy (a hidden template sheet beside the filled
            # one): what the filled one says around its table counts.
            first.unit_text = first.unit_text or form.unit_text
            first.contact = first.contact or form.contact
            first.phone = first.phone or form.phone
            if not first.filled_on and not first.filled_on_raw:
                first.filled_on, first.filled_on_raw = form.filled_on, form.filled_on_raw
            if result.name not in names:
                names.append(result.name)
    for form, _ in merged.values():
        settled = {EMPTY_FORM} if form.rows else set()
        if form.unit_text:
            settled.add(NO_UNIT)
        form.problems = [p for p in form.problems if p.message not in settled]
    return merged


def read_message(source: MailSource, converter: LegacyConverter | None = None,
                 limits: ReadLimits | None = None, *, cheap: bool = False,
                 forms: Sequence[FormSpec] | None = None) -> Parsed:
    """Everything one mail carries, from its kept file (or its bytes). With `cheap`, raises
    NeedsIsolation as soon as the mail proves more work than an ordinary form mail (the
    caller reads it in a worker). `forms`: the campaign's declared forms (default: the
    built-in two of 杨工〔2018〕14号).

    The mail is read part by part (parsers/mailparts.py): mail-parser sees it without its
    larger attachments, and each of those is decoded from the raw mail when it is read,
    so a 20 MB attachment is in memory once, not the whole mail several times over."""
    failpoint("reader")   # tests: a bug while reading one mail (tests/cli/test_no_dumps.py)
    limits = limits or ReadLimits()
    mail = open_mail(source, limits)
    problem = mail_problem(mail, limits)
    # parse_mail is called with the (stripped) raw bytes only (tests replace it by a
    # one-argument stand-in); the configured limits were applied just above.
    envelope = header_envelope(mail.raw, problem) if problem else \
        with_parts(parse_mail(mail.raw), mail)
    if needs_salvage(envelope):   # the good part of a hostile mail is still read
        envelope = salvaged_envelope(mail, limits, envelope)
    if cheap and len(envelope.attachments) > ISOLATE_ATTACHMENTS:
        raise NeedsIsolation
    meter = Meter(ISOLATE_UNPACKED) if cheap else None
    files = [FileResult(MESSAGE_NAME, "message", problem=p) for p in envelope.problems]
    for attachment in envelope.attachments:
        if attachment.size > limits.max_attachment_bytes:
            files.append(FileResult(
                attachment.name, "unknown", sha256=attachment.sha256, size=attachment.size,
                problem=f"附件过大（{megabytes(attachment.size)}，上限 "
                        f"{megabytes(limits.max_attachment_bytes)}），未读取；请只发送填好的表格"))
    small = tuple(a for a in envelope.attachments if a.size <= limits.max_attachment_bytes)
    files += _read_attachments(dataclasses.replace(envelope, attachments=small), converter,
                               limits, meter, forms)
    if not any(f.forms for f in files):
        body = _body_forms(envelope, forms)
        if body is not None:
            files.append(body)
    return Parsed(
        envelope=dataclasses.replace(envelope, attachments=()),
        # A mail that was not opened still came with something: answer it.
        attachment_count=sum(not a.decoration for a in envelope.attachments)
        or len(envelope.problems),
        files=files,
        forms=merge_forms(files),
        links=large_attachment_links(envelope.text + "\n" + envelope.html),
    )


def _size(source: MailSource) -> int:
    try:
        return source_size(source)
    except OSError:
        return 0  # a kept file gone missing: reading it says so, for this mail alone


# The campaign's forms in a reader process: given once when it starts, not with each mail.
_worker_forms: tuple[FormSpec, ...] | None = None


def _start_worker(memory: int, forms: tuple[FormSpec, ...] | None = None) -> None:
    """Linux: a worker is killed when the poller that started it dies, so a poller killed
    with -9 leaves no readers behind; and its address space is capped, so a file that
    would take all memory raises MemoryError there instead."""
    from formbot.settings.logs import quiet_start

    global _worker_forms
    _worker_forms = forms
    quiet_start()  # a spawned worker starts with loguru's default sink, which dumps locals
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # elsewhere the pool's own shutdown has to do
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    except (ValueError, OSError):
        pass


def _init_worker(memory: int, forms: tuple[FormSpec, ...] | None = None) -> None:
    _start_worker(memory, forms)
    # What reading a Word form imports (parsers/tables.py defers it for the CLI's sake),
    # done while the worker starts, before it says it is ready. Not openpyxl: at ~18 MB
    # it waits for the first workbook a worker meets (bench/memory.py counts every MB).
    import docx  # noqa: F401


def _read_in_worker(source: MailSource, limits: ReadLimits) -> Parsed:
    # No LibreOffice in the workers: a legacy file comes back marked, and the main
    # process reads that mail again with its one warm converter. A kept mail comes as its
    # path: the worker reads the file itself, so the poller never holds or pickles it.
    return read_message(source, converter=None, limits=limits, forms=_worker_forms)


Worker = Callable[[MailSource, ReadLimits], Parsed]


class Readers:
    """Reads mail in worker processes when there are enough of them to pay off, or when
    one of them needs the time limit; the rest in this process."""

    def __init__(self, converter: LegacyConverter | None,
                 limits: LimitSettings | ReadLimits | None = None, *,
                 worker: Worker | None = None,
                 forms: Sequence[FormSpec] | None = None) -> None:
        self.converter = converter
        self.forms = tuple(forms) if forms is not None else None
        self.limits = read_limits(limits)
        self._worker = worker or _read_in_worker
        self._pool: ReaderPool | None = None
        self._spilled = itertools.count(1)

    def warm_up(self) -> None:
        """Start the workers now (a backlog is coming): each imports its Office readers
        while the poller is still fetching and recording the first batch, instead of
        after it, with the poller waiting."""
        try:
            self._start().warm_up()
        except Exception as exc:  # no worker now: the first read will say so, per mail
            logger.warning("read.warm_up_failed error={}", exc)

    def read_all(self, sources: Sequence[MailSource]) -> Iterator[Parsed | Exception]:
        """One result per mail, in order: parsed, or the exception reading it raised.
        A kept mail is passed by its path: whoever reads it opens the file itself.
        Workers start on the mail at once (before the results are asked for), so a caller
        can start the next group while it stores this one."""
        parallel = len(sources) >= PARALLEL_MIN and (os.cpu_count() or 1) >= 2
        sizes = [_size(source) for source in sources]
        futures: dict[int, Future[Parsed]] = {}
        for index, source in enumerate(sources):
            big = ISOLATE_RAW < sizes[index] <= self.limits.max_message_bytes
            if parallel or big:
                futures[index] = self._submit(source)
        return self._results(sources, sizes, futures)

    def _results(self, sources: Sequence[MailSource], sizes: list[int],
                 futures: dict[int, Future[Parsed]]) -> Iterator[Parsed | Exception]:
        for index, source in enumerate(sources):
            if index not in futures:
                result = self._read_here(source, cheap=True)
                if not isinstance(result, NeedsIsolation):
                    yield result
                    continue
                logger.info("read.isolated size={}", sizes[index])
                futures[index] = self._submit(source)
            yield self._wait(source, sizes[index], futures.pop(index))

    def _read_here(self, source: MailSource, *, cheap: bool = False) -> Parsed | Exception:
        try:
            return read_message(source, self.converter, self.limits, cheap=cheap,
                                forms=self.forms)
        except Exception as exc:  # NeedsIsolation included: the caller decides
            return exc

    def _submit(self, source: MailSource) -> Future[Parsed]:
        try:
            pool = self._start()
            if isinstance(source, bytes):
                # Mail given as bytes (tests, tools) goes to the worker as a file too: what
                # crosses a pipe stays a few hundred bytes (see formbot/readpool.py).
                path = pool.folder / f"in-{next(self._spilled)}.eml"
                path.write_bytes(source)
                future = pool.submit(self._worker, path, self.limits,
                                     seconds=self.limits.parse_seconds)
                future.add_done_callback(lambda _: path.unlink(missing_ok=True))
                return future
            return pool.submit(self._worker, source, self.limits,
                               seconds=self.limits.parse_seconds)
        except Exception as exc:  # no process could be started: this mail fails, recorded
            logger.error("read.pool_unavailable error={}", exc)
            failed: Future[Parsed] = Future()
            failed.set_exception(ReaderUnavailable(f"{type(exc).__name__}: {exc}"))
            return failed

    def _wait(self, source: MailSource, size: int, future: Future[Parsed]) -> Parsed | Exception:
        # The pool ends every job it was given (result, time limit, death, or closing);
        # the short waits only notice a pool that itself went away.
        while True:
            try:
                parsed = future.result(timeout=WAIT_TICK)
                break
            except FutureTimeout:
                if self._pool is None or not self._pool.alive():
                    future.cancel()
                    return ParseError(WORKER_DIED)
            except ReaderTimedOut:
                logger.error("read.timed_out seconds={} size={}", self.limits.parse_seconds, size)
                return ParseError(TIMED_OUT.format(seconds=self.limits.parse_seconds))
            except ReaderDied as exc:
                logger.error("read.worker_lost size={} reason={}", size, exc)
                return ParseError(WORKER_DIED)
            except ReaderUnavailable as exc:
                return ParseError(f"无法启动解析进程（{exc}），下次轮询会再试")
            except Exception as exc:  # reported per mail by the caller's boundary
                return exc
        if parsed.needs_conversion:
            return self._read_here(source)
        return parsed

    def _start(self) -> ReaderPool:
        if self._pool is None:
            # Workers are our own children, so _start_worker covers a poller killed with -9.
            self._pool = ReaderPool(os.cpu_count() or 1, initializer=_init_worker,
                                    initargs=(WORKER_MEMORY, self.forms))
        return self._pool

    def close(self) -> None:
        # Every result that matters has been taken; a worker still busy (a poll told to
        # stop mid-batch) is killed rather than waited for.
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
