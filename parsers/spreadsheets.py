"""openpyxl, imported without numpy.

openpyxl imports numpy whenever it is installed (only to accept numpy scalars as cell
values, which formbot never writes), and numpy costs ~18 MB in every process that reads
or writes a workbook: the poller and each reader. numpy is installed here for the OCR
worker (OpenCV, RapidOCR), a process of its own; so the first import of openpyxl hides it.
A process that imported numpy before (the OCR worker, the demo's scans) keeps it.

openpyxl's warnings (an unsupported Excel extension, a picture it drops) are about
formatting, never the cells, and would reach the admin's terminal as English lines: they
are silenced once, here, rather than around each read (catch_warnings is not thread-safe).
"""

from __future__ import annotations

import sys
import threading
import warnings
from types import ModuleType

_LOCK = threading.Lock()   # the console's threads and campaign threads import it at once


def openpyxl() -> ModuleType:
    """The openpyxl package, imported (once per process) with numpy hidden."""
    with _LOCK:
        hide = "openpyxl" not in sys.modules and "numpy" not in sys.modules
        if hide:
            sys.modules["numpy"] = None  # type: ignore[assignment]  # import numpy → ImportError
        try:
            import openpyxl as module
        finally:
            if hide and sys.modules.get("numpy", 0) is None:
                del sys.modules["numpy"]   # a later `import numpy` (OCR, scans) works as usual
        warnings.filterwarnings("ignore", module=r"openpyxl(\.|$)")
    return module
