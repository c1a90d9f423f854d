"""The console in a real browser (Debian's Chromium driven by Playwright) on the demo data:
log in, see progress, open a unit, assign an unmatched mail, download the workbook.

Run with `pytest -m browser` after `.ci/install-chromium.sh`. Screenshots of every page
go to $FORMBOT_SHOTS (default /tmp/formbot-shots) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest

from formbot.demo.console import DemoConsole, demo_console
from formbot.demo.run import BOT, run_demo
from formbot.demo.samples import FormFill, build_mail, volunteer_xlsx
from formbot.poll import pipeline, reading
from formbot.web.app import create_app
from formbot.web.auth import PasswordHash
from tests.support.helpers import sheet_table

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("FORMBOT_CHROMIUM", "/usr/bin/chromium")
# Debian's Chromium, never a downloaded one (`playwright install` is not used): headless,
# no sandbox (CI runs as root), and nothing that phones home during a test.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ADMIN = "demo console password"
SHOTS = Path(os.environ.get("FORMBOT_SHOTS", "/tmp/formbot-shots"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


SECOND_CODE = "杨工〔2019〕5号"


def second_campaign(console: DemoConsole, work: Path) -> tuple[object, object]:
    """A second notice in the same console (`campaigns:`), its store empty but for the
    registry: the header shows the switcher on every page."""
    from formbot.poll.registry import sync_registry
    from store.db import open_database

    settings = console.settings.model_copy(update={
        "campaign": console.settings.campaign.model_copy(update={
            "code": SECOND_CODE, "title": "职工书屋建设申报（第二个通知，用于演示切换）"}),
        "data_dir": work / "data-2019", "database": f"sqlite:///{work / 'second.db'}"})
    engine = open_database(settings.database)
    sync_registry(settings, engine=engine)
    return settings, engine


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, DemoConsole]]:
    import uvicorn

    work = tmp_path_factory.mktemp("demo")
    run_demo(work_dir=work, export_path=work / "demo-export.xlsx")
    with demo_console(work) as console:
        app = create_app(console.settings, engine=console.engine,
                         password=PasswordHash(ADMIN), clock=console.clock,
                         others=[second_campaign(console, work)])
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the console did not start"
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}", console
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not installed (run .ci/install-chromium.sh)")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _mail_that_fails(console: DemoConsole, monkeypatch: pytest.MonkeyPatch) -> None:
    """区教育工会's missing form arrives while the parser has a bug: the mail is kept and
    recorded as failed, for the admin to retry once the bug is fixed."""
    fill = FormFill("杨浦区教育工会", [["教育系统职工志愿服务队", "钱静 副主席", "40人", "2017年9月",
                                        "结对帮困、课后看护", "服务学生300余人次。"]],
                    contact="钱静", phone="65438800")
    console.imap.append(build_mail(
        from_addr="yp_jygh@example.cn", to_addr=BOT, subject="补报：志愿者服务队登记表",
        body="区总工会：附件是补报的登记表。", message_id="<demo-console-2@example.cn>",
        date=console.clock() - timedelta(minutes=20),
        attachments=[("教育工会志愿者服务队登记表.xlsx", volunteer_xlsx(fill))]))

    def broken(raw: bytes) -> None:
        raise RuntimeError("解析程序出错（演示用）")

    with monkeypatch.context() as patch:
        patch.setattr(reading, "parse_mail", broken)
        report = pipeline.run_once(console.settings, engine=console.engine, now=console.clock())
    assert report.failed == 1


def test_admin_logs_in_assigns_a_mail_and_downloads_the_workbook(
    demo: tuple[str, DemoConsole], browser: object, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.sync_api import expect

    base, console = demo
    _mail_that_fails(console, monkeypatch)
    context = browser.new_context(viewport={"width": 1280, "height": 900},  # type: ignore[attr-defined]
                                  locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)

    page.goto(base + "/")
    expect(page.get_by_role("heading", name="管理后台登录")).to_be_visible()
    page.screenshot(path=SHOTS / "01-login.png")
    page.get_by_label("管理密码").fill("wrong password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_contain_text("密码不正确")
    page.get_by_label("管理密码").fill(ADMIN)
    page.get_by_role("button", name="登录").click()

    expect(page.get_by_role("heading", name="提交进度")).to_be_visible()
    expect(page.locator(".card.main .num")).to_contain_text("6")
    expect(page.locator("body")).to_contain_text("还剩 3 天")
    expect(page.locator("body")).to_contain_text("还没交齐的单位（2 个）")
    page.screenshot(path=SHOTS / "02-progress.png", full_page=True)

    page.get_by_role("link", name="定海路街道总工会").first.click()
    expect(page.get_by_role("heading", name="定海路街道总工会")).to_be_visible()
    expect(page.locator("body")).to_contain_text("早先的版本")
    expect(page.locator("body")).to_contain_text("“劳模精神进楼宇”微党课")
    page.screenshot(path=SHOTS / "03-unit.png", full_page=True)

    sent_before = len(console.smtp.messages)
    page.get_by_role("link", name="待确认单位").click()
    expect(page.locator("body")).to_contain_text("新江湾城社区")
    page.screenshot(path=SHOTS / "04-unmatched.png", full_page=True)
    page.get_by_label("这是哪个单位的？").select_option(label="新江湾城街道总工会")
    page.get_by_label("记住发件地址").check()
    page.get_by_role("button", name="归入该单位并发回执").click()
    expect(page.get_by_role("status")).to_contain_text("已归入“新江湾城街道总工会”")
    expect(page.get_by_role("status")).to_contain_text("的邮件将直接归入“新江湾城街道总工会”")
    expect(page.locator("body")).to_contain_text("没有待确认单位的邮件")
    page.screenshot(path=SHOTS / "05-assigned.png", full_page=True)
    assert len(console.smtp.wait_for(sent_before + 1)) == sent_before + 1
    page.goto(base + "/")
    page.get_by_role("link", name="新江湾城街道总工会").first.click()
    expect(page.locator("body")).to_contain_text("工作人员人工归入")
    expect(page.locator("body")).to_contain_text("经工作人员核对")   # the new receipt's text
    expect(page.locator("body")).to_contain_text("人工确认的发件地址")
    page.locator("details summary").last.click()
    page.screenshot(path=SHOTS / "05b-unit-assigned.png", full_page=True)

    page.get_by_role("link", name="提交进度", exact=True).click()
    expect(page.locator(".card.main .num")).to_contain_text("7")

    page.get_by_role("link", name="搜索").click()
    page.get_by_role("searchbox").fill("劳模")
    page.get_by_role("button", name="搜索").click()
    expect(page.locator("body")).to_contain_text("劳模先进事迹报告会")
    page.screenshot(path=SHOTS / "06-search.png", full_page=True)

    page.get_by_role("link", name="SQL 查询").click()
    page.get_by_role("link", name="主题活动申报表：各单位行数和合计").click()
    page.get_by_role("button", name="运行").click()
    expect(page.locator("table")).to_contain_text("定海路街道总工会")
    page.screenshot(path=SHOTS / "07-sql.png", full_page=True)

    with page.expect_download() as download:
        page.get_by_role("button", name="下载汇总表").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("汇总表-") and saved.suffix == ".xlsx"
    book = openpyxl.load_workbook(saved)
    assert book.sheetnames == ["主题活动申报表", "志愿者服务队登记表", "提交情况"]
    summary = {row[0]: tuple(row[1:3]) for row in sheet_table(book["提交情况"])[1:]}
    assert summary["新江湾城街道总工会"] == ("已提交", "已提交")

    page.get_by_role("link", name="处理失败").click()
    expect(page.locator("body")).to_contain_text("系统读取这封邮件时出错")  # the log has the rest
    page.screenshot(path=SHOTS / "08-failed.png", full_page=True)
    page.get_by_role("button", name="重新处理").click()
    expect(page.get_by_role("status")).to_contain_text("重试成功")
    page.get_by_role("link", name="提交进度", exact=True).click()
    expect(page.locator(".card.main .num")).to_contain_text("8")
    expect(page.locator("body")).to_contain_text("所有单位都已交齐")
    page.screenshot(path=SHOTS / "10-all-done.png", full_page=True)
    page.get_by_role("link", name="操作记录").click()
    expect(page.locator("table")).to_contain_text("归入单位")
    expect(page.locator("table")).to_contain_text("下载汇总表")
    expect(page.locator("table")).to_contain_text("重新处理")
    page.screenshot(path=SHOTS / "09-audit.png", full_page=True)

    # The other campaign, through the switcher: its own (empty) progress, same login.
    page.get_by_text("切换活动").click()
    page.get_by_role("link", name=SECOND_CODE).click()
    expect(page.locator(".brand")).to_contain_text(f"{SECOND_CODE} 报表收集")
    assert page.url.endswith("/c/1/audit")            # the same page, in that campaign
    expect(page.locator("main")).not_to_contain_text("归入单位")   # its own audit log
    page.get_by_role("link", name="提交进度", exact=True).click()
    assert page.url.endswith("/c/1/")
    expect(page.get_by_role("heading", name="提交进度")).to_be_visible()
    expect(page.locator("body")).to_contain_text("还没交齐的单位（8 个）")
    page.screenshot(path=SHOTS / "11-second-campaign.png", full_page=True)

    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("heading", name="管理后台登录")).to_be_visible()
    context.close()
