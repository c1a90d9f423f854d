"""The IMAP side of ingest: connect, find new UIDs cheaply, fetch raw bytes, mark handled.

Server quirks worth remembering:
- 126/163 answer `NO SELECT Unsafe Login` unless the client identifies itself
  with the IMAP ID command (RFC 2971) after LOGIN.
- Some servers omit UIDNEXT from SELECT; then one UID SEARCH tells what is new.
- `UID SEARCH UID n:*` always returns the highest UID even when it is below n.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError

from .errors import MailboxError

# ASCII only: imaplib sends ID arguments as plain strings.
CLIENT_ID = {"name": "formbot", "version": "0.1", "vendor": "formbot"}
HANDLED_KEYWORD = b"$FormbotDone"


@dataclass(frozen=True)
class ImapTarget:
    host: str
    port: int
    security: str          # ssl | starttls | plain
    username: str
    password: str
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
        self._select()

    def _select(self) -> None:
        assert self.client is not None
        try:
            info = self.client.select_folder(self.target.folder)
        except IMAPClientError as exc:
            text = _reason(exc)
            hint = "（126/163 需要 IMAP ID；请确认已开启 IMAP 服务）" if "Unsafe" in text else ""
            raise MailboxError(f"无法打开邮箱文件夹 {self.target.folder}：{text}{hint}") from None
        self.uidvalidity = int(info[b"UIDVALIDITY"])
        uidnext = info.get(b"UIDNEXT")
        self.uidnext = int(uidnext) if uidnext is not None else None
        self._keywords_allowed = b"\\*" in info.get(b"PERMANENTFLAGS", ())

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

    def fetch_raw(self, uids: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        """Raw bytes of each UID, in UID order, without setting \\Seen (BODY.PEEK)."""
        assert self.client is not None
        if not uids:
            return
        response = self._call(self.client.fetch, list(uids), [b"BODY.PEEK[]"])
        for uid in sorted(response):
            data = response[uid].get(b"BODY[]")
            if data is not None:
                yield uid, bytes(data)

    def fetch_message_ids(self, uids: Sequence[int]) -> dict[int, str]:
        """Message-ID per UID, from the headers only: cheap when re-reading a rebuilt folder."""
        assert self.client is not None
        if not uids:
            return {}
        response = self._call(
            self.client.fetch, list(uids), [b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]
        )
        ids: dict[int, str] = {}
        for uid, item in response.items():
            raw = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER")), b"") or b""
            value = bytes(raw).decode("ascii", "replace").partition(":")[2].strip()
            if value:
                ids[uid] = value
        return ids

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

    def _ensure_folder(self, folder: str) -> None:
        assert self.client is not None
        if not self._call(self.client.folder_exists, folder):
            self._call(self.client.create_folder, folder)

    def _call(self, method, *args):  # type: ignore[no-untyped-def]
        try:
            return method(*args)
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(f"邮箱服务器 {self.target.host} 出错：{_reason(exc)}") from None


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
