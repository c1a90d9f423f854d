"""One sentence, never a dump, never a secret (issue 11 part 2).

Distinctive IMAP and SMTP passwords are planted in the environment, and every failure
path is driven through the real CLI as a subprocess: a bad config, servers down, wrong
passwords, an unknown host, a connection reset, a crash injected in the outbox and in a
reader, an unwritable export path and data_dir. Neither password may appear in stdout,
stderr, the log, the database or any file under the test's folder; no output holds a
traceback unless --verbose asked for it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sqlmodel import Session

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail
from formbot.demo.smtp_server import EmbeddedSMTP
from notifier.compose import Sender, compose
from notifier.outbox import enqueue
from tests.support.helpers import ACTIVITY, BOT, NOW, Bot, write_config

IMAP_SECRET = "imapPw-Zq8v1KcW3x"
SMTP_SECRET = "smtpPw-Lr5n9TbY2u"
SECRETS = (IMAP_SECRET, SMTP_SECRET)
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    args: list[str]
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


class Cli:
    """formbot as a user runs it: a subprocess, with the planted passwords."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.runs: list[Run] = []

    def __call__(self, *args: str, env: dict[str, str] | None = None,
                 config: Path | None = None) -> Run:
        command = [sys.executable, "-m", "formbot.cli", *args]
        if config is not None:
            command += ["--config", str(config)]
        environment = {**os.environ, "FORMBOT_IMAP_PASSWORD": IMAP_SECRET,
                       "FORMBOT_SMTP_PASSWORD": SMTP_SECRET, "PYTHONPATH": str(ROOT),
                       "COLUMNS": "200", **(env or {})}
        environment.pop("FORMBOT_CONFIG", None)
        done = subprocess.run(command, capture_output=True, text=True, env=environment,
                              cwd=self.tmp, timeout=120, check=False)
        run = Run(list(args), done.returncode, done.stdout, done.stderr)
        self.runs.append(run)
        return run


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(tmp_path)
    yield runner
    # Whatever each test did: no secret anywhere, no traceback unless --verbose.
    for run in runner.runs:
        for secret in SECRETS:
            assert secret not in run.text, (run.args, run.text)
        if "--verbose" not in run.args:
            assert "Traceback" not in run.text, (run.args, run.text)
            assert "内部错误：" not in run.text or "详情见日志" in run.text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in SECRETS:
                assert secret.encode() not in data, path


@pytest.fixture
def servers() -> Iterator[tuple[EmbeddedIMAP, EmbeddedSMTP]]:
    with EmbeddedIMAP(user=BOT, password=IMAP_SECRET) as imap, \
            EmbeddedSMTP(user=BOT, password=SMTP_SECRET) as smtp:
        yield imap, smtp


def config_for(tmp: Path, imap: object, smtp: object, **overrides: object) -> Path:
    # data_dir is not ./data: the hint must name the real log.
    return write_config(tmp, imap, smtp, data_dir=str(tmp / "store-here"), **overrides)


def form_mail() -> bytes:
    return build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject="申报", body="",
                      attachments=[("a.docx", activity_docx(ACTIVITY))])


def queue_receipt(config: Path) -> None:
    bot = Bot.at(config)
    mail = compose(kind="receipt", sender=Sender(BOT), to=["kjl_gh@example.cn"],
                   subject="回执", body="已收到。", now=NOW)
    with Session(bot.engine) as session:
        enqueue(session, kind="receipt", dedup_key="planted", message=mail, now=NOW)
        session.commit()
    bot.engine.dispose()


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Endpoint:
    def __init__(self, port: int) -> None:
        self.host, self.port = "127.0.0.1", port


def test_an_impossible_date_and_other_wrong_values_are_one_chinese_sentence(
        cli: Cli, tmp_path: Path) -> None:
    config = config_for(tmp_path, _Endpoint(dead_port()), _Endpoint(dead_port()))
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["campaign"]["deadline"] = "2018-06-31"
    text = yaml.safe_dump(data, allow_unicode=True).replace("'2018-06-31'", "2018-06-31")
    config.write_text(text, encoding="utf-8")
    run = cli("status", config=config)
    assert run.code == 1
    assert "campaign.deadline" in run.err and "2018年6月没有31日" in run.err
    assert len(run.err.strip().splitlines()) == 1

    data["campaign"]["deadline"] = "2018-06-15"
    data["smtp"]["port"] = "二十五"
    data["smtp"]["security"] = "tls"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    run = cli("poll", config=config)
    assert run.code == 1
    assert "smtp.port：应为整数" in run.err and "smtp.security：只能是 ssl、starttls、plain 之一" \
        in run.err


def test_servers_down_wrong_passwords_unknown_host_and_reset(
        cli: Cli, tmp_path: Path) -> None:
    down = config_for(tmp_path, _Endpoint(dead_port()), _Endpoint(dead_port()))
    run = cli("poll", config=down)
    assert run.code == 1 and "无法连接邮箱服务器" in run.err and "连接被拒绝" in run.err
    run = cli("doctor", config=down)
    assert run.code == 1 and "无法连接发信服务器" in run.out and "连接被拒绝" in run.out

    with EmbeddedIMAP(user=BOT, password="another-imap") as imap, \
            EmbeddedSMTP(user=BOT, password="another-smtp") as smtp:
        wrong = config_for(tmp_path, imap, smtp)
        run = cli("poll", config=wrong)
        assert run.code == 1 and "登录被拒绝" in run.err
        run = cli("doctor", config=wrong)
        assert run.code == 1 and "拒绝登录" in run.out and "登录被拒绝" in run.out

    with EmbeddedIMAP(user=BOT, password=IMAP_SECRET) as imap, \
            EmbeddedSMTP(user=BOT, password="another-smtp") as smtp:
        queue_receipt(smtp_wrong := config_for(tmp_path, imap, smtp))
        run = cli("poll", config=smtp_wrong)
        assert run.code == 3 and "发信服务器 127.0.0.1 拒绝登录" in run.err

    with EmbeddedIMAP(user=BOT, password=IMAP_SECRET) as imap, _resetting() as port:
        reset = config_for(tmp_path, imap, _Endpoint(port))
        run = cli("poll", config=reset)
        assert run.code == 3 and "服务器断开了连接" in run.err and "smtp.security" in run.err
        unknown = config_for(tmp_path, imap, _Endpoint(25), smtp__host="no-such-host.invalid")
        run = cli("doctor", config=unknown)
        assert run.code == 1 and "找不到发信服务器 no-such-host.invalid" in run.out


def test_a_crash_in_the_outbox_is_one_sentence_with_the_real_log_path(
        cli: Cli, tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]) -> None:
    imap, smtp = servers
    config = config_for(tmp_path, imap, smtp)
    queue_receipt(config)
    run = cli("poll", config=config, env={"FORMBOT_FAIL_AT": "outbox-send"})
    assert run.code == 2
    log = tmp_path / "store-here" / "logs" / "formbot.log"
    assert "内部错误" in run.err and "InjectedFailure" in run.err
    assert f"详情见日志 {log.resolve()}" in run.err
    assert len(run.err.strip().splitlines()) == 1
    logged = log.read_text(encoding="utf-8")
    assert "Traceback" in logged and "injected failure at outbox-send" in logged
    verbose = cli("poll", "--verbose", config=config, env={"FORMBOT_FAIL_AT": "outbox-send"})
    assert verbose.code == 2 and "Traceback" in verbose.err   # asked for: still no secret


def test_a_crash_in_a_reader_fails_that_mail_only(
        cli: Cli, tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]) -> None:
    imap, smtp = servers
    config = config_for(tmp_path, imap, smtp)
    imap.append(form_mail())
    run = cli("poll", config=config, env={"FORMBOT_FAIL_AT": "reader"})
    assert run.code == 0 and "失败 1 封" in run.out
    status = cli("status", config=config)
    # the admin reads a sentence; the exception itself is in the log
    assert status.code == 0 and "injected failure at reader" not in status.out
    assert "系统读取这封邮件时出错" in status.out
    again = cli("poll", config=config)
    assert again.code == 0 and len(smtp.wait_for(1)) == 1   # read again, answered once


def test_unwritable_export_and_data_dir_are_one_sentence(
        cli: Cli, tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]) -> None:
    imap, smtp = servers
    config = config_for(tmp_path, imap, smtp)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    run = cli("export", "--out", str(blocker / "汇总.xlsx"), config=config)
    assert run.code == 1
    assert f"无法写入 {blocker / '汇总.xlsx'}（路径中有一段不是目录而是文件）" in run.err
    if os.geteuid() == 0:   # root writes anywhere but to /sys
        run = cli("export", "--out", "/sys/汇总.xlsx", config=config)
        # permission denied on a host; a container mounts /sys read-only
        assert run.code == 1 and ("无法写入 /sys/汇总.xlsx（没有权限）" in run.err
                                  or "无法写入 /sys/汇总.xlsx（所在的磁盘或目录是只读的）" in run.err)
    # A data_dir this process may not write: /sys refuses even root; as another user, a
    # folder without write permission does.
    if os.geteuid() == 0:
        read_only = Path("/sys/formbot-read-only")
    else:
        read_only = tmp_path / "read-only"
        read_only.mkdir(mode=0o500)
    locked = write_config(tmp_path, imap, smtp, data_dir=str(read_only))
    run = cli("poll", config=locked)
    assert run.code == 1 and f"无法写入 {read_only}" in run.err and "data_dir" in run.err


class _resetting:
    """A TCP server that accepts and closes at once: the line reset before a greeting."""

    def __enter__(self) -> int:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return int(self.sock.getsockname()[1])

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.close()

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=5)
