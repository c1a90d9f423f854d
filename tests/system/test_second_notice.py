"""A notice formbot has never seen, end to end, with no code change (issue 15 part 7).

The 区总工会's next notice asks for three forms of other kinds than 杨工〔2018〕14号's: a
nomination form (身份证号, 性别, 出生年月, 是否党员, 200字 事迹), a name list with mobile
numbers, and a budget in 万元. Its blank forms are made by code from the declaration the
notice means; the admin runs `forms draft` on them, confirms the keys and short names,
`forms check`s them, and the units' filled forms (.docx, .xlsx, .doc by LibreOffice, a
zip) are collected through `poll` → `remind` → `status` → `export`, as real processes
against real IMAP and SMTP servers."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import yaml

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.samples import build_mail
from formbot.demo.secondnotice import (
    CONFIRMED,
    ID_BAD,
    ID_WANG,
    blank_forms,
    dinghai_forms,
    notice_forms,
    yinhang_zip,
)
from formbot.demo.smtp_server import EmbeddedSMTP
from parsers.declare import read_declarations
from tests.cli.test_cli import run
from tests.support.fixtures.legacy import libreoffice_made
from tests.support.helpers import BOT, body_of, parse_sent, sheet_table, write_config


def _mail(sender: str, subject: str, files: list[tuple[str, bytes]], n: int) -> bytes:
    return build_mail(from_addr=sender, to_addr=BOT, subject=subject, body="附件请查收。",
                      attachments=files, message_id=f"<notice2-{n}@example.cn>")


def test_a_new_notice_is_collected_end_to_end_with_no_code_change(tmp_path: Path) -> None:
    nominee, roster, budget = notice_forms()
    notice = tmp_path / "notice"
    notice.mkdir()
    for name, data in blank_forms().items():
        (notice / name).write_bytes(data)

    # forms draft → the same labels, kinds and limits as the notice means.
    draft = run("forms", "draft", "附件1.docx", "附件2.xlsx", "附件3.docx", "--out",
                "forms.yaml", cwd=notice)
    assert draft.returncode == 0, draft.stderr
    text = (notice / "forms.yaml").read_text(encoding="utf-8")
    for old, new in CONFIRMED.items():
        assert old in text, old
        text = text.replace(old, new)
    (notice / "forms.yaml").write_text(text, encoding="utf-8")
    drafted = read_declarations(notice / "forms.yaml")
    assert [(f.key, f.short) for f in drafted] == [(f.key, f.short)
                                                   for f in (nominee, roster, budget)]
    for got, meant in zip(drafted, (nominee, roster, budget), strict=True):
        assert [(f.label, f.kind, f.max_len, f.options, f.unit) for f in got.data_fields] == \
            [(f.label, f.kind, f.max_len, f.options, f.unit) for f in meant.data_fields]

    with EmbeddedIMAP(user=BOT, password="secret-imap") as imap, \
            EmbeddedSMTP(user=BOT, password="secret-imap") as smtp:
        config = write_config(tmp_path, imap, smtp, campaign__code="杨工〔2018〕22号",
                              campaign__title="推荐杨浦区“最美职工”",
                              campaign__forms=str(notice / "forms.yaml"))
        env = {"FORMBOT_IMAP_PASSWORD": "secret-imap", "FORMBOT_SMTP_PASSWORD": "secret-imap"}
        check = run("forms", "check", "--config", str(config), cwd=tmp_path, env=env)
        assert check.returncode == 0, check.stderr + check.stdout
        assert "最美职工推荐表" in check.stdout and "经费预算表" in check.stdout

        # 定海路: all three, as people write them — .docx, .xlsx, and a .doc from LibreOffice.
        nomination, names, money = dinghai_forms()
        imap.append(_mail("dhjd_gh@example.cn", "定海路街道总工会报送最美职工推荐材料",
                          [("推荐表.docx", nomination), ("名单.xlsx", names),
                           ("预算.doc", libreoffice_made(money, "docx", "doc"))], 1))
        # 殷行: a zip of two forms, one ID with a typo and 性别 written 男性; no budget.
        imap.append(_mail("yinhang_gh@example.cn", "附件1、附件2", [("材料.zip", yinhang_zip())],
                          2))

        poll = run("poll", "--config", str(config), "--now", "2018-06-10T10:00:00+08:00",
                   cwd=tmp_path, env=env)
        assert poll.returncode == 0, poll.stderr
        receipts = {parse_sent(raw)["To"]: body_of(parse_sent(raw))
                    for _, _, raw in smtp.wait_for(2)}
        dinghai = receipts["dhjd_gh@example.cn"]
        assert "最美职工推荐表：已收到1行" in dinghai and "经费预算表：已收到2行" in dinghai
        assert "超过200字（240字），已完整保留" in dinghai
        yinhang = receipts["yinhang_gh@example.cn"]
        assert "尚未收到：经费预算表" in yinhang and "身份证号" in yinhang
        assert ID_BAD not in yinhang    # personal data is never quoted in a problem

        remind = run("remind", "--config", str(config), "--now", "2018-06-12T09:30:00+08:00",
                     cwd=tmp_path, env=env)
        assert remind.returncode == 0, remind.stderr
        reminders = {parse_sent(raw)["To"]: body_of(parse_sent(raw))
                     for _, _, raw in smtp.wait_for(4)[2:]}
        assert set(reminders) == {"yinhang_gh@example.cn", "kjl_gh@example.cn"}
        assert "经费预算表" in reminders["yinhang_gh@example.cn"]
        assert "最美职工推荐表" not in reminders["yinhang_gh@example.cn"]
        assert all(s in reminders["kjl_gh@example.cn"] for s in ("最美职工推荐表", "骨干名单",
                                                                   "经费预算表"))

        status = json.loads(run("status", "--json", "--config", str(config), cwd=tmp_path,
                                env=env).stdout)
        assert status["campaign"] == "杨工〔2018〕22号" and status["units_complete"] == 1
        first, second = status["units"][:2]
        assert list(first["forms"]) == ["nominee", "roster", "budget"]
        assert [first["forms"][k]["rows"] for k in first["forms"]] == [1, 2, 2]
        assert [second["forms"][k]["submitted"] for k in second["forms"]] == [True, True, False]

        out = tmp_path / "汇总.xlsx"
        export = run("export", "--config", str(config), "--out", str(out), cwd=tmp_path,
                     env=env)
        assert export.returncode == 0, export.stderr
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["最美职工推荐表", "骨干名单", "经费预算表", "提交情况"]
    people = sheet_table(book["最美职工推荐表"])
    assert people[0] == ["填报单位", "序号", "姓名", "身份证号", "性别", "出生年月", "是否党员",
                         "主要事迹", "联系人", "联系电话", "填报日期", "提交时间", "问题"]
    wang = dict(zip(people[0], people[1], strict=True))
    assert (wang["填报单位"], wang["身份证号"], wang["性别"], wang["出生年月"], wang["是否党员"]) == (
        "定海路街道总工会", ID_WANG, "女", "1985-03", "是")
    chen = dict(zip(people[0], people[2], strict=True))
    assert (chen["性别"], chen["出生年月"], chen["是否党员"]) == ("男", "1979-11", "否")
    assert "身份证号" in (chen["问题"] or "")
    money_rows = sheet_table(book["经费预算表"])
    assert money_rows[0][:4] == ["填报单位", "序号", "项目名称", "金额"]
    assert [r[3] for r in money_rows[1:]] == [1.2, 1.2]       # number cells in 万元
    phones = [r[3] for r in sheet_table(book["骨干名单"])[1:]]
    assert all(isinstance(p, str) for p in phones) and len(phones) == 3
    summary = sheet_table(book["提交情况"])
    assert summary[0][:4] == ["单位", "最美职工推荐表", "骨干名单", "经费预算表"]
    assert summary[2][1:4] == ["已提交", "已提交", "未提交"]

    logs = "".join(p.read_text(encoding="utf-8", errors="replace")
                   for p in (tmp_path / "data").rglob("*.log"))
    assert logs and ID_WANG not in logs and ID_BAD not in logs and "13912345678" not in logs
    declared = yaml.safe_load(text)
    assert [d["template"] for d in declared] == ["附件1.docx", "附件2.xlsx", "附件3.docx"]
