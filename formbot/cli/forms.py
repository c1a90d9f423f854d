"""`formbot forms draft` and `formbot forms check`: a notice's forms as data, drafted
from its blank forms and checked against its templates."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import click

from formbot.cli.options import campaigns_option, config_option, friendly


@click.group()
def forms() -> None:
    """通知的表格声明：从空白表起草（draft），核对声明和模板（check）。"""


def blank_files(name: str, data: bytes, converter: Any) -> list[tuple[str, list[Any], dict]]:
    """(name, lines, list validations) of each blank form file in `data`: a .docx/.xlsx,
    a .doc/.xls (converted), or a zip of them."""
    from parsers.convert import legacy_lines
    from parsers.errors import FormbotError
    from parsers.files import member_base, sniff
    from parsers.tables import docx_lines, xlsx_lines

    kind = sniff(data)
    if kind == "zip":
        found = []
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                base = None if info.is_dir() else member_base(info.filename)
                if base:
                    found += blank_files(base, archive.read(info), converter)
        return found
    if kind == "docx":
        return [(name, docx_lines(data), {})]
    if kind == "xlsx":
        return [(name, xlsx_lines(data), _list_validations(data))]
    if kind == "legacy":
        return [(name, legacy_lines(data, converter), {})]
    raise FormbotError(f"{name}：不是 Word 或 Excel 文件（支持 .docx .xlsx .doc .xls 及其 .zip）")


def _list_validations(data: bytes) -> dict[tuple[int, int], tuple[str, ...]]:
    """The drop-down lists of a workbook, by (sheet, column): they become choices."""
    from parsers.spreadsheets import openpyxl

    book = openpyxl().load_workbook(io.BytesIO(data))
    found: dict[tuple[int, int], tuple[str, ...]] = {}
    for sheet_index, sheet in enumerate(book.worksheets):
        for rule in sheet.data_validations.dataValidation:
            formula = (rule.formula1 or "").strip()
            if rule.type != "list" or not formula.startswith('"'):
                continue   # a list read from cells elsewhere is left to the admin
            options = tuple(o.strip() for o in formula.strip('"').split(",") if o.strip())
            for cells in rule.sqref.ranges:
                for column in range(cells.min_col, cells.max_col + 1):
                    found[(sheet_index, column - 1)] = options
    return found


@forms.command("draft")
@click.argument("files", nargs=-1, required=True, metavar="空白表...",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="写入这个 YAML 文件（默认打印到屏幕）")
@friendly
def draft(files: tuple[Path, ...], out: Path | None) -> None:
    """从通知的空白表（.docx/.xlsx/.doc/.xls、其 .zip，或带附件表格的通知原文）起草表格声明。"""
    import os

    from formbot.poll.converters import LazyConverter
    from parsers.draft import draft_forms, render
    from parsers.notice import notice_info

    drafted = []
    notice = None
    with LazyConverter() as converter:
        for path in files:
            for name, lines, validations in blank_files(path.name, path.read_bytes(), converter):
                where = os.path.relpath(path, out.parent if out else Path.cwd())
                template = where if name == path.name else None
                found = draft_forms(lines, template=template, validations=validations)
                for form in found:
                    if template is None:
                        form.notes.append(f"空白表在压缩包 {path.name} 里的 {name}，"
                                          f"请解压后写 template")
                drafted += found
                notice = notice or notice_info(lines)
    if not drafted:
        from parsers.errors import FormbotError

        raise FormbotError("文件中没有找到表格（需要带表头的空白表：一行列名，下面是空行）")
    text = render(drafted, notice, [p.name for p in files])
    if out:
        out.write_text(text, encoding="utf-8")
        click.echo(f"已写入 {out}：{len(drafted)} 张表（{'、'.join(f.short for f in drafted)}）。"
                   f"请核对其中带“请确认”的注释，然后运行 formbot forms check。")
    else:
        click.echo(text, nl=False)


@forms.command("check")
@config_option
@campaigns_option
@friendly
def check(config_path: str | None, campaign: str | None) -> None:
    """核对配置中的表格声明：读取每张表的空白模板，逐列对照，并列出各表的字段。"""
    from formbot.cli.formcheck import check_templates, print_forms
    from formbot.settings.loading import load_config

    failed = False
    for settings in load_config(config_path).chosen(campaign):
        problems = check_templates(settings.forms)
        print_forms(settings, problems)
        failed = failed or any(problems.values())
    if failed:
        raise SystemExit(1)
