"""The wild-mail tier: 446 public test mails nobody here wrote, in Dovecot, two polls.

The mails live in `../shared/wildmail/` beside the repository (or `$FORMBOT_WILDMAIL`):
bounces, auto-replies, list mail, spam, malformed MIME from six public corpora. None of
their senders is a registered unit, so every receipt formbot sends is a reply to a
stranger and must be justified by the contract's rule for mail with no usable form.

Run by `make wild-test` (CI: `.ci/run`); the default suite leaves it out (marker `wild`).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from email.header import decode_header, make_header
from email.message import Message as EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient

from formbot.demo.smtp_server import EmbeddedSMTP
from tests.support.helpers import BOT, write_config
from tests.support.servers import Dovecot

pytestmark = [pytest.mark.wild, pytest.mark.dovecot]

REPO = Path(__file__).resolve().parents[2]
FORMBOT = str(Path(sys.executable).with_name("formbot"))
PASSWORD = "wild-tier-imap-secret"
SMTP_PASSWORD = "wild-tier-smtp-secret"

# Headers added on the way (relays, filters, signers, resenders): two deliveries of one
# mail differ only in these, and in line endings.
TRANSIT = ("received", "delivered-to", "return-path", "x-", "envelope-to",
           "authentication-results", "arc-", "dkim-signature", "domainkey-signature",
           "received-spf", "resent-")
# Words that would make a stranger's mail concern the campaign (CONTRACT.md).
CAMPAIGN_WORDS = ("杨工", "主题活动", "申报表", "志愿者服务队", "登记表", "附件1", "附件2",
                  "劳模精神", "创新杨浦", "总工会")


def wildmail_dir() -> Path:
    """$FORMBOT_WILDMAIL, else `shared/wildmail` beside the checkout or one of its parents
    (a CI clone may sit deeper than the working copy)."""
    configured = os.environ.get("FORMBOT_WILDMAIL")
    candidates = [Path(configured)] if configured else [
        parent / "shared" / "wildmail" for parent in REPO.parents]
    for folder in candidates:
        if (folder / "MANIFEST.tsv").is_file():
            return folder
    raise FileNotFoundError(
        "the wild-mail corpus (shared/wildmail) was not found beside the checkout: "
        "set FORMBOT_WILDMAIL to its folder")


def wild_files() -> list[Path]:
    folder = wildmail_dir()
    lines = (folder / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [folder / line.split("\t")[0] for line in lines if line.strip()]


def _parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw)


def identity(raw: bytes) -> str:
    """One mail however often and however it was delivered: its bytes without the
    transit headers, line endings and trailing blanks aside."""
    text = raw.replace(b"\r\n", b"\n")
    head, sep, body = text.partition(b"\n\n")
    kept: list[bytes] = []
    skipping = False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line.rstrip())
            continue
        name = line.split(b":", 1)[0].strip().lower().decode("latin-1")
        skipping = name.startswith(TRANSIT) or line.startswith(b"From ")
        if not skipping:
            kept.append(line.rstrip())
    body = b"\n".join(line.rstrip() for line in body.split(b"\n")).rstrip()
    return hashlib.sha256(b"\n".join(kept) + sep + body).hexdigest()


def never_answered(message: EmailMessage) -> str | None:
    """Why the contract forbids any reply to this mail, judged here independently of
    formbot's own code; None when a reply could be allowed."""
    def value(name: str) -> str:
        return str(message.get(name, "") or "").strip().lower()

    if value("auto-submitted") not in ("", "no"):
        return "Auto-Submitted"
    if value("x-spam-flag").startswith("yes") or value("x-spam-status").startswith("yes"):
        return "marked as spam"
    if any(name.lower().startswith("list-") for name in message) or \
            message.get("Mailing-List") or message.get("X-Mailing-List"):
        return "list mail"
    if value("precedence") in ("bulk", "junk", "list"):
        return f"Precedence: {value('precedence')}"
    content_type = message.get_content_type()
    if content_type in ("multipart/report", "message/disposition-notification"):
        return "delivery/read report"
    sender = value("from") + " " + value("return-path")
    if re.search(r"mailer-daemon|postmaster@|<>", sender):
        return "bounce"
    return None


class TreeMemory:
    """Peak resident memory of a process and all its descendants, sampled from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def _rss(self, pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _run(self) -> None:
        while not self._done.wait(0.05):
            self.peak_kb = max(self.peak_kb, sum(self._rss(p) for p in self._tree()))

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak_kb / 1024


def run_poll(config: Path, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "FORMBOT_IMAP_PASSWORD": PASSWORD, "FORMBOT_SMTP_PASSWORD": SMTP_PASSWORD}
    process = subprocess.Popen([FORMBOT, "poll", "--config", str(config)], cwd=cwd, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    memory = TreeMemory(process.pid)
    try:
        out, err = process.communicate(timeout=900)
    finally:
        peak = memory.stop()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err), peak


@pytest.fixture
def wild_dovecot() -> Iterator[Dovecot]:
    with Dovecot(user=BOT, password=PASSWORD) as server:
        yield server


def _append_all(server: Dovecot, files: list[Path]) -> dict[int, bytes]:
    """Every mail into INBOX over one connection; returns UID → raw bytes."""
    by_uid: dict[int, bytes] = {}
    with IMAPClient(server.host, server.port, ssl=False, timeout=60) as client:
        client.login(server.user, server.password)
        for path in files:
            raw = path.read_bytes()
            response = client.append("INBOX", raw)
            found = re.search(rb"\[APPENDUID \d+ (\d+)\]", response)
            assert found, f"Dovecot refused {path.name}: {response!r}"
            by_uid[int(found.group(1))] = raw
    return by_uid


def _decoded(value: str | None) -> str:
    if not value:
        return ""
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # a malformed header is shown as it came
        return value


def test_the_wild_mailbox_is_read_whole_and_strangers_get_no_backscatter(
        tmp_path: Path, wild_dovecot: Dovecot) -> None:
    files = wild_files()
    assert len(files) == 446
    by_uid = _append_all(wild_dovecot, files)
    distinct = {identity(raw) for raw in by_uid.values()}
    byte_distinct = {hashlib.sha256(raw).hexdigest() for raw in by_uid.values()}

    with EmbeddedSMTP(user=BOT, password=SMTP_PASSWORD) as smtp:
        config = write_config(tmp_path, wild_dovecot, smtp)
        first, peak_first = run_poll(config, tmp_path)
        assert first.returncode == 0, first.stderr[-3000:]
        assert "Traceback" not in first.stderr + first.stdout
        sent_first = list(smtp.messages)
        second, peak_second = run_poll(config, tmp_path)
        assert second.returncode == 0, second.stderr[-3000:]
        sent_second = smtp.messages[len(sent_first):]

    # The second poll fetches and sends nothing.
    assert sent_second == [], [m[1] for m in sent_second]

    db = sqlite3.connect(tmp_path / "data" / "formbot.db")
    try:
        stored = db.execute("SELECT count(*) FROM message").fetchone()[0]
        pending = db.execute(
            "SELECT count(*) FROM outgoing WHERE status = 'pending'").fetchone()[0]
    finally:
        db.close()
    # Every distinct mail is recorded: at least one row per mail as the contract counts
    # mails (same Message-ID and content is one), at most one per distinct byte string.
    assert len(distinct) <= stored <= len(byte_distinct), (stored, len(distinct))

    originals: dict[str, list[EmailMessage]] = {}
    for raw in by_uid.values():
        parsed = _parse(raw)
        originals.setdefault(str(parsed.get("Message-ID", "")).strip(), []).append(parsed)

    strangers: list[str] = []
    forbidden: list[str] = []
    for _mail_from, rcpts, raw in sent_first:
        receipt = email.message_from_bytes(raw, policy=email.policy.default)
        if receipt.get("X-Formbot-Kind") != "receipt":
            continue
        sources = originals.get(str(receipt.get("In-Reply-To", "")).strip(), [])
        reasons = [never_answered(m) for m in sources]
        if sources and all(reasons):
            forbidden.append(f"{rcpts} ← {reasons[0]}: {_decoded(sources[0].get('Subject'))}")
        text = "".join(_decoded(m.get("Subject")) for m in sources)
        body = receipt.get_body(preferencelist=("plain",))
        first_line = body.get_content().strip().splitlines()[0] if body else ""
        strangers.append(f"{', '.join(rcpts)} | {text[:60]} | {first_line[:80]}")

    print(f"\nwild tier: {len(files)} files, {len(distinct)} distinct mails, {stored} stored; "
          f"receipts to strangers: {len(strangers)}; outbox pending: {pending}; "
          f"peak RSS of the poll's process tree: {peak_first:.1f} MB (first poll), "
          f"{peak_second:.1f} MB (second poll)")
    for line in strangers:
        print("  reply to a stranger:", line)

    assert forbidden == [], forbidden
    assert pending == 0
    # A stranger's mail earns a receipt only if it concerns the campaign; none of these does.
    concerned = [line for line in strangers if any(w in line for w in CAMPAIGN_WORDS)]
    assert len(strangers) == len(concerned), strangers
