"""The summary workbook as the boss sees it: printed by LibreOffice to A4 landscape pages.

Each page's footer names its sheet (`&A`), so the PDF's text tells which pages belong to
which sheet; every page of a form sheet must carry the whole header (repeated, and no
column pushed onto a page of its own). Needs soffice and pdftotext (poppler-utils) and a
CJK font, which `make test` installs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from openpyxl import Workbook

from formbot.reports.workbook import SheetPlan, add_sheet, status_marker

VOLUNTEER = ["填报单位", "序号", "登记服务队名称", "负责人姓名", "负责人职务", "服务队人数",
             "服务队组建时间", "服务内容", "服务成效简介", "联系人", "联系电话", "填报日期",
             "提交时间", "问题"]
LONG = ("依托社区党群服务中心，组织职工志愿者定期开展助老助残、法律咨询、环境整治等服务，"
        "累计服务居民三千余人次，受到社区居民和街道党工委的好评，形成了品牌效应。")


def _volunteer_rows(count: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for n in range(count):
        rows.append([f"{'长白新村' if n % 2 else '定海路'}街道总工会", n % 4 + 1,
                     f"第{n + 1}职工志愿者服务队", "张三丰", "工会副主席", 30 + n, "2016-03",
                     LONG[:50], LONG if n % 3 == 0 else LONG[:30], "王芳", "021-65430000",
                     "2018-06-12", "2018-06-12 09:30",
                     "第1行“服务成效简介”：超过100字（117字），已完整保留" if n % 5 == 0 else None])
    return rows


def _render(book: Workbook, tmp_path: Path) -> list[str]:
    """The workbook printed to PDF by LibreOffice; the text of each page."""
    xlsx = tmp_path / "汇总.xlsx"
    book.save(xlsx)
    profile = tmp_path / "profile"
    subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless",
                    "--norestore", "--convert-to", "pdf", "--outdir", str(tmp_path), str(xlsx)],
                   check=True, capture_output=True, timeout=180)
    pdf = tmp_path / "汇总.pdf"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True, timeout=60).stdout
    return [page for page in text.split("\f") if page.strip()]


def test_each_sheet_prints_on_a4_landscape_with_its_whole_header_on_every_page(
        tmp_path: Path) -> None:
    book = Workbook()
    book.remove(book.active)
    add_sheet(book, SheetPlan(name="志愿者服务队登记表", title="杨工〔2018〕14号　志愿者服务队登记表",
                              subtitle="导出时间：2018-06-12 09:30　已交齐 2/20 个单位",
                              headers=VOLUNTEER, rows=_volunteer_rows(60), widths={1: 5}))
    add_sheet(book, SheetPlan(
        name="提交情况", title="杨工〔2018〕14号　提交情况", subtitle="已交齐 2/20 个单位",
        headers=["单位", "主题活动申报表", "志愿者服务队登记表", "最近提交时间", "提醒次数"],
        rows=[[f"单位{n}", "已提交" if n < 2 else "未提交", "未提交", None, 1]
              for n in range(20)],
        marker=status_marker([1, 2])))
    pages = _render(book, tmp_path)

    by_sheet: dict[str, list[str]] = {}
    for page in pages:
        footer = page.strip().splitlines()[-1]
        sheet = next(name for name in ("志愿者服务队登记表", "提交情况") if name in footer)
        by_sheet.setdefault(sheet, []).append(page)
    print("\npages per sheet:", {name: len(p) for name, p in by_sheet.items()})

    volunteer = by_sheet["志愿者服务队登记表"]
    # 60 rows, several of them three or four lines high: a few pages, not one per column
    assert 2 <= len(volunteer) <= 6
    for page in volunteer:
        flat = "".join(page.split())
        # each header word on every page: repeated, and no column cut off to another page
        # (a header that wraps in its cell comes out of the PDF in pieces, so look for its
        # start, which is on the first line of its cell)
        for header in VOLUNTEER:
            assert header[:3] in flat, (header, page[:400])
    assert "第12职工志愿者服务队" in "".join("".join(p.split()) for p in volunteer)
    assert len(by_sheet["提交情况"]) == 1
