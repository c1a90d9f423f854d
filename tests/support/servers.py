"""Real mail servers for tests: pymap and aiosmtpd in-process, Dovecot as a subprocess.

Imported by tests/conftest.py with `from tests.support.servers import *`, which registers the
fixtures below. Tests that need Dovecot are marked `@pytest.mark.dovecot`; the default
`make test` deselects them and CI installs Dovecot with .ci/install-dovecot.sh.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

import pytest
from imapclient import IMAPClient

from formbot.demo.imap_server import DEMO_PASSWORD, DEMO_USER, LOOPBACK, EmbeddedIMAP
from formbot.demo.smtp_server import EmbeddedSMTP

__all__ = [
    "Dovecot",
    "DovecotMissing",
    "MailboxServer",
    "any_imap_server",
    "dovecot_server",
    "imap_server",
    "smtp_auth_server",
    "smtp_server",
]

INSTALL_HINT = "dovecot not installed: run .ci/install-dovecot.sh"
# Only reached when something is broken; CI machines can be slow.
_TIMEOUT = 30.0
# Another process can take the port between our probe and dovecot's bind.
_BIND_ATTEMPTS = 5
# Dovecot refuses to run mail processes as root; 65534 is nobody/nogroup on Debian.
_UNPRIVILEGED_ID = 65534


class MailboxServer(Protocol):
    """What EmbeddedIMAP and Dovecot both offer, so a test can run against either."""

    host: str
    port: int
    user: str
    password: str

    def append(self, raw: bytes, *, folder: str = "INBOX", flags: tuple[str, ...] = ()) -> int: ...

    def connections_opened(self) -> int: ...

    def stop(self) -> None: ...


class DovecotMissing(RuntimeError):
    """The dovecot binary is not installed."""


class Dovecot:
    """The real `dovecot` daemon with a throwaway config, plain IMAP on loopback.

    Everything (config, maildirs, sockets, log) lives in one temp dir removed by stop().
    Logins are counted by a post-login script that Dovecot runs before it answers the
    LOGIN, so `connections_opened()` is exact as soon as the client's login returned.
    """

    def __init__(
        self, *, user: str = DEMO_USER, password: str = DEMO_PASSWORD, binary: str | None = None
    ) -> None:
        for value in (user, password):
            if re.search(r"[:\s]", value):
                raise ValueError(f"passwd-file cannot hold {value!r} (':' or whitespace)")
        self.user = user
        self.password = password
        self.host = LOOPBACK
        self.port = 0
        self._binary = binary
        self._root: Path | None = None
        self._own_logins = 0

    @property
    def root(self) -> Path:
        """The temp dir holding config, mail, sockets and log."""
        if self._root is None:
            raise RuntimeError("Dovecot is not running")
        return self._root

    def start(self) -> Self:
        """Start dovecot; returns once it has sent an IMAP greeting on `port`."""
        if self._root is not None:
            raise RuntimeError("Dovecot already started")
        binary = self._binary or _find_dovecot()
        self._root = Path(tempfile.mkdtemp(prefix="formbot-dovecot-"))
        try:
            self._prepare_files()
            self._launch(binary)
            self._read_greeting()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop dovecot and every process it started, then remove the temp dir; idempotent."""
        root, self._root = self._root, None
        if root is None:
            return
        try:
            pid_file = root / "run" / "master.pid"
            if pid_file.exists():
                _terminate(int(pid_file.read_text().split()[0]))
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def append(self, raw: bytes, *, folder: str = "INBOX", flags: tuple[str, ...] = ()) -> int:
        """IMAP APPEND `raw` to `folder` (created if missing) as the user; returns its UID."""
        with IMAPClient(self.host, self.port, ssl=False, timeout=_TIMEOUT) as client:
            client.login(self.user, self.password)
            # Our own delivery logins are not the code under test's connections.
            self._own_logins += 1
            if not client.folder_exists(folder):
                client.create_folder(folder)
            response = client.append(folder, raw, flags=flags)
        found = re.search(rb"\[APPENDUID \d+ (\d+)\]", response)
        if found is None:
            raise RuntimeError(f"dovecot APPEND gave no APPENDUID: {response!r}")
        return int(found.group(1))

    def connections_opened(self) -> int:
        """Successful logins by clients other than append() since start.

        Dovecot has no cheap count of raw TCP accepts; every connection our code opens
        logs in, so logins stand in for connections in leak tests.
        """
        logins = (self.root / "logins").read_text().count("\n")
        return logins - self._own_logins

    def log(self) -> str:
        """Dovecot's log so far, for failure messages."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _prepare_files(self) -> None:
        root = self.root
        # mkdtemp makes 0700; Dovecot's login, auth and mail processes run as other
        # users and must be able to reach their files below it.
        root.chmod(0o755)
        (root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        (root / "logins").write_text("")
        script = root / "postlogin.sh"
        script.write_text(f'#!/bin/sh\necho login >>"{root / "logins"}"\nexec "$@"\n')
        script.chmod(0o755)
        mail = root / "mail"
        mail.mkdir()
        if os.geteuid() == 0:
            os.chown(mail, _UNPRIVILEGED_ID, _UNPRIVILEGED_ID)

    def _launch(self, binary: str) -> None:
        config = self.root / "dovecot.conf"
        errors = self.root / "start.err"
        for _ in range(_BIND_ATTEMPTS):
            port = _free_port()
            config.write_text(_render_config(self.root, port))
            # Without -F the master forks only after its listeners are bound, so a
            # zero exit means the port is ours; a taken port fails right here. Its
            # stderr goes to a file: the daemon inherits it, so a pipe would never
            # reach EOF.
            with errors.open("w+") as stderr:
                returncode = subprocess.run(
                    [binary, "-c", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    timeout=_TIMEOUT,
                    check=False,
                ).returncode
                stderr.seek(0)
                complaint = stderr.read().strip()
            if returncode == 0:
                self.port = port
                return
            if "Address already in use" not in complaint:
                raise RuntimeError(f"dovecot exited {returncode}: {complaint}\n{self.log()}")
        raise RuntimeError(f"dovecot could not bind a free port in {_BIND_ATTEMPTS} attempts")

    def _read_greeting(self) -> None:
        with (
            socket.create_connection((self.host, self.port), timeout=_TIMEOUT) as sock,
            sock.makefile("rb") as stream,
        ):
            greeting = stream.readline()
        if not greeting.startswith(b"* OK"):
            raise RuntimeError(f"dovecot greeted with {greeting!r}\n{self.log()}")


def _render_config(root: Path, port: int) -> str:
    if os.geteuid() == 0:
        mail_uid = mail_gid = _UNPRIVILEGED_ID
        rootless = ""
        login_chroot = ""
    else:
        # Rootless Dovecot: every service runs as us and nothing can chroot.
        mail_uid, mail_gid = os.getuid(), os.getgid()
        name = pwd.getpwuid(mail_uid).pw_name
        group = grp.getgrgid(mail_gid).gr_name
        rootless = (
            f"default_internal_user = {name}\n"
            f"default_internal_group = {group}\n"
            f"default_login_user = {name}\n"
            "service anvil {\n  chroot =\n}\n"
        )
        login_chroot = "  chroot =\n"
    return f"""\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = {LOOPBACK}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_fsync = never
# Stock Dovecot waits 2 s before answering a failed login (0.5 s of it stays);
# tests of that path should not pay it.
auth_failure_delay = 0
{rootless}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/mail/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
{login_chroot}  inet_listener imap {{
    address = {LOOPBACK}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service imap {{
  executable = imap imap-postlogin
}}
service imap-postlogin {{
  executable = script-login {root}/postlogin.sh
  unix_listener imap-postlogin {{
  }}
}}
"""


def _find_dovecot() -> str:
    # Debian puts it in /usr/sbin, which a non-root PATH may lack.
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin")
    if found is None:
        raise DovecotMissing(INSTALL_HINT)
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _terminate(master: int) -> None:
    """Stop the Dovecot master and every process it started, waiting until all exited.

    The master signals its children on shutdown but does not wait for them (a mail
    process left running would act on a maildir we are about to remove), and it
    lingers ~1 s itself unless the children are already gone; so the whole tree is
    pinned, signalled children first, and each process is waited for.
    """
    pinned: list[tuple[int, int]] = []
    try:
        try:
            pinned.append((master, os.pidfd_open(master)))
        except ProcessLookupError:
            return
        master_fd = pinned[0][1]
        # Frozen, the master cannot start new children while they are listed.
        signal.pidfd_send_signal(master_fd, signal.SIGSTOP)
        for pid in _descendants(master):
            try:
                pinned.append((pid, os.pidfd_open(pid)))
            except ProcessLookupError:
                continue
        for _, pidfd in reversed(pinned):
            _signal(pidfd, signal.SIGTERM)
        _signal(master_fd, signal.SIGCONT)
        for pid, pidfd in pinned:
            _wait_exit(pid, pidfd)
    finally:
        for _, pidfd in pinned:
            os.close(pidfd)


def _signal(pidfd: int, sig: signal.Signals) -> bool:
    try:
        signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        return False
    return True


def _wait_exit(pid: int, pidfd: int) -> None:
    # A pidfd pins this exact process (no pid reuse race) and polls readable when it
    # exits, even though the daemonised master is not our child.
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    if poller.poll(int(_TIMEOUT * 1000)):
        return
    if _signal(pidfd, signal.SIGKILL) and not poller.poll(int(_TIMEOUT * 1000)):
        raise RuntimeError(f"dovecot process {pid} did not exit")


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # exited while we looked
            continue
        # The command name in parentheses may itself contain spaces or ")".
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found: list[int] = []
    todo = [root]
    while todo:
        kids = children.get(todo.pop(), [])
        found.extend(kids)
        todo.extend(kids)
    return found


@pytest.fixture
def imap_server() -> Iterator[EmbeddedIMAP]:
    """pymap with an empty INBOX for DEMO_USER / DEMO_PASSWORD."""
    with EmbeddedIMAP() as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[EmbeddedSMTP]:
    """aiosmtpd accepting mail without AUTH."""
    with EmbeddedSMTP() as server:
        yield server


@pytest.fixture
def smtp_auth_server() -> Iterator[EmbeddedSMTP]:
    """aiosmtpd requiring AUTH as DEMO_USER / DEMO_PASSWORD."""
    with EmbeddedSMTP(user=DEMO_USER, password=DEMO_PASSWORD) as server:
        yield server


@pytest.fixture
def dovecot_server() -> Iterator[Dovecot]:
    """Real Dovecot with an empty INBOX; fails (never skips) when it is not installed."""
    server = Dovecot()
    try:
        server.start()
    except DovecotMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["pymap", pytest.param("dovecot", marks=pytest.mark.dovecot)])
def any_imap_server(request: pytest.FixtureRequest) -> MailboxServer:
    """Runs the test once against pymap and once (tier `dovecot`) against Dovecot."""
    server: MailboxServer = request.getfixturevalue(
        "imap_server" if request.param == "pymap" else "dovecot_server"
    )
    return server
