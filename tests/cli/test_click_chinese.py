"""click's own words reach the admin in Chinese: usage, sections, --help, and its errors
(a missing option, an unknown command or option)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FORMBOT = str(Path(sys.executable).with_name("formbot"))
ENGLISH = ("Usage:", "Options:", "Commands:", "Error:", "Missing option", "No such",
           "Show this message", "Show the version", "for help")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FORMBOT, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)


def test_help_and_click_errors_are_chinese(tmp_path: Path) -> None:
    shown = {args: run(*args, cwd=tmp_path) for args in
             [("--help",), ("export",), ("no-such-command",), ("status", "--bogus")]}
    assert shown[("--help",)].returncode == 0 and "用法：" in shown[("--help",)].stdout
    assert "显示本帮助并退出" in shown[("--help",)].stdout
    assert "缺少选项" in shown[("export",)].stderr
    assert "没有这个命令" in shown[("no-such-command",)].stderr
    assert "没有这个选项" in shown[("status", "--bogus")].stderr
    for args, result in shown.items():
        text = result.stdout + result.stderr
        assert not [word for word in ENGLISH if word in text], (args, text)
