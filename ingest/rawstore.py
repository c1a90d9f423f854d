"""Raw mail kept on disk before anything else happens: content-addressed, atomic, private.

Mail is written as it arrives (`RawSink`), so a 20 MB attachment never has to sit in memory
whole on its way to disk; the file is named by the sha256 of its bytes once they are all in.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# Header blocks beyond this are not mail a person sent; the key is read from this much.
HEADER_LIMIT = 256 * 1024


@dataclass(frozen=True)
class KeptRaw:
    path: Path
    sha256: str
    size: int


class RawSink:
    """A raw message being written: `write` chunks, then `finish` (or `discard`).

    The bytes go to a private temp file beside the store and are hashed on the way; finish
    fsyncs and renames the file to its content address, so a crash leaves either the whole
    message or nothing, and a message kept twice is one file.
    """

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "raw"
        _private_dirs(Path(data_dir), self.root)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")  # mkstemp: 0600
        self._tmp = Path(tmp)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        assert self._file is not None, "RawSink already finished"
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def finish(self) -> KeptRaw:
        kept, settle = self.seal()
        settle()
        return kept

    def seal(self) -> tuple[KeptRaw, Callable[[], None]]:
        """All bytes are in: where the message will be, and the step that puts it there
        (fsync, then rename). That step may run on another thread while the next message
        streams in; nothing may record the message before it has returned."""
        assert self._file is not None, "RawSink already finished"
        handle, self._file = self._file, None
        digest = self._hash.hexdigest()
        folder = self.root / digest[:2]
        path = folder / f"{digest}.eml"

        def settle() -> None:
            try:
                handle.flush()
                os.fsync(handle.fileno())   # before the rename: a name never holds less
                handle.close()
                if path.exists():
                    self._tmp.unlink(missing_ok=True)
                else:
                    _private_dirs(folder)
                    os.replace(self._tmp, path)
            except BaseException:
                handle.close()
                self._tmp.unlink(missing_ok=True)
                raise

        return KeptRaw(path, digest, self.size), settle

    def discard(self) -> None:
        handle, self._file = self._file, None
        if handle is not None:
            handle.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> RawSink:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if self._file is not None:
            self.discard()


def _private_dirs(*folders: Path) -> None:
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)


def keep_raw(data_dir: Path, raw: bytes) -> tuple[Path, str]:
    """Write `raw` under data_dir/raw/ by its sha256 (once) and return (path, sha256)."""
    digest = hashlib.sha256(raw).hexdigest()
    path = Path(data_dir) / "raw" / digest[:2] / f"{digest}.eml"
    if path.exists():
        return path, digest
    with RawSink(data_dir) as sink:
        sink.write(raw)
        kept = sink.finish()
    return kept.path, kept.sha256


def read_raw(path: str | Path) -> bytes:
    return Path(path).read_bytes()


def read_header_block(path: str | Path, limit: int = HEADER_LIMIT) -> bytes:
    """The message's header section (up to the first empty line), without its body."""
    with open(path, "rb") as handle:
        head = handle.read(limit)
    ends = [at + len(end) for end in (b"\r\n\r\n", b"\n\n") if (at := head.find(end)) >= 0]
    return head[:min(ends)] if ends else head
