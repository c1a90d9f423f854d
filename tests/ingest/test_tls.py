"""The mailbox over implicit TLS, as 126.com's port 993 is: login, streamed fetch, IDLE,
and a whole poll, through a TLS relay in front of pymap (the client verifies the
certificate: trusted through SSL_CERT_FILE, never with verification turned off)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail, volunteer_docx
from formbot.demo.smtp_server import EmbeddedSMTP
from ingest.errors import MailboxError
from ingest.imap import ImapTarget, Mailbox
from tests.conftest import PASSWORD
from tests.support.helpers import ACTIVITY, BOT, VOLUNTEER, Bot, parse_sent, write_config
from tests.support.relay import Relay, self_signed, server_context


def _mail(n: int) -> bytes:
    return build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject=f"申报{n}", body="",
                      attachments=[("a.docx", activity_docx(ACTIVITY)),
                                   ("b.docx", volunteer_docx(VOLUNTEER))],
                      message_id=f"<tls{n}@example.cn>")


@pytest.fixture
def tls_front(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              servers: tuple[EmbeddedIMAP, EmbeddedSMTP]) -> Iterator[Relay]:
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    imap, _ = servers
    with Relay(imap.host, imap.port, tls=server_context(cert, key), trickle=True) as relay:
        yield relay


def test_fetch_and_idle_over_implicit_tls(
    tls_front: Relay, servers: tuple[EmbeddedIMAP, EmbeddedSMTP], tmp_path: Path,
) -> None:
    imap, _ = servers
    first = _mail(1)
    imap.append(first)
    target = ImapTarget(tls_front.host, tls_front.port, "ssl", BOT, PASSWORD, timeout=10)
    with Mailbox(target) as box:
        uids = box.new_uids(0)
        ((_, kept),) = box.fetch_to_disk(uids, tmp_path / "data")
        assert kept.path.read_bytes() == first        # byte for byte, through TLS
        box.idle_start()
        assert box.idle_wait(timeout=0) is False
        imap.append(_mail(2))
        assert any(box.idle_wait(timeout=10) for _ in range(5))
        box.idle_done()
        assert len(box.new_uids(0)) == 2               # the session is still in step


def test_an_untrusted_certificate_is_refused_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    servers: tuple[EmbeddedIMAP, EmbeddedSMTP],
) -> None:
    imap, _ = servers
    cert, key = self_signed(tmp_path)                # served, but not trusted by the client
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with Relay(imap.host, imap.port, tls=server_context(cert, key)) as relay, \
            pytest.raises(MailboxError) as refused:
        Mailbox(ImapTarget(relay.host, relay.port, "ssl", BOT, PASSWORD, timeout=10)).open()
    assert "TLS" in str(refused.value) and "CERTIFICATE_VERIFY_FAILED" in str(refused.value)


def test_a_whole_poll_over_implicit_tls(
    tls_front: Relay, servers: tuple[EmbeddedIMAP, EmbeddedSMTP], tmp_path: Path,
) -> None:
    imap, smtp = servers
    # smtp.126.com:465 is implicit TLS too. SSL_CERT_FILE trusts the IMAP relay's
    # certificate (tls_front made it in tmp_path); the SMTP relay serves the same one.
    context = server_context(tmp_path / "cert.pem", tmp_path / "key.pem")
    with Relay(smtp.host, smtp.port, tls=context) as smtp_front:
        bot = Bot.at(write_config(tmp_path, imap, smtp, mailbox__host=tls_front.host,
                                  mailbox__port=tls_front.port, mailbox__security="ssl",
                                  smtp__host=smtp_front.host, smtp__port=smtp_front.port,
                                  smtp__security="ssl"))
        for n in (1, 2, 3):
            imap.append(_mail(n))
        report = bot.poll()
    assert (report.processed, report.failed, report.receipts) == (3, 0, 3)
    assert report.delivery.sent == 3
    sent = smtp.wait_for(3)
    assert {parse_sent(raw)["In-Reply-To"] for _, _, raw in sent} == {
        "<tls1@example.cn>", "<tls2@example.cn>", "<tls3@example.cn>"}
