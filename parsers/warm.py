"""`WarmConverter`: one LibreOffice kept running, handed each legacy file over UNO (a few
hundred ms each instead of a cold `soffice` start's ~2 s), restarted when it dies or
hangs. The safety rules (private profile, macros never run) are convert.py's."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import threading
import time
import weakref
from pathlib import Path

from .convert import (
    NO_OFFICE,
    OFFICE,
    OFFICE_PACKAGES,
    TARGETS,
    UNO,
    UNO_PACKAGES,
    ConversionError,
    ConverterMissing,
    check_source,
    kill_group,
    office_env,
    private_dir,
    seed_profile,
)

# --- One soffice kept warm --------------------------------------------------------------

# Runs under /usr/bin/python3 (Debian's python3-uno), talks JSON lines with us on
# stdin/stdout and UNO with soffice over a named pipe. On end of input (we closed it,
# or died) it shuts LibreOffice down, so no soffice outlives us; if we died, it also
# removes the private directory.
_BRIDGE = r"""
import json, os, shutil, signal, sys, time
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
def reply(**fields):
    out.write(json.dumps(fields) + "\n")
    out.flush()
try:
    import uno
    from com.sun.star.beans import PropertyValue
    from com.sun.star.connection import NoConnectException
except ImportError as exc:
    reply(ok=False, fatal=True, error="no uno module in %s: %s" % (sys.executable, exc))
    sys.exit(2)
pipe, start_timeout = sys.argv[1], float(sys.argv[2])
office_group, parent = int(sys.argv[3]), int(sys.argv[4])
def props(**values):
    result = []
    for name, value in values.items():
        p = PropertyValue()
        p.Name, p.Value = name, value
        result.append(p)
    return tuple(result)
local = uno.getComponentContext()
resolver = local.ServiceManager.createInstanceWithContext(
    "com.sun.star.bridge.UnoUrlResolver", local)
deadline = time.monotonic() + start_timeout
while True:
    try:
        ctx = resolver.resolve("uno:pipe,name=%s;urp;StarOffice.ComponentContext" % pipe)
        break
    except NoConnectException:
        if time.monotonic() > deadline:
            reply(ok=False, fatal=True, error="LibreOffice did not start")
            sys.exit(3)
        time.sleep(0.05)
desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
reply(ok=True)
for line in sys.stdin:
    job = json.loads(line)
    doc = None
    try:
        # MacroExecutionMode 0 = NEVER_EXECUTE, UpdateDocMode 0 = NO_UPDATE (links).
        doc = desktop.loadComponentFromURL(job["src"], "_blank", 0, props(
            Hidden=True, ReadOnly=True, MacroExecutionMode=0, UpdateDocMode=0))
        if doc is None:
            raise RuntimeError("LibreOffice could not load the file")
        if not doc.supportsService(job["service"]):
            raise RuntimeError("loaded as something else than " + job["service"])
        doc.storeToURL(job["dst"], props(FilterName=job["filter"], Overwrite=True))
        reply(ok=True)
    except Exception as exc:
        try:
            desktop.getFrames()
            fatal = False
        except Exception:
            fatal = True
        reply(ok=False, fatal=fatal, error="%s: %s" % (type(exc).__name__, exc))
    finally:
        if doc is not None:
            try:
                doc.close(True)
            except Exception:
                pass
try:
    desktop.terminate()
except Exception:
    pass
for _ in range(50):
    try:
        os.killpg(office_group, 0)
    except OSError:
        break
    time.sleep(0.1)
else:
    try:
        os.killpg(office_group, signal.SIGKILL)
    except OSError:
        pass
if os.getppid() != parent:  # orphaned: nobody else will remove the private directory
    shutil.rmtree(os.getcwd(), ignore_errors=True)
"""

_SERVICES = {"doc": "com.sun.star.text.TextDocument",
             "xls": "com.sun.star.sheet.SpreadsheetDocument"}


class _Dead(Exception):
    """The bridge or LibreOffice went away: start again."""


class _Office:
    """One running soffice and the bridge talking to it."""

    def __init__(self, soffice: str, python: str, work: Path, start_timeout: float) -> None:
        self.soffice: subprocess.Popen | None = None
        self.bridge: subprocess.Popen | None = None
        self._buffer = b""
        pipe = f"formbot-{os.getpid()}-{os.urandom(6).hex()}"
        # LibreOffice makes the pipe /tmp/OSL_PIPE_<uid>_<name> (not under TMPDIR), a socket
        # only its owner may write to, so only our user can connect; a killed soffice
        # leaves it behind, so stop() removes it.
        self._pipe_file = Path(f"/tmp/OSL_PIPE_{os.getuid()}_{pipe}")
        env = office_env(work)
        try:
            self.soffice = subprocess.Popen(
                [soffice, "--headless", "--invisible", "--norestore", "--nolockcheck",
                 "--nologo", "--nodefault",
                 f"-env:UserInstallation={(work / 'profile').as_uri()}",
                 f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                cwd=work, env=env, start_new_session=True,
            )
            with open(work / "bridge.log", "ab") as log:
                self.bridge = subprocess.Popen(
                    [python, "-c", _BRIDGE, pipe, str(start_timeout), str(self.soffice.pid),
                     str(os.getpid())],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=work,
                    env=env, start_new_session=True,
                )
        except FileNotFoundError as exc:
            self.stop()
            missing = (UNO, UNO_PACKAGES) if exc.filename == python else \
                (OFFICE, OFFICE_PACKAGES)
            raise ConverterMissing(*missing, detail=f"cannot start: {exc}") from exc
        except OSError as exc:
            self.stop()
            raise ConversionError(NO_OFFICE, detail=f"cannot start LibreOffice: {exc}") from exc
        try:
            ready = self.read_reply(time.monotonic() + start_timeout + 5)
        except (_Dead, TimeoutError) as exc:
            ready = {"ok": False, "error": f"bridge did not answer ({type(exc).__name__})"}
        if not ready.get("ok"):
            self.stop()
            error = str(ready.get("error"))
            if error.startswith("no uno module"):
                raise ConverterMissing(UNO, UNO_PACKAGES, detail=error)
            raise ConversionError(NO_OFFICE, detail=error)

    @property
    def alive(self) -> bool:
        return all(p is not None and p.poll() is None for p in (self.soffice, self.bridge))

    def call(self, job: dict[str, str], timeout: float) -> dict[str, object]:
        assert self.bridge is not None and self.bridge.stdin is not None
        try:
            self.bridge.stdin.write(json.dumps(job).encode() + b"\n")
            self.bridge.stdin.flush()
        except OSError as exc:
            raise _Dead(str(exc)) from exc
        return self.read_reply(time.monotonic() + timeout)

    def read_reply(self, deadline: float) -> dict[str, object]:
        assert self.bridge is not None and self.bridge.stdout is not None
        fd = self.bridge.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise _Dead("bridge closed its output")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def stop(self, grace: float = 0) -> None:
        """End both processes: let the bridge shut LibreOffice down for `grace` seconds,
        then kill whatever is left of either process group."""
        if self.bridge is not None and self.bridge.stdin is not None:
            with contextlib.suppress(OSError):
                self.bridge.stdin.close()
        for process in (self.soffice, self.bridge):  # soffice first: the bridge waits for it
            if grace and process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=grace)
        kill_group(self.bridge)
        kill_group(self.soffice)
        if self.bridge is not None and self.bridge.stdout is not None:
            self.bridge.stdout.close()
        self.bridge = self.soffice = None  # reaped: never signal those ids again
        self._pipe_file.unlink(missing_ok=True)


def _shut(state: dict[str, object]) -> None:
    office = state.pop("office", None)
    if isinstance(office, _Office):
        office.stop(grace=float(state.get("grace", 0)))
    work = state.pop("work", None)
    if isinstance(work, Path):
        shutil.rmtree(work, ignore_errors=True)


class WarmConverter:
    """One LibreOffice started on first use and reused for every file.

    Thread-safe (one file at a time), restarts LibreOffice when it died (and converts
    the file again, once) or when a file took longer than `timeout` (that file fails).
    Close it, or use it as a context manager: no soffice outlives it.
    """

    def __init__(
        self,
        soffice: str = "soffice",
        timeout: float = 60,
        *,
        python: str = "/usr/bin/python3",
        start_timeout: float = 60,
    ) -> None:
        self.soffice, self.python = soffice, python
        self.timeout, self.start_timeout = timeout, start_timeout
        self.restarts = 0
        self._lock = threading.Lock()
        self._state: dict[str, object] = {"grace": 5}
        self._closed = False
        self._finalizer = weakref.finalize(self, _shut, self._state)

    @property
    def soffice_pid(self) -> int | None:
        """The running soffice (its process group has the same id), if any."""
        office = self._state.get("office")
        return office.soffice.pid if isinstance(office, _Office) and office.soffice else None

    @property
    def profile_dir(self) -> Path | None:
        work = self._state.get("work")
        return work / "profile" if isinstance(work, Path) else None

    def _office(self) -> _Office:
        office = self._state.get("office")
        if isinstance(office, _Office) and office.alive:
            return office
        if isinstance(office, _Office):
            office.stop()
            self.restarts += 1
        work = self._state.get("work")
        if not isinstance(work, Path):
            work = self._state["work"] = private_dir("formbot-warm-")
            seed_profile(work / "profile")
        self._state["office"] = office = _Office(self.soffice, self.python, work,
                                                 self.start_timeout)
        return office

    def start(self) -> None:
        """Start LibreOffice and the bridge now (`formbot doctor`); raises as convert would."""
        with self._lock:
            self._office()

    def convert(self, data: bytes, source_kind: str) -> bytes:
        check_source(data, source_kind)
        target, export_filter = TARGETS[source_kind]
        with self._lock:
            if self._closed:
                raise RuntimeError("WarmConverter is closed")
            for attempt in (1, 2):
                office = self._office()
                jobs = Path(str(self._state["work"])) / "jobs"
                jobs.mkdir(exist_ok=True)
                source, result = jobs / f"in.{source_kind}", jobs / f"out.{target}"
                source.write_bytes(data)
                job = {"src": source.as_uri(), "dst": result.as_uri(), "filter": export_filter,
                       "service": _SERVICES[source_kind]}
                try:
                    reply = office.call(job, self.timeout)
                    if reply.get("ok") and result.is_file() and result.stat().st_size:
                        return result.read_bytes()
                except TimeoutError as exc:
                    office.stop()  # a file that hangs LibreOffice would hang it again
                    raise ConversionError(detail=f"conversion timed out after {self.timeout}s"
                                          ) from exc
                except _Dead as exc:
                    reply = {"ok": False, "fatal": True, "error": f"bridge died: {exc}"}
                finally:
                    for path in (source, result):
                        path.unlink(missing_ok=True)
                if not reply.get("fatal"):
                    raise ConversionError(detail=str(reply.get("error", "no output")))
                office.stop()  # LibreOffice died under us (or on this file): once more
                if attempt == 2:
                    raise ConversionError(detail=str(reply.get("error")))
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._finalizer()

    def __enter__(self) -> WarmConverter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
