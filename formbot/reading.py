"""Reading one kept mail: envelope, files, forms. No database, so it can run in a worker
process; a backlog is read on every core while storing stays in order in the main one."""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import multiprocessing
import os
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from loguru import logger

from parsers.files import FileResult, LegacyConverter, read_attachment, sniff
from parsers.forms import EMPTY_FORM, FormData
from parsers.links import large_attachment_links
from parsers.mail import Envelope, parse_mail

# Below this many mails a pool costs more to start than it saves.
PARALLEL_MIN = 8


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


def _read_attachments(envelope: Envelope,
                      converter: LegacyConverter | None) -> list[FileResult]:
    results: list[FileResult] = []
    seen: set[str] = set()
    for attachment in envelope.attachments:
        if attachment.sha256 in seen:
            continue  # the same file attached twice is one file
        seen.add(attachment.sha256)
        if attachment.content_type.startswith("image/") and len(envelope.attachments) > 1 \
                and sniff(attachment.data) == "image":
            continue  # a logo in a signature is not a submission
        try:
            found = read_attachment(attachment.name, attachment.data, converter=converter)
        except Exception as exc:  # one unreadable file must not lose the others
            logger.exception("file.unreadable name={}", attachment.name)
            found = [FileResult(attachment.name, "unknown",
                                problem=f"读取时出错（{type(exc).__name__}），工作人员会人工查看")]
        for result in found:
            result.sha256, result.size = attachment.sha256, len(attachment.data)
        results += found
    return results


def merge_forms(files: list[FileResult]) -> dict[str, tuple[FormData, list[str]]]:
    """One form per kind per message: a form split over files or tables is one submission."""
    merged: dict[str, tuple[FormData, list[str]]] = {}
    for result in files:
        for form in result.forms:
            if form.spec.key not in merged:
                merged[form.spec.key] = (form, [result.name])
                continue
            first, names = merged[form.spec.key]
            offset = len(first.rows)
            for row in form.rows:
                row.seq += offset
                row.problems = [dataclasses.replace(p, row=row.seq) for p in row.problems]
            first.rows.extend(form.rows)
            first.problems.extend(p for p in form.problems if p not in first.problems)
            first.unit_text = first.unit_text or form.unit_text
            if result.name not in names:
                names.append(result.name)
    for form, _ in merged.values():
        if form.rows:
            form.problems = [p for p in form.problems if p.message != EMPTY_FORM]
    return merged


def read_message(raw: bytes, converter: LegacyConverter | None = None) -> Parsed:
    envelope = parse_mail(raw)
    files = _read_attachments(envelope, converter)
    return Parsed(
        envelope=dataclasses.replace(envelope, attachments=()),
        attachment_count=len(envelope.attachments),
        files=files,
        forms=merge_forms(files),
        links=large_attachment_links(envelope.text + "\n" + envelope.html),
    )


def _die_with_parent() -> None:
    """Linux: a worker is killed when the poller that started it dies, so a poller killed
    with -9 leaves no readers behind."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # elsewhere the pool's own shutdown has to do


def _read_in_worker(raw: bytes) -> Parsed:
    # No LibreOffice in the workers: a legacy file comes back marked, and the main
    # process reads that mail again with its one warm converter.
    return read_message(raw, converter=None)


class Readers:
    """Reads mail in worker processes when there are enough of them to pay off."""

    def __init__(self, converter: LegacyConverter | None) -> None:
        self.converter = converter
        self._pool: ProcessPoolExecutor | None = None

    def read_all(self, raws: Sequence[bytes]) -> Iterator[Future[Parsed] | Parsed | Exception]:
        """One result per raw mail, in order: parsed, or the exception reading it raised."""
        if len(raws) < PARALLEL_MIN or (os.cpu_count() or 1) < 2:
            for raw in raws:
                yield self._read_here(raw)
            return
        pool = self._start()
        futures = [pool.submit(_read_in_worker, raw) for raw in raws]
        for raw, future in zip(raws, futures, strict=True):
            try:
                parsed = future.result()
            except Exception as exc:  # reported per mail by the caller's boundary
                yield exc
                continue
            yield self._read_here(raw) if parsed.needs_conversion else parsed

    def _read_here(self, raw: bytes) -> Parsed | Exception:
        try:
            return read_message(raw, self.converter)
        except Exception as exc:
            return exc

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: the poller has threads (IMAP IDLE, the scheduler, embedded servers in
            # the demo), and forking a threaded process can deadlock. Workers are then our
            # own children, so _die_with_parent covers a poller killed with -9.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=os.cpu_count(), mp_context=context,
                                             initializer=_die_with_parent)
        return self._pool

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
