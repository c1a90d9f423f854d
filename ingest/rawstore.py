"""Raw mail kept on disk before anything else happens: content-addressed, atomic, private."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def keep_raw(data_dir: Path, raw: bytes) -> tuple[Path, str]:
    """Write `raw` under data_dir/raw/ by its sha256 (once) and return (path, sha256).

    The file is fsynced and renamed into place, so a crash leaves either the
    whole message or nothing; a message kept twice is one file.
    """
    digest = hashlib.sha256(raw).hexdigest()
    folder = Path(data_dir) / "raw" / digest[:2]
    path = folder / f"{digest}.eml"
    if path.exists():
        return path, digest
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for parent in (Path(data_dir), Path(data_dir) / "raw", folder):
        os.chmod(parent, 0o700)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path, digest


def read_raw(path: str | Path) -> bytes:
    return Path(path).read_bytes()
