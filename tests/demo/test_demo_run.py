"""`formbot demo` shows both notices (issue 15 part 7): 杨工〔2018〕14号 as ever, then the
second notice, 杨工〔2018〕22号, from its blank forms to its workbook, and a console that
switches between them."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest
from starlette.testclient import TestClient

from formbot.demo.console import demo_app, demo_console
from formbot.demo.secondnotice import ID_BAD, ID_SUN, ID_WANG
from formbot.web.auth import PasswordHash
from tests.cli.test_cli import run
from tests.support.helpers import sheet_table

FIRST, SECOND = "杨工〔2018〕14号", "杨工〔2018〕22号"
HEADING = f"第二个通知：{SECOND}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    where = tmp_path_factory.mktemp("demo")
    result = run("demo", "--dir", str(where / "work"), cwd=where)
    assert result.returncode == 0, result.stderr
    return where, result.stdout


def test_the_first_notice_comes_first_and_as_before(demo: tuple[Path, str]) -> None:
    where, out = demo
    first, second = out.split(HEADING)
    assert SECOND not in first and "已交齐 6/8 个单位" in first
    assert f"催报提醒（截止前3天）：{FIRST}" in first
    assert f"汇总表已写入 {where / 'demo-export.xlsx'}" in first
    book = openpyxl.load_workbook(where / "demo-export.xlsx")
    assert book.sheetnames == ["主题活动申报表", "志愿者服务队登记表", "提交情况"]
    assert "主题活动申报表" not in second        # the second notice has only its own forms


def test_the_second_notice_from_blank_forms_to_its_workbook(demo: tuple[Path, str]) -> None:
    where, out = demo
    second = out.split(HEADING)[1]
    # Blank forms → a drafted, confirmed declaration → a campaign of the config.
    assert "附件1.docx、附件2.xlsx、附件3.docx" in second and "forms-draft.yaml" in second
    assert "附件1 最美职工推荐表：姓名（必填）、身份证号" in second
    assert "主要事迹（200字以内）" in second and "金额（万元）" in second
    config = (where / "work" / "config.yaml").read_text(encoding="utf-8")
    assert "campaigns:" in config and "notice-22/forms.yaml" in config
    # One receipt (a 200字 field over its limit kept whole), one reminder with its blank form.
    receipt = second[second.index("一封回执"):second.index("一封催报")]
    assert "回执（已收到）：定海路街道总工会报送最美职工推荐材料" in receipt
    assert "最美职工推荐表：已收到1行" in receipt and "经费预算表：已收到2行" in receipt
    assert "超过200字（240字），已完整保留" in receipt
    reminder = second[second.index("一封催报"):second.index("每日汇总")]
    assert f"催报提醒（截止前7天）：{SECOND}，经费预算表" in reminder
    assert "附件为空白表格（附件3.docx）" in reminder
    digest = second[second.index("每日汇总"):second.index("提交情况")]
    assert f"每日汇总（2018年6月12日）：{SECOND}" in digest and "缺经费预算表" in digest
    status = second[second.index("提交情况"):]
    assert f"{SECOND}　截止日期 2018-06-19　已交齐 2/8 个单位" in status
    assert all(s in status for s in ("最美职工推荐表", "骨干名单", "经费预算表"))
    assert f"汇总表已写入 {where / 'demo-export-2.xlsx'}" in status
    assert "页头可在两个通知之间切换" in status
    # Personal data stays in the store and the workbook, never on the screen.
    assert not any(i in out for i in (ID_WANG, ID_BAD, ID_SUN))

    book = openpyxl.load_workbook(where / "demo-export-2.xlsx")
    assert book.sheetnames == ["最美职工推荐表", "骨干名单", "经费预算表", "提交情况"]
    people = sheet_table(book["最美职工推荐表"])
    rows = {r[people[0].index("姓名")]: dict(zip(people[0], r, strict=True))
            for r in people[1:]}
    assert (rows["王芳"]["身份证号"], rows["王芳"]["出生年月"]) == (ID_WANG, "1985-03")
    assert (rows["陈刚"]["性别"], rows["孙磊"]["出生年月"]) == ("男", "1990-07")
    assert "身份证号" in (rows["陈刚"]["问题"] or "")
    budget = sheet_table(book["经费预算表"])
    assert sorted(r[3] for r in budget[1:]) == [0.8, 1.2, 1.2, 3]   # 万元, as numbers
    summary = sheet_table(book["提交情况"])
    assert len(summary) == 9 and summary[0][1:4] == ["最美职工推荐表", "骨干名单", "经费预算表"]


def test_the_demo_console_switches_between_the_two_notices(demo: tuple[Path, str]) -> None:
    where, _ = demo
    with demo_console(where / "work") as console:
        assert [s.campaign.code for s, _ in console.others] == [SECOND]
        app = demo_app(console, PasswordHash("demo console"))
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            form = client.get("/login").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form)
            assert csrf is not None
            done = client.post("/login", data={"password": "demo console",
                                               "csrf": csrf.group(1), "next": "/"},
                               follow_redirects=False)
            assert done.status_code == 303
            first, second = client.get("/"), client.get("/c/1/")
    assert first.status_code == second.status_code == 200
    assert f"{FIRST} 报表收集" in first.text and f"{SECOND} 报表收集" in second.text
    switcher = first.text[first.text.index('<details class="switcher">'):]
    assert 'href="/c/1/"' in switcher and SECOND in switcher
    assert "最美职工推荐表" in second.text and "主题活动申报表" not in second.text
