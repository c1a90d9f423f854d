"""The test servers themselves, driven by the real clients formbot uses."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from formbot.demo.imap_server import DEMO_PASSWORD, DEMO_USER, EmbeddedIMAP
from formbot.demo.smtp_server import EmbeddedSMTP
from tests.support import servers
from tests.support.servers import Dovecot, DovecotMissing, MailboxServer

# A fixture bound in a test module is visible to its tests, whatever conftest re-exports.
any_imap_server = servers.any_imap_server

# CRLF line ends (what IMAP hands back), raw GB18030 bytes in a header and a body
# line starting with "." (SMTP dot-stuffing) so byte-exactness is really tested.
RAW = (
    b"From: unit@example.org\r\n"
    b"To: qzxjb2008@126.com\r\n"
    b"Subject: =?gb18030?B?saix7Q==?=\r\n"
    b"Content-Type: text/plain; charset=gb18030\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"\xb1\xa8\xb1\xed attached.\r\n"
    b".leading dot\r\n"
)


@contextmanager
def logged_in(server: MailboxServer) -> Iterator[IMAPClient]:
    with IMAPClient(server.host, server.port, ssl=False, timeout=10) as client:
        client.login(server.user, server.password)
        yield client


def test_imap_fetch_returns_appended_bytes(any_imap_server: MailboxServer) -> None:
    uid = any_imap_server.append(RAW)
    with logged_in(any_imap_server) as client:
        client.select_folder("INBOX")
        assert client.search("ALL") == [uid]
        fetched = client.fetch([uid], ["BODY.PEEK[]", "FLAGS"])[uid]
    assert fetched[b"BODY[]"] == RAW
    assert b"\\Seen" not in fetched[b"FLAGS"]


def test_imap_append_creates_folder_and_sets_flags(any_imap_server: MailboxServer) -> None:
    uid = any_imap_server.append(RAW, folder="Processed", flags=("\\Seen",))
    with logged_in(any_imap_server) as client:
        assert client.folder_exists("Processed")
        client.select_folder("Processed", readonly=True)
        assert b"\\Seen" in client.get_flags([uid])[uid]


def test_imap_refuses_wrong_password(any_imap_server: MailboxServer) -> None:
    with (
        IMAPClient(any_imap_server.host, any_imap_server.port, ssl=False, timeout=10) as client,
        pytest.raises(LoginError),
    ):
        client.login(any_imap_server.user, "not-the-password")


def test_connections_opened_counts_clients_not_deliveries(any_imap_server: MailboxServer) -> None:
    any_imap_server.append(RAW)
    assert any_imap_server.connections_opened() == 0
    with logged_in(any_imap_server), logged_in(any_imap_server):
        assert any_imap_server.connections_opened() == 2
    any_imap_server.append(RAW)
    assert any_imap_server.connections_opened() == 2


def test_pymap_capabilities_and_id(imap_server: EmbeddedIMAP) -> None:
    with IMAPClient(imap_server.host, imap_server.port, ssl=False, timeout=10) as client:
        before_login = set(client.capabilities())
        client.login(imap_server.user, imap_server.password)
        after_login = set(client.capabilities())
        server_id = client.id_({"name": "formbot"})
    assert b"ID" in before_login
    assert b"STARTTLS" not in before_login
    assert {b"ID", b"IDLE", b"UIDPLUS", b"MOVE"} <= after_login
    assert server_id[0][:2] == (b"name", b"pymap")


def test_pymap_starts_empty_with_our_credentials() -> None:
    with (
        EmbeddedIMAP(user="someone@example.org", password="s3cret") as server,
        IMAPClient(server.host, server.port, ssl=False, timeout=10) as client,
    ):
        client.login("someone@example.org", "s3cret")
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
        assert [name for _, _, name in client.list_folders()] == ["INBOX"]


def test_pymap_reset_folder_changes_uidvalidity(imap_server: EmbeddedIMAP) -> None:
    imap_server.append(RAW)
    with logged_in(imap_server) as client:
        before = client.select_folder("INBOX")[b"UIDVALIDITY"]
        assert before == imap_server.uidvalidity()
        after = imap_server.reset_folder()
        reselected = client.select_folder("INBOX")
    assert after != before
    assert reselected[b"UIDVALIDITY"] == after
    assert reselected[b"EXISTS"] == 0


def test_pymap_idle_reports_delivery(imap_server: EmbeddedIMAP) -> None:
    with logged_in(imap_server) as client:
        client.select_folder("INBOX")
        client.idle()
        imap_server.append(RAW)
        # Blocking reads of whole lines: imapclient's idle_check reads a non-blocking socket
        # and aborts on a line TCP delivered in two pieces, which says nothing of the server.
        client.socket().settimeout(10)
        line = client._imap._get_line()
        while not line.endswith(b"EXISTS"):     # RECENT, FETCH… may come first
            line = client._imap._get_line()
        client.socket().settimeout(None)
        client.idle_done()
    assert line == b"* 1 EXISTS"


def test_pymap_stop_disconnects_clients_and_is_idempotent() -> None:
    server = EmbeddedIMAP().start()
    client = IMAPClient(server.host, server.port, ssl=False, timeout=10)
    client.login(server.user, server.password)
    server.stop()
    server.stop()
    with pytest.raises(IMAPClient.AbortError):
        client.noop()
    client.shutdown()


def test_smtp_records_exact_message(smtp_server: EmbeddedSMTP) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        client.sendmail("sender@example.org", ["a@example.org", "b@example.org"], RAW)
    assert smtp_server.wait_for(1) == [
        ("sender@example.org", ["a@example.org", "b@example.org"], RAW)
    ]


def test_smtp_wait_for_wakes_when_mail_arrives(smtp_server: EmbeddedSMTP) -> None:
    def send() -> None:
        with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
            client.sendmail("sender@example.org", ["a@example.org"], RAW)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert len(smtp_server.wait_for(1, timeout=10)) == 1
    finally:
        sender.join()


def test_smtp_wait_for_times_out(smtp_server: EmbeddedSMTP) -> None:
    with pytest.raises(TimeoutError, match="expected 1 message"):
        smtp_server.wait_for(1, timeout=0.05)


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_smtp_auth_accepts_only_configured_credentials(
    smtp_auth_server: EmbeddedSMTP, mechanism: str
) -> None:
    with smtplib.SMTP(smtp_auth_server.host, smtp_auth_server.port, timeout=10) as client:
        client.ehlo()
        assert mechanism in client.esmtp_features["auth"].split()
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("sender@example.org", ["a@example.org"], RAW)
        assert refused.value.smtp_code == 530
        client.user, client.password = DEMO_USER, "wrong"
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
        client.user, client.password = DEMO_USER, DEMO_PASSWORD
        client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
        client.sendmail("sender@example.org", ["a@example.org"], RAW)
    assert smtp_auth_server.wait_for(1) == [("sender@example.org", ["a@example.org"], RAW)]


def test_smtp_without_credentials_offers_no_auth(smtp_server: EmbeddedSMTP) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
        client.ehlo()
        assert "auth" not in client.esmtp_features


def test_dovecot_missing_is_reported_with_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers.shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(DovecotMissing, match=r"run \.ci/install-dovecot\.sh"):
        Dovecot().start()


@pytest.mark.dovecot
def test_dovecot_offers_id_and_idle(dovecot_server: Dovecot) -> None:
    with IMAPClient(dovecot_server.host, dovecot_server.port, ssl=False, timeout=10) as client:
        before_login = set(client.capabilities())
        client.login(dovecot_server.user, dovecot_server.password)
        after_login = set(client.capabilities())
        server_id = client.id_({"name": "formbot"})
    assert {b"ID", b"IDLE"} <= before_login
    assert {b"ID", b"IDLE", b"UIDPLUS", b"MOVE"} <= after_login
    assert server_id[0][:2] == (b"name", b"Dovecot")


@pytest.mark.dovecot
def test_dovecot_stop_removes_everything_and_is_idempotent() -> None:
    server = Dovecot().start()
    root = server.root
    client = IMAPClient(server.host, server.port, ssl=False, timeout=10)
    client.login(server.user, server.password)
    server.stop()
    server.stop()
    assert not root.exists()
    with pytest.raises((IMAPClient.AbortError, OSError)):
        client.noop()
    client.shutdown()
