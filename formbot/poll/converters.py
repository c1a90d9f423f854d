"""One warm LibreOffice per poll, started only when a legacy file actually arrives."""

from __future__ import annotations

import shutil
from types import TracebackType

from loguru import logger

from parsers.convert import NO_OFFICE, ConversionError
from parsers.warm import WarmConverter


class LazyConverter:
    """Most polls see no .doc at all and never pay LibreOffice's start; a backlog of them
    shares one warm process instead of one cold start each."""

    def __init__(self, *, timeout: float = 60) -> None:
        self.timeout = timeout
        self._warm: WarmConverter | None = None

    def convert(self, data: bytes, source_kind: str) -> bytes:
        if self._warm is None:
            if shutil.which("soffice") is None:
                raise ConversionError(NO_OFFICE, detail="soffice not on PATH")
            logger.info("convert.start_libreoffice")
            self._warm = WarmConverter(timeout=self.timeout)
        return self._warm.convert(data, source_kind)

    def close(self) -> None:
        warm, self._warm = self._warm, None
        if warm is not None:
            warm.close()

    def __enter__(self) -> LazyConverter:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
