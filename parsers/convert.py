"""Legacy Office files (.doc/.xls, Kingsoft .wps/.et) → .docx/.xlsx bytes, or lines.

All of them are OLE compound files; the streams inside say what they are
(`legacy_kind`). Workbooks are read directly with xlrd where it can (`xls.py`), every
other file is converted by LibreOffice:

- `ColdConverter` starts `soffice --convert-to` for each file (about 2 s each);
- `WarmConverter` (warm.py) keeps one LibreOffice running and hands it each file over
  UNO (a few hundred ms each), restarting it when it dies or hangs.

Macros never run. Each LibreOffice gets a private, throwaway profile whose settings
(`_PROFILE_SETTINGS`) disable macro execution outright and stop the Word/Excel filters
from even loading VBA; a fresh profile's macro security is "high" anyway, nothing here
passes an option that lowers it, and the warm bridge also loads every document with
MacroExecutionMode NEVER_EXECUTE and without updating links. The file itself is
written to a private 0700 directory that is removed afterwards.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Protocol

from .errors import ParseError
from .tables import Line, docx_lines, xlsx_lines

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

UNREADABLE = "文件无法转换（可能已损坏或加了密码），请另存为 .docx/.xlsx 后重新发送"
ENCRYPTED = "文件设置了打开密码，无法读取，请取消密码并另存为 .docx/.xlsx 后重新发送"
NOT_A_FORM_FILE = "文件不是 Word 或 Excel 文档（或已损坏），请另存为 .docx/.xlsx 后重新发送"
NO_OFFICE = "服务器暂时无法转换旧版 .doc/.xls 文件，请另存为 .docx/.xlsx 后重新发送"
# A converter that is not installed is not "temporary": the mail is kept and read again
# once it is there (formbot/pipeline.py looks for this prefix), and the admin is told
# what to install (the log, `formbot doctor`).
NO_CONVERTER_PREFIX = "服务器尚未安装旧版 .doc/.xls 文件的转换程序"
NO_CONVERTER = (NO_CONVERTER_PREFIX
                + "（{what}），已提醒管理员安装；装好后会自动重新读取这份附件，无需重发")
OFFICE = "LibreOffice"
OFFICE_PACKAGES = "libreoffice-writer-nogui libreoffice-calc-nogui"
UNO = "LibreOffice 的 Python 接口 python3-uno"
UNO_PACKAGES = "python3-uno"

# source kind → (what --convert-to writes, LibreOffice export filter)
TARGETS = {"doc": ("docx", "MS Word 2007 XML"), "xls": ("xlsx", "Calc MS Excel 2007 XML")}

_PROFILE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
{}
</oor:items>
""".format("\n".join(
    f'<item oor:path="/org.openoffice.Office.{path}"><prop oor:name="{name}" oor:op="fuse">'
    f"<value>{value}</value></prop></item>"
    for path, name, value in (
        ("Common/Security/Scripting", "DisableMacrosExecution", "true"),
        ("Common/Security/Scripting", "MacroSecurityLevel", "3"),  # 3 = very high
        ("Writer/Filter/Import/VBA", "Load", "false"),
        ("Writer/Filter/Import/VBA", "Executable", "false"),
        ("Calc/Filter/Import/VBA", "Load", "false"),
        ("Calc/Filter/Import/VBA", "Executable", "false"),
    )
))


class ConversionError(ParseError):
    """A legacy file could not be turned into .docx/.xlsx; `str()` is for the clerk,
    `detail` (English) for the log."""

    def __init__(
        self, message: str = UNREADABLE, *, detail: str = "", subject: str | None = None
    ) -> None:
        super().__init__(message, subject=subject)
        self.detail = detail


class ConverterMissing(ConversionError):
    """LibreOffice, or the python3-uno its bridge needs, is not installed."""

    def __init__(self, what: str, packages: str, *, detail: str = "") -> None:
        super().__init__(NO_CONVERTER.format(what=what), detail=detail)
        self.what, self.packages = what, packages


class Converter(Protocol):
    def convert(self, data: bytes, source_kind: str) -> bytes:
        """.doc → .docx bytes (source_kind "doc"), .xls → .xlsx bytes ("xls")."""
        ...


# --- What the compound file holds -------------------------------------------------------

def legacy_kind(data: bytes) -> str | None:
    """"doc" (Word/WPS text), "xls" (Excel/ET), "encrypted" (a password-protected OOXML
    or Word file), or None: not an OLE file, another kind (.msg, .ppt), or too damaged
    to tell."""
    if not data.startswith(OLE_MAGIC):
        return None
    import olefile

    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            names = {entry[0].lower() for entry in ole.listdir(streams=True, storages=False)
                     if len(entry) == 1}
            if names & {"encryptioninfo", "encryptedpackage"}:
                return "encrypted"
            if "worddocument" in names:
                fib = ole.openstream("WordDocument").read(12)
                # FIB base: the flags word at offset 10 has fEncrypted at 0x0100.
                if len(fib) == 12 and int.from_bytes(fib[10:12], "little") & 0x0100:
                    return "encrypted"
                return "doc"
            if names & {"workbook", "book"}:
                # An encrypted workbook is left to LibreOffice: Excel's default
                # "VelvetSweatshop" encryption opens without a password.
                return "xls"
    except Exception:  # a damaged container makes olefile raise almost anything
        return None
    return None


def legacy_lines(data: bytes, converter: Converter) -> list[Line]:
    """The lines of a legacy file: workbooks read directly where xlrd can, else converted."""
    kind = legacy_kind(data)
    if kind == "encrypted":
        raise ConversionError(ENCRYPTED, detail="password-protected file")
    if kind == "xls":
        from .xls import xls_lines

        try:
            return xls_lines(data)
        except Exception as exc:  # xlrd refuses some ET/BIFF variants LibreOffice reads
            refused = exc
        try:
            return xlsx_lines(converter.convert(data, "xls"))
        except ConversionError:
            # xlrd saw a FILEPASS record and LibreOffice could not open it without a
            # password either (Excel's built-in "VelvetSweatshop" key it does open): the
            # clerk set an open password, which is what the receipt should say.
            if "encrypted" in str(refused).lower():
                raise ConversionError(ENCRYPTED, detail="password-protected workbook") from None
            raise
    if kind == "doc":
        return docx_lines(converter.convert(data, "doc"))
    raise ConversionError(NOT_A_FORM_FILE, detail="no WordDocument/Workbook stream")


def check_source(data: bytes, source_kind: str) -> None:
    if source_kind not in TARGETS:
        raise ValueError(f"source_kind must be 'doc' or 'xls', not {source_kind!r}")
    # LibreOffice opens garbage as plain text and happily saves that as .docx, so the
    # container is checked before it gets there.
    kind = legacy_kind(data)
    if kind == "encrypted":
        raise ConversionError(ENCRYPTED, detail="password-protected file")
    if kind != source_kind:
        raise ConversionError(detail=f"not a {source_kind} compound file (found {kind})")


def private_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))  # mkdtemp makes it 0700


def seed_profile(profile: Path) -> None:
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(_PROFILE_SETTINGS, "utf-8")


def office_env(work: Path) -> dict[str, str]:
    # LibreOffice's temporary files (and the warm converter's pipe) stay in `work`.
    return {**os.environ, "TMPDIR": str(work), "SAL_USE_VCLPLUGIN": "svp"}


def kill_group(process: subprocess.Popen | None) -> None:
    """SIGKILL the process group `process` leads (start_new_session), reap the leader and
    wait until the rest (soffice.bin, orphaned to init) is gone too."""
    if process is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.02)


# --- One soffice per file ---------------------------------------------------------------

class ColdConverter:
    """Runs `soffice --convert-to` once per file: simple and isolated, ~2 s a file."""

    def __init__(self, soffice: str = "soffice", timeout: float = 60) -> None:
        self.soffice = soffice
        self.timeout = timeout

    def convert(self, data: bytes, source_kind: str) -> bytes:
        check_source(data, source_kind)
        target, export_filter = TARGETS[source_kind]
        work = private_dir("formbot-cold-")
        try:
            profile = work / "profile"
            seed_profile(profile)
            source = work / f"in.{source_kind}"
            source.write_bytes(data)
            outdir = work / "out"
            outdir.mkdir()
            command = [
                self.soffice, "--headless", "--norestore", "--nolockcheck", "--nologo",
                "--nodefault", f"-env:UserInstallation={profile.as_uri()}",
                "--convert-to", f"{target}:{export_filter}", "--outdir", str(outdir), str(source),
            ]
            try:
                process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, cwd=work, env=office_env(work),
                    start_new_session=True,
                )
            except FileNotFoundError as exc:
                raise ConverterMissing(OFFICE, OFFICE_PACKAGES,
                                       detail=f"cannot run {self.soffice}: {exc}") from exc
            except OSError as exc:
                detail = f"cannot run {self.soffice}: {exc}"
                raise ConversionError(NO_OFFICE, detail=detail) from exc
            try:
                output, _ = process.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired as exc:
                raise ConversionError(detail=f"soffice timed out after {self.timeout}s") from exc
            finally:
                kill_group(process)  # on timeout, and any straggler after a normal exit
            result = outdir / f"in.{target}"
            if not result.is_file() or result.stat().st_size == 0:
                text = output.decode("utf-8", "replace").strip()[-300:]
                raise ConversionError(detail=f"soffice wrote nothing (exit {process.returncode}): "
                                             f"{text}")
            return result.read_bytes()
        finally:
            shutil.rmtree(work, ignore_errors=True)
