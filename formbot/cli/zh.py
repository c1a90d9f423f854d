"""click's own words in Chinese: usage lines, section titles, help for --help/--version
and its error messages (a missing option, an unknown command…), for an admin who reads
no English.

click looks its texts up through `gettext` (`_` and `ngettext` in each of its modules),
so they are translated by swapping those two for a lookup in the table below; a text not
in it stays as click wrote it.

The metavars (`[OPTIONS]`, `COMMAND [ARGS]...`, `INTEGER`) are not looked up that way:
they are attributes of click's objects, so `ChineseGroup` sets them on every command it
is given (`options_metavar`, `subcommand_metavar`, a Chinese-named copy of each
parameter's type) and gives each a context whose formatter measures Chinese characters
as two columns, so the help's columns line up.
"""

from __future__ import annotations

import copy
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

import click

WORDS = {
    "Usage:": "用法：",
    "Options": "选项",
    "Commands": "命令",
    "Positional arguments": "参数",
    "Show this message and exit.": "显示本帮助并退出。",
    "Show the version and exit.": "显示版本并退出。",
    "%(prog)s, version %(version)s": "%(prog)s 版本 %(version)s",
    "Error: {message}": "错误：{message}",
    "Try '{command} {option}' for help.": "输入“{command} {option}”查看用法。",
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing {param_type}": "缺少{param_type}",
    "Missing parameter: {param_name}": "缺少参数：{param_name}",
    "Missing command.": "缺少命令。",
    "No such command {name!r}.": "没有这个命令：{name!r}。",
    "No such option {name!r}.": "没有这个选项：{name!r}。",
    "Option {name!r} does not take a value.": "选项 {name!r} 后面不用写值。",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的值不对：{message}",
    "Invalid value: {message}": "值不对：{message}",
    "Aborted!": "已中止。",
    "Choose from:\n\t{choices}": "可选：\n\t{choices}",
    "Did you mean {possibility}?": "是不是想输入 {possibility}？",
    "(Did you mean one of: {possibilities}?)": "（是不是想输入其中之一：{possibilities}？）",
    "Got unexpected extra argument ({args})": "多余的参数（{args}）",
    "Got unexpected extra arguments ({args})": "多余的参数（{args}）",
    "Argument {name!r} takes {nargs} values.": "参数 {name!r} 需要 {nargs} 个值。",
    "{value!r} is not a valid {number_type}.": "{value!r} 不是有效的{number_type}。",
    "{value} is not in the range {range}.": "{value} 不在 {range} 范围内。",
    "{name} {filename!r} does not exist.": "{name} {filename!r} 不存在。",
    "{name} {filename!r} is a directory.": "{name} {filename!r} 是一个文件夹。",
    "{name} {filename!r} is a file.": "{name} {filename!r} 是一个文件。",
    "{name} {filename!r} is not readable.": "{name} {filename!r} 不可读。",
    "{name} {filename!r} is not writable.": "{name} {filename!r} 不可写。",
    "Could not open file {filename!r}: {message}": "无法打开文件 {filename!r}：{message}",
    "file": "文件",
    "directory": "文件夹",
    "path": "路径",
    "default: {default}": "默认：{default}",
    "env var: {var}": "环境变量：{var}",
    "unknown error": "未知错误",
    "required": "必填",
    "Option {name!r} requires an argument.": "选项 {name!r} 后面要写一个值。",
    "Option {name!r} requires {nargs} arguments.": "选项 {name!r} 后面要写 {nargs} 个值。",
    "Invalid start character for option ({option})": "选项的第一个字符不对（{option}）",
    "Value must be an iterable.": "这里要写一组值。",
}

OPTIONS_METAVAR = "[选项]"
SUBCOMMAND_METAVAR = "命令 [参数]..."
# click's type names, shown as an option's metavar and in "'x' is not a valid integer."
TYPE_WORDS = {
    "text": "文本", "integer": "整数", "integer range": "整数", "float": "数字",
    "float range": "数字", "boolean": "是或否", "uuid": "编号", "filename": "文件",
    "datetime": "时刻", "file": "文件", "directory": "文件夹", "path": "路径",
}


def _gettext(message: str) -> str:
    return WORDS.get(message, message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return _gettext(singular if n == 1 else plural)


def install() -> None:
    """Swap click's lookups for ours; idempotent, and before any command is declared
    (a decorator looks its help text up when it runs)."""
    import click.core
    import click.decorators
    import click.exceptions
    import click.formatting
    import click.parser
    import click.termui
    import click.types

    replacements: dict[str, Callable[..., str]] = {"_": _gettext, "ngettext": _ngettext}
    for module in (click.core, click.decorators, click.exceptions, click.formatting,
                   click.parser, click.termui, click.types):
        for name, function in replacements.items():
            if hasattr(module, name):
                setattr(module, name, function)


def _cells(text: str) -> int:
    """Terminal columns: a Chinese character (or full-width punctuation) takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most `width` columns; Chinese may break anywhere, a Latin word not."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for piece in _pieces(" ".join(paragraph.split())):
            # A closing mark stays with what it closes, even a column past the width.
            if line and _cells(line + piece) > width and piece not in _CLOSING:
                lines.append(line.rstrip())
                piece = piece.lstrip()
                line = ""
            line += piece
        lines.append(line.rstrip())
    return lines


_CLOSING = set("，。；：、）」』！？》”")


def _pieces(text: str) -> Iterable[str]:
    word = ""
    for char in text:
        if _cells(char) == 2 or char == " ":
            if word:
                yield word
            word = ""
            yield char
        else:
            word += char
    if word:
        yield word


class ChineseFormatter(click.HelpFormatter):
    """click's layout with a full-width colon after 用法 and the section titles, and
    columns measured as a terminal shows Chinese."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, WORDS["Usage:"] if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{heading}：\n")

    def write_dl(self, rows: Iterable[tuple[str, str]], col_max: int = 30,
                 col_spacing: int = 2) -> None:
        rows = list(rows)
        first_col = min(max((_cells(term) for term, _ in rows), default=0), col_max)
        indent = " " * self.current_indent
        for term, text in rows:
            self.write(f"{indent}{term}")
            if not text:
                self.write("\n")
                continue
            if _cells(term) <= first_col:
                self.write(" " * (first_col - _cells(term) + col_spacing))
            else:
                self.write("\n" + indent + " " * (first_col + col_spacing))
            width = max(self.width - self.current_indent - first_col - col_spacing, 10)
            lines = _wrap(text, width)
            pad = indent + " " * (first_col + col_spacing)
            self.write("\n".join([lines[0], *(pad + line for line in lines[1:])]) + "\n")


class ChineseContext(click.Context):
    formatter_class = ChineseFormatter


def chinese(command: click.Command) -> click.Command:
    """Set the Chinese metavars on a command (and, for a group, on all it holds)."""
    command.context_class = ChineseContext
    if command.options_metavar == "[OPTIONS]":
        command.options_metavar = OPTIONS_METAVAR
    if isinstance(command, click.Group):
        command.subcommand_metavar = SUBCOMMAND_METAVAR
        for sub in command.commands.values():
            chinese(sub)
    for param in command.params:
        word = TYPE_WORDS.get(param.type.name)
        if word is not None:
            # A copy: click's INT and STRING are shared by every program in the process.
            param.type = copy.copy(param.type)
            param.type.name = word
    return command


class ChineseGroup(click.Group):
    """A group whose commands (declared on it or added to it) speak Chinese throughout."""

    group_class = type   # `@main.group()` makes another ChineseGroup

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        chinese(self)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        super().add_command(chinese(cmd), name)
