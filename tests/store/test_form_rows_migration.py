"""Migration 0006_form_rows: the rows of the two old tables (activityrow,
volunteerteamrow) move into the one row table with nothing lost.

A database is filled by the real pipeline (both forms, two units, an earlier version of a
form), its status JSON, export and unit pages are taken, it is taken back to the old head
(0004: the old tables, as the downgrade rebuilds them, checked row by row with SQL) and
upgraded again; every output must be the same. Runs on SQLite, and on PostgreSQL with
FORMBOT_TEST_DATABASE set (tests/support/helpers.py database_url)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from alembic import command
from openpyxl import load_workbook
from sqlalchemy import inspect, text
from sqlmodel import Session, select

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import FormFill, activity_docx, build_mail, volunteer_docx
from formbot.demo.smtp_server import EmbeddedSMTP
from formbot.reports.export import write_export
from formbot.reports.status import status_data
from formbot.settings.declared import sync_views
from formbot.web import pages
from store.db import HEAD, _alembic_config, current_revision, prepare
from store.models import Unit
from tests.conftest import PASSWORD
from tests.support.helpers import ACTIVITY, BOT, NOW, VOLUNTEER, Bot, write_config

OLD_HEAD = "0004_outbox_state"


def _mail(sender: str, message_id: str, activity: FormFill | None,
          volunteer: FormFill | None) -> bytes:
    files = []
    if activity is not None:
        files.append(("附件1.docx", activity_docx(activity)))
    if volunteer is not None:
        files.append(("附件2.docx", volunteer_docx(volunteer)))
    return build_mail(from_addr=sender, to_addr=BOT, subject="报送申报表和登记表",
                      body="附件请查收。", attachments=files, message_id=message_id)


def _outputs(bot: Bot, tmp: Path, name: str) -> dict[str, Any]:
    data = status_data(bot.settings, engine=bot.engine, sender_check=True)
    out = tmp / f"{name}.xlsx"
    write_export(bot.settings, engine=bot.engine, out=out, now=NOW)
    workbook = load_workbook(out)
    sheets = {ws.title: [list(r) for r in ws.iter_rows(values_only=True)]
              for ws in workbook.worksheets}
    units = {}
    with Session(bot.engine) as session:
        for unit in session.exec(select(Unit).order_by(Unit.id)):  # type: ignore[arg-type]
            page = pages.unit_page(session, bot.settings, unit)
            units[unit.name] = [
                (f["spec"].key,
                 [[view.submission.id, [[row[c] for _, c in f["columns"]] + [row.raw, row.problems]
                                        for row in view.rows]]
                  for view in ([f["current"]] if f["current"] else []) + f["earlier"]])
                for f in page["forms"]]
    return {"status": json.loads(json.dumps(data, ensure_ascii=False)), "export": sheets,
            "units": units}


def test_the_rows_move_into_one_table_with_nothing_lost(tmp_path: Path) -> None:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        bot = Bot.at(write_config(tmp_path, imap, smtp))
        imap.append(_mail("dhjd_gh@example.cn", "<v1@example.cn>", ACTIVITY, VOLUNTEER))
        bot.poll(NOW - timedelta(days=2))
        later = FormFill("定海路街道总工会", [["更正后的活动", "报告会", "6月", "内容", "约300人"]])
        imap.append(_mail("dhjd_gh@example.cn", "<v2@example.cn>", later, None))
        other = FormFill("殷行街道总工会", [["“=SUM(1)”读书会", "讲座", "2018年5月", "＝劳模", "二百人"]])
        imap.append(_mail("yinhang_gh@example.cn", "<y1@example.cn>", other, None))
        bot.poll(NOW)
    before = _outputs(bot, tmp_path, "before")
    assert before["status"]["units"][0]["forms"]["activity"]["rows"] == 1
    assert before["status"]["units"][1]["forms"]["activity"]["rows"] == 1

    config = _alembic_config(bot.engine)
    command.downgrade(config, OLD_HEAD)  # type: ignore[arg-type]
    assert current_revision(bot.engine) == OLD_HEAD
    tables = set(inspect(bot.engine).get_table_names())
    assert {"activityrow", "volunteerteamrow"} <= tables and "form_row" not in tables
    with bot.engine.connect() as conn:
        activity = conn.execute(text(
            "SELECT submission_id, seq, name, participants FROM activityrow ORDER BY id")).all()
        teams = conn.execute(text(
            "SELECT leader_name, leader_title, size, founded FROM volunteerteamrow ORDER BY id"
        )).all()
    # Every version: three rows of the first, one of the correction, one of 殷行.
    assert [(r.name, r.participants) for r in activity] == [
        ("劳模先进事迹报告会", 200), ("“杨浦工匠”技能展示", 1200), ("劳模进社区", 200),
        ("更正后的活动", 300), ("“=SUM(1)”读书会", 200)]
    assert [tuple(t) for t in teams] == [("张三", "主席", 30, "2016-03"),
                                        ("李四", "工会主席", 15, "2017-05-20")]

    prepare(bot.engine)            # what every command does at start: upgrade to the head
    assert current_revision(bot.engine) == HEAD
    assert sync_views(bot.settings.forms, bot.engine)
    after = _outputs(bot, tmp_path, "after")
    assert after == before
    with bot.engine.connect() as conn:
        stored = conn.execute(text("SELECT CAST(raw AS TEXT) FROM form_row ORDER BY id")).scalars()
        assert any("约200人" in value for value in stored)      # non-ASCII kept as itself
        # The view reads the form like a table, under the export's headers.
        view = conn.execute(text(
            'SELECT 填报单位, 活动名称, 参与人数 FROM "主题活动申报表" ORDER BY 填报单位')).all()
    assert sorted((u, n, int(p)) for u, n, p in view) == sorted([
        ("定海路街道总工会", "更正后的活动", 300), ("殷行街道总工会", "“=SUM(1)”读书会", 200)])


def test_the_views_follow_the_declaration(tmp_path: Path) -> None:
    from parsers.builtin import builtin_forms
    from parsers.declare import read_declarations
    from store.db import open_database

    engine = open_database(f"sqlite:///{tmp_path / 'views.db'}")
    assert sync_views(builtin_forms(), engine)
    assert not sync_views(builtin_forms(), engine)       # unchanged: nothing rebuilt
    declared = tmp_path / "forms.yaml"
    declared.write_text(
        "- key: budget\n  title: 活动经费预算表\n  short: 经费预算表\n  fields:\n"
        "    - {key: item, label: 项目名称, required: true}\n"
        "    - {key: amount, label: 金额, kind: money, unit: 万元}\n", encoding="utf-8")
    assert sync_views(read_declarations(declared), engine)
    with engine.connect() as conn:
        views = set(inspect(conn).get_view_names())
        columns = conn.execute(text('SELECT * FROM "经费预算表"')).keys()
    assert views == {"经费预算表"}
    assert list(columns)[:4] == ["填报单位", "序号", "项目名称", "金额"]
