"""The demo's second notice, 杨工〔2018〕22号: forms formbot has never seen (issue 15).

Three forms of other kinds than 杨工〔2018〕14号's: a nomination form (身份证号, 性别,
出生年月, 是否党员, a 200字 事迹), a name list with mobile numbers, and a budget in 万元.
Their blank forms are made by code from the declaration the notice means; the admin
drafts a declaration from them (`formbot forms draft`), confirms the keys and short
names, and the units answer with values as people write them. The demo and
tests/system/test_second_notice.py both use what is here, so there is one copy.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from formbot.demo.formfiles import Table, docx_bytes, xlsx_bytes
from formbot.demo.samples import build_mail
from parsers.declare import parse_declarations
from parsers.draft import draft_forms, render
from parsers.specs import FormSpec
from parsers.tables import docx_lines, xlsx_lines

CODE = "杨工〔2018〕22号"
TITLE = "推荐杨浦区“最美职工”"
DEADLINE = "2018-06-19"
FOLDER = "最美职工"   # a 126 收信规则 files this notice's mail here (README, 多个活动)

# The declaration the notice means: what the draft must come back to once confirmed.
NOTICE = """\
- key: nominee
  title: 杨浦区“最美职工”推荐人选登记表
  short: 最美职工推荐表
  attachment: 附件1
  title_words: [推荐人选登记表]
  fields:
    - {key: name, label: 姓名, required: true}
    - {key: idcard, label: 身份证号, kind: idcard}
    - {key: sex, label: 性别, kind: choice, options: [男, 女]}
    - {key: born, label: 出生年月, kind: date}
    - {key: party, label: 是否党员, kind: yesno}
    - {key: deeds, label: 主要事迹, max_len: 200}
- key: roster
  title: 职工志愿者骨干名单
  short: 骨干名单
  attachment: 附件2
  fields:
    - {key: person, label: 姓名, required: true}
    - {key: mobile, label: 手机, kind: phone}
- key: budget
  title: 活动经费预算表
  short: 经费预算表
  attachment: 附件3
  fields:
    - {key: item, label: 项目名称, required: true}
    - {key: amount, label: 金额, kind: money, unit: 万元}
"""
# What the admin confirms in the draft: the keys and short names (the rest is as drafted).
CONFIRMED = {"yang_pu_qu_zui_mei_zhi": "nominee", "zhi_gong_zhi_yuan_zhe_gu": "roster",
             "huo_dong_jing_fei_yu_suan": "budget",
             "short: \"杨浦区“最美职工”推荐人选登记表\"": "short: \"最美职工推荐表\"",
             "short: \"职工志愿者骨干名单\"": "short: \"骨干名单\"",
             "short: \"活动经费预算表\"": "short: \"经费预算表\""}
BLANK_NAMES = ("附件1.docx", "附件2.xlsx", "附件3.docx")


def notice_forms() -> tuple[FormSpec, FormSpec, FormSpec]:
    nominee, roster, budget = parse_declarations(yaml.safe_load(NOTICE),
                                                 source=Path(f"{CODE}.yaml"))
    return nominee, roster, budget


def idcard(first17: str) -> str:
    """A resident ID with its GB 11643 check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


ID_WANG = idcard("31011019850312002")
ID_BAD = ID_WANG[:-1] + ("0" if ID_WANG[-1] != "0" else "1")   # a typo: the checksum fails
ID_SUN = idcard("31011019900705004")
MOBILE = "138 1234 5678"
DEEDS = "扎根一线二十年，" * 30   # 240 字: over the 200 the notice allows, kept whole


def blank_forms() -> dict[str, bytes]:
    """The notice's 附件1–3 as the 区总工会 sends them: empty tables."""
    nominee, roster, budget = notice_forms()
    return dict(zip(BLANK_NAMES, (docx_bytes([Table.of(nominee)]),
                                  xlsx_bytes([Table.of(roster)]),
                                  docx_bytes([Table.of(budget)])), strict=True))


def draft_declaration(folder: Path) -> tuple[Path, Path]:
    """`formbot forms draft` on the blank forms in `folder`, then the admin's confirmation:
    (the draft as drafted, the confirmed forms.yaml beside it)."""
    drafted = []
    for name in BLANK_NAMES:
        data = (folder / name).read_bytes()
        lines = docx_lines(data) if name.endswith(".docx") else xlsx_lines(data)
        drafted += draft_forms(lines, template=name)   # no drop-down lists in these blanks
    text = render(drafted, None, list(BLANK_NAMES))
    draft = folder / "forms-draft.yaml"
    draft.write_text(text, encoding="utf-8")
    for old, new in CONFIRMED.items():
        text = text.replace(old, new)
    confirmed = folder / "forms.yaml"
    confirmed.write_text(text, encoding="utf-8")
    return draft, confirmed


def dinghai_forms() -> tuple[bytes, bytes, bytes]:
    """定海路's three forms: the nomination and the budget in Word, the list in Excel."""
    nominee, roster, budget = notice_forms()
    unit = "定海路街道总工会"
    return (docx_bytes([Table.of(nominee, [["1", "王芳", ID_WANG, "女", "1985年3月", "是", DEEDS]],
                                 unit=unit)]),
            xlsx_bytes([Table.of(roster, [["1", "李强", MOBILE], ["2", "赵敏", "021-65012345"]],
                                 unit=unit)]),
            docx_bytes([Table.of(budget, [["1", "劳模宣讲", "1.2万元"],
                                          ["2", "志愿服务物资", "12,000元"]], unit=unit)]))


def yinhang_zip() -> bytes:
    """殷行's zip of two forms: one ID with a typo, 性别 written 男性; no budget."""
    nominee, roster, _ = notice_forms()
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("推荐.docx", docx_bytes([Table.of(nominee, [
            ["1", "陈刚", ID_BAD, "男性", "1979.11", "否", "带头攻关"]], unit="殷行街道总工会")]))
        archive.writestr("名单.xlsx", xlsx_bytes([Table.of(roster, [["1", "周洁", "13912345678"]],
                                                          unit="殷行街道总工会")]))
    return packed.getvalue()


def wujiaochang_book() -> bytes:
    """五角场's one workbook with the three forms as three sheets."""
    nominee, roster, budget = notice_forms()
    unit = "五角场街道总工会"
    return xlsx_bytes([
        Table.of(nominee, [["1", "孙磊", ID_SUN, "男", "1990.7", "否",
                            "商圈应急救护志愿者骨干，三年培训职工四百余人。"]], unit=unit),
        Table.of(roster, [["1", "孙磊", "13611112222"], ["2", "钱丽", "+86 137 0000 1111"]],
                 unit=unit),
        Table.of(budget, [["1", "应急救护培训", "3万"], ["2", "宣传材料", "8000元"]], unit=unit)])


@dataclass(frozen=True)
class NoticeMail:
    sender: str
    name: str
    subject: str
    files: list[tuple[str, bytes]]


def demo_mail(*, to_addr: str, base: datetime) -> list[bytes]:
    """The second notice's folder after a few days: three units answer, two do not."""
    nomination, names, money = dinghai_forms()
    mails = [
        NoticeMail("dhjd_gh@example.cn", "定海路街道总工会", "定海路街道总工会报送最美职工推荐材料",
                   [("推荐表.docx", nomination), ("名单.xlsx", names), ("预算.docx", money)]),
        NoticeMail("yinhang_gh@example.cn", "殷行街道工会 刘洋", "附件1、附件2",
                   [("材料.zip", yinhang_zip())]),
        NoticeMail("2018061501@qq.example", "赵敏", "五角场街道总工会 最美职工推荐",
                   [("五角场-最美职工.xlsx", wujiaochang_book())]),
    ]
    return [build_mail(from_addr=m.sender, from_name=m.name, to_addr=to_addr,
                       subject=m.subject, body="区总工会宣传教育部：\n\n附件请查收。\n",
                       attachments=m.files, message_id=f"<demo2-{k}@example.cn>",
                       date=base + timedelta(hours=k))
            for k, m in enumerate(mails)]
