"""Mail filed under a unit by its 填报单位 although sent from an address the unit did not
register: marked in `formbot status` (table and JSON) and in the admin's digest, with the
receiving server's Authentication-Results verdict beside it."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail, volunteer_docx
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.jobs.worker import Worker
from formbot.reports.status import auth_summary, status_data
from tests.conftest import PASSWORD
from tests.support.helpers import (
    ACTIVITY,
    BOT,
    TZ,
    VOLUNTEER,
    Bot,
    body_of,
    parse_sent,
    write_config,
)

FORMBOT = str(Path(sys.executable).with_name("formbot"))
ADMIN = "admin@yp.example"
# What 126 puts on top of a mail whose DKIM signature verifies but whose sending host the
# domain's SPF record does not list: the typical look of a forwarded or spoofed sender.
AUTH_126 = ("126.com; dkim=pass header.i=@qq.com header.s=s201512; "
            "spf=fail (126.com: domain of stranger@qq.com does not designate 203.0.113.7 "
            "as permitted sender) smtp.mailfrom=stranger@qq.com")
CONTRACT_KEYS = {"campaign", "deadline", "units_total", "units_complete", "units", "unmatched",
                 "failed", "outbox", "waiting"}
YINHANG = "殷行街道总工会"
SENT = datetime(2018, 6, 10, 14, 0, tzinfo=TZ)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FORMBOT_IMAP_PASSWORD": PASSWORD, "FORMBOT_SMTP_PASSWORD": PASSWORD}
    return subprocess.run([FORMBOT, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def form_mail(sender: str, unit_text: str, message_id: str, *,
              headers: dict[str, str] | None = None, volunteer: bool = False,
              sent: datetime = SENT) -> bytes:
    attachments = [("附件1.docx", activity_docx(dataclasses.replace(ACTIVITY, unit_text=unit_text)))]
    if volunteer:
        attachments.append(
            ("附件2.docx", volunteer_docx(dataclasses.replace(VOLUNTEER, unit_text=unit_text))))
    return build_mail(from_addr=sender, to_addr=BOT, subject=f"{unit_text}报送", body="见附件",
                      attachments=attachments, message_id=message_id, date=sent,
                      extra_headers=headers)


@pytest.fixture
def bot(tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]) -> Bot:
    imap, smtp = servers
    return Bot.at(write_config(tmp_path, imap, smtp, campaign__admin_emails=[ADMIN],
                               campaign__reminders=[]))


def status_json(tmp_path: Path) -> dict[str, Any]:
    result = run("status", "--json", "--config", str(tmp_path / "config.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def marks(bot: Bot) -> list[dict[str, Any]]:
    """What the text status and the console mark (the JSON keeps to the contract)."""
    data: list[dict[str, Any]] = status_data(bot.settings, engine=bot.engine,
                                             sender_check=True)["sender_mismatch"]
    return data


def status_text(tmp_path: Path) -> str:
    result = run("status", "--config", str(tmp_path / "config.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_registered_address_is_not_marked(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP], bot: Bot
) -> None:
    imap, _ = servers
    # The registered sender even writes an alias: the address decides, and it is the unit's.
    imap.append(form_mail("dhjd_gh@example.cn", "定海路街道工会", "<own@example.cn>",
                          headers={"Authentication-Results": "126.com; spf=pass"}))
    # 区教育工会 registered no address: there is nothing to compare a sender with.
    imap.append(form_mail("jiaoyu@school.example", "区教育工会", "<edu@school.example>"))
    assert bot.poll(SENT + timedelta(hours=1)).processed == 2

    data = status_json(tmp_path)
    assert set(data) == CONTRACT_KEYS
    assert marks(bot) == []
    assert data["units"][0]["forms"]["activity"]["submitted"] is True
    text = status_text(tmp_path)
    assert "※" not in text and "发件地址不是登记邮箱" not in text


def test_another_address_is_marked_in_status_and_digest_with_its_auth_results(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP], bot: Bot
) -> None:
    imap, smtp = servers
    imap.append(form_mail("dhjd_gh@example.cn", "定海路街道总工会", "<own@example.cn>"))
    imap.append(form_mail("stranger@qq.com", YINHANG, "<spoof@qq.com>",
                          headers={"Authentication-Results": AUTH_126}))
    bot.poll(SENT + timedelta(hours=1))
    assert len(smtp.wait_for(2)) == 2      # both receipts

    data = status_json(tmp_path)
    # The contract fixes the JSON: the mark is in the text table, the digest and the console.
    assert set(data) == CONTRACT_KEYS and data["unmatched"] == [] and data["failed"] == []
    yinhang = next(u for u in data["units"] if u["name"] == YINHANG)
    assert yinhang["forms"]["activity"] == {"submitted": True, "rows": 3,
                                            "received_at": "2018-06-10T14:00:00+08:00"}
    [mark] = marks(bot)
    assert mark["unit"] == YINHANG and mark["message_id"] == "<spoof@qq.com>"
    assert mark["from"] == "stranger@qq.com"
    assert "dkim=pass" in mark["auth"] and "spf=fail" in mark["auth"]
    assert mark["auth"].startswith("126.com;")     # the header as recorded, on one line

    text = status_text(tmp_path)
    assert f"{YINHANG} ※" in text and "定海路街道总工会 ※" not in text
    assert "发件地址不是登记邮箱" in text
    line = next(x for x in text.splitlines() if "stranger@qq.com" in x)
    assert YINHANG in line and "邮件认证：dkim=pass spf=fail" in line
    # A person finds the mail by sender; the Message-ID only with --verbose (issue 14).
    assert "<spoof@qq.com>" not in text
    verbose = run("status", "--verbose", "--config", str(tmp_path / "config.yaml"), cwd=tmp_path)
    assert "<spoof@qq.com>" in verbose.stdout

    clock = [datetime(2018, 6, 11, 9, 1, tzinfo=TZ)]
    Worker(bot.settings, engine=bot.engine, clock=lambda: clock[0]).daily()
    [digest] = [parse_sent(raw) for _, rcpts, raw in smtp.wait_for(3) if rcpts == [ADMIN]]
    body = body_of(digest)
    assert f"{YINHANG}：主题活动申报表3行　※发件地址非登记邮箱" in body
    assert "定海路街道总工会：主题活动申报表3行\n" in body
    listed = [x for x in body.splitlines() if "stranger@qq.com" in x]
    assert len(listed) == 1 and YINHANG in listed[0]
    assert "邮件认证：dkim=pass spf=fail" in listed[0]
    assert "dhjd_gh@example.cn" not in body


def test_without_authentication_results_the_mark_says_so(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP], bot: Bot
) -> None:
    imap, _ = servers
    imap.append(form_mail("stranger@qq.com", YINHANG, "<noauth@qq.com>"))
    bot.poll(SENT + timedelta(hours=1))

    [mark] = marks(bot)
    assert mark["auth"] is None and mark["from"] == "stranger@qq.com"
    text = status_text(tmp_path)
    assert "stranger@qq.com" in text and "邮件认证" not in text   # nothing to say: not said


def test_the_mark_leaves_status_once_the_registered_address_sends_the_forms(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP], bot: Bot
) -> None:
    imap, _ = servers
    imap.append(form_mail("stranger@qq.com", YINHANG, "<first@qq.com>",
                          headers={"Authentication-Results": AUTH_126}))
    bot.poll(SENT + timedelta(hours=1))
    assert len(marks(bot)) == 1

    # The unit's own address sends both forms: the rows that count now are not in doubt.
    imap.append(form_mail("yinhang_gh@example.cn", YINHANG, "<again@example.cn>",
                          volunteer=True, sent=SENT + timedelta(hours=2)))
    bot.poll(SENT + timedelta(hours=3))
    assert marks(bot) == []


@pytest.mark.parametrize(("header", "shown"), [
    (AUTH_126, "dkim=pass spf=fail"),
    ("mx.example.cn 1; spf=softfail smtp.mailfrom=a@b.cn;\r\n dkim=none; DMARC=Fail "
     "header.from=b.cn", "spf=softfail dkim=none dmarc=fail"),
    ("126.com; none", "126.com; none"),
    (None, "无认证结果"),
])
def test_auth_summary_reads_the_verdicts(header: str | None, shown: str) -> None:
    assert auth_summary(header) == shown
