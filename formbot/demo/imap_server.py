"""A real IMAP server in-process on loopback, for the demo, tests and benchmarks.

`EmbeddedIMAP` is pymap's in-memory "dict" backend on its own asyncio loop in a
background thread, so that a blocking client (imapclient) can talk to it from the
calling thread. Its SMTP counterpart is `formbot.demo.smtp_server.EmbeddedSMTP`.

`EmbeddedIMAP(require_id=True)` behaves like 126/163 (NetEase): SELECT and EXAMINE are
refused with `NO SELECT Unsafe Login...` until the session has sent ID (RFC 2971).
"""

from __future__ import annotations

import asyncio
import threading
from argparse import Namespace
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, closing
from datetime import UTC, datetime
from types import TracebackType
from typing import Self, TypeVar

from proxyprotocol.reader import ProxyProtocolReader
from proxyprotocol.sock import SocketInfo
from pymap.__about__ import __version__ as pymap_version
from pymap.backend.dict import Config, DictBackend, Login
from pymap.backend.dict.mailbox import MailboxData, MailboxSet
from pymap.concurrent import Subsystem
from pymap.config import IMAPConfig
from pymap.context import connection_exit
from pymap.imap import IMAPConnection, IMAPServer
from pymap.imap.state import ConnectionState
from pymap.interfaces.login import LoginInterface
from pymap.parsing.command.any import IdCommand
from pymap.parsing.command.auth import SelectCommand
from pymap.parsing.message import AppendMessage
from pymap.parsing.response import CommandResponse, ResponseNo
from pymap.parsing.specials.flag import Flag, Recent
from pymap.selected import SelectedMailbox
from pymap.user import UserMetadata
from pysasl.hashing import Cleartext

__all__ = ["DEMO_PASSWORD", "DEMO_USER", "LOOPBACK", "UNSAFE_LOGIN", "EmbeddedIMAP"]

DEMO_USER = "qzxjb2008@126.com"
DEMO_PASSWORD = "demo-password"
LOOPBACK = "127.0.0.1"
# Generous: only reached when something is broken, and CI machines can be slow.
START_TIMEOUT = 30.0

_T = TypeVar("_T")
_Answer = tuple[CommandResponse, SelectedMailbox | None]

# What 126/163 put after the command name in their NO to a SELECT without ID.
UNSAFE_LOGIN = b"Unsafe Login. Please contact kefu@188.com for help"


class _EmbeddedConfig(Config):
    """pymap's dict-backend config with answers that do not depend on the host."""

    @property
    def greeting(self) -> bytes:
        # The stock greeting calls socket.getfqdn() per connection, which can stall on
        # DNS in a sandbox; a fixed name keeps connections instant and output stable.
        return b"Server ready formbot-embedded"

    @property
    def id_response(self) -> dict[bytes, bytes]:
        # Real providers answer ID with their name; an answer (not NIL) exercises the
        # client's parsing of it the way 126/163 do.
        return {b"name": b"pymap", b"version": pymap_version.encode("ascii")}


class _NetEaseState(ConnectionState):
    """One connection's state, refusing to open a folder until the client sent ID.

    pymap dispatches SELECT and EXAMINE (EXAMINE delegates to SELECT) to `do_select` and
    ID to `do_id` on this per-connection object, so the rule holds per connection,
    whatever the folder, and a client must identify again on every new connection.
    """

    def __init__(self, login: LoginInterface, config: IMAPConfig, *, id_unlocks: bool) -> None:
        super().__init__(login, config)
        self._id_unlocks = id_unlocks
        self._identified = False

    async def do_id(self, cmd: IdCommand) -> _Answer:
        # ID is answered as usual; with id_unlocks=False the account stays "unsafe",
        # as a 126 account does whose IMAP access the provider has blocked.
        self._identified = self._id_unlocks
        return await super().do_id(cmd)

    async def do_select(self, cmd: SelectCommand) -> _Answer:
        if not self._identified:
            return ResponseNo(cmd.tag, cmd.command + b" " + UNSAFE_LOGIN), None
        return await super().do_select(cmd)


class _NetEaseIMAPServer(IMAPServer):
    """pymap's per-connection entry point, building `_NetEaseState` instead of the stock one.

    IMAPServer.__call__ names its state class directly, so this is the only hook: the
    connection itself (parsing, literals, IDLE, BYE on cancel) stays pymap's own.
    """

    def __init__(self, login: LoginInterface, config: IMAPConfig, *, id_unlocks: bool) -> None:
        super().__init__(login, config)
        self._id_unlocks = id_unlocks

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       sock_info: SocketInfo) -> None:
        connection = IMAPConnection(self.commands, self._config, reader, writer, sock_info)
        state = _NetEaseState(self._login, self._config, id_unlocks=self._id_unlocks)
        async with AsyncExitStack() as stack:
            # pymap's sessions register their cleanup on this per-connection stack.
            connection_exit.set(stack)
            stack.enter_context(closing(connection))
            await connection.run(state)


class EmbeddedIMAP:
    """pymap (in-memory) serving one user with an empty INBOX, plain IMAP on loopback.

    `require_id=True` makes it refuse SELECT/EXAMINE with 126's `NO ... Unsafe Login`
    until the session has sent ID; adding `id_unlocks=False` keeps refusing even after
    ID, the case formbot cannot fix and must explain to a person.
    """

    def __init__(self, *, user: str = DEMO_USER, password: str = DEMO_PASSWORD,
                 port: int = 0, require_id: bool = False, id_unlocks: bool = True) -> None:
        if not require_id and not id_unlocks:
            raise ValueError("id_unlocks=False only makes sense with require_id=True")
        self.user = user
        self.password = password
        self.require_id = require_id
        self.id_unlocks = id_unlocks
        self.host = LOOPBACK
        self.port = port
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._backend: DictBackend | None = None
        self._config: _EmbeddedConfig | None = None
        self._connections = 0
        self._connections_lock = threading.Lock()

    def start(self) -> Self:
        """Start serving; returns once the listening socket is bound and accepting."""
        if self._thread is not None:
            raise RuntimeError("EmbeddedIMAP already started")
        self._ready.clear()
        self._startup_error = None
        self._connections = 0
        self._thread = threading.Thread(target=self._run, name="embedded-imap", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise TimeoutError(f"EmbeddedIMAP did not start within {START_TIMEOUT} s")
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise RuntimeError("EmbeddedIMAP failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        """Close the listener and every client connection; safe to call twice."""
        thread, loop, stop_requested = self._thread, self._loop, self._stop_requested
        if thread is None:
            return
        if loop is not None and stop_requested is not None:
            loop.call_soon_threadsafe(stop_requested.set)
        thread.join(START_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError("EmbeddedIMAP thread did not stop")
        self._thread = None
        self._loop = self._stop_requested = None
        self._backend = self._config = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def connections_opened(self) -> int:
        """How many client connections the server has accepted since start."""
        with self._connections_lock:
            return self._connections

    def append(self, raw: bytes, *, folder: str = "INBOX", flags: tuple[str, ...] = ()) -> int:
        """Deliver `raw` into `folder` (created if missing) as a new \\Recent message.

        Goes through the backend directly rather than an IMAP APPEND so that deliveries
        do not show up in `connections_opened()`. Returns the new message's UID.
        """
        flag_set = frozenset(Flag(name.encode("utf-8")) for name in flags) - {Recent}

        async def deliver() -> int:
            mailbox = await self._mailbox(folder, create=True)
            message = await mailbox.append(
                AppendMessage(raw, datetime.now(UTC), flag_set), recent=True
            )
            return message.uid

        return self._call(deliver)

    def uidvalidity(self, folder: str = "INBOX") -> int:
        """The folder's current UIDVALIDITY."""

        async def read() -> int:
            return (await self._mailbox(folder, create=False)).uid_validity

        return self._call(read)

    def reset_folder(self, folder: str = "INBOX") -> int:
        """Empty `folder` and give it a new UIDVALIDITY, as a server rebuilding it would.

        pymap draws UIDVALIDITY from the clock second plus 16 random bits, so a fresh
        folder can (rarely) repeat the old value; retry until it differs so tests that
        rely on the change are deterministic. Returns the new UIDVALIDITY.
        """

        async def recreate() -> int:
            mailboxes = await self._mailbox_set()
            old = (await self._mailbox(folder, create=True)).uid_validity
            while True:
                if folder.upper() == "INBOX":
                    # INBOX cannot be deleted; RENAME INBOX moves its messages away
                    # and leaves a brand-new INBOX behind (RFC 3501 6.3.5).
                    parked = "formbot-reset-inbox"
                    await mailboxes.rename_mailbox("INBOX", parked)
                    await mailboxes.delete_mailbox(parked)
                else:
                    await mailboxes.delete_mailbox(folder)
                    await mailboxes.add_mailbox(folder)
                new = (await self._mailbox(folder, create=False)).uid_validity
                if new != old:
                    return new

        return self._call(recreate)

    def _call(self, make: Callable[[], Awaitable[_T]]) -> _T:
        loop, config = self._loop, self._config
        if loop is None or config is None:
            raise RuntimeError("EmbeddedIMAP is not running")

        async def in_server_context() -> _T:
            # run_coroutine_threadsafe copies the *caller's* context; pymap keeps its
            # concurrency subsystem in a context variable that must be the server's.
            config.apply_context()
            return await make()

        future = asyncio.run_coroutine_threadsafe(in_server_context(), loop)
        return future.result(START_TIMEOUT)

    async def _mailbox_set(self) -> MailboxSet:
        assert self._backend is not None
        identity = self._backend.login.demo_user_identity
        # The dict backend caches one MailboxSet per user, so this is the same set
        # that IMAP sessions of this user see.
        async with identity.new_session() as session:
            return session.mailbox_set

    async def _mailbox(self, folder: str, *, create: bool) -> MailboxData:
        mailboxes = await self._mailbox_set()
        try:
            return await mailboxes.get_mailbox(folder)
        except KeyError:
            if not create:
                raise
        await mailboxes.add_mailbox(folder)
        return await mailboxes.get_mailbox(folder)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            if self._ready.is_set():
                raise
            # start() re-raises it in the caller's thread, where it belongs.
            self._startup_error = exc
            self._ready.set()

    async def _serve(self) -> None:
        args = Namespace(
            host=self.host, port=0, debug=False, cert=None, key=None, tls=False,
            demo_data=False, demo_user=self.user, demo_password=self.password,
            passlib_cfg=None, proxy_protocol=None,
        )  # fmt: skip
        config = _EmbeddedConfig.from_args(
            args,
            # The password is a fixture, and pymap's default PBKDF2 (500k rounds) would
            # cost ~0.5 s per LOGIN; hashing it protects nothing here.
            hash_context=Cleartext(),
            # The default runs hashing on a private thread pool nobody shuts down.
            cpu_subsystem=Subsystem.for_asyncio(),
            invalid_user_sleep=0.0,
            reject_dnsbl=False,
        )
        config.apply_context()
        login = Login(config)
        await login.demo_user_identity.set(UserMetadata(config, self.user, password=self.password))
        backend = DictBackend(login, config)

        imap_server = (
            _NetEaseIMAPServer(backend.login, config, id_unlocks=self.id_unlocks)
            if self.require_id else IMAPServer(backend.login, config)
        )
        accept = ProxyProtocolReader(config.proxy_protocol).get_callback(imap_server)

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with self._connections_lock:
                self._connections += 1
            await accept(reader, writer)

        # A restart keeps the port, as a real server coming back after an outage would.
        server = await asyncio.start_server(on_connect, host=self.host, port=self.port)
        self.port = server.sockets[0].getsockname()[1]
        self._loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        self._backend, self._config = backend, config
        self._ready.set()
        try:
            await self._stop_requested.wait()
        finally:
            server.close()
            # Client connections run as detached tasks; cancelling them makes pymap
            # send BYE and close each socket. Newer Pythons' wait_closed() would
            # otherwise wait for clients to hang up by themselves.
            current = asyncio.current_task()
            pending = [task for task in asyncio.all_tasks() if task is not current]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await server.wait_closed()
