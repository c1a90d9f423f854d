"""Every command's --help and its usage errors speak Chinese all through (issue 14 part
4): click's metavars ([选项] 命令 [参数]..., 文件, 整数), not only its section titles.

What may stay in Latin letters is what the admin types or reads as a name: option and
command names, file names, environment variables, config keys and a few proper names of
protocols and programs. Anything else of two letters or more is an English word leaking.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
from click.testing import CliRunner

from formbot.cli.commands import main

NAMES = {"IMAP", "SMTP", "ID", "IDLE", "JSON", "YAML", "LibreOffice", "UNO", "RAR",
         "bsdtar", "PostgreSQL", "SQLite", "SIGTERM", "Message-ID", "Ctrl-C", "formbot"}
CONFIG_KEYS = {"campaign", "campaigns", "database", "campaign.admin_emails"}
TOKEN = re.compile(r"(?:-{1,2}|\.)?[A-Za-z$_][A-Za-z0-9_.:/@+$-]*")
ENGLISH_METAVARS = re.compile(r"OPTIONS|COMMAND|ARGS|TEXT|INTEGER|PATH|FILENAME|FILE\b")


def commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from commands(sub, (*path, name))


COMMANDS = list(commands(main))
COMMAND_NAMES = {name for path in COMMANDS for name in path}


def english_words(text: str) -> list[str]:
    found = []
    for token in TOKEN.findall(text):
        word = token.rstrip(".:")
        if (word.startswith(("-", "$", ".")) or word in NAMES | CONFIG_KEYS | COMMAND_NAMES
                or re.fullmatch(r"[A-Z][A-Z0-9_]+_[A-Z0-9_]+", word)        # FORMBOT_CONFIG
                or re.search(r"\.[a-z]{2,4}$", word) or "://" in word      # file, URL
                or re.fullmatch(r"[A-Za-z]?[0-9].*", word)):                # a date, T09
            continue
        if re.search(r"[A-Za-z]{2,}", word):
            found.append(word)
    return found


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), prog_name="formbot")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.output


def test_every_help_page_has_chinese_metavars_and_no_english_word() -> None:
    assert len(COMMANDS) > 20   # the whole tree, groups and their commands
    for path in COMMANDS:
        shown = invoke(*path, "--help")
        usage = shown.splitlines()[0]
        assert usage.startswith(f"用法：formbot {' '.join(path)}".rstrip()), shown
        assert "[选项]" in usage, shown
        assert not ENGLISH_METAVARS.search(shown), shown
        assert "选项：" in shown and "Options" not in shown, shown
        assert english_words(shown) == [], (path, english_words(shown), shown)
    assert "[选项] 命令 [参数]..." in invoke("--help")
    assert "[选项] 命令 [参数]..." in invoke("outbox", "--help")
    export = invoke("export", "--help")
    assert re.search(r"--out 文件 +汇总表保存到哪里", export) and "[必填]" in export
    assert re.search(r"--port 整数 +端口", invoke("serve", "--help"))
    assert "[邮件编号]..." in invoke("reprocess", "--help")


def test_help_columns_line_up_with_chinese_metavars() -> None:
    """A Chinese character takes two columns: every option's help starts in one column."""
    import unicodedata

    def cells(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    lines = [line for line in invoke("export", "--help").splitlines()
             if line.startswith("  -") and "  " in line.strip()]
    starts = {cells(line[:line.index("  ", 3) + 2]) + len(line[line.index("  ", 3) + 2:]) -
              len(line[line.index("  ", 3) + 2:].lstrip()) for line in lines}
    assert len(lines) == 4 and len(starts) == 1, lines


def test_usage_errors_are_chinese_without_english_words() -> None:
    cases = {
        ("serve", "--port", "abc"): "'abc' 不是有效的整数",
        ("health", "--max-age", "x"): "'x' 不是有效的整数",
        ("export",): "缺少选项 '--out'",
        ("outbox", "drop"): "缺少参数 '编号'",
        ("outbox", "drop", "x"): "'x' 不是有效的整数",
        ("units", "import"): "缺少参数 '名单文件'",
        ("units", "import", "没有.xlsx"): "'没有.xlsx' 不存在",
        ("db", "copy", "--to"): "后面要写一个值",
        ("forms", "draft"): "缺少参数 '空白表...'",
        ("status", "--bogus"): "没有这个选项",
        ("no-such-command",): "没有这个命令",
    }
    for args, expected in cases.items():
        shown = invoke(*args)
        assert expected in shown, (args, shown)
        assert "错误：" in shown, (args, shown)
        typed = shown
        for arg in args:   # what the admin typed comes back quoted
            typed = typed.replace(f"'{arg}'", "")
        assert english_words(typed) == [], (args, english_words(typed), shown)
    for path in COMMANDS:   # every command refuses an unknown option in Chinese
        shown = invoke(*path, "--no-such-option")
        assert "没有这个选项" in shown and english_words(shown) == [], (path, shown)
