"""RAR archives (RAR4 and RAR5): the files inside, under the same limits as a zip.

`rarfile` parses the headers itself (names, sizes, flags) and reads stored members
directly; a compressed member is unpacked by bsdtar (Debian `libarchive-tools`), which
rarfile runs as a child process and whose output it checks against the member's CRC.
bsdtar is the backend because it is free and small; it cannot decrypt, and we never
want to: an encrypted archive is refused from its headers.

Hostile archives are refused before they cost anything: the number of headers is
counted while rarfile parses them, the sizes the headers declare are checked against
the attachment's `Budget` before a byte is unpacked, and the bytes really unpacked are
charged chunk by chunk (rarfile never returns more than a member declares).
"""

from __future__ import annotations

import io
from collections.abc import Callable

import rarfile

from .errors import ParseError
from .limits import MAX_ENTRIES, Budget

ENCRYPTED = "压缩包加了密码，无法打开，请去掉密码或直接附上表格文件"
DAMAGED = "RAR 压缩包已损坏或无法解开，请重新打包（或改用 zip）或直接附上表格文件"
NO_TOOL = ("暂时无法解开 RAR 压缩包（服务器上缺少解压工具 bsdtar，已记录），"
           "请改用 zip 压缩或直接附上表格文件")
SPLIT = "这是分卷压缩包的一部分，无法单独解开，请打成一个压缩包或直接附上表格文件"
TOO_MANY = "压缩包里的文件太多（超过 {} 个），请直接附上表格文件"
MAX_MEMBERS = 200   # files we would read; a real submission holds two or three
CHUNK = 1024 * 1024


class _Bsdtar(rarfile.ToolSetup):
    """rarfile's bsdtar set-up with a command line that works.

    rarfile 4.5 builds `bsdtar -x --to-stdout -f -- ARCHIVE`, so bsdtar takes `--` for
    the archive's name and every compressed member fails. Here the archive follows
    `-f` and `--` only guards a member name (passed for solid archives).

    bsdtar skips a member whose Unicode name the current locale cannot spell, and a
    service or container often runs in the C locale: it always gets a UTF-8 one.
    """

    def open_cmdline(self, pwd: object, rarfn: str, filefn: str | None = None) -> list[str]:
        if pwd is not None:
            raise rarfile.RarCannotExec("bsdtar cannot decrypt RAR archives")
        command = ["env", "LC_ALL=C.UTF-8", rarfile.BSDTAR_TOOL, "-x", "--to-stdout",
                   "-f", rarfn]
        return [*command, "--", filefn] if filefn else command


def _use_bsdtar() -> None:
    """Point rarfile at bsdtar only. Left to itself it takes the first of unrar, unar,
    7z and bsdtar that answers, and Debian's 7z answers but has no RAR codec."""
    if isinstance(rarfile.CURRENT_SETUP, _Bsdtar):
        return
    setup = _Bsdtar(rarfile.BSDTAR_CONFIG)
    if not setup.check():
        raise rarfile.RarCannotExec("bsdtar is not installed")
    rarfile.CURRENT_SETUP = setup


def member_name(info: rarfile.RarInfo) -> str:
    """A RAR4 name without the Unicode flag is in the packer's code page, GBK on a Chinese
    Windows; rarfile guesses UTF-16 for it and makes nonsense, so decode the raw bytes."""
    raw = getattr(info, "orig_filename", None)
    if (isinstance(info, rarfile.Rar3Info) and isinstance(raw, bytes)
            and not info.flags & rarfile.RAR_FILE_UNICODE):
        for encoding in ("utf-8", "gb18030"):
            try:
                return raw.decode(encoding).replace("\\", "/")
            except UnicodeDecodeError:
                continue
    return str(info.filename)


def _count_headers() -> Callable[[rarfile.RarInfo], None]:
    seen = [0]

    def count(_info: rarfile.RarInfo) -> None:
        # Called per header while rarfile parses: a 30 MB archive of empty members
        # must not become a million objects first.
        seen[0] += 1
        if seen[0] > MAX_ENTRIES:
            raise ParseError(TOO_MANY.format(MAX_ENTRIES))

    return count


def _open(data: bytes) -> rarfile.RarFile:
    # part_only: a volume of a split archive is read alone, never by a guessed name.
    archive = rarfile.RarFile(io.BytesIO(data), errors="strict", part_only=True,
                              info_callback=_count_headers())
    if archive.needs_password():
        archive.close()
        raise ParseError(ENCRYPTED)
    return archive


def _is_split(info: rarfile.RarInfo) -> bool:
    return bool(info.flags & (rarfile.RAR_FILE_SPLIT_BEFORE | rarfile.RAR_FILE_SPLIT_AFTER))


def _read_member(archive: rarfile.RarFile, info: rarfile.RarInfo, budget: Budget,
                 too_big: str) -> bytes:
    if info.compress_type != rarfile.RAR_M0:
        _use_bsdtar()   # stored members need no tool: read them even where it is missing
    out = bytearray()
    with archive.open(info) as handle:
        while chunk := handle.read(min(CHUNK, budget.left + 1)):
            budget.take(len(chunk), too_big)
            out += chunk
    return bytes(out)


def unrar(data: bytes, budget: Budget, too_big: str,
          keep: Callable[[str], str | None]) -> list[tuple[str, bytes]]:
    """(name, bytes) of the files in a RAR archive that `keep` names (it returns the name
    to read a member under, or None to skip it). Raises ParseError with the reason."""
    try:
        with _open(data) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir() and not i.file_redir]
            if any(_is_split(i) for i in infos):
                raise ParseError(SPLIT)
            wanted = [(name, i) for i in infos if (name := keep(member_name(i)))]
            if len(wanted) > MAX_MEMBERS:
                raise ParseError(TOO_MANY.format(MAX_MEMBERS))
            if sum(i.file_size for _, i in wanted) > budget.left:
                raise ParseError(too_big)
            return [(name, _read_member(archive, info, budget, too_big))
                    for name, info in wanted]
    except rarfile.RarCannotExec as exc:
        raise ParseError(NO_TOOL) from exc
    except rarfile.NeedFirstVolume as exc:
        raise ParseError(SPLIT) from exc
    except rarfile.PasswordRequired as exc:
        raise ParseError(ENCRYPTED) from exc
    except rarfile.Error as exc:   # bad headers, CRC mismatch, bsdtar failed to unpack
        raise ParseError(DAMAGED) from exc
