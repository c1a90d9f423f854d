"""Several campaigns in one config.yaml (`campaigns:`): what each inherits, what they may
never share, and the commands and the worker running them side by side on real servers."""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from sqlmodel import Session, func, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import activity_docx, build_mail, volunteer_xlsx
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.jobs.worker import Worker, run_forever
from formbot.settings.config import ConfigError
from formbot.settings.loading import load_config, load_settings
from store.db import open_database
from store.models import Message
from tests.cli.test_cli import run
from tests.support.formrows import ActivityRow
from tests.support.helpers import (
    ACTIVITY,
    BOT,
    NOW,
    VOLUNTEER,
    database_url,
    parse_sent,
    sheet_table,
    write_config,
)

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"
BASE: dict[str, Any] = yaml.safe_load(REPO_CONFIG.read_text(encoding="utf-8"))
CODE_2019 = "杨工〔2019〕5号"
SECOND = {"campaign": {"code": CODE_2019, "title": "职工书屋建设申报", "deadline": "2019-06-14"},
          "mailbox": {"folder": "2019"}, "data_dir": "data-2019"}


def write(tmp_path: Path, *entries: dict[str, Any], **top: Any) -> Path:
    data = {**copy.deepcopy(BASE), "campaigns": [copy.deepcopy(e) for e in entries], **top}
    if not entries and "campaigns" not in top:
        del data["campaigns"]
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message
    return message


# -- the config ---------------------------------------------------------------------------
def test_an_entry_inherits_what_it_does_not_say_key_by_key(tmp_path: Path) -> None:
    alone = load_settings(write(tmp_path / "alone"))       # the same file without entries
    config = load_config(write(tmp_path, SECOND))
    first, second = config.campaigns
    paths = {"data_dir", "database", "units_file"}          # relative to each file's folder
    assert first.model_dump(exclude=paths) == alone.model_dump(exclude=paths)
    assert first.campaign.code == "杨工〔2018〕14号" and first.mailbox.folder == "INBOX"
    assert (second.mailbox.host, second.mailbox.username, second.mailbox.folder) == (
        first.mailbox.host, first.mailbox.username, "2019")
    assert second.campaign.deadline.isoformat() == "2019-06-14"
    assert second.campaign.reminders == first.campaign.reminders      # campaign: merged too
    assert second.campaign.contact == first.campaign.contact
    assert second.smtp == first.smtp and second.units == first.units
    # its own store: the data_dir it names, with a SQLite file in it by default
    assert second.data_dir == tmp_path / "data-2019"
    assert second.database == f"sqlite:///{tmp_path / 'data-2019' / 'formbot.db'}"


@pytest.mark.parametrize("empty", [[], None])
def test_an_empty_campaigns_list_is_no_campaign_more(tmp_path: Path, empty: object) -> None:
    config = load_config(write(tmp_path, campaigns=empty))
    assert len(config.campaigns) == 1 and config.chosen(None) == [config.primary]


def test_an_entry_may_bring_its_own_units_store_and_schedule(tmp_path: Path) -> None:
    own = {**SECOND, "units_file": "units-2019.xlsx", "database": "sqlite:///db/2019.db", "schedule": {"remind_time": "08:30"},
           "campaign": {**SECOND["campaign"], "reminders": [-2]}}
    first, second = load_config(write(tmp_path, own)).campaigns
    assert second.units == [] and second.units_file == tmp_path / "units-2019.xlsx"
    assert second.data_dir == tmp_path / "data-2019"
    assert second.database == f"sqlite:///{tmp_path / 'db' / '2019.db'}"
    assert second.schedule.remind_time == "08:30"
    assert second.schedule.poll_minutes == first.schedule.poll_minutes
    assert second.campaign.reminders == [-2]


def test_the_first_campaigns_extra_mailboxes_are_not_inherited(tmp_path: Path) -> None:
    extra = [{**BASE["mailbox"], "username": "second-box@126.com"}]
    first, second = load_config(write(tmp_path, SECOND, mailboxes=extra)).campaigns
    assert len(first.all_mailboxes()) == 2 and len(second.all_mailboxes()) == 1


def test_each_campaign_never_answers_the_others_addresses(tmp_path: Path) -> None:
    own_box = {**SECOND, "mailbox": {"username": "shuwu2019@126.com"},
               "smtp": {"from_address": "shuwu-bot@126.com"}}
    first, second = load_config(write(tmp_path, own_box)).campaigns
    assert {"shuwu2019@126.com", "shuwu-bot@126.com"} <= set(first.own_addresses())
    assert "qzxjb2008@126.com" in second.own_addresses()


@pytest.mark.parametrize(("entry", "expected"), [
    ({"mailbox": {"folder": "2019"}}, "campaigns 第1项：campaign.code：缺少这个配置项"),
    ({**SECOND, "campaign": {"code": CODE_2019, "title": "x"}}, "campaign.deadline：缺少"),
    ({**SECOND, "mailbox": {"foldr": "2019"}}, "campaigns 第1项：mailbox.foldr：未知的配置项"),
    ({k: v for k, v in SECOND.items() if k != "data_dir"}, "campaigns 第1项：data_dir：缺少"),
    ({**SECOND, "campaign": {**SECOND["campaign"], "deadline": "明年"}},
     "campaigns 第1项：campaign.deadline："),
    ("INBOX", "campaigns 第1项：应为键值对"),
])
def test_a_wrong_entry_is_refused_by_its_number_and_key(
    tmp_path: Path, entry: Any, expected: str
) -> None:
    assert expected in refusal(write(tmp_path, entry))


def test_campaigns_must_be_a_list(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**BASE, "campaigns": SECOND}, allow_unicode=True),
                    encoding="utf-8")
    assert "campaigns：应为列表" in refusal(path)


def test_two_campaigns_never_read_the_same_folder(tmp_path: Path) -> None:
    same_box = {**SECOND, "mailbox": {}}
    message = refusal(write(tmp_path, same_box))
    assert "杨工〔2018〕14号" in message and CODE_2019 in message
    assert "同一个邮箱文件夹（qzxjb2008@126.com 的 INBOX）" in message
    assert "mailbox.folder" in message                     # … and how to fix it


@pytest.mark.parametrize(("change", "expected"), [
    ({"campaign": {"code": "杨工〔2018〕14号", "title": "x", "deadline": "2019-06-14"}},
     "活动编号 杨工〔2018〕14号 出现了两次"),
    ({"database": "sqlite:///data/formbot.db"}, "用了同一个数据库"),
    ({"database": "sqlite:///data/../data/formbot.db"}, "用了同一个数据库"),
    ({"data_dir": "data"}, "用了同一个 data_dir"),
    ({"mailbox": {"folder": "inbox"}}, "收同一个邮箱文件夹"),       # INBOX in any case
])
def test_two_campaigns_never_share_a_code_a_store_or_a_folder(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    assert expected in refusal(write(tmp_path, {**SECOND, **change}))


def test_one_database_is_one_however_its_url_is_spelt(tmp_path: Path) -> None:
    top = "postgresql+psycopg://formbot@DB.example:5432/formbot"
    again = {**SECOND, "database": "postgresql://formbot@db.example/formbot"}
    assert "用了同一个数据库" in refusal(write(tmp_path, again, database=top))
    other = {**SECOND, "database": "postgresql+psycopg://formbot@db.example/formbot2019"}
    assert load_config(write(tmp_path, other, database=top)).campaigns[1].database.endswith(
        "/formbot2019")


def test_handled_mail_is_never_moved_into_another_campaigns_folder(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, SECOND, mailbox={**BASE["mailbox"],
                                                       "processed_folder": "2019"}))
    assert f"活动 {CODE_2019} 正收这个文件夹" in message and "processed_folder" in message


def test_an_entry_keeps_sqlite_when_the_first_campaign_moved_to_postgresql(
    tmp_path: Path
) -> None:
    second = load_config(write(tmp_path, SECOND,
                               database="postgresql+psycopg://formbot@db/formbot")).campaigns[1]
    assert second.database == f"sqlite:///{tmp_path / 'data-2019' / 'formbot.db'}"


def test_campaign_is_chosen_by_code_or_a_unique_part_of_it(tmp_path: Path) -> None:
    third = {"campaign": {"code": "杨工〔2019〕9号", "title": "职工书屋建设申报（二）",
                          "deadline": "2019-09-30"},
             "mailbox": {"folder": "2019-9"}, "data_dir": "data-2019-9"}
    config = load_config(write(tmp_path, SECOND, third))
    assert config.select(None) is config.primary
    assert config.select(CODE_2019).campaign.code == CODE_2019
    assert config.select("5号").campaign.code == CODE_2019
    assert config.select("杨工[2019]5号").campaign.code == CODE_2019   # as typed in a terminal
    assert config.select("(2019）5").campaign.code == CODE_2019
    assert config.select("（二）").campaign.code == "杨工〔2019〕9号"
    # a whole title is that campaign even when another title contains it
    assert config.select("职工书屋建设申报").campaign.code == CODE_2019
    assert len(config.chosen(None)) == 3 and config.chosen("9号")[0].campaign.code.endswith("9号")
    with pytest.raises(ConfigError, match="对应多个活动"):
        config.select("2019")
    with pytest.raises(ConfigError, match=r"没有这个活动（可选：杨工〔2018〕14号、"):
        config.select("2020")


# -- the commands and the worker, on real servers ------------------------------------------
def two_campaigns(tmp_path: Path, imap: EmbeddedIMAP, smtp: EmbeddedSMTP) -> Path:
    """杨工〔2018〕14号 reads INBOX; 杨工〔2019〕5号 reads folder 2019, with two units."""
    config = write_config(tmp_path, imap, smtp)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    units = [u for u in data["units"] if u["name"] in ("殷行街道总工会", "控江路街道总工会")]
    data["campaigns"] = [{**copy.deepcopy(SECOND), "units": units,
                          # named, so that FORMBOT_TEST_DATABASE runs it on PostgreSQL too
                          "database": database_url(tmp_path / "2019")}]
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return config


def both_forms(sender: str, unit: str, message_id: str) -> bytes:
    return build_mail(from_addr=sender, to_addr=BOT, subject="报送", body="见附件",
                      message_id=message_id,
                      attachments=[("附件1.docx", activity_docx(replace(ACTIVITY, unit_text=unit))),
                                   ("附件2.xlsx", volunteer_xlsx(replace(VOLUNTEER, unit_text=unit)))])


def status(config: Path, tmp_path: Path, *extra: str) -> dict[str, Any]:
    result = run("status", "--json", "--config", str(config), *extra, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_poll_status_export_and_remind_keep_each_campaign_apart(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    config = two_campaigns(tmp_path, imap, smtp)
    imap.append(both_forms("dhjd_gh@example.cn", "定海路街道总工会", "<a-2018@example.cn>"))
    imap.append(both_forms("yinhang_gh@example.cn", "殷行街道总工会", "<b-2019@example.cn>"),
                folder="2019")

    poll = run("poll", "--config", str(config), "--now", "2018-06-10T10:00:00+08:00",
               cwd=tmp_path)
    assert poll.returncode == 0, poll.stderr
    assert "【杨工〔2018〕14号】" in poll.stdout and f"【{CODE_2019}】" in poll.stdout
    log = (tmp_path / "data" / "logs" / "formbot.log").read_text(encoding="utf-8")
    assert f"[{CODE_2019}] " in log and "[杨工〔2018〕14号] " in log   # whose line is whose
    receipts = {parse_sent(raw)["To"]: parse_sent(raw) for _, _, raw in smtp.wait_for(2)}
    assert "杨工〔2018〕14号" in receipts["dhjd_gh@example.cn"].get_body().get_content()
    assert CODE_2019 in receipts["yinhang_gh@example.cn"].get_body().get_content()

    first = status(config, tmp_path)                       # `campaign:` by default
    second = status(config, tmp_path, "--campaign", "2019〕5")
    assert (first["campaign"], first["units_total"], first["units_complete"]) == (
        "杨工〔2018〕14号", 4, 1)
    assert (second["campaign"], second["deadline"]) == (CODE_2019, "2019-06-14")
    assert [u["name"] for u in second["units"] if u["forms"]["activity"]["submitted"]] == [
        "殷行街道总工会"]
    assert second["units_total"] == 2 and second["units_complete"] == 1
    table = run("status", "--config", str(config), cwd=tmp_path)
    assert f"配置中另有 1 个活动：{CODE_2019}" in table.stdout

    out = tmp_path / "2019.xlsx"
    export = run("export", "--config", str(config), "--campaign", CODE_2019, "--out", str(out),
                 cwd=tmp_path)
    assert export.returncode == 0, export.stderr
    sheet = openpyxl.load_workbook(out)["提交情况"]
    assert [row[0] for row in sheet_table(sheet)[1:]] == [
        "殷行街道总工会", "控江路街道总工会"]

    # 2018-06-12 is 3 days before the first deadline, a year before the second's first slot.
    remind = run("remind", "--config", str(config), "--now", "2018-06-12T09:00:00+08:00",
                 cwd=tmp_path)
    assert remind.returncode == 0, remind.stderr
    sent = [parse_sent(raw) for _, _, raw in smtp.messages][2:]  # delivered when remind ends
    assert sorted(m["To"] for m in sent) == ["kjl_gh@example.cn", "yinhang_gh@example.cn"]
    assert all("杨工〔2018〕14号" in m.get_body().get_content() for m in sent)

    # 2019-06-11 09:00 is the second campaign's −3 slot: its own deadline and units.
    later = run("remind", "--config", str(config), "--now", "2019-06-11T09:00:00+08:00",
                cwd=tmp_path)
    assert later.returncode == 0, later.stderr
    own = [parse_sent(raw) for _, _, raw in smtp.messages][4:]
    assert [m["To"] for m in own if CODE_2019 in m["Subject"]] == ["kjl_gh@example.cn"]
    assert "2019年6月14日" in own[-1].get_body().get_content()

    wrong = run("export", "--config", str(config), "--campaign", "2020", "--out", str(out),
                cwd=tmp_path)
    assert wrong.returncode == 1 and "--campaign 2020：配置中没有这个活动" in wrong.stderr


def test_one_campaign_failing_does_not_stop_the_others(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    config = two_campaigns(tmp_path, imap, smtp)
    imap.append(both_forms("yinhang_gh@example.cn", "殷行街道总工会", "<f-2019@example.cn>"),
                folder="2019")
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["mailbox"]["password_env"] = "FORMBOT_UNSET_PASSWORD"   # the first cannot log in
    data["campaigns"][0]["mailbox"]["password_env"] = "FORMBOT_IMAP_PASSWORD"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    poll = run("poll", "--config", str(config), "--now", "2019-06-10T10:00:00+08:00",
               cwd=tmp_path)
    assert poll.returncode == 1                            # the failure is not hidden …
    assert "错误：【杨工〔2018〕14号】环境变量 FORMBOT_UNSET_PASSWORD 未设置" in poll.stderr
    assert "新邮件 1 封" in poll.stdout                      # … and the second still ran
    assert status(config, tmp_path, "--campaign", CODE_2019)["units_complete"] == 1
    assert [rcpts for _, rcpts, _ in smtp.wait_for(1)] == [["yinhang_gh@example.cn"]]


def test_campaign_narrows_poll_to_one(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    config = two_campaigns(tmp_path, imap, smtp)
    imap.append(both_forms("dhjd_gh@example.cn", "定海路街道总工会", "<n-2018@example.cn>"))
    imap.append(both_forms("yinhang_gh@example.cn", "殷行街道总工会", "<n-2019@example.cn>"),
                folder="2019")
    poll = run("poll", "--config", str(config), "--campaign", "书屋",
               "--now", "2019-06-10T10:00:00+08:00", cwd=tmp_path)
    assert poll.returncode == 0, poll.stderr
    assert f"【{CODE_2019}】" in poll.stdout and "【杨工〔2018〕14号】" not in poll.stdout
    assert status(config, tmp_path)["units_complete"] == 0   # INBOX was not read
    assert status(config, tmp_path, "--campaign", "书屋")["units_complete"] == 1


def test_doctor_and_health_look_at_every_campaign(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    imap.append(both_forms("yinhang_gh@example.cn", "殷行街道总工会", "<c@example.cn>"),
                folder="2019")                             # the folder exists on the server
    config = two_campaigns(tmp_path, imap, smtp)
    doctor = run("doctor", "--config", str(config), cwd=tmp_path)
    assert doctor.returncode == 0, doctor.stdout
    assert "2 个活动" in doctor.stdout and doctor.stdout.count("✓ 收信（IMAP）") == 2
    assert "文件夹 2019 可用" in doctor.stdout

    settings = load_config(config).campaigns
    (settings[0].data_dir / "worker.heartbeat").parent.mkdir(parents=True, exist_ok=True)
    (settings[0].data_dir / "worker.heartbeat").write_text("beat", encoding="utf-8")
    health = run("health", "--config", str(config), cwd=tmp_path)
    assert health.returncode == 1 and f"【{CODE_2019}】还没有成功收过信" in health.stderr
    # one container per campaign (`run --campaign …`) checks its own heartbeat only
    mine = run("health", "--config", str(config), "--campaign", "14号", cwd=tmp_path)
    assert mine.returncode == 0 and "【杨工〔2018〕14号】正常" in mine.stdout
    one = run("doctor", "--config", str(config), "--campaign", "书屋", cwd=tmp_path)
    assert one.returncode == 0 and one.stdout.count("✓ 收信（IMAP）") == 1
    assert "文件夹 2019 可用" in one.stdout


def test_one_worker_per_campaign_and_one_signal_stops_them_all(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    imap, smtp = servers
    imap.append(both_forms("dhjd_gh@example.cn", "定海路街道总工会", "<w-2018@example.cn>"))
    imap.append(both_forms("yinhang_gh@example.cn", "殷行街道总工会", "<w-2019@example.cn>"),
                folder="2019")
    stopping = threading.Event()
    workers = [Worker(s, engine=open_database(s.database), clock=lambda: NOW, stopping=stopping)
               for s in load_config(two_campaigns(tmp_path, imap, smtp)).campaigns]

    def stop_when_both_polled() -> None:
        try:
            for worker in workers:
                worker.wait_for_polls(1)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)             # as `docker stop` would

    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    watcher = threading.Thread(target=stop_when_both_polled)
    watcher.start()
    try:
        run_forever(workers)                               # returns once the signal came
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
        watcher.join()
    assert stopping.is_set() and all(worker.polls >= 1 for worker in workers)
    for worker, message_id in zip(workers, ("<w-2018@example.cn>", "<w-2019@example.cn>"),
                                  strict=True):
        with Session(worker.engine) as session:
            ids = session.exec(select(Message.message_id)).all()
            rows = session.exec(select(func.count()).select_from(ActivityRow)).one()
        assert ids == [message_id] and rows == 3          # each store holds its own mail only
    assert len(smtp.wait_for(2)) == 2


def test_two_campaigns_consoles_on_one_machine_keep_their_own_logins(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]
) -> None:
    from starlette.testclient import TestClient
    from starlette.types import Receive, Scope, Send

    from formbot.web.app import create_app
    from formbot.web.auth import PasswordHash

    password = PasswordHash("correct horse battery")
    consoles = {port: create_app(s, engine=open_database(s.database), password=password,
                                 clock=lambda: NOW)
                for port, s in zip((8000, 8001), load_config(
                    two_campaigns(tmp_path, *servers)).campaigns, strict=True)}

    async def by_port(scope: Scope, receive: Receive, send: Send) -> None:
        await consoles[scope["server"][1]](scope, receive, send)

    browser = TestClient(by_port)          # one cookie jar: cookies are per host, not port

    def log_in(port: int) -> None:
        page = browser.get(f"http://testserver:{port}/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        done = browser.post(f"http://testserver:{port}/login", follow_redirects=False,
                            data={"password": "correct horse battery", "csrf": token.group(1)})
        assert done.status_code == 303

    log_in(8000)
    log_in(8001)
    for port, code in ((8000, "杨工〔2018〕14号"), (8001, CODE_2019)):
        page = browser.get(f"http://testserver:{port}/", follow_redirects=False)
        assert page.status_code == 200 and f"{code} 报表收集" in page.text   # still logged in
