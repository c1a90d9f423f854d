"""126/163 (NetEase) refuse SELECT until the client has sent IMAP ID (RFC 2971).

EmbeddedIMAP(require_id=True) is pymap enforcing that rule on the wire, so these tests
show formbot coping with it, a client that skips ID being refused, and the sentence a
person reads when the refusal comes even after ID.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import imapclient
import pytest
from imapclient.exceptions import IMAPClientError

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail
from formbot.demo.smtp_server import EmbeddedSMTP
from ingest.errors import MailboxError
from ingest.imap import ImapTarget, Mailbox
from tests.conftest import PASSWORD
from tests.support.helpers import ACTIVITY, BOT, Bot, write_config

FORMBOT = str(Path(sys.executable).with_name("formbot"))
REFUSAL = "Unsafe Login. Please contact kefu@188.com for help"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FORMBOT_IMAP_PASSWORD": PASSWORD, "FORMBOT_SMTP_PASSWORD": PASSWORD}
    return subprocess.run([FORMBOT, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture
def netease() -> Iterator[tuple[EmbeddedIMAP, EmbeddedSMTP]]:
    """A mailbox that behaves like imap.126.com about ID, and an SMTP server."""
    with EmbeddedIMAP(user=BOT, password=PASSWORD, require_id=True) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        yield imap, smtp


@pytest.fixture
def blocked() -> Iterator[tuple[EmbeddedIMAP, EmbeddedSMTP]]:
    """A 126 account that stays "unsafe" even after ID: nothing a client can do about it."""
    with EmbeddedIMAP(user=BOT, password=PASSWORD, require_id=True, id_unlocks=False) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        yield imap, smtp


def _client(imap: EmbeddedIMAP) -> imapclient.IMAPClient:
    client = imapclient.IMAPClient(imap.host, port=imap.port, ssl=False, timeout=30)
    client.login(imap.user, imap.password)
    return client


def test_a_client_that_skips_id_is_refused_select_and_examine(
    netease: tuple[EmbeddedIMAP, EmbeddedSMTP],
) -> None:
    imap, _ = netease
    client = _client(imap)
    try:
        with pytest.raises(IMAPClientError, match=f"SELECT {REFUSAL}"):
            client.select_folder("INBOX")
        with pytest.raises(IMAPClientError, match=f"EXAMINE {REFUSAL}"):
            client.select_folder("INBOX", readonly=True)
        # The same session, once identified, is let in: the rule is ID, not the account.
        client.id_({"name": "test"})
        assert b"UIDVALIDITY" in client.select_folder("INBOX")
    finally:
        client.logout()


def test_without_require_id_select_needs_no_id(
    servers: tuple[EmbeddedIMAP, EmbeddedSMTP],
) -> None:
    client = _client(servers[0])
    try:
        assert b"UIDVALIDITY" in client.select_folder("INBOX")
    finally:
        client.logout()


def test_poll_reads_the_mailbox_of_a_server_that_requires_id(
    tmp_path: Path, netease: tuple[EmbeddedIMAP, EmbeddedSMTP],
) -> None:
    imap, smtp = netease
    imap.append(build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject="报送附件1",
                           body="见附件", attachments=[("附件1.docx", activity_docx(ACTIVITY))]))
    bot = Bot.at(write_config(tmp_path, imap, smtp))

    report = bot.poll()

    assert (report.new, report.processed, report.failed) == (1, 1, 0)
    assert len(smtp.wait_for(1)) == 1


def test_doctor_logs_in_with_id_to_a_server_that_requires_it(
    tmp_path: Path, netease: tuple[EmbeddedIMAP, EmbeddedSMTP],
) -> None:
    config = write_config(tmp_path, *netease)

    result = run("doctor", "--config", str(config), cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ 收信（IMAP）" in result.stdout and "已发送 IMAP ID" in result.stdout


def test_a_refusal_after_id_is_a_sentence_a_person_can_act_on(
    tmp_path: Path, blocked: tuple[EmbeddedIMAP, EmbeddedSMTP],
) -> None:
    imap, _ = blocked
    target = ImapTarget(imap.host, imap.port, "plain", BOT, PASSWORD)
    with pytest.raises(MailboxError) as refused:
        Mailbox(target).open()
    text = str(refused.value)
    # What the server said, that formbot already sent ID, and where the person goes next.
    assert f"SELECT {REFUSAL}" in text and "select failed" not in text
    assert "已按 126/163 的要求发送 IMAP ID" in text
    assert "POP3/SMTP/IMAP" in text and "授权码" in text
    assert "\n" not in text and "Traceback" not in text


def test_poll_and_doctor_print_the_refusal_without_a_traceback(
    tmp_path: Path, blocked: tuple[EmbeddedIMAP, EmbeddedSMTP],
) -> None:
    config = write_config(tmp_path, *blocked)

    poll = run("poll", "--config", str(config), cwd=tmp_path)
    assert poll.returncode == 1
    lines = poll.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误：邮箱服务器"), poll.stderr
    assert "不安全登录" in lines[0] and "已按 126/163 的要求发送 IMAP ID" in lines[0]

    doctor = run("doctor", "--config", str(config), cwd=tmp_path)
    assert doctor.returncode == 1 and "Traceback" not in doctor.stdout + doctor.stderr
    imap_line = next(line for line in doctor.stdout.splitlines() if "收信（IMAP）" in line)
    assert imap_line.startswith("✗") and "不安全登录" in imap_line
    assert "✓ 发信（SMTP）" in doctor.stdout


def test_a_refusal_when_id_could_not_be_sent_says_so() -> None:
    # pymap always offers ID, so the branch for a server that does not is checked on the
    # sentence itself: a Mailbox that never connected, with the capabilities it would see.
    box = Mailbox(ImapTarget("imap.126.com", 993, "ssl", BOT, PASSWORD))
    box.capabilities = frozenset({b"IMAP4REV1"})
    text = box._select_refused(f"SELECT {REFUSAL}")
    assert "formbot 未能发送（服务器未声明支持 ID）" in text and "mailbox.host" in text
    box.capabilities = frozenset({b"IMAP4REV1", b"ID"})
    assert "服务器拒绝了 ID 命令" in box._select_refused(f"SELECT {REFUSAL}")
    other = box._select_refused("SELECT Mailbox does not exist.")
    assert "mailbox.folder" in other and "不安全登录" not in other
