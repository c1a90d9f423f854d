"""config.yaml → Settings, or a ConfigError that names the file and the key."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest
import yaml

from formbot.settings.config import ConfigError, Settings
from formbot.settings.loading import load_settings

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"
BASE: dict[str, Any] = yaml.safe_load(REPO_CONFIG.read_text(encoding="utf-8"))


def write(tmp_path: Path, change: Callable[[dict[str, Any]], object] | None = None) -> Path:
    data = copy.deepcopy(BASE)
    if change:
        change(data)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def error_for(tmp_path: Path, change: Callable[[dict[str, Any]], object]) -> str:
    path = write(tmp_path, change)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(str(path))          # the file …
    assert "\n" not in message                    # … in one line the CLI can print
    return message


def test_repo_config_loads() -> None:
    settings = load_settings(REPO_CONFIG)
    assert isinstance(settings, Settings)
    assert (settings.mailbox.host, settings.mailbox.port, settings.mailbox.security) == (
        "imap.126.com", 993, "ssl")
    assert settings.smtp.from_address == "qzxjb2008@126.com"
    assert settings.campaign.deadline == date(2018, 6, 15)
    assert settings.campaign.reminders == [-7, -3, -1, 1]
    assert str(settings.campaign.zone) == "Asia/Shanghai"
    assert settings.schedule.remind_at == time(9, 0)
    assert settings.units[0].name == "定海路街道总工会"
    # relative paths are taken from the config's folder, not the current directory
    assert settings.data_dir == REPO_CONFIG.parent / "data"
    assert settings.database == f"sqlite:///{REPO_CONFIG.parent / 'data' / 'formbot.db'}"


def test_default_path_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path)
    monkeypatch.setenv("FORMBOT_CONFIG", str(path))
    assert load_settings().data_dir == tmp_path / "data"


def test_relative_paths_resolve_against_the_configs_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def change(data: dict[str, Any]) -> None:
        data["data_dir"] = "store/raw"
        data["database"] = "sqlite:///db/formbot.db"
        data["units_file"] = "units.xlsx"
        del data["units"]

    path = write(tmp_path, change)
    monkeypatch.chdir(Path("/"))
    settings = load_settings(path)
    assert settings.data_dir == tmp_path / "store" / "raw"
    assert settings.database == f"sqlite:///{tmp_path / 'db' / 'formbot.db'}"
    assert settings.units_file == tmp_path / "units.xlsx"


@pytest.mark.parametrize(
    ("database", "expected"),
    [("sqlite:////var/lib/formbot.db", "sqlite:////var/lib/formbot.db"),
     ("sqlite:///:memory:", "sqlite:///:memory:"),
     ("postgresql://formbot@localhost/formbot", "postgresql://formbot@localhost/formbot")],
)
def test_absolute_and_other_databases_are_left_alone(
    tmp_path: Path, database: str, expected: str
) -> None:
    settings = load_settings(write(tmp_path, lambda d: d.update(database=database,
                                                                 data_dir="/srv/formbot")))
    assert settings.database == expected
    assert settings.data_dir == Path("/srv/formbot")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "config.yaml"
    with pytest.raises(ConfigError, match="找不到配置文件") as caught:
        load_settings(missing)
    assert str(missing) in str(caught.value)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda d: d["mailbox"].pop("host"), "mailbox.host"),
        (lambda d: d["smtp"].pop("from_address"), "smtp.from_address"),
        (lambda d: d["campaign"].pop("deadline"), "campaign.deadline"),
        (lambda d: d.pop("mailbox"), "mailbox"),
    ],
)
def test_missing_key_is_named(tmp_path: Path, change: Callable[[dict[str, Any]], object],
                              key: str) -> None:
    assert f"{key}：缺少这个配置项" in error_for(tmp_path, change)


@pytest.mark.parametrize(
    ("change", "key", "shown"),
    [
        (lambda d: d["mailbox"].update(port="abc"), "mailbox.port", "'abc'"),
        (lambda d: d["mailbox"].update(port=70000), "mailbox.port", "70000"),
        (lambda d: d["smtp"].update(security="tls"), "smtp.security", "'tls'"),
        (lambda d: d["mailbox"].update(security="SSL/TLS"), "mailbox.security", "'SSL/TLS'"),
        (lambda d: d["campaign"].update(timezone="Asia/Shanghia"), "campaign.timezone",
         "未知的时区"),
        (lambda d: d["campaign"].update(timezone="../../etc/passwd"), "campaign.timezone",
         "未知的时区"),
        (lambda d: d["campaign"].update(deadline="6月15日"), "campaign.deadline", "'6月15日'"),
        (lambda d: d["campaign"].update(reminders="-7"), "campaign.reminders", "'-7'"),
        (lambda d: d["schedule"].update(remind_time="9am"), "schedule.remind_time", "HH:MM"),
        (lambda d: d["schedule"].update(remind_time="25:00"), "schedule.remind_time", "'25:00'"),
        (lambda d: d["schedule"].update(poll_minutes=0), "schedule.poll_minutes", "0"),
        (lambda d: d["smtp"].update(from_address="not-an-address"), "smtp.from_address",
         "'not-an-address'"),
        (lambda d: d["mailbox"].update(password_env="FORMBOT IMAP"), "mailbox.password_env",
         "'FORMBOT IMAP'"),
        (lambda d: d["units"][0].update(emails=["dhjd_gh"]), "units.0.emails.0", "'dhjd_gh'"),
    ],
)
def test_wrong_value_is_named_with_what_was_given(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], key: str, shown: str
) -> None:
    message = error_for(tmp_path, change)
    assert f"{key}：" in message
    assert shown in message


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda d: d["mailbox"].update(hots="imap.126.com"), "mailbox.hots"),
        (lambda d: d.update(databse="sqlite:///x.db"), "databse"),
        (lambda d: d["schedule"].update(remind_tme="09:00"), "schedule.remind_tme"),
        # a password in the file is refused, and its value is not echoed back
        (lambda d: d["smtp"].update(password="s3cret-code"), "smtp.password"),
    ],
)
def test_unknown_key_is_named_as_a_possible_typo(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], key: str
) -> None:
    message = error_for(tmp_path, change)
    assert f"{key}：未知的配置项" in message
    assert "s3cret" not in message


def test_duplicate_units_name_the_units_key_not_the_whole_file(tmp_path: Path) -> None:
    message = error_for(tmp_path, lambda d: d["units"].append(dict(d["units"][0])))
    assert "units：单位重复：定海路街道总工会" in message
    assert "imap.126.com" not in message       # the rest of the config is not dumped


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["mailbox"].pop("host")
        data["smtp"]["port"] = "abc"

    message = error_for(tmp_path, change)
    assert "mailbox.host" in message and "smtp.port" in message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("mailbox: [\n", "不是有效的 YAML（第2行"),
        ("- just\n- a list\n", "内容应为键值对"),
        ("", "内容应为键值对"),
    ],
)
def test_unreadable_yaml(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_config_saved_as_gbk_says_to_use_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(REPO_CONFIG.read_text(encoding="utf-8").encode("gb18030"))
    with pytest.raises(ConfigError, match="UTF-8"):
        load_settings(path)


def test_password_comes_from_the_named_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(write(tmp_path))
    monkeypatch.setenv("FORMBOT_IMAP_PASSWORD", "client-auth-code")
    assert settings.mailbox.password() == "client-auth-code"
    monkeypatch.delenv("FORMBOT_IMAP_PASSWORD")
    with pytest.raises(ConfigError) as caught:
        settings.mailbox.password()
    assert "FORMBOT_IMAP_PASSWORD" in str(caught.value)
    monkeypatch.setenv("FORMBOT_SMTP_PASSWORD", "")
    with pytest.raises(ConfigError, match="FORMBOT_SMTP_PASSWORD"):
        settings.smtp.password()


def test_defaults_fill_optional_keys(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        del data["schedule"]
        del data["mailbox"]["folder"]
        del data["campaign"]["reminders"]
        del data["units"]

    settings = load_settings(write(tmp_path, change))
    assert settings.schedule.poll_minutes == 5
    assert settings.schedule.remind_at == time(9, 0)
    assert settings.mailbox.folder == "INBOX"
    assert settings.campaign.reminders == [-7, -3, -1, 1]
    assert settings.units == []


@pytest.mark.parametrize(("written", "expected"), [("9:00", time(9, 0)), ("09:30", time(9, 30)),
                                                  ('"7:05"', time(7, 5)), ("18:45", time(18, 45))])
def test_remind_time_as_typed_in_yaml(tmp_path: Path, written: str, expected: time) -> None:
    # Unquoted 9:00 is the integer 540 to YAML 1.1; it still means nine o'clock.
    path = write(tmp_path)
    text = path.read_text(encoding="utf-8").replace("remind_time: 09:00", f"remind_time: {written}")
    assert f"remind_time: {written}" in text
    path.write_text(text, encoding="utf-8")
    assert load_settings(path).schedule.remind_at == expected


def test_emails_are_normalised_to_lower_case(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, lambda d: d["units"][0].update(
        emails=[" DHJD_GH@Example.CN "])))
    assert settings.units[0].emails == ["dhjd_gh@example.cn"]


def test_more_mailboxes_are_optional_and_listed_after_the_first(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path)).mailboxes == []

    def second_box(data: dict[str, Any]) -> None:
        data["mailboxes"] = [{**data["mailbox"], "username": "second-box@126.com"}]

    settings = load_settings(write(tmp_path, second_box))
    assert [box.username for box in settings.all_mailboxes()] == [
        BASE["mailbox"]["username"], "second-box@126.com"]
    assert "second-box@126.com" in settings.own_addresses()


def test_the_same_mailbox_twice_is_refused_with_its_key(tmp_path: Path) -> None:
    def same_box(data: dict[str, Any]) -> None:
        data["mailboxes"] = [{**data["mailbox"], "username": data["mailbox"]["username"].upper()}]

    message = error_for(tmp_path, same_box)
    assert "mailboxes：" in message and "邮箱重复" in message
