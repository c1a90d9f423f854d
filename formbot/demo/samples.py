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
