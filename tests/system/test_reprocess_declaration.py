"""A declaration changed mid-campaign, then `formbot reprocess --all` (issue 15 part 3):
the kept mail is read again under the new declaration, as real processes against real
IMAP and SMTP servers, with forms made by python-docx and openpyxl.

Under declaration A the units' forms carry columns A does not know (成立时间, 队长手机)
and a second table A does not declare (the budget); 队员人数 is text and 服务内容 may be
100字. Declaration B adds 成立时间 (date), gives 负责人手机号码 the alias 队长手机, makes
队员人数 a count, tightens 服务内容 to 10字 and declares the budget form (万元). After
`reprocess --all` the rows, the per-form SQL views, status JSON and the export follow B;
no mail, row or unit is lost; the admin's decisions (a mail assigned to a unit, corrected
cells) stand; and no unit gets a second receipt (CONTRACT: reprocess "never duplicates
rows"; README and `reprocess --help`: never doubles rows or receipts)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from formbot.demo.formfiles import Table, docx_bytes, xlsx_bytes
from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import build_mail
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.settings.loading import load_settings
from formbot.web.actions import assign
from formbot.web.paper import correct_cell
from store.db import open_database
from store.models import Message, Unit
from tests.cli.test_cli import run
from tests.support.helpers import BOT, TZ, sheet_table, write_config

TEAM = """\
- key: team
  title: 职工志愿者服务队登记表
  short: 服务队登记表
  fields:
    - {key: name, label: 服务队名称, required: true}
    - {key: members, label: 队员人数%s}
    - {key: intro, label: 服务内容, max_len: %d}
"""
A = TEAM % ("", 100) + """\
    - {key: mobile, label: 负责人手机号码, kind: phone}
"""
B = TEAM % (", kind: count", 10) + """\
    - {key: founded, label: 成立时间, kind: date}
    - {key: mobile, label: 负责人手机号码, kind: phone, aliases: [队长手机]}
- key: budget
  title: 活动经费预算表
  short: 经费预算表
  fields:
    - {key: item, label: 项目名称, required: true}
    - {key: amount, label: 金额, kind: money, unit: 万元}
"""
TEAM_TITLE, BUDGET_TITLE = "职工志愿者服务队登记表", "活动经费预算表"
HEADERS = ["序号", "服务队名称", "队员人数", "服务内容（100字内）", "成立时间", "队长手机"]
ENV = {"FORMBOT_IMAP_PASSWORD": "secret-imap", "FORMBOT_SMTP_PASSWORD": "secret-imap"}
POLLED, ADMIN_AT, REREAD = ("2018-06-10T10:00:00+08:00", datetime(2018, 6, 10, 11, 0, tzinfo=TZ),
                            "2018-06-11T09:00:00+08:00")


def _mails() -> list[bytes]:
    dinghai = docx_bytes([
        Table(TEAM_TITLE, HEADERS, [
            ["1", "助老服务队", "30人", "为社区老人送餐、陪护和理发", "2016年3月", "138 0013 8000"],
            ["2", "法律服务队", "约15人", "法律咨询", "2017.5", "13900139000"]],
            unit="定海路街道总工会"),
        Table(BUDGET_TITLE, ["序号", "项目名称", "金额（万元）"], [["1", "宣传", "1.5万元"]],
              unit="定海路街道总工会")])
    yinhang = xlsx_bytes([Table(TEAM_TITLE, HEADERS, [
        ["1", "殷行助残服务队", "二十余人", "助残", "2015年", "13700137000"]], unit="殷行街道总工会")])
    # From a private mailbox, naming the unit in a way the registry does not know.
    stranger = docx_bytes([Table(TEAM_TITLE, HEADERS, [
        ["1", "控江文明交通服务队", "12", "交通劝导", "2018年1月", ""]], unit="控江社区")])
    sent = [("dhjd_gh@example.cn", "定海路报送", [("登记表.docx", dinghai)]),
            ("yinhang_gh@example.cn", "殷行报送", [("登记表.xlsx", yinhang)]),
            ("volunteer_2018@qq.example", "报送登记表", [("登记表.docx", stranger)])]
    return [build_mail(from_addr=sender, to_addr=BOT, subject=subject, body="附件请查收。",
                       attachments=files, message_id=f"<redeclare-{n}@example.cn>")
            for n, (sender, subject, files) in enumerate(sent)]


def _rows(out: Path, sheet: str) -> list[dict[str, object]]:
    table = sheet_table(openpyxl.load_workbook(out)[sheet])
    return [dict(zip(table[0], row, strict=True)) for row in table[1:]]


def _forms(status: dict, unit: str) -> dict[str, int]:
    [found] = [u for u in status["units"] if u["name"] == unit]
    return {key: form["rows"] for key, form in found["forms"].items() if form["submitted"]}


def test_reprocess_all_reads_the_kept_mail_again_under_a_changed_declaration(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():   # the console's actions send from this process
        monkeypatch.setenv(name, value)
    forms = tmp_path / "forms.yaml"
    forms.write_text(A, encoding="utf-8")
    with EmbeddedIMAP(user=BOT, password="secret-imap") as imap, \
            EmbeddedSMTP(user=BOT, password="secret-imap") as smtp:
        config = write_config(tmp_path, imap, smtp, campaign__forms=str(forms))
        for raw in _mails():
            imap.append(raw)

        def cli(*args: str) -> str:
            done = run(*args, "--config", str(config), cwd=tmp_path, env=ENV)
            assert done.returncode == 0, done.stderr + done.stdout
            return done.stdout

        assert "新邮件 3 封" in cli("poll", "--now", POLLED)
        # The admin's decisions in the console: the stranger's mail is 控江路's, and two
        # cells are put right (one in a column that becomes a count under B).
        settings = load_settings(config)
        engine = open_database(settings.database)
        with Session(engine) as session:
            ids = {m.message_id: m.id for m in session.exec(select(Message))}
            kongjiang = session.exec(select(Unit).where(Unit.name == "控江路街道总工会")).one()
        done = assign(settings, engine=engine, message_id=ids["<redeclare-2@example.cn>"],
                      unit_id=kongjiang.id, now=ADMIN_AT, who="admin")  # type: ignore[arg-type]
        assert "已归入“控江路街道总工会”" in done.text, done
        correct_cell(settings, engine=engine, message_id=ids["<redeclare-0@example.cn>"],
                     form="team", seq=2, field_key="name", value="定海法律援助服务队",
                     now=ADMIN_AT, who="admin")   # type: ignore[arg-type]
        correct_cell(settings, engine=engine, message_id=ids["<redeclare-1@example.cn>"],
                     form="team", seq=1, field_key="members", value="22",
                     now=ADMIN_AT, who="admin")   # type: ignore[arg-type]
        engine.dispose()
        before = json.loads(cli("status", "--json"))
        assert [_forms(before, u) for u in ("定海路街道总工会", "殷行街道总工会", "控江路街道总工会")
                ] == [{"team": 2}, {"team": 1}, {"team": 1}]
        cli("export", "--out", str(tmp_path / "a.xlsx"))
        sent_before = list(smtp.messages)   # three receipts, and one naming 控江路 after
        assert [to for _, [to], _ in sent_before] == [
            "dhjd_gh@example.cn", "yinhang_gh@example.cn", "volunteer_2018@qq.example",
            "volunteer_2018@qq.example"]

        forms.write_text(B, encoding="utf-8")              # the declaration changes
        out = cli("reprocess", "--all", "--now", REREAD)
        assert "已处理 3 封" in out, out
        after = json.loads(cli("status", "--json"))
        cli("export", "--out", str(tmp_path / "b.xlsx"))
        # No unit is answered again for a re-read (the receipts' keys are the messages').
        assert smtp.messages == sent_before

    # Nothing lost, and the new form appears: 定海路's budget was in its mail all along.
    assert [_forms(after, u) for u in ("定海路街道总工会", "殷行街道总工会", "控江路街道总工会")] == [
        {"team": 2, "budget": 1}, {"team": 1}, {"team": 1}]
    assert after["units_complete"] == 1 and before["units_complete"] == 3
    assert list(after["units"][0]["forms"]) == ["team", "budget"]

    old, new = _rows(tmp_path / "a.xlsx", "服务队登记表"), _rows(tmp_path / "b.xlsx", "服务队登记表")
    assert "成立时间" not in old[0] and "成立时间" in new[0]
    by_name = {r["服务队名称"]: r for r in new}
    assert sorted(by_name) == sorted(r["服务队名称"] for r in old) == sorted([
        "定海法律援助服务队", "助老服务队", "控江文明交通服务队", "殷行助残服务队"])
    assert [by_name[n]["队员人数"] for n in ("助老服务队", "定海法律援助服务队", "殷行助残服务队",
                                          "控江文明交通服务队")] == [30, 15, 22, 12]
    assert [old_row["队员人数"] for old_row in old if old_row["服务队名称"] == "助老服务队"] == ["30人"]
    helper = by_name["助老服务队"]
    assert (helper["成立时间"], helper["负责人手机号码"]) == ("2016-03", "13800138000")
    assert "超过10字" in (helper["问题"] or "")
    assert by_name["控江文明交通服务队"]["填报单位"] == "控江路街道总工会"
    assert [r["金额"] for r in _rows(tmp_path / "b.xlsx", "经费预算表")] == [1.5]

    # The per-form SQL views follow the declaration: new columns, numbers as numbers.
    engine = open_database(load_settings(config).database)
    with engine.connect() as conn:
        team = conn.execute(text('SELECT * FROM "服务队登记表"'))
        assert {"成立时间", "负责人手机号码", "队员人数"} <= set(team.keys())
        assert sorted(conn.execute(text(
            'SELECT "队员人数" FROM "服务队登记表" WHERE "队员人数" > 12')).scalars()) == [15, 22, 30]
        assert conn.execute(text('SELECT "金额" FROM "经费预算表"')).scalar_one() == 1.5
        assert conn.execute(text("SELECT count(*) FROM message")).scalar_one() == 3
    engine.dispose()


def test_a_renamed_key_leaves_corrections_unapplied_says_so_and_putting_it_back_restores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A correction is kept by its form and field keys: a declaration that renames them
    cannot apply it. `reprocess` says which, and keeps it for when the key is put back."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    forms = tmp_path / "forms.yaml"
    forms.write_text(A, encoding="utf-8")
    with EmbeddedIMAP(user=BOT, password="secret-imap") as imap, \
            EmbeddedSMTP(user=BOT, password="secret-imap") as smtp:
        config = write_config(tmp_path, imap, smtp, campaign__forms=str(forms))
        imap.append(_mails()[0])

        def cli(*args: str) -> str:
            done = run(*args, "--config", str(config), cwd=tmp_path, env=ENV)
            assert done.returncode == 0, done.stderr + done.stdout
            return done.stdout

        def names() -> list[object]:
            cli("export", "--out", str(tmp_path / "out.xlsx"))
            return [r["服务队名称"] for r in _rows(tmp_path / "out.xlsx", "服务队登记表")]

        cli("poll", "--now", POLLED)
        settings = load_settings(config)
        engine = open_database(settings.database)
        with Session(engine) as session:
            [message_id] = [m.id for m in session.exec(select(Message))]
        correct_cell(settings, engine=engine, message_id=message_id,  # type: ignore[arg-type]
                     form="team", seq=2, field_key="name", value="定海法律援助服务队",
                     now=ADMIN_AT, who="admin")
        engine.dispose()
        assert names() == ["助老服务队", "定海法律援助服务队"]

        forms.write_text(A.replace("key: team", "key: volunteers"), encoding="utf-8")
        out = cli("reprocess", "--all", "--now", REREAD)
        assert "注意：管理后台中更正过的 1 个单元格 team.name（<redeclare-0@example.cn> 第2行）" in out
        assert names() == ["助老服务队", "法律服务队"]          # as the unit wrote it

        forms.write_text(A, encoding="utf-8")                   # the key put back
        out = cli("reprocess", "--all", "--now", REREAD)
        assert "注意" not in out
        assert names() == ["助老服务队", "定海法律援助服务队"]
        assert len(smtp.messages) == 1                          # the one receipt, never again
