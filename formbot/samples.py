"""Sample submissions for 杨工〔2018〕14号, built by code for the demo, tests and benchmarks.

The files imitate what clerks send back: the notice's own Word/Excel templates filled in
by hand, mailed from assorted clients that each encode attachment names their own way.
"""

import base64
import binascii
import hashlib
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.charset import BASE64, QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, make_msgid
from io import BytesIO
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

ACTIVITY_TITLE = "“弘扬劳模精神，建功‘创新杨浦’”主题活动申报表"
VOLUNTEER_TITLE = "杨浦职工志愿者服务队登记表"
NOTE = "注：表格不够可另附，电子版请从区总工会网站公告栏下载。"

ACTIVITY_HEADERS: tuple[str, ...] = (
    "序号", "活动名称", "活动形式", "时间安排", "主要内容和形式（100字内）", "参与人数",
)
VOLUNTEER_HEADERS: tuple[str, ...] = (
    "序号", "登记服务队名称", "负责人\n姓名及职务", "服务队\n人数", "服务队\n组建时间",
    "服务内容\n（50字内）", "服务成效简介\n（100字内，新组队可不填）",
)


@dataclass(frozen=True)
class FormFill:
    """What a clerk typed into one form."""

    unit_text: str
    rows: list[list[str]]
    contact: str = "王芳"
    phone: str = "65430000"
    filled_on: str = "2018年6月10日"
    blank_rows: int = 1


@dataclass(frozen=True)
class _Spec:
    label: str
    title: str
    headers: tuple[str, ...]
    count_col: int  # index (in headers) of the head-count column Excel would turn into a number


_ACTIVITY = _Spec("附件1", ACTIVITY_TITLE, ACTIVITY_HEADERS, 5)
_VOLUNTEER = _Spec("附件2", VOLUNTEER_TITLE, VOLUNTEER_HEADERS, 3)


def _footer(fill: FormFill) -> str:
    return f"联系人：{fill.contact}        联系电话：{fill.phone}        填报日期：{fill.filled_on}"


def _check(spec: _Spec, fill: FormFill) -> None:
    width = len(spec.headers) - 1
    for i, row in enumerate(fill.rows, 1):
        if len(row) != width:
            raise ValueError(f"{spec.label} row {i}: expected {width} cells, got {len(row)}")


# --- Word -------------------------------------------------------------------------------

def _docx_form(doc: Document, spec: _Spec, fill: FormFill, *, new_page: bool) -> None:
    _check(spec, fill)
    label = doc.add_paragraph(spec.label)
    label.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    # A page break property rather than a break paragraph keeps the paragraph list the same
    # shape for every form in the file.
    label.paragraph_format.page_break_before = new_page
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(spec.title)
    run.bold = True
    run.font.size = Pt(16)
    doc.add_paragraph(f"填报单位：{fill.unit_text}")
    table = doc.add_table(rows=1 + len(fill.rows) + fill.blank_rows, cols=len(spec.headers))
    table.style = "Table Grid"
    for cell, header in zip(table.rows[0].cells, spec.headers, strict=True):
        # The template breaks long headers with paragraph marks, not line-break characters.
        first, *more = header.split("\n")
        cell.text = first
        for line in more:
            cell.add_paragraph(line)
    for n, row in enumerate(fill.rows, 1):
        cells = table.rows[n].cells
        cells[0].text = str(n)
        for cell, text in zip(cells[1:], row, strict=True):
            cell.text = text
    doc.add_paragraph(NOTE)
    doc.add_paragraph(_footer(fill))


_FIXED_TIME = datetime(2018, 6, 1, 9, 0)


def _stable(data: bytes) -> bytes:
    """The same file for the same form: both writers stamp the clock into the zip entries,
    which would make fixtures (and Message-ID-keyed demo mail) differ from run to run."""
    source = zipfile.ZipFile(BytesIO(data))
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            stamped = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME.timetuple()[:6])
            stamped.compress_type = zipfile.ZIP_DEFLATED
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps `modified` on save
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2018-06-01T09:00:00Z",
                                 content)
            target.writestr(stamped, content)
    return out.getvalue()


def _docx_bytes(forms: list[tuple[_Spec, FormFill]]) -> bytes:
    doc = Document()
    doc.core_properties.created = doc.core_properties.modified = _FIXED_TIME
    for i, (spec, fill) in enumerate(forms):
        _docx_form(doc, spec, fill, new_page=i > 0)
    out = BytesIO()
    doc.save(out)
    return _stable(out.getvalue())


def activity_docx(fill: FormFill) -> bytes:
    return _docx_bytes([(_ACTIVITY, fill)])


def volunteer_docx(fill: FormFill) -> bytes:
    return _docx_bytes([(_VOLUNTEER, fill)])


def both_docx(activity: FormFill, volunteer: FormFill) -> bytes:
    return _docx_bytes([(_ACTIVITY, activity), (_VOLUNTEER, volunteer)])


# --- Excel ------------------------------------------------------------------------------

_THIN = Side(style="thin")
_GRID = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def _text(cell: Cell, value: str) -> None:
    cell.value = value
    # openpyxl turns any str starting with "=" into a formula; a clerk's cell is text.
    cell.data_type = "s"


def _excel_number(text: str) -> str | int:
    # Excel stores what a clerk types as digits as a number; everything else stays text.
    return int(text) if text.isascii() and text.isdigit() else text


def _sheet_form(ws: Worksheet, spec: _Spec, fill: FormFill) -> None:
    _check(spec, fill)
    width = len(spec.headers)
    last = get_column_letter(width)
    _text(ws.cell(1, 1), spec.title)
    ws.cell(1, 1).font = Font(bold=True, size=16)
    ws.cell(1, 1).alignment = Alignment(horizontal="center")
    ws.merge_cells(f"A1:{last}1")
    _text(ws.cell(2, 1), f"填报单位：{fill.unit_text}")
    ws.merge_cells(f"A2:{last}2")
    for col, header in enumerate(spec.headers, 1):
        cell = ws.cell(3, col)
        _text(cell, header)
        cell.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
        cell.font = Font(bold=True)
        cell.border = _GRID
    r = 4
    for n, row in enumerate(fill.rows, 1):
        ws.cell(r, 1, n).border = _GRID
        for col, value in enumerate(row, 2):
            cell = ws.cell(r, col)
            if col - 1 == spec.count_col and isinstance(number := _excel_number(value), int):
                cell.value = number
            else:
                _text(cell, value)
            cell.alignment = Alignment(wrap_text=True, vertical="center")
            cell.border = _GRID
        r += 1
    for _ in range(fill.blank_rows):
        for col in range(1, width + 1):
            ws.cell(r, col).border = _GRID
        r += 1
    for text in (NOTE, _footer(fill)):
        _text(ws.cell(r, 1), text)
        ws.merge_cells(f"A{r}:{last}{r}")
        r += 1
    for col, size in zip(range(1, width + 1), (6, 22, 12, 16, 36, 24, 36), strict=False):
        ws.column_dimensions[get_column_letter(col)].width = size


def _xlsx_bytes(forms: list[tuple[_Spec, FormFill]]) -> bytes:
    wb = Workbook()
    wb.properties.created = wb.properties.modified = _FIXED_TIME
    for i, (spec, fill) in enumerate(forms):
        ws = wb.worksheets[0] if i == 0 else wb.create_sheet()
        ws.title = spec.label
        _sheet_form(ws, spec, fill)
    out = BytesIO()
    wb.save(out)
    return _stable(out.getvalue())


def activity_xlsx(fill: FormFill) -> bytes:
    return _xlsx_bytes([(_ACTIVITY, fill)])


def volunteer_xlsx(fill: FormFill) -> bytes:
    return _xlsx_bytes([(_VOLUNTEER, fill)])


def both_xlsx(activity: FormFill, volunteer: FormFill) -> bytes:
    return _xlsx_bytes([(_ACTIVITY, activity), (_VOLUNTEER, volunteer)])


# --- Mail -------------------------------------------------------------------------------

FILENAME_STYLES = ("rfc2231", "rfc2047-quoted", "raw-gbk", "ascii")
TRANSFER_ENCODINGS = ("base64", "quoted-printable", "8bit")
_CONTENT_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".doc": "application/msword",
    ".xls": "application/vnd.ms-excel",
    ".zip": "application/zip",
}
# Folding is done by hand below: compat32 would break right after "Content-Type:".
_WIRE = compat32.clone(linesep="\r\n", max_line_length=None)
_SHANGHAI = timezone(timedelta(hours=8))


def content_type_for(filename: str) -> str:
    return _CONTENT_TYPES.get(PurePath(filename).suffix.lower(), "application/octet-stream")


def _header_value(text: str, charset: str) -> str:
    return text if text.isascii() else Header(text, charset).encode()


def _name_params(name: str, style: str, token: str) -> tuple[str, str]:
    """(Content-Type params, Content-Disposition params) naming the file as `style` does."""
    if style == "rfc2231":
        value = "utf-8''" + quote(name, safe="")
        return f"name*={value}", f"filename*={value}"
    if style == "rfc2047-quoted":
        # QQ Mail and Foxmail put a whole encoded-word inside quotes, which RFC 2047 forbids.
        word = "=?gb18030?B?" + base64.b64encode(name.encode("gb18030")).decode() + "?="
        return f'name="{word}"', f'filename="{word}"'
    if style == "raw-gbk":
        return f'name="{token}"', f'filename="{token}"'
    if not name.isascii():
        raise ValueError(f"filename_style 'ascii' needs an ASCII name, got {name!r}")
    return f'name="{name}"', f'filename="{name}"'


def build_mail(
    *,
    from_addr: str,
    to_addr: str,
    subject: str,
    body: str,
    attachments: list[tuple[str, bytes]],
    filename_style: str = "rfc2231",
    transfer_encoding: str = "base64",
    message_id: str | None = None,
    date: datetime | None = None,
    from_name: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> bytes:
    """One multipart/mixed message as it would sit in the mailbox (CRLF line ends)."""
    if filename_style not in FILENAME_STYLES:
        raise ValueError(f"unknown filename_style {filename_style!r}")
    if transfer_encoding not in TRANSFER_ENCODINGS:
        raise ValueError(f"unknown transfer_encoding {transfer_encoding!r}")
    # Clients that mangle names the Chinese way also label their headers and text in GB.
    chinese_client = filename_style in ("rfc2047-quoted", "raw-gbk")
    header_cs = "gb18030" if chinese_client else "utf-8"
    when = date or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=_SHANGHAI)  # the campaign's clock, not the host's
    msg_id = message_id or make_msgid(domain="example.cn")

    msg = MIMEMultipart("mixed")
    msg["From"] = formataddr((from_name, from_addr), charset=header_cs) if from_name else from_addr
    msg["To"] = to_addr
    msg["Subject"] = _header_value(subject, header_cs)
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = msg_id
    for key, value in (extra_headers or {}).items():
        msg[key] = _header_value(value, "utf-8")
    # The text follows the same transfer encoding, so 8bit also means a raw UTF-8/GBK body.
    text_cs = Charset("gbk" if filename_style == "raw-gbk" else "utf-8")
    text_cs.body_encoding = {"base64": BASE64, "quoted-printable": QP}.get(transfer_encoding)
    text = MIMEText(body, "plain", text_cs)
    del text["MIME-Version"]
    msg.attach(text)

    # Raw GBK names and 8bit binaries cannot pass through the generator unharmed, so the
    # generator writes unique ASCII tokens that are swapped for the real bytes afterwards.
    raw: dict[bytes, bytes] = {}
    digest = hashlib.sha1(msg_id.encode("utf-8", "replace"))
    for i, (name, data) in enumerate(attachments):
        digest.update(data)
        name_token = f"FORMBOTNAME{i}X{hashlib.sha1(data).hexdigest()[:12]}"
        ct_params, cd_params = _name_params(name, filename_style, name_token)
        if filename_style == "raw-gbk":
            raw[name_token.encode()] = name.encode("gb18030")
        part = Message()
        part["Content-Type"] = f"{content_type_for(name)};\n\t{ct_params}"
        part["Content-Transfer-Encoding"] = transfer_encoding
        part["Content-Disposition"] = f"attachment;\n\t{cd_params}"
        if transfer_encoding == "base64":
            part.set_payload(base64.encodebytes(data).decode("ascii"))
        elif transfer_encoding == "quoted-printable":
            # istext=False quotes CR and LF too, so line-end rewriting cannot alter the data.
            part.set_payload(binascii.b2a_qp(data, quotetabs=True, istext=False).decode("ascii"))
        else:
            body_token = f"FORMBOTBODY{i}X{hashlib.sha1(data).hexdigest()[:12]}"
            raw[body_token.encode()] = data
            part.set_payload(body_token)
        msg.attach(part)
    msg.set_boundary("----=_Part_" + digest.hexdigest()[:24])
    out = msg.as_bytes(policy=_WIRE)
    for token, value in raw.items():
        out = out.replace(token, value)
    return out


# --- Demo mailbox -----------------------------------------------------------------------

@dataclass(frozen=True)
class DemoUnit:
    name: str
    aliases: tuple[str, ...]
    email: str


# Addresses sit under reserved example domains so the demo can never mail a real person.
DEMO_UNITS: tuple[DemoUnit, ...] = (
    DemoUnit("定海路街道总工会", ("定海路街道工会",), "dhjd_gh@example.cn"),
    DemoUnit("殷行街道总工会", ("殷行街道工会",), "yinhang_gh@example.cn"),
    DemoUnit("五角场街道总工会", ("五角场街道工会",), "2018061501@qq.example"),
    DemoUnit("控江路街道总工会", ("控江路街道工会", "控江工会"), "kjl_gonghui@126.example"),
    DemoUnit("长白新村街道总工会", ("长白新村街道工会",), "cbxc_gh@163.example"),
    DemoUnit("新江湾城街道总工会", ("新江湾城街道工会",), "xjwc_gh@example.cn"),
    DemoUnit("杨浦区教育工会", ("区教育工会", "教育工会"), "yp_jygh@example.cn"),
    DemoUnit("杨浦区卫生工作者协会", ("区卫生工作者协会", "区卫协"), "ypwx_gh@126.example"),
)

_NOTICE = "关于广泛开展“弘扬劳模精神，建功‘创新杨浦’”主题活动的通知"
_FOXMAIL = {"X-Mailer": "Foxmail 7.2.9.156[cn]"}
_HELLO = "区总工会宣传教育部：\n\n附件是我单位填写的{}，请查收。\n\n{}\n"


def _fill(unit_text: str, footer: str, *rows: str, blank: int = 1) -> FormFill:
    contact, phone, filled_on = footer.split("|")
    return FormFill(unit_text, [r.split("|") for r in rows], contact, phone, filled_on, blank)


def _pair(unit_text: str, footer: str, activity: list[str], volunteer: list[str],
          blank: int = 1) -> tuple[FormFill, FormFill]:
    return _fill(unit_text, footer, *activity), _fill(unit_text, footer, *volunteer, blank=blank)


def demo_mailbox(*, to_addr: str, base: datetime) -> list[bytes]:
    """A mailbox after a few days of the campaign: good, odd and irrelevant mail, oldest first."""
    dh, yh, wjc, _kj, cb, xjw, jy, wx = DEMO_UNITS
    dh_rows = (
        "劳模先进事迹报告会|报告会|2018年6月—7月|邀请全国劳模、“杨浦工匠”走进社区和园区企业，"
        "讲述岗位建功和创新创业的成长经历。|200",
        "“最美劳动者”寻访宣传|宣传栏、微信|2018年6月—9月|在楼宇工会设置宣传栏，微信推送先进事迹，"
        "发动职工推荐身边的最美劳动者。|约150人",
        "劳模工作室进社区|现场访谈|2018年7月|依托劳模创新工作室开展技能展示和便民维修服务。|80余人",
    )
    dh_act, dh_vol = _pair(
        "定海路街道总工会", "王芳|65430000|2018年6月10日", list(dh_rows),
        ["定海路街道职工志愿者服务队|陈建国 主席|45|2016年3月|社区助老、环境整治、文明交通劝导|"
         "累计开展服务60余次，服务居民2000余人次。",
         "“小巷工匠”维修服务队|李秀英（工会主席）|12|2018.5|为困难家庭义务维修水电|"], blank=2,
    )
    dh_fixed = _fill(
        "定海路街道总工会", "王芳|65430000|2018年6月12日",
        dh_rows[0], dh_rows[1].replace("约150人", "约300人"), dh_rows[2],
        "“劳模精神进楼宇”微党课|微党课|2018年8月|组织劳模走进商务楼宇讲微党课。|60人",
    )
    yh_act, yh_vol = _pair(
        "殷行街道总工会", "刘洋|55210011|2018年6月8日",
        ["“劳模先进话改革”座谈会|座谈会|2018年6月下旬|邀请劳模先进畅谈改革开放40年的亲身经历。|60",
         "民生服务岗位技能竞赛|竞赛|2018年7月—8月|围绕家政、物业维修等岗位开展技能比武。|二百人"],
        ["殷行街道职工志愿者服务队|王志强，副主席|30|2016.3|助老助残、垃圾分类宣传|"
         "服务社区老人500余人次，开展垃圾分类宣传20余场。"], blank=3,
    )
    wjc_act, wjc_vol = _pair(
        "五角场街道总工会", "赵敏|65241234|2018.6.11",
        ["“弘扬劳模精神”大讲堂|大讲堂|2018年6月—12月|每月邀请一位劳模走进商圈楼宇宣讲先进事迹，"
         "网站、微博同步直播。|1,200人",
         "创新工作室开放日|参观交流|2018年9月|组织职工参观劳模创新工作室，交流先进操作法。|100人"],
        ["五角场商圈职工志愿者服务队|赵敏 工会主席|60|2017-05-20|商圈文明引导、应急救护知识普及|"
         "保障商圈大型活动15次，培训应急救护志愿者120人。",
         "白领青年志愿服务分队|孙磊（副主席）|25人|2015年|结对关爱外来务工人员子女|"
         "结对帮扶外来务工人员子女40名。"],
    )
    # Signed with an alias and sent from a private mailbox: only 填报单位 tells who it is.
    kj_act, kj_vol = _pair(
        "控江路街道工会", "周红|13900000000|2018年6月12日",
        ["劳模先进事迹展|展板巡展|2018年6月—8月|制作劳模先进事迹展板，在各居民区巡回展出。|约500人"],
        ["控江路街道职工志愿者服务队|周红 主席|38|2016年|文明城区创建志愿服务|累计服务3000小时。"],
    )
    cb_act, cb_vol = _pair(
        "长白新村街道总工会", "吴丽华|65010203|2018年6月13日",
        ["“身边的工匠”微视频展播|视频展播|2018年7月—9月|拍摄一线职工岗位建功微视频并展播。|300",
         "职工读书会|学习会|2018年6月起每月一次|学习党的十九大精神，交流岗位成才体会。|50余人"],
        ["长白新村街道“暖心”服务队|吴丽华（工会副主席）|20|2017年9月|独居老人结对关爱|"
         "结对独居老人35户，每周上门探访。"],
    )
    jy_act = _fill(
        "杨浦区教育工会", "钱静|65438800|2018年6月9日",
        "师德标兵事迹宣讲|宣讲会|2018年6月—7月|组织劳模和师德标兵到中小学巡回宣讲。|800",
        "“杨浦工匠”进校园|现场展示|2018年10月|邀请“杨浦工匠”走进职业学校开展高师带徒。|约260人",
    )
    wx_act, wx_vol = _pair(
        "杨浦区卫生工作者协会", "郑华|65120000|2018年6月14日",
        [# Deliberately over the 100-character limit: the parser must keep it and flag it.
         "“最美医务工作者”事迹报告会|报告会|2018年6月|邀请全国和上海市劳模、五一劳动奖获得者中的"
         "医务工作者，结合家庭医生签约服务、急诊抢救、社区公共卫生等一线岗位的真实案例，讲述坚守"
         "岗位、精益求精、服务群众的先进事迹，并组织青年医务人员现场交流学习体会，营造尊重劳模、"
         "学习劳模的良好氛围。|400",
         "家庭医生技能竞赛|竞赛|2018年9月—10月|开展家庭医生岗位技能竞赛。|120人"],
        ["杨浦卫生职工健康志愿服务队|郑华 办公室主任|80|2014.6|社区义诊、健康讲座|"
         "开展社区义诊40余场，受益居民5000余人次。"],
    )
    mails: list[dict[str, Any]] = [
        dict(from_addr=dh.email, from_name="定海路街道总工会",
             subject="定海路街道总工会报送主题活动申报表及志愿者服务队登记表",
             body=_HELLO.format("主题活动申报表和志愿者服务队登记表", "定海路街道总工会 王芳"),
             attachments=[("附件1：主题活动申报表（定海路）.docx", activity_docx(dh_act)),
                          ("附件2：志愿者服务队登记表（定海路）.docx", volunteer_docx(dh_vol))]),
        dict(from_addr=yh.email, from_name="殷行街道工会 刘洋", subject="回复：" + _NOTICE,
             body=_HELLO.format("两张表", "殷行街道总工会"), filename_style="rfc2047-quoted",
             extra_headers=_FOXMAIL,
             attachments=[("殷行街道-主题活动申报表.xlsx", activity_xlsx(yh_act)),
                          ("殷行街道-志愿者服务队登记表.xlsx", volunteer_xlsx(yh_vol))]),
        dict(from_addr=wjc.email, from_name="赵敏", subject="五角场街道总工会 附件1、附件2",
             body=_HELLO.format("附件1和附件2（在一个文件里）", "五角场街道工会 赵敏"),
             filename_style="raw-gbk", transfer_encoding="quoted-printable",
             attachments=[("五角场街道总工会申报表.docx", both_docx(wjc_act, wjc_vol))]),
        dict(from_addr="zhouhong1975@163.example", from_name="周红",
             subject="控江路街道工会申报表", body=_HELLO.format("申报表", "控江路街道工会 周红"),
             transfer_encoding="quoted-printable",
             attachments=[("附件1 主题活动申报表.docx", activity_docx(kj_act)),
                          ("附件2 志愿者服务队登记表.docx", volunteer_docx(kj_vol))]),
        dict(from_addr=xjw.email, from_name="新江湾城街道总工会", subject="咨询：登记表怎么填",
             body="您好！请问新组建的服务队，“服务成效简介”可以不填吗？谢谢！\n新江湾城街道总工会",
             attachments=[], transfer_encoding="8bit"),
        dict(from_addr=jy.email, from_name="Qian Jing", subject="jiaoyu gonghui huodong shenbao",
             body=_HELLO.format("主题活动申报表，登记表随后补报", "区教育工会 钱静"),
             filename_style="ascii",
             attachments=[("huodong_shenbao_jygh.xlsx", activity_xlsx(jy_act))]),
        dict(from_addr=cb.email, from_name="长白新村街道总工会",
             subject="【长白新村街道】主题活动申报表、志愿者服务队登记表",
             body=_HELLO.format("两张表（一个工作簿两个工作表）", "长白新村街道总工会 吴丽华"),
             filename_style="rfc2047-quoted", transfer_encoding="quoted-printable",
             extra_headers=_FOXMAIL,
             attachments=[("长白新村街道总工会-附件1附件2.xlsx", both_xlsx(cb_act, cb_vol))]),
        dict(from_addr=wx.email, from_name="区卫协 郑华", subject="区卫生工作者协会报送材料",
             body=_HELLO.format("申报表和登记表", "杨浦区卫生工作者协会 郑华"),
             attachments=[("卫协主题活动申报表.docx", activity_docx(wx_act)),
                          ("卫协志愿者服务队登记表.xlsx", volunteer_xlsx(wx_vol))]),
        dict(from_addr=xjw.email, from_name="新江湾城街道总工会", subject="自动回复: " + _NOTICE,
             body="您好，我于6月11日至14日休假，邮件将在返岗后处理。", attachments=[],
             extra_headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All",
                            "In-Reply-To": "<notice-2018-14@example.cn>"}),
        dict(from_addr="news@gonghui-news.example", from_name="工会信息周刊",
             subject="《工会信息》电子周刊 2018年第23期",
             body="本期要目：劳模工匠精神弘扬行动启动；职工科技节报名开始……\n退订请点击底部链接。",
             attachments=[], transfer_encoding="quoted-printable",
             extra_headers={"List-Unsubscribe": "<mailto:unsubscribe@gonghui-news.example>",
                            "List-Id": "<weekly.gonghui-news.example>", "Precedence": "bulk"}),
        dict(from_addr=dh.email, from_name="定海路街道总工会",
             subject="【更正】定海路街道总工会主题活动申报表",
             body="区总工会宣传教育部：\n\n之前报送的申报表参与人数有误，并补充一项活动，以此版为准。\n",
             filename_style="rfc2047-quoted",
             attachments=[("附件1：主题活动申报表（定海路）更正版.docx", activity_docx(dh_fixed))]),
    ]
    return [
        build_mail(to_addr=to_addr, date=base + timedelta(hours=k),
                   message_id=f"<demo-{k}@example.cn>", **mail)
        for k, mail in enumerate(mails)
    ]
