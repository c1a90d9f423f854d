"""One warm LibreOffice per poll, started only when a legacy file actually arrives; and
whether the converters are installed at all (`formbot doctor`, the poller's re-read of
mail that waited for them)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from types import TracebackType

from loguru import logger
from sqlmodel import Session, col, select

from parsers.convert import NO_CONVERTER_PREFIX, OFFICE, OFFICE_PACKAGES, ConverterMissing
from parsers.warm import WarmConverter
from store.models import AttachmentRecord, Message

BRIDGE_PYTHON = "/usr/bin/python3"   # Debian's python3-uno is built for it alone


def _log_missing(exc: ConverterMissing) -> None:
    logger.error("convert.missing what={} detail={} install=\"apt-get install -y {}\" "
                 "(mail with such files is kept and read again once it is installed)",
                 exc.what, exc.detail, exc.packages)


class LazyConverter:
    """Most polls see no .doc at all and never pay LibreOffice's start; a backlog of them
    shares one warm process instead of one cold start each."""

    def __init__(self, *, timeout: float = 60) -> None:
        self.timeout = timeout
        self._warm: WarmConverter | None = None
        self._missing: ConverterMissing | None = None   # once per poll, not per file

    def convert(self, data: bytes, source_kind: str) -> bytes:
        if self._missing is not None:
            raise self._missing
        try:
            if self._warm is None:
                if shutil.which("soffice") is None:
                    raise ConverterMissing(OFFICE, OFFICE_PACKAGES, detail="soffice not on PATH")
                logger.info("convert.start_libreoffice")
                self._warm = WarmConverter(timeout=self.timeout, python=BRIDGE_PYTHON)
            return self._warm.convert(data, source_kind)
        except ConverterMissing as exc:
            _log_missing(exc)
            self._missing = exc
            raise

    def close(self) -> None:
        warm, self._warm = self._warm, None
        if warm is not None:
            warm.close()

    def __enter__(self) -> LazyConverter:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def converters_installed() -> bool:
    """Cheap: LibreOffice on PATH and python3-uno importable by the bridge's Python."""
    if shutil.which("soffice") is None:
        return False
    try:
        return subprocess.run([BRIDGE_PYTHON, "-c", "import uno"], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def check_office() -> str:
    """soffice runs and the UNO bridge starts (what converting a .doc needs); raises
    ConverterMissing naming what to install, or another error saying what failed."""
    soffice = shutil.which("soffice")
    if soffice is None:
        raise ConverterMissing(OFFICE, OFFICE_PACKAGES, detail="soffice not on PATH")
    with tempfile.TemporaryDirectory(prefix="formbot-doctor-") as profile:
        done = subprocess.run([soffice, f"-env:UserInstallation=file://{profile}",
                               "--headless", "--version"], capture_output=True, text=True,
                              timeout=120)
    version = done.stdout.strip().splitlines()[0] if done.stdout.strip() else "?"
    if done.returncode != 0:
        raise RuntimeError(f"soffice --version 退出码 {done.returncode}")
    with WarmConverter(timeout=60, python=BRIDGE_PYTHON) as warm:
        warm.start()
    return f"{version}；UNO 接口（{BRIDGE_PYTHON} + python3-uno）可以启动"


def check_bsdtar() -> str:
    """bsdtar unpacks compressed members of .rar archives (rarfile's free backend)."""
    bsdtar = shutil.which("bsdtar")
    if bsdtar is None:
        raise ConverterMissing("bsdtar", "libarchive-tools", detail="bsdtar not on PATH")
    done = subprocess.run([bsdtar, "--version"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip() or "已安装"



def waiting_for_converter(session: Session) -> list[Message]:
    """Stored mail with a file that could not be converted because no converter was
    installed (its attachment's problem says so)."""
    refs = select(AttachmentRecord.message_ref).where(
        col(AttachmentRecord.problem).startswith(NO_CONVERTER_PREFIX))
    return list(session.exec(select(Message).where(col(Message.id).in_(refs))
                             .order_by(col(Message.id))))
