"""The IMAP side of ingest: connect, find new UIDs cheaply, fetch raw bytes, mark handled.

Server quirks worth remembering:
- 126/163 answer `NO SELECT Unsafe Login` unless the client identifies itself
  with the IMAP ID command (RFC 2971) after LOGIN.
- Some servers omit UIDNEXT from SELECT; then one UID SEARCH tells what is new.
- `UID SEARCH UID n:*` always returns the highest UID even when it is below n.
- FETCH items come in any order: UID may follow the BODY[] literal it belongs to.
"""

from __future__ import annotations

import contextlib
import imaplib
import itertools
import re
import select
import socket
import ssl
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.response_parser import parse_fetch_response

from .errors import MailboxError
from .rawstore import KeptRaw, RawSink, keep_raw

# ASCII only: imaplib sends ID arguments as plain strings.
CLIENT_ID = {"name": "formbot", "version": "0.1", "vendor": "formbot"}
HANDLED_KEYWORD = b"$FormbotDone"
# A message body is copied from the socket to disk this much at a time.
STREAM_CHUNK = 256 * 1024
_LITERAL = re.compile(rb"\{(\d+)\}\r?\n\Z")
_BODY_LITERAL = re.compile(rb"BODY\[\](?:<\d+>)?\s*\{\d+\}\r?\n\Z", re.IGNORECASE)
_UNTAGGED_FETCH = re.compile(rb"\* (\d+) FETCH (.*)\Z", re.IGNORECASE | re.DOTALL)
_tags = itertools.count(1)
_FAILED_PREFIX = re.compile(r"^\w+ failed: ", re.IGNORECASE)
# NetEase's refusal of a client that has not identified itself, lower-cased.
_UNSAFE_LOGIN = "unsafe login"


@dataclass(frozen=True)
class ImapTarget:
    host: str
    port: int
    security: str          # ssl | starttls | plain
    username: str
    password: str = field(repr=False)   # never in a log line or a traceback
    folder: str = "INBOX"
    timeout: float = 60.0

    @property
    def account(self) -> str:
        return f"{self.username}@{self.host}"


class Mailbox:
    """One logged-in IMAP session on one selected folder."""

    def __init__(self, target: ImapTarget) -> None:
        self.target = target
        self.client: imapclient.IMAPClient | None = None
        self.uidvalidity = 0
        self.uidnext: int | None = None
        self.capabilities: frozenset[bytes] = frozenset()
        self.identified = False  # the server accepted our ID (RFC 2971)
        self._keywords_allowed = False

    def __enter__(self) -> Mailbox:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        t = self.target
        try:
            context = ssl.create_default_context()
            client = imapclient.IMAPClient(
                t.host, port=t.port, ssl=t.security == "ssl",
                ssl_context=context if t.security == "ssl" else None, timeout=t.timeout,
            )
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(
                f"无法连接邮箱服务器 {t.host}:{t.port}（{_reason(exc)}）：请检查 mailbox.host、"
                f"mailbox.port 和 mailbox.security"
            ) from None
        self.client = client
        try:
            if t.security == "starttls":
                client.starttls(context)
            client.login(t.username, t.password)
        except LoginError:
            self.close()
            raise MailboxError(
                f"邮箱 {t.username} 登录被拒绝：请检查密码（126/163 邮箱须使用客户端授权码）"
            ) from None
        except (OSError, IMAPClientError) as exc:
            self.close()
            raise MailboxError(f"邮箱 {t.host} 登录失败：{_reason(exc)}") from None
        self.capabilities = frozenset(client.capabilities())
        if b"ID" in self.capabilities:
            # ID is only a courtesy except on 126/163, where SELECT will say so.
            with contextlib.suppress(IMAPClientError):
                client.id_(CLIENT_ID)
                self.identified = True
        try:
            self._select()
        except MailboxError:
            # `with Mailbox(...)` never reaches __exit__ when open() fails: log out here.
            self.close()
            raise

    def _select(self) -> None:
        assert self.client is not None
        try:
            info = self.client.select_folder(self.target.folder)
        except IMAPClientError as exc:
            # imapclient words it "select failed: <server text>"; the person needs the latter.
            answer = _FAILED_PREFIX.sub("", _reason(exc))
            raise MailboxError(self._select_refused(answer)) from None
        self.uidvalidity = int(info[b"UIDVALIDITY"])
        uidnext = info.get(b"UIDNEXT")
        self.uidnext = int(uidnext) if uidnext is not None else None
        self._keywords_allowed = b"\\*" in info.get(b"PERMANENTFLAGS", ())

    def _select_refused(self, answer: str) -> str:
        """The sentence for a refused SELECT: what the server said and what to do about it."""
        t = self.target
        if _UNSAFE_LOGIN in answer.lower():
            said = (f"邮箱服务器 {t.host} 以“不安全登录”为由拒绝打开文件夹 {t.folder}"
                    f"（服务器答复：{answer}）")
            if self.identified:
                # formbot did what 126/163 ask of a client: only the account's owner can
                # change what is left, in the web mailbox.
                return (f"{said}。formbot 已按 126/163 的要求发送 IMAP ID，仍被拒绝："
                        f"请登录网页邮箱，在“设置 → POP3/SMTP/IMAP”中开启 IMAP/SMTP 服务，确认 "
                        f"mailbox.password_env 指向的是客户端授权码，处理网页上的安全提示后"
                        f"运行 formbot doctor 再试；仍被拒绝请联系邮箱客服 kefu@188.com")
            why = ("服务器未声明支持 ID" if b"ID" not in self.capabilities
                   else "服务器拒绝了 ID 命令")
            return (f"{said}。126/163 要求客户端登录后发送 IMAP ID，而 formbot 未能发送"
                    f"（{why}）：请确认 mailbox.host 直接指向 imap.126.com 或 imap.163.com，"
                    f"而不是代理或转发服务")
        return (f"无法打开邮箱文件夹 {t.folder}（服务器答复：{answer}）：请检查 mailbox.folder "
                f"是否为该邮箱中存在的文件夹名")

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.logout()
        except (OSError, IMAPClientError):
            with contextlib.suppress(OSError):
                client.shutdown()

    def new_uids(self, after_uid: int) -> list[int]:
        """UIDs above `after_uid`; no round trip at all when UIDNEXT says there are none."""
        assert self.client is not None
        if self.uidnext is not None and self.uidnext <= after_uid + 1:
            return []
        found = self._call(self.client.search, ["UID", f"{after_uid + 1}:*"])
        return sorted(uid for uid in found if uid > after_uid)

    def fetch_to_disk(self, uids: Sequence[int], data_dir: Path) -> list[tuple[int, KeptRaw]]:
        """Each UID's raw message written to the raw store as it streams in, in UID order.

        imapclient (like imaplib) reads a FETCH literal whole into memory; a 20 MB attachment
        is a 27 MB literal, so the command is sent and its response read here instead, the
        BODY[] literal copied from the socket to disk in chunks. The whole response is read
        before anything is returned, so the connection is always left between commands.
        """
        assert self.client is not None
        if not uids:
            return []
        imap = self.client._imap  # imapclient's imaplib connection: plain reads and writes
        tag = b"FB%d" % next(_tags)  # imaplib's own tags are letters then digits: no clash
        wanted = ",".join(str(uid) for uid in uids).encode("ascii")
        kept: dict[int, KeptRaw] = {}
        # Each message's fsync and rename run on a thread while the next one streams in;
        # all have returned before this does, so nothing is recorded before it is on disk.
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="raw-fsync") as settling:
            settled: list[Future[None]] = []
            try:
                imap.send(tag + b" UID FETCH " + wanted + b" (BODY.PEEK[])\r\n")
                while True:
                    line = _readline(imap)
                    if line.startswith(tag + b" "):
                        status, _, text = line[len(tag) + 1:].partition(b" ")
                        if status.upper() != b"OK":
                            raise MailboxError(f"邮箱服务器 {self.target.host} 拒绝取信："
                                               f"{text.decode('ascii', 'replace').strip()}")
                        break
                    if line.startswith(b"* "):
                        kept.update(_untagged_to_disk(imap, line, data_dir,
                                                      lambda job: settled.append(
                                                          settling.submit(job))))
            except (OSError, IMAPClientError, imaplib.IMAP4.error) as exc:
                raise MailboxError(f"邮箱服务器 {self.target.host} 出错：{_reason(exc)}") from None
            for done in settled:
                done.result()  # a disk error is raised as itself, not as the server's
        return sorted(kept.items())

    def fetch_identity_headers(self, uids: Sequence[int],
                               names: Sequence[str]) -> dict[int, bytes]:
        """These header fields per UID, as raw header lines: cheap when re-reading a
        rebuilt folder (which of its mails were recorded before)."""
        assert self.client is not None
        if not uids:
            return {}
        fields = " ".join(name.upper() for name in names)
        response = self._call(
            self.client.fetch, list(uids), [f"BODY.PEEK[HEADER.FIELDS ({fields})]".encode()]
        )
        heads: dict[int, bytes] = {}
        for uid, item in response.items():
            raw = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER")), b"") or b""
            heads[uid] = bytes(raw)
        return heads

    def mark_handled(self, uids: Sequence[int], processed_folder: str | None) -> None:
        """After the rows are committed: move to processed_folder, or set our keyword."""
        assert self.client is not None
        if not uids:
            return
        if processed_folder:
            self._ensure_folder(processed_folder)
            if b"MOVE" in self.capabilities:
                self._call(self.client.move, list(uids), processed_folder)
            else:
                self._call(self.client.copy, list(uids), processed_folder)
                self._call(self.client.add_flags, list(uids), [imapclient.DELETED])
                if b"UIDPLUS" in self.capabilities:
                    # UID EXPUNGE removes only ours, never mail someone else marked deleted.
                    self._call(self.client.uid_expunge, list(uids))
        elif self._keywords_allowed:
            self._call(self.client.add_flags, list(uids), [HANDLED_KEYWORD])

    # -- IDLE (RFC 2177) ---------------------------------------------------
    def idle_start(self) -> None:
        assert self.client is not None
        self._call(self.client.idle)

    def idle_done(self) -> None:
        assert self.client is not None
        self._call(self.client.idle_done)

    def idle_wait(self, timeout: float) -> bool:
        """Wait at most `timeout` seconds in IDLE for the server's news; True if mail arrived.

        imapclient's idle_check reads from a non-blocking socket and aborts when TCP hands
        over a line in two pieces (seen on loopback, and more likely over the internet).
        Here only the wait is non-blocking: a line, once begun, is read whole, bounded by
        the connection's timeout."""
        assert self.client is not None
        imap, sock = self.client._imap, self.client.socket()
        try:
            if not _buffered(imap, sock):
                if not _readable(sock, timeout):
                    return False
                if not _buffered(imap, sock):
                    # Woken with no text to read: a TLS record carrying none, the start of
                    # one still on its way, or the server hanging up.
                    if _hung_up(sock):
                        raise imaplib.IMAP4.abort("连接被服务器关闭")
                    return False
            arrived = False
            while True:
                line = _readline(imap)
                words = line.split(None, 3)
                if len(words) >= 3 and words[2].upper() in (b"EXISTS", b"RECENT"):
                    arrived = True
                literal = _LITERAL.search(line)
                if literal:  # a FETCH with a literal (a flag change may carry one): skip it
                    imap.read(int(literal.group(1)))
                    continue
                if not _buffered(imap, sock):
                    return arrived
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"邮箱服务器 {self.target.host} 出错：{_reason(exc)}") from None

    def _ensure_folder(self, folder: str) -> None:
        assert self.client is not None
        if not self._call(self.client.folder_exists, folder):
            self._call(self.client.create_folder, folder)

    def _call(self, method, *args):  # type: ignore[no-untyped-def]
        try:
            return method(*args)
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(f"邮箱服务器 {self.target.host} 出错：{_reason(exc)}") from None


def _readline(imap: imaplib.IMAP4) -> bytes:
    line = imap.readline()
    if not line:
        raise imaplib.IMAP4.abort("连接被服务器关闭")
    return line


def _readable(sock: socket.socket, timeout: float) -> bool:
    poller = select.poll()  # not select(): that fails on descriptors above 1023
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(timeout * 1000))


def _hung_up(sock: socket.socket) -> bool:
    """End of stream at the TCP level (below TLS), seen without reading anything."""
    with socket.fromfd(sock.fileno(), sock.family, sock.type) as raw:
        try:
            return raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            return False


def _buffered(imap: imaplib.IMAP4, sock: socket.socket) -> bool:
    """Whether server bytes already wait in imaplib's reader or the TLS layer, where
    select() cannot see them: a peek that would block answers no instead."""
    previous = sock.gettimeout()
    sock.setblocking(False)
    try:
        return bool(imap.file.peek(1))
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    finally:
        sock.settimeout(previous)


def _at_once(job: Callable[[], None]) -> None:
    job()


def _untagged_to_disk(imap: imaplib.IMAP4, line: bytes, data_dir: Path,
                      settle: Callable[[Callable[[], None]], None] = _at_once,
                      ) -> dict[int, KeptRaw]:
    """Read one untagged response (and its literals); a FETCH's BODY[] goes to the raw store.

    The response is handed to imapclient's parser as imaplib would have, with each body
    replaced by a marker, so the UID is read however the server orders the items."""
    parts: list[bytes | tuple[bytes, bytes]] = []
    bodies: dict[bytes, KeptRaw] = {}
    fetch = _UNTAGGED_FETCH.match(line.rstrip(b"\r\n"))
    first = True
    while True:
        literal = _LITERAL.search(line)
        text = line.rstrip(b"\r\n")
        if first and fetch:
            text = fetch.group(1) + b" " + fetch.group(2)  # imaplib's form: "SEQ (ITEMS..."
        first = False
        if literal is None:
            parts.append(text)
            break
        size = int(literal.group(1))
        if fetch and _BODY_LITERAL.search(line):
            with RawSink(data_dir) as sink:
                left = size
                while left:
                    chunk = imap.read(min(left, STREAM_CHUNK))
                    if not chunk:
                        raise imaplib.IMAP4.abort("连接在传输邮件时中断")
                    sink.write(chunk)
                    left -= len(chunk)
                marker = b"\0formbot-kept-%d" % len(bodies)
                bodies[marker], job = sink.seal()
                settle(job)
            # The parser checks a literal's size: announce the marker's, not the body's.
            text = text[:text.rindex(b"{")] + b"{%d}" % len(marker)
            parts.append((text, marker))
        else:
            parts.append((text, imap.read(size)))
        line = _readline(imap)
    if not fetch:
        return {}  # EXISTS, EXPUNGE, a flag change…: nothing of ours
    kept: dict[int, KeptRaw] = {}
    for uid, items in parse_fetch_response(parts).items():  # type: ignore[arg-type]
        body = items.get(b"BODY[]")
        if isinstance(body, bytes) and body in bodies:
            kept[uid] = bodies[body]
        elif isinstance(body, bytes):  # sent as a quoted string, not a literal
            path, sha = keep_raw(data_dir, body)
            kept[uid] = KeptRaw(path, sha, len(body))
    return kept


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "连接超时"
    if isinstance(exc, ConnectionRefusedError):
        return "连接被拒绝"
    if isinstance(exc, socket.gaierror):
        return "找不到该服务器地址"
    if isinstance(exc, ssl.SSLError):
        return f"TLS 错误：{exc.reason or exc}"
    text = str(exc) or type(exc).__name__
    return text.replace("b'", "").replace("'", "")
