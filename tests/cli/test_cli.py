"""The commands as the admin runs them: real processes, real servers, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
import yaml

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail, volunteer_xlsx
from formbot.demo.smtp_server import EmbeddedSMTP
from tests.conftest import PASSWORD
from tests.support.helpers import ACTIVITY, BOT, VOLUNTEER, sheet_table, write_config

FORMBOT = str(Path(sys.executable).with_name("formbot"))


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "FORMBOT_IMAP_PASSWORD": PASSWORD,
                "FORMBOT_SMTP_PASSWORD": PASSWORD, **(env or {})}
    return subprocess.run([FORMBOT, *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=120, check=False)



def test_poll_status_export_as_the_admin_runs_them(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    config = write_config(tmp_path, imap, smtp)
    imap.append(build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject="报送",
                           body="见附件", attachments=[("附件1.docx", activity_docx(ACTIVITY)),
                                                       ("附件2.xlsx", volunteer_xlsx(VOLUNTEER))]))

    poll = run("poll", "--config", str(config), "--now", "2018-06-10T10:00:00+08:00",
               cwd=tmp_path)
    assert poll.returncode == 0, poll.stderr
    assert "新邮件 1 封" in poll.stdout and "发出回执等邮件 1 封" in poll.stdout
    assert len(smtp.wait_for(1)) == 1

    table = run("status", "--config", str(config), cwd=tmp_path)
    assert table.returncode == 0 and "定海路街道总工会" in table.stdout
    assert "已提交（3行）" in table.stdout and "已交齐 1/4" in table.stdout

    data = json.loads(run("status", "--json", cwd=tmp_path,
                          env={"FORMBOT_CONFIG": str(config)}).stdout)
    assert data["units_complete"] == 1 and data["units"][0]["forms"]["activity"]["rows"] == 3

    out = tmp_path / "out" / "汇总.xlsx"
    export = run("export", "--config", str(config), "--out", str(out), cwd=tmp_path)
    assert export.returncode == 0, export.stderr
    book = openpyxl.load_workbook(out)
    assert len(sheet_table(book["主题活动申报表"])) == 4
    assert sheet_table(book["提交情况"])[1][1] == "已提交"

    csv = run("export", "--config", str(config), "--out", str(tmp_path / "汇总.csv"),
              cwd=tmp_path)
    assert csv.returncode == 1 and not (tmp_path / "汇总.csv").exists()
    assert csv.stderr.count("\n") == 1 and "汇总.xlsx" in csv.stderr, csv.stderr


def test_config_in_the_working_directory_is_the_default(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    write_config(tmp_path, *servers)
    result = run("status", "--json", cwd=tmp_path)
    assert result.returncode == 0 and json.loads(result.stdout)["units_total"] == 4


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: c["mailbox"].pop("host"), "mailbox.host：缺少这个配置项"),
    (lambda c: c["smtp"].update(port="abc"), "smtp.port"),
    (lambda c: c["campaign"].update(deadlin="2018-06-15"), "campaign.deadlin：未知的配置项"),
    (lambda c: c["mailbox"].update(security="tls"), "mailbox.security"),
])
def test_a_bad_config_is_one_sentence_naming_the_key(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP], change: object, expected: str
) -> None:
    config = write_config(tmp_path, *servers)
    data = yaml.safe_load(config.read_text("utf-8"))
    change(data)  # type: ignore[operator]
    config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    result = run("poll", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert expected in result.stderr and str(config) in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_missing_config_and_unreachable_server_are_explained(tmp_path: Path) -> None:
    missing = run("status", cwd=tmp_path)
    assert missing.returncode == 1 and "找不到配置文件" in missing.stderr

    class Closed:
        host, port = "127.0.0.1", 1
    config = write_config(tmp_path, Closed, Closed)
    down = run("poll", "--config", str(config), cwd=tmp_path)
    assert down.returncode == 1
    assert "无法连接邮箱服务器 127.0.0.1:1" in down.stderr and "Traceback" not in down.stderr


def test_wrong_password_and_missing_password_variable(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    config = write_config(tmp_path, *servers)
    wrong = run("poll", "--config", str(config), cwd=tmp_path,
                env={"FORMBOT_IMAP_PASSWORD": "not-the-code"})
    assert wrong.returncode == 1 and "登录被拒绝" in wrong.stderr
    assert "not-the-code" not in wrong.stderr
    unset = run("poll", "--config", str(config), cwd=tmp_path, env={"FORMBOT_IMAP_PASSWORD": ""})
    assert unset.returncode == 1 and "FORMBOT_IMAP_PASSWORD" in unset.stderr


def test_doctor_checks_everything_and_says_what_is_wrong(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    config = write_config(tmp_path, *servers)
    good = run("doctor", "--config", str(config), cwd=tmp_path)
    assert good.returncode == 0, good.stdout
    assert "✓ 数据库" in good.stdout and "✓ 收信（IMAP）" in good.stdout
    assert "✓ 发信（SMTP）" in good.stdout
    bad = run("doctor", "--config", str(config), cwd=tmp_path,
              env={"FORMBOT_SMTP_PASSWORD": "nope"})
    assert bad.returncode == 1 and "✗ 发信（SMTP）" in bad.stdout and "拒绝登录" in bad.stdout


def test_doctor_logs_in_to_every_mailbox_of_the_config(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    second = {"host": imap.host, "port": imap.port, "security": "plain",
              "username": "nobody@126.com", "password_env": "FORMBOT_IMAP_PASSWORD"}
    config = write_config(tmp_path, imap, smtp, mailboxes=[second])
    result = run("doctor", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1                 # the second account does not exist
    assert f"✓ 收信（IMAP {BOT}）" in result.stdout
    assert "✗ 收信（IMAP nobody@126.com）" in result.stdout


def test_demo_runs_the_whole_pipeline_and_writes_the_workbook(tmp_path: Path) -> None:
    result = run("demo", "--dir", str(tmp_path / "demo"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "已交齐" in result.stdout and "定海路街道总工会" in result.stdout
    assert "催报节点" in result.stdout
    book = openpyxl.load_workbook(tmp_path / "demo-export.xlsx")
    assert book.sheetnames == ["主题活动申报表", "志愿者服务队登记表", "提交情况"]
    assert len(sheet_table(book["主题活动申报表"])) > 10


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    for command in ("poll", "status", "export", "doctor", "demo", "remind"):
        assert command in result.stdout
