"""One console for every campaign of a config (issue 15 part 6): the first at its plain
URLs, the others under /c/N/, a switcher in the header, one login for all, and each
campaign's pages and actions on its own store."""

from __future__ import annotations

import io
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.poll import pipeline
from formbot.settings.config import Settings
from formbot.settings.loading import load_config
from formbot.web.app import create_app
from formbot.web.auth import PasswordHash
from store.audit import AuditEntry
from store.db import open_database
from store.models import Unit
from tests.cli.test_campaigns import CODE_2019, both_forms, two_campaigns
from tests.support.helpers import NOW, sheet_table

ADMIN = "correct horse battery"
CODE_2018 = "杨工〔2018〕14号"


@dataclass
class Console:
    client: TestClient
    engines: list[Engine]
    settings: list[Settings]

    def csrf(self, path: str) -> str:
        match = re.search(r'name="csrf" value="([^"]+)"', self.client.get(path).text)
        assert match is not None
        return match.group(1)

    def login(self, at: str = "/login", next_path: str = "/") -> str:
        done = self.client.post(at, data={"password": ADMIN, "csrf": self.csrf(at),
                                          "next": next_path}, follow_redirects=False)
        assert done.status_code == 303
        return done.headers["location"]

    def unit_id(self, campaign: int, name: str) -> int:
        with Session(self.engines[campaign]) as session:
            unit = session.exec(select(Unit).where(Unit.name == name)).one()
            assert unit.id is not None
            return unit.id


@pytest.fixture
def console(tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP]) -> Iterator[Console]:
    imap, smtp = servers
    config = load_config(two_campaigns(tmp_path, imap, smtp))
    # 定海路 reports to 2018, 殷行 to 2019 (its folder): each store holds its own mail.
    imap.append(both_forms("dhjd_gh@example.cn", "定海路街道总工会", "<a-2018@example.cn>"))
    imap.append(both_forms("yinhang_gh@example.cn", "殷行街道总工会", "<b-2019@example.cn>"),
                folder="2019")
    engines = [open_database(s.database) for s in config.campaigns]
    for settings, engine in zip(config.campaigns, engines, strict=True):
        pipeline.run_once(settings, engine=engine, now=NOW)
    first, second = config.campaigns
    app = create_app(first, engine=engines[0], password=PasswordHash(ADMIN),
                     clock=lambda: NOW, others=[(second, engines[1])])
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        yield Console(client, engines, config.campaigns)


def test_both_campaigns_progress_pages_with_one_login(console: Console) -> None:
    # Not logged in: the second campaign's page sends to its own login, and back after it.
    away = console.client.get("/c/1/", follow_redirects=False)
    assert away.status_code == 303
    assert away.headers["location"] == "http://127.0.0.1:8000/c/1/login?next=%2Fc%2F1%2F"
    assert console.login("/c/1/login", next_path="/c/1/") == "/c/1/"

    first = console.client.get("/")                   # the first campaign: URLs as ever
    second = console.client.get("/c/1/")              # the same session: no second login
    assert first.status_code == second.status_code == 200
    assert f"{CODE_2018} 报表收集" in first.text and f"{CODE_2019} 报表收集" in second.text
    # Each page its own store: 2019's registry has two units, only 殷行 has sent.
    assert "定海路街道总工会" in first.text and "定海路街道总工会" not in second.text
    assert "殷行街道总工会" in second.text and "区教育工会" not in second.text
    yinhang = console.unit_id(1, "殷行街道总工会")
    assert f'href="/c/1/units/{yinhang}"' in second.text        # links stay in the campaign
    unit = console.client.get(f"/c/1/units/{yinhang}")
    assert unit.status_code == 200 and "殷行街道总工会" in unit.text and CODE_2019 in unit.text
    assert console.client.get("/c/1").status_code == 200        # without the slash too
    assert console.client.get("/c/2/", follow_redirects=False).status_code == 404
    assert console.client.get("/c/01/", follow_redirects=False).status_code == 404


def test_the_switcher_lists_every_campaign_and_keeps_the_page(console: Console) -> None:
    console.login()
    page = console.client.get("/c/1/unmatched").text
    switcher = page[page.index('<details class="switcher">'):page.index("</details>")]
    links = re.findall(r'<a href="([^"]+)"( class="on" aria-current="page")?><b>([^<]+)</b>',
                       switcher)
    assert links == [("/unmatched", "", CODE_2018),
                     ("/c/1/unmatched", ' class="on" aria-current="page"', CODE_2019)]
    assert "职工书屋建设申报" in switcher            # each campaign's title beside its code
    # A page only one campaign has (a unit) switches to the other's progress page.
    unit = console.client.get(f"/units/{console.unit_id(0, '定海路街道总工会')}").text
    assert 'href="/c/1/"' in unit and 'href="/"' in unit
    console.client.post("/logout", data={"csrf": console.csrf("/")})
    assert "switcher" not in console.client.get("/login").text   # nothing before the login


def test_export_on_the_second_campaign_exports_its_own_data(console: Console) -> None:
    console.login()
    token = console.csrf("/c/1/")
    response = console.client.post("/c/1/export", data={"csrf": token})
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    status = sheet_table(book["提交情况"])
    assert [row[0] for row in status[1:]] == ["殷行街道总工会", "控江路街道总工会"]
    activity = sheet_table(book["主题活动申报表"])
    assert {row[0] for row in activity[1:]} == {"殷行街道总工会"}
    # Audited in the second campaign's store, not the first's.
    with Session(console.engines[1]) as session:
        assert [e.action for e in session.exec(select(AuditEntry))
                if e.action == "export"] == ["export"]
    with Session(console.engines[0]) as session:
        assert all(e.action != "export" for e in session.exec(select(AuditEntry)))
    # An action's redirect stays in its campaign (a flash, back on the page it came from).
    back = console.client.post("/c/1/messages/999/dismiss", data={"csrf": token},
                               follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"].endswith("/c/1/unmatched")


def test_a_console_narrowed_to_one_campaign_has_no_switcher(console: Console) -> None:
    """`formbot serve --campaign 杨工〔2019〕5号`: that campaign alone, at the plain URLs."""
    app = create_app(console.settings[1], engine=console.engines[1],
                     password=PasswordHash(ADMIN), clock=lambda: NOW)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        alone = Console(client, console.engines[1:], console.settings[1:])
        alone.login()
        page = client.get("/").text
        assert f"{CODE_2019} 报表收集" in page and "switcher" not in page
        assert client.get("/c/1/", follow_redirects=False).status_code == 404


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, ""


def test_formbot_serve_opens_every_campaign_and_campaign_narrows_it(
    tmp_path: Path, servers: tuple[EmbeddedIMAP, EmbeddedSMTP],
) -> None:
    import os
    import socket
    import subprocess
    import time

    from tests.cli.test_cli import FORMBOT
    from tests.conftest import PASSWORD

    config = two_campaigns(tmp_path, *servers)
    env = {**os.environ, "FORMBOT_IMAP_PASSWORD": PASSWORD, "FORMBOT_SMTP_PASSWORD": PASSWORD,
           "FORMBOT_ADMIN_PASSWORD": ADMIN}
    for narrowed, expect in (([], [CODE_2018, CODE_2019]), (["--campaign", "2019"], [CODE_2019])):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen([FORMBOT, "serve", "--config", str(config), "--port",
                                   str(port), *narrowed], cwd=tmp_path, env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert server.stdout is not None
            lines = [server.stdout.readline() for _ in range(1 + (len(expect) > 1) * 2)]
            assert "管理后台已启动" in lines[0], (lines, server.stderr)
            if len(expect) > 1:   # each campaign's address, one login for all
                assert f"{CODE_2018}：http://127.0.0.1:{port}/" in lines[1]
                assert f"{CODE_2019}：http://127.0.0.1:{port}/c/1/" in lines[2]
            deadline = time.monotonic() + 30
            while True:   # the line is printed just before uvicorn binds the port
                try:
                    status, page = _get(f"http://127.0.0.1:{port}/login")
                    break
                except urllib.error.URLError:
                    assert time.monotonic() < deadline and server.poll() is None
                    time.sleep(0.05)
            assert status == 200 and f"{expect[0]} 报表收集" in page
            status, second = _get(f"http://127.0.0.1:{port}/c/1/login")
            assert status == (200 if len(expect) > 1 else 404)
            if len(expect) > 1:
                assert f"{CODE_2019} 报表收集" in second
        finally:
            server.terminate()
            server.wait(timeout=30)
