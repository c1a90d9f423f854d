"""`formbot units import` / `units list`: a registry file merged with config.yaml by one rule."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pytest

from formbot.demo.imap_server import EmbeddedIMAP
from formbot.demo.smtp_server import EmbeddedSMTP
from tests.cli.test_cli import run
from tests.conftest import PASSWORD
from tests.support.helpers import BOT, write_config


def registry_xlsx(rows: list[list[str]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["单位名称", "别名", "邮箱"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    with EmbeddedIMAP(user=BOT, password=PASSWORD) as imap, \
            EmbeddedSMTP(user=BOT, password=PASSWORD) as smtp:
        return write_config(tmp_path, imap, smtp)


def test_import_adds_updates_and_config_wins(tmp_path: Path, config: Path) -> None:
    first = tmp_path / "名单.xlsx"
    first.write_bytes(registry_xlsx([
        ["五角场街道总工会", "五角场街道工会", "wjc_gh@example.cn；wjc2@example.cn"],
        ["定海路街道总工会", "", "other@example.cn"],     # config.yaml owns this one
    ]))
    result = run("units", "import", str(first), "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "新增 1 个单位" in result.stdout and "定海路街道总工会" in result.stdout

    listing = run("units", "list", "--config", str(config), cwd=tmp_path).stdout
    assert "五角场街道总工会" in listing and "wjc2@example.cn" in listing
    assert "other@example.cn" not in listing

    csv = tmp_path / "名单.csv"
    csv.write_bytes("单位名称,别名,邮箱\n五角场街道总工会,五角场工会,wjc_new@example.cn\n"
                    .encode("gb18030"))
    again = run("units", "import", str(csv), "--config", str(config), cwd=tmp_path)
    assert "新增 0 个单位，更新 1 个" in again.stdout
    status = json.loads(run("status", "--json", "--config", str(config), cwd=tmp_path).stdout)
    assert status["units_total"] == 5
    assert "wjc_new@example.cn" in run("units", "list", "--config", str(config),
                                       cwd=tmp_path).stdout


def test_a_bad_registry_file_is_explained(tmp_path: Path, config: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("名字,邮件\n某单位,x@y.cn\n", encoding="utf-8")
    result = run("units", "import", str(bad), "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1 and "单位名称" in result.stderr
    assert "Traceback" not in result.stderr
