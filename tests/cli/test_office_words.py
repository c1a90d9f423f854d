"""Words of an office (issue 14 part 4): every template rendered with realistic facts reads
as a notice of the department — numbered without gaps, no ASCII space against Chinese, no
English word but addresses, file names and units, no product name, a 落款 with the date."""

from __future__ import annotations

import re
from datetime import date

import pytest

from notifier.compose import render
from notifier.office import NUMERALS, letterhead
from notifier.receipts import FormTaken, ReceiptFacts

WORDS = letterhead("杨浦区总工会宣传教育部", "区总工会宣传教育部 张琳、曹理仰 25032216",
                   date(2018, 6, 10))
CJK = r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]"
# Addresses, file names (any extension), .docx/.xlsx, KB/MB.
ALLOWED = re.compile(r"[\w.+-]+@[\w.-]+|[\w\-（）()]+\.[A-Za-z0-9]{2,5}\b|\.docx|\.xlsx"
                     r"|(KB|MB)\b")


def base_facts(**changes: object) -> ReceiptFacts:
    facts = dict(campaign_code="杨工〔2018〕14号", campaign_title="弘扬劳模精神，建功“创新杨浦”主题活动",
                 deadline="2018年6月15日", contact=WORDS["contact"], unit_name="殷行街道总工会",
                 unit_text="殷行街道总工会", original_subject="报送附件1",
                 all_forms=("主题活动申报表", "志愿者服务队登记表"))
    facts.update(changes)
    return ReceiptFacts(**facts)  # type: ignore[arg-type]


def receipt(facts: ReceiptFacts, complete: bool = False) -> str:
    return render("receipt.txt.j2", **{**facts.__dict__, **WORDS}, has_forms=facts.has_forms,
                  complete=complete, numerals=NUMERALS)


FORM = FormTaken("主题活动申报表", 3, ("附件1-主题活动申报表.docx",),
                 ("第2行“参与人数”：读不出人数（原文：若干）",))
CASES = {
    "receipt-forms-problems-missing": receipt(base_facts(
        forms=(FORM,), unreadable=(("扫描件.jpg", "图片中没有找到表格。"),),
        notes=("本邮件地址不在“殷行街道总工会”的登记邮箱中，已按表中“填报单位”归入该单位。",),
        missing=("志愿者服务队登记表",))),
    "receipt-without-problems": receipt(base_facts(
        forms=(FormTaken("主题活动申报表", 3, ("a.docx",)),), missing=("志愿者服务队登记表",))),
    "receipt-none-arrived": receipt(base_facts(
        notes=("这封邮件没有附件（可能忘记添加附件了）。",), missing=("主题活动申报表", "志愿者服务队登记表"))),
    "receipt-complete-unit": receipt(base_facts(missing=()), complete=True),
    "receipt-two-units": receipt(base_facts(
        unit_name="五角场街道总工会", forms=(FormTaken("主题活动申报表", 3, ("附件1.docx",),
                                                     unit="新江湾城街道总工会"),),
        notes=("主题活动申报表按表中“填报单位”归入“新江湾城街道总工会”。",),
        missing_by_unit=(("新江湾城街道总工会", ("志愿者服务队登记表",)), ("五角场街道总工会", ())))),
    "receipt-unknown-unit": receipt(base_facts(unit_name=None, unit_text="某某公司工会",
                                               forms=(FORM,))),
    "reminder-first": render("reminder.txt.j2", unit_name="殷行街道总工会",
                             missing=["主题活动申报表"], overdue=False, failed_attempt="",
                             campaign_title="主题活动", campaign_code="杨工〔2018〕14号",
                             deadline="2018年6月15日", mailbox="qzxjb2008@126.com", **WORDS),
    "reminder-failed-attempt": render(
        "reminder.txt.j2", unit_name="殷行街道总工会", missing=["主题活动申报表"], overdue=True,
        failed_attempt="6月8日发来的邮件中，附件“申报表.wps”未能读取：文件已损坏。请将表格另存为.docx或.xlsx格式后重新发送。",
        campaign_title="主题活动", campaign_code="杨工〔2018〕14号", deadline="2018年6月15日",
        mailbox="qzxjb2008@126.com", **WORDS),
    "digest-every-section": render(
        "digest.txt.j2", code="杨工〔2018〕14号", title="主题活动", deadline="2018年6月15日",
        numerals=NUMERALS, complete=1, total=3, **WORDS,
        new=[("殷行街道总工会", "主题活动申报表", 3, True),
             ("未确认单位（表中填报单位：某某公司工会）", "志愿者服务队登记表", 2, False)],
        missing=[("控江路街道总工会", ["主题活动申报表", "志愿者服务队登记表"])],
        waiting=[("定海路街道总工会", "dhjd_gh@example.cn", "请问", "服务成效简介可以不填吗？")],
        crossed=[("主题活动申报表", "新江湾城街道总工会", "五角场街道总工会", "wjc@example.cn")],
        unmatched=[("x@qq.com", "某某公司工会", "报送")],
        failed=[("y@qq.com", "申报", "系统读取这封邮件时出错（详情已记入日志），会自动重试")],
        outbox_failed=[(3, "回执", "bad@example.cn", "回执", "收件地址不存在。")],
        outbox_retrying=[(4, "催报", "slow@example.cn", "催报", "发信服务器暂时不可用。")],
        mismatched=[("殷行街道总工会", "stranger@qq.com", "报送", "dkim=pass spf=fail")]),
    "digest-quiet-day": render(
        "digest.txt.j2", code="杨工〔2018〕14号", title="主题活动", deadline="2018年6月15日",
        numerals=NUMERALS, complete=3, total=3, **WORDS, new=[], missing=[], waiting=[],
        crossed=[], unmatched=[], failed=[], outbox_failed=[], outbox_retrying=[],
        mismatched=[]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_mail_reads_as_an_office_notice(name: str) -> None:
    text = CASES[name]
    numbers = re.findall(rf"^([{NUMERALS}])、", text, re.MULTILINE)
    assert numbers == list(NUMERALS[:len(numbers)]), (name, numbers)
    assert not re.search(rf"{CJK} | {CJK}", text), re.findall(rf".{{3}}{CJK} .{{3}}|.{{3}} {CJK}.{{3}}", text)
    leftover = ALLOWED.sub("", text)
    leftover = re.sub(r"dkim=\w+|spf=\w+", "", leftover)   # the digest's auth verdicts
    assert not re.search(r"[A-Za-z]{2,}", leftover), re.findall(r"[A-Za-z]{2,}", leftover)
    assert "formbot" not in text.lower()
    assert "请忽略" not in text and not re.search(r"请[^。\n]*，请", text)
    assert "收取 " not in text and "谢谢" not in text
    assert "您" not in text
    lines = text.rstrip().splitlines()
    assert lines[-2:] == ["杨浦区总工会宣传教育部", "2018年6月10日"]


def test_the_facts_behind_the_words() -> None:
    assert "已收到3行" in CASES["receipt-forms-problems-missing"]
    assert "请于2018年6月15日前" in CASES["receipt-forms-problems-missing"]
    complete = CASES["receipt-complete-unit"]
    assert "均已收齐，无需再报送" in complete and "请将填好" not in complete
    failed = CASES["reminder-failed-attempt"]
    assert "申报表.wps" in failed and "未能读取" in failed
    assert "（归入新江湾城街道总工会）" in CASES["receipt-two-units"]
    digest = CASES["digest-every-section"]
    assert "来信待处理" in digest and "服务成效简介可以不填吗？" in digest
    assert re.findall(rf"^([{NUMERALS}])、", digest, re.MULTILINE) == list("一二三四五六七八")
