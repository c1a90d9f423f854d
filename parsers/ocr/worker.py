"""The OCR worker: a child process that reads page images one at a time, bounded.

OCR costs seconds and most of a gigabyte a page; a stamped 20-page scan must not stall
the rest of the mailbox or take the poller's memory with it. So pages are read in a
separate process with an address-space ceiling (RLIMIT_AS), one page per request, each
with a time limit: a page over its time is killed with its process (the next page gets
a fresh one), a page over the ceiling fails alone. The parent never loads onnxruntime.

Protocol on the child's stdin/stdout: 8-byte big-endian length + image bytes in,
8-byte length + UTF-8 JSON out.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import selectors
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import ClassVar

PAGE_SECONDS = 40.0            # one page; measured 3–13 s on a shared 2-core machine
MEMORY_CEILING = 3 * 1024**3   # address space, not RSS: onnxruntime maps ~1.5 GB it never touches
_HEADER = struct.Struct(">Q")


class OcrFailed(Exception):
    """A page the worker could not read: `reason` says why, in Chinese."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class WorkerLimits:
    page_seconds: float = PAGE_SECONDS
    memory_bytes: int = MEMORY_CEILING


def _limit_memory(ceiling: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))


class OcrWorker:
    """`with OcrWorker() as worker: worker.read(png)` → the page as `read.read_page` gives it."""

    started: ClassVar[int] = 0    # OCR processes this process has started, all workers

    def __init__(self, limits: WorkerLimits | None = None) -> None:
        self.limits = limits or WorkerLimits()
        self._process: subprocess.Popen[bytes] | None = None
        self.pids: list[int] = []     # every child started, for a bench's RSS count

    def __enter__(self) -> OcrWorker:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _start(self) -> subprocess.Popen[bytes]:
        ceiling = self.limits.memory_bytes
        env = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "parsers.ocr.worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
            preexec_fn=lambda: _limit_memory(ceiling), start_new_session=True)
        self.pids.append(process.pid)
        OcrWorker.started += 1
        return process

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.stdin.close()  # type: ignore[union-attr]
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            _kill(process)

    def read(self, image: bytes) -> dict:
        process = self._process = self._process or self._start()
        deadline = time.monotonic() + self.limits.page_seconds
        try:
            process.stdin.write(_HEADER.pack(len(image)) + image)  # type: ignore[union-attr]
            process.stdin.flush()  # type: ignore[union-attr]
            size = _HEADER.unpack(_read_exact(process, _HEADER.size, deadline))[0]
            reply = json.loads(_read_exact(process, size, deadline))
        except TimeoutError:
            self._process = None
            _kill(process)
            raise OcrFailed(f"识别超时（超过 {self.limits.page_seconds:.0f} 秒）") from None
        except (OSError, EOFError, ValueError):
            self._process = None
            _kill(process)
            raise OcrFailed("识别程序意外退出（可能图片过大）") from None
        if "error" in reply:
            raise OcrFailed(reply["error"])
        return reply


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _read_exact(process: subprocess.Popen[bytes], size: int, deadline: float) -> bytes:
    stream = process.stdout
    assert stream is not None
    out = bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while len(out) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                raise TimeoutError
            chunk = os.read(stream.fileno(), size - len(out))
            if not chunk:
                raise EOFError
            out += chunk
    return bytes(out)


def _serve() -> None:
    from .read import engine, read_page

    source, sink = sys.stdin.buffer, sys.stdout.buffer
    loaded: list[object] = []

    def ocr() -> object:   # the models load at the first page that holds a table
        if not loaded:
            loaded.append(engine())
        return loaded[0]

    while head := source.read(_HEADER.size):
        data = source.read(_HEADER.unpack(head)[0])
        try:
            reply: dict = read_page(data, ocr)
        except MemoryError:
            reply = {"error": "图片过大，识别时超出内存上限"}
        except Exception as exc:  # a broken image fails its page, not the worker
            reply = {"error": f"图片无法识别（{type(exc).__name__}）"}
        body = json.dumps(reply, ensure_ascii=False).encode()
        sink.write(_HEADER.pack(len(body)) + body)
        sink.flush()


if __name__ == "__main__":
    _serve()
