"""Several campaigns in one config.yaml (`campaigns:`), each a whole Settings of its own.

The top level is the first campaign, exactly as CONTRACT.md describes it. Each entry
under `campaigns:` is another notice: it writes its own `campaign:` (code, title,
deadline) and its own mailbox folder, and inherits everything else it does not say —
section by section, key by key (`mailbox: {folder: 2019}` keeps the host and login).

Each campaign keeps its own store (database and data_dir): the forms are the same, so
one store could not tell two notices' rows apart, and a finished campaign's file can be
archived whole. By default an entry's store lives in `<data_dir>/campaigns/<code>/`.
Two campaigns never read the same folder: each would take the other's mail as its own.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from .config import ConfigError, mailbox_key

if TYPE_CHECKING:
    from .config import Settings

# Merged key by key; any other key an entry gives replaces the top level's value.
SECTIONS = ("mailbox", "smtp", "campaign", "schedule", "limits")
# Never inherited: the first campaign's extra mailboxes would be read twice.
OWN_ONLY = ("mailboxes",)
MUST_SAY = ("code", "title", "deadline")


def entries(top: dict[str, object], more: object,
            config_path: Path) -> list[tuple[str, dict[str, object]]]:
    """(where, merged config) for each entry of `campaigns:`; `where` prefixes errors."""
    if more is None:
        return []
    if not isinstance(more, list):
        raise ConfigError(f"{config_path}：campaigns：应为列表，每项是一个活动"
                          f"（campaign:、mailbox: …）")
    merged = []
    for number, entry in enumerate(more, start=1):
        where = f"campaigns 第{number}项："
        if not isinstance(entry, dict):
            raise ConfigError(f"{config_path}：{where}应为键值对（campaign:、mailbox: …）")
        merged.append((where, _merge(top, entry, config_path, where)))
    return merged


def _merge(top: dict[str, object], entry: dict[str, object], config_path: Path,
           where: str) -> dict[str, object]:
    own = entry.get("campaign")
    missing = [key for key in MUST_SAY if not isinstance(own, dict) or key not in own]
    if missing:
        raise ConfigError(f"{config_path}：{where}campaign.{missing[0]}：缺少这个配置项"
                          f"（每个活动要写自己的 {'、'.join(MUST_SAY)}）")
    data = {key: value for key, value in top.items() if key not in OWN_ONLY}
    if "units" in entry or "units_file" in entry:  # a registry of its own replaces both
        data.pop("units", None)
        data.pop("units_file", None)
    for key, value in entry.items():
        inherited = data.get(key)
        if key in SECTIONS and isinstance(inherited, dict) and isinstance(value, dict):
            data[key] = {**inherited, **value}
        else:
            data[key] = value
    assert isinstance(own, dict)
    if "data_dir" not in entry:
        data["data_dir"] = str(Path(str(top.get("data_dir", "data"))) / "campaigns"
                               / folder_name(str(own["code"])))
    if "database" not in entry:
        shared = str(top.get("database", "sqlite:///"))
        if not shared.startswith("sqlite:"):
            raise ConfigError(
                f"{config_path}：{where}database：缺少这个配置项（第一个活动用的不是 SQLite，"
                f"每个活动要写明自己的数据库，例如另建一个 PostgreSQL 数据库）")
        data["database"] = f"sqlite:///{Path(str(data['data_dir'])) / 'formbot.db'}"
    return data


def folder_name(code: str) -> str:
    """杨工〔2019〕5号 → 杨工_2019_5号: readable, and safe on every file system."""
    return re.sub(r"[^\w.-]+", "_", code).strip("_.") or "campaign"


def keep_apart(campaigns: list[Settings], config_path: Path) -> None:
    """Refuse two campaigns sharing a code, a store or a mailbox folder."""
    seen: dict[object, str] = {}

    def claim(key: object, owner: str, what: str, fix: str) -> None:
        if key in seen and seen[key] != owner:
            raise ConfigError(f"{config_path}：活动 {owner} 和 {seen[key]} {what}；{fix}")
        seen[key] = owner

    for settings in campaigns:
        code = settings.campaign.code
        if ("code", code) in seen:
            raise ConfigError(f"{config_path}：活动编号 {code} 出现了两次；"
                              f"每个活动的 campaign.code 要不同")
        seen[("code", code)] = code
        claim(("data_dir", settings.data_dir.resolve()), code, "用了同一个 data_dir",
              "请给每个活动不同的 data_dir（或删掉这一项，用默认位置）")
        claim(("database", settings.database), code, "用了同一个数据库",
              "请给每个活动不同的 database（或删掉这一项，用默认位置）")
        for box in settings.all_mailboxes():
            claim(("mailbox", mailbox_key(box)), code,
                  f"收同一个邮箱文件夹（{box.username} 的 {box.folder}）",
                  "两个活动的表格相同，同一封邮件无法分给两个活动：请给每个活动单独的邮箱，"
                  "或在邮箱里设收信规则，把各活动的邮件分到不同文件夹（mailbox.folder）")


def find(campaigns: list[Settings], text: str) -> Settings:
    """The campaign whose code is TEXT, else the only one whose code or title holds it."""
    wanted = text.strip()
    for settings in campaigns:
        if settings.campaign.code == wanted:
            return settings
    hits = [s for s in campaigns if wanted and (wanted in s.campaign.code
                                                 or wanted in s.campaign.title)]
    codes = "、".join(s.campaign.code for s in campaigns)
    if not hits:
        raise ConfigError(f"--campaign {text}：配置中没有这个活动（可选：{codes}）")
    if len(hits) > 1:
        raise ConfigError(f"--campaign {text}：对应多个活动（"
                          f"{'、'.join(s.campaign.code for s in hits)}），请写得更完整")
    return hits[0]
