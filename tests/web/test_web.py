"""The admin console over HTTP: login, CSRF, rate limit, read-only SQL, and the actions
(assign, dismiss, retry) changing the database through the pipeline, each audited."""

from __future__ import annotations

import io
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import Session, func, select
from starlette.testclient import TestClient

from errors import FormbotError
from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import FormFill, activity_docx, build_mail, volunteer_xlsx
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.poll import reading
from formbot.poll.registry import known_senders, list_units
from formbot.reports.sentences import GENERIC
from formbot.reports.status import status_data
from formbot.reports.terminal import print_units
from formbot.web import actions
from formbot.web.app import create_app
from formbot.web.auth import LoginThrottle, PasswordHash, password_from_env
from formbot.web.sql import EXAMPLES, QueryRefused, connect_read_only, database_path, run_query
from store import repo
from store.audit import AuditEntry
from store.models import Message, Outgoing, Submission, Unit
from tests.conftest import PASSWORD
from tests.support.formrows import ActivityRow
from tests.support.helpers import (
    ACTIVITY,
    BOT,
    NOW,
    VOLUNTEER,
    Bot,
    on_postgres,
    parse_sent,
    sheet_table,
    write_config,
)

ADMIN = "correct horse battery"
UNMATCHED = FormFill("控江社区工会", [["劳模事迹展", "展板", "2018年6月", "巡回展出", "约500人"],
                                      ["技能比武", "竞赛", "2018年7月", "岗位练兵", "80"]],
                     contact="周红", phone="13900000000")


@dataclass
class Console:
    client: TestClient
    bot: Bot
    smtp: EmbeddedSMTP
    imap: EmbeddedIMAP

    def count(self, table: type) -> int:
        with Session(self.bot.engine) as session:
            return session.exec(select(func.count()).select_from(table)).one()

    def message(self, message_id: str) -> Message:
        with Session(self.bot.engine) as session:
            found = session.exec(select(Message).where(Message.message_id == message_id)).one()
            session.expunge(found)
            return found

    def unit(self, name: str) -> Unit:
        with Session(self.bot.engine) as session:
            return session.exec(select(Unit).where(Unit.name == name)).one()

    def audit(self) -> list[tuple[str, str, str]]:
        with Session(self.bot.engine) as session:
            return [(e.who, e.action, e.detail) for e in session.exec(select(AuditEntry))]

    def csrf(self, path: str = "/") -> str:
        page = self.client.get(path)
        match = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert match, page.text[:500]
        return match.group(1)

    def login(self, password: str = ADMIN, next_path: str = "/") -> object:
        token = self.csrf("/login")
        return self.client.post("/login", data={"password": password, "csrf": token,
                                                "next": next_path}, follow_redirects=False)


@pytest.fixture
def console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        imap.append(build_mail(from_addr="dhjd_gh@example.cn", to_addr=BOT, subject="报送",
                               body="见附件", message_id="<dh-1@example.cn>",
                               attachments=[("附件1.docx", activity_docx(ACTIVITY)),
                                            ("附件2.xlsx", volunteer_xlsx(VOLUNTEER))]))
        imap.append(build_mail(from_addr="zhouhong@qq.example", to_addr=BOT, subject="申报表",
                               body="请查收", message_id="<kj-private@example.cn>",
                               attachments=[("申报表.docx", activity_docx(UNMATCHED))]))
        bot.poll()
        real = reading.parse_mail

        def broken(raw: bytes) -> None:
            raise RuntimeError("parser bug for the test")

        monkeypatch.setattr(reading, "parse_mail", broken)
        imap.append(build_mail(from_addr="yinhang_gh@example.cn", to_addr=BOT, subject="殷行",
                               body="", message_id="<yh-1@example.cn>",
                               attachments=[("a.docx", activity_docx(FormFill(
                                   "殷行街道总工会", [["座谈会", "座谈", "6月", "交流", "60"]])))]))
        bot.poll()
        monkeypatch.setattr(reading, "parse_mail", real)
        assert len(smtp.wait_for(2)) == 2   # receipts: 定海路, and "unit not confirmed"
        app = create_app(bot.settings, engine=bot.engine, password=PasswordHash(ADMIN),
                         clock=lambda: NOW, throttle=LoginThrottle(limit=3, window=60))
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            yield Console(client, bot, smtp, imap)


def test_every_page_needs_a_login(console: Console) -> None:
    for path in ("/", "/unmatched", "/failed", "/search?q=x", "/sql", "/audit", "/units/1"):
        response = console.client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("http://127.0.0.1:8000/login?next=")
    token = console.csrf("/login")   # an anonymous session's token does not open actions
    for path in ("/export", "/messages/2/dismiss", "/messages/2/assign", "/sql"):
        assert console.client.post(path, data={"csrf": token}).status_code == 403, path
    assert console.message("<kj-private@example.cn>").outcome == "receipt"


def test_login_then_progress_with_deadline_and_missing_units(console: Console) -> None:
    wrong = console.login("not the password")
    assert wrong.status_code == 401 and "密码不正确" in wrong.text
    right = console.login(next_path="/unmatched")
    assert right.status_code == 303 and right.headers["location"] == "/unmatched"
    page = console.client.get("/")
    assert page.status_code == 200
    text = page.text
    assert "还剩 5 天" in text and "6月15日" in text
    assert "还没交齐的单位（3 个）" in text   # 定海路 sent both forms
    assert "定海路街道总工会" in text and "kjl_gh@example.cn" in text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    cookie = right.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    actions = [a for _, a, _ in console.audit()]
    assert actions == ["login-failed", "login"]
    assert all(w == "admin@testclient" for w, _, _ in console.audit())


def test_login_redirect_stays_on_this_site(console: Console) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        assert console.login(next_path=target).headers["location"] == "/"
        console.client.cookies.clear()


def test_too_many_wrong_passwords_lock_the_login(console: Console) -> None:
    for _ in range(3):
        assert console.login("wrong-password").status_code == 401
    locked = console.login()   # even the right password waits now
    assert locked.status_code == 429 and "次数过多" in locked.text
    assert console.client.get("/", follow_redirects=False).status_code == 303
    assert [a for _, a, _ in console.audit()] == ["login-failed"] * 3


def test_actions_without_the_csrf_token_are_refused(console: Console) -> None:
    console.login()
    kj = console.message("<kj-private@example.cn>")
    unit = console.unit("控江路街道总工会")
    token = console.csrf()
    url = f"/messages/{kj.id}/assign"
    assert console.client.post(url, data={"unit_id": unit.id}).status_code == 403
    assert console.client.post(url, data={"unit_id": unit.id, "csrf": "x" * 43}).status_code == 403
    other_site = console.client.post(url, data={"unit_id": unit.id, "csrf": token},
                                     headers={"Origin": "http://evil.example"})
    assert other_site.status_code == 403
    assert console.message("<kj-private@example.cn>").unit_id is None
    assert console.client.post("/logout", data={}).status_code == 403   # logout too


def test_logout_ends_the_session_for_good(console: Console) -> None:
    console.login()
    stolen = dict(console.client.cookies)
    token = console.csrf()
    assert console.client.post("/logout", data={"csrf": token}).status_code == 200  # → login
    console.client.cookies.update(stolen)
    assert console.client.get("/", follow_redirects=False).status_code == 303


def test_assign_moves_the_rows_in_and_sends_one_receipt(console: Console) -> None:
    console.login()
    kj = console.message("<kj-private@example.cn>")
    unit = console.unit("控江路街道总工会")
    assert "控江社区工会" in console.client.get("/unmatched").text
    done = console.client.post(f"/messages/{kj.id}/assign",
                               data={"unit_id": unit.id, "csrf": console.csrf()})
    assert done.status_code == 200 and "已归入“控江路街道总工会”" in done.text

    moved = console.message("<kj-private@example.cn>")
    assert (moved.unit_id, moved.match_method) == (unit.id, "admin")
    data = status_data(console.bot.settings, engine=console.bot.engine)
    assert data["unmatched"] == []
    kj_status = next(u for u in data["units"] if u["name"] == "控江路街道总工会")
    assert kj_status["forms"]["activity"] == {**kj_status["forms"]["activity"], "submitted": True,
                                              "rows": 2}
    mails = console.smtp.wait_for(3)
    assert len(mails) == 3
    receipt = parse_sent(mails[2][2])
    assert receipt["In-Reply-To"] == "<kj-private@example.cn>"
    assert mails[2][1] == ["zhouhong@qq.example"]
    body = receipt.get_body(preferencelist=("plain",)).get_content()
    assert "控江路街道总工会" in body and "工作人员" in body and "志愿者服务队登记表" in body
    with Session(console.bot.engine) as session:
        keys = [o.dedup_key for o in session.exec(select(Outgoing).where(
            Outgoing.message_ref == kj.id))]
    assert keys == ["receipt:<kj-private@example.cn>", "assigned:<kj-private@example.cn>"]

    again = console.client.post(f"/messages/{kj.id}/assign",
                                data={"unit_id": unit.id, "csrf": console.csrf()})
    assert "已归入" in again.text and "无需再处理" in again.text
    assert len(console.smtp.messages) == 3
    assigned = [d for _, a, d in console.audit() if a == "assign"]
    assert len(assigned) == 1 and "控江路街道总工会" in assigned[0]
    unit_page = console.client.get(f"/units/{unit.id}").text
    assert "劳模事迹展" in unit_page and "工作人员人工归入" in unit_page


def test_assign_can_remember_the_sender_for_later_mail_until_forgotten(
    console: Console, capsys: pytest.CaptureFixture[str],
) -> None:
    console.login()
    kj = console.message("<kj-private@example.cn>")
    unit = console.unit("控江路街道总工会")
    assert "以后来自 zhouhong@qq.example 的邮件直接归入" in console.client.get("/unmatched").text
    done = console.client.post(f"/messages/{kj.id}/assign", data={
        "unit_id": unit.id, "remember": "yes", "csrf": console.csrf()})
    assert "以后来自 zhouhong@qq.example 的邮件将直接归入“控江路街道总工会”" in done.text

    def later(n: int) -> Message:  # again signed in a way the registry cannot match
        console.imap.append(build_mail(
            from_addr="ZhouHong@qq.example", to_addr=BOT, subject="登记表", body="",
            message_id=f"<kj-{n}@example.cn>",
            attachments=[("登记表.xlsx", volunteer_xlsx(FormFill("控江社区工会",
                                                                 VOLUNTEER.rows)))]))
        console.bot.poll()
        return console.message(f"<kj-{n}@example.cn>")

    second = later(2)
    assert (second.unit_id, second.match_method, second.sender_matches_unit) == (
        unit.id, "learned", True)
    # The form's own 填报单位 still comes first: the same box sending for another unit.
    console.imap.append(build_mail(
        from_addr="zhouhong@qq.example", to_addr=BOT, subject="代报", body="",
        message_id="<kj-for-dh@example.cn>",
        attachments=[("a.docx", activity_docx(FormFill("定海路街道总工会", ACTIVITY.rows)))]))
    console.bot.poll()
    for_dh = console.message("<kj-for-dh@example.cn>")
    assert (for_dh.unit_id, for_dh.match_method, for_dh.sender_matches_unit) == (
        console.unit("定海路街道总工会").id, "name", False)
    unit_page = console.client.get(f"/units/{unit.id}").text
    assert "人工确认的发件地址" in unit_page and "zhouhong@qq.example" in unit_page
    print_units(list_units(engine=console.bot.engine), known_senders(engine=console.bot.engine))
    assert "zhouhong@qq.example（人工确认）" in capsys.readouterr().out   # `formbot units list`

    forgot = console.client.post(f"/units/{unit.id}/forget-sender", data={
        "address": "zhouhong@qq.example", "csrf": console.csrf(f"/units/{unit.id}")})
    assert "已忘记 zhouhong@qq.example" in forgot.text
    assert later(3).unit_id is None                   # back to unmatched
    entries = console.audit()
    assert any(a == "assign" and "以后来自 zhouhong@qq.example" in d for _, a, d in entries)
    assert [a for _, a, _ in entries][-1] == "forget-sender"


def test_a_registered_address_is_not_remembered_for_another_unit(console: Console) -> None:
    # config.yaml owns registered addresses: filing one of dhjd_gh@'s mails under another
    # unit by hand must not make that address the other unit's.
    with Session(console.bot.engine) as session:
        message = session.exec(select(Message).where(
            Message.message_id == "<dh-1@example.cn>")).one()
        unit = session.exec(select(Unit).where(Unit.name == "控江路街道总工会")).one()
        said = actions._remember(session, console.bot.settings, "DHJD_GH@example.cn", unit,
                                 message, now=NOW, who="admin")
        assert "已是“定海路街道总工会”的登记邮箱" in said
        assert repo.known_senders(session=session) == []


def test_dismiss_needs_confirmation_and_keeps_the_mail(console: Console) -> None:
    console.login()
    kj = console.message("<kj-private@example.cn>")
    unconfirmed = console.client.post(f"/messages/{kj.id}/dismiss", data={"csrf": console.csrf()})
    assert "请先勾选" in unconfirmed.text
    assert console.message("<kj-private@example.cn>").outcome == "receipt"
    done = console.client.post(f"/messages/{kj.id}/dismiss",
                               data={"csrf": console.csrf(), "confirm": "yes"})
    assert "已标记为无需处理" in done.text
    assert "控江社区工会" not in console.client.get("/unmatched").text
    assert console.message("<kj-private@example.cn>").status == "ignored"
    assert console.count(ActivityRow) == 3 + 2          # rows kept, just out of the list
    assert [a for _, a, _ in console.audit()][-1] == "dismiss"


def test_retry_reads_a_failed_mail_again(console: Console) -> None:
    console.login()
    failed = console.message("<yh-1@example.cn>")
    assert failed.status == "failed"
    page = console.client.get("/failed").text
    # the admin reads a sentence; the exception's own text stays in the log
    assert "parser bug for the test" not in page and GENERIC in page and "重新处理" in page
    done = console.client.post(f"/messages/{failed.id}/retry", data={"csrf": console.csrf()})
    assert "重试成功" in done.text
    assert console.message("<yh-1@example.cn>").status == "processed"
    assert len(console.smtp.wait_for(3)) == 3
    with Session(console.bot.engine) as session:
        subs = session.exec(select(Submission).where(Submission.message_ref == failed.id)).all()
    assert [s.row_count for s in subs] == [1]
    assert [d for _, a, d in console.audit() if a == "retry"] == ["邮件 <yh-1@example.cn>：成功"]
    again = console.client.post(f"/messages/{failed.id}/retry", data={"csrf": console.csrf()})
    assert "无需重试" in again.text


def test_export_downloads_the_contract_workbook(console: Console) -> None:
    console.login()
    response = console.client.post("/export", data={"csrf": console.csrf()})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["主题活动申报表", "志愿者服务队登记表", "提交情况"]
    assert len(sheet_table(book["主题活动申报表"])) == 1 + 3
    assert [a for _, a, _ in console.audit()][-1] == "export"


def test_raw_mail_download_is_the_kept_copy(console: Console) -> None:
    console.login()
    dh = console.message("<dh-1@example.cn>")
    response = console.client.post(f"/messages/{dh.id}/raw", data={"csrf": console.csrf()})
    assert response.status_code == 200
    assert response.content == Path(dh.raw_path).read_bytes()
    assert console.client.get(f"/messages/{dh.id}/raw").status_code == 405


def test_search_finds_rows_of_every_unit(console: Console) -> None:
    console.login()
    page = console.client.get("/search", params={"q": "劳模"}).text
    assert "<mark>劳模</mark>先进事迹报告会" in page                 # highlighted
    assert "<mark>劳模</mark>事迹展" in page                          # an unmatched mail's row
    assert "未确认单位" in page
    assert "没有找到" in console.client.get("/search", params={"q": "100%_"}).text
    escaped = console.client.get("/search", params={"q": "<script>"}).text
    assert "<script>" not in escaped and "&lt;script&gt;" in escaped


def test_unit_page_shows_rows_messages_and_receipts(console: Console) -> None:
    console.login()
    unit = console.unit("定海路街道总工会")
    page = console.client.get(f"/units/{unit.id}").text
    assert "定海助老服务队" in page and "张三" in page and "报送" in page
    assert "回执（已收到）" in page and "下载邮件原件" in page
    assert console.client.get("/units/999").status_code == 404


@pytest.mark.parametrize("sql", [
    "DELETE FROM unit",
    "UPDATE unit SET name = 'x'",
    "INSERT INTO unit (name, aliases, emails, source, active) VALUES ('x', '[]', '[]', 'x', 1)",
    "DROP TABLE unit",
    "CREATE TABLE x (a)",
    "ATTACH DATABASE 'file:/tmp/formbot-x.db' AS x",
    "PRAGMA query_only = OFF",
    "SELECT 1; DELETE FROM unit",
    "WITH gone AS (SELECT id FROM unit) DELETE FROM unit WHERE id IN gone",
    "SELECT load_extension('x')",
])
def test_sql_page_never_writes(console: Console, sql: str) -> None:
    console.login()
    before = console.count(Unit)
    page = console.client.post("/sql", data={"sql": sql, "csrf": console.csrf("/sql")})
    assert page.status_code == 200 and 'class="flash error"' in page.text
    assert console.count(Unit) == before
    assert console.audit()[-1][1] == "sql" and "拒绝" in console.audit()[-1][2]


def test_sql_page_answers_questions(console: Console) -> None:
    console.login()
    page = console.client.post("/sql", data={
        "sql": "SELECT name AS 单位 FROM unit ORDER BY id", "csrf": console.csrf("/sql")})
    assert "<th>单位</th>" in page.text and "殷行街道总工会" in page.text
    example = console.client.get("/sql", params={"example": 0}).text
    assert "主题活动申报表" in example
    with pytest.raises(QueryRefused, match="只读"):
        run_query(console.bot.engine, "DELETE FROM unit")


def test_sql_layers_each_refuse_writes_alone(console: Console) -> None:
    if on_postgres():
        pg_layers_refuse_writes_alone(console)
    else:
        sqlite_layers_refuse_writes_alone(console)
    assert console.count(Unit) == 4


def sqlite_layers_refuse_writes_alone(console: Console) -> None:
    path = database_path(console.bot.engine)
    conn = connect_read_only(path)
    conn.set_authorizer(None)                      # without the authorizer: query_only
    with pytest.raises(sqlite3.OperationalError):
        conn.execute("DELETE FROM unit")
    conn.close()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)   # without query_only: mode=ro
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM unit")
    conn.close()


def pg_layers_refuse_writes_alone(console: Console) -> None:
    import psycopg

    pooled = console.bot.engine.raw_connection()
    conn = pooled.driver_connection
    try:
        with conn.cursor() as cursor:              # the read-only transaction alone
            cursor.execute("SET TRANSACTION READ ONLY")
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                cursor.execute("DELETE FROM unit")
        conn.rollback()
        with conn.cursor() as cursor, \
                pytest.raises(psycopg.errors.SyntaxError, match="multiple commands"):
            cursor.execute("COMMIT; DELETE FROM unit", prepare=True)  # the prepared one alone
    finally:
        conn.rollback()
        pooled.close()
    with pytest.raises(QueryRefused, match="一条语句"):
        run_query(console.bot.engine, "COMMIT; DELETE FROM unit")


def test_every_example_query_runs(console: Console) -> None:
    for _title, sql in EXAMPLES:
        assert run_query(console.bot.engine, sql).columns


def test_the_password_comes_from_the_environment() -> None:
    with pytest.raises(FormbotError, match="FORMBOT_ADMIN_PASSWORD"):
        password_from_env({})
    with pytest.raises(FormbotError, match="太短"):
        password_from_env({"FORMBOT_ADMIN_PASSWORD": "short"})
    hashed = password_from_env({"FORMBOT_ADMIN_PASSWORD": ADMIN})
    assert hashed.verify(ADMIN) and not hashed.verify(ADMIN + "x")
    assert ADMIN not in repr(vars(hashed))


def test_serve_refuses_to_start_without_a_password(tmp_path: Path) -> None:
    from tests.cli.test_cli import run

    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        config = write_config(tmp_path, imap, smtp)
        result = run("serve", "--config", str(config), "--port", "1", cwd=tmp_path,
                     env={"FORMBOT_ADMIN_PASSWORD": ""})
    assert result.returncode == 1 and "FORMBOT_ADMIN_PASSWORD" in result.stderr


def test_a_form_from_an_unregistered_address_is_pointed_out(tmp_path: Path) -> None:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        mail = build_mail(from_addr="stranger@qq.example", to_addr=BOT, subject="殷行报送",
                          body="", message_id="<stranger-1@example.cn>",
                          attachments=[("a.docx", activity_docx(FormFill(
                              "殷行街道总工会", [["座谈会", "座谈", "6月", "交流", "60"]])))])
        auth = (b"Authentication-Results: mx.126.com; dkim=pass header.d=qq.example; "
                b"spf=fail smtp.mailfrom=stranger@qq.example\r\n")
        imap.append(auth + mail)
        bot.poll()
        app = create_app(bot.settings, engine=bot.engine, password=PasswordHash(ADMIN),
                         clock=lambda: NOW)
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            console = Console(client, bot, smtp, imap)
            console.login()
            home = client.get("/").text
            assert "非登记邮箱" in home and "殷行街道总工会" in home.split("非登记邮箱")[1]
            unit = client.get(f"/units/{console.unit('殷行街道总工会').id}").text
            assert "不是该单位的登记邮箱" in unit and "dkim=pass spf=fail" in unit
            other = client.get(f"/units/{console.unit('定海路街道总工会').id}").text
            assert "不是该单位的登记邮箱" not in other
