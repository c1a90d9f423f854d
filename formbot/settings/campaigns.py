"""Several campaigns in one config.yaml (`campaigns:`), each a whole Settings of its own.

The top level is the first campaign, exactly as CONTRACT.md describes it. Each entry
under `campaigns:` is another notice: it writes its own `campaign:` (code, title,
deadline) and its own mailbox folder, and inherits everything else it does not say —
section by section, key by key (`mailbox: {folder: 2019}` keeps the host and login).

Each campaign keeps its own store: the forms are the same, so one store could not tell
two notices' rows apart, and a finished campaign's folder can be archived whole. So an
entry names its own `data_dir` (never derived from its code or the first campaign's
folder: a corrected typo there would silently start an empty store and answer every
mail again), and its `database` defaults to a SQLite file in it. Two campaigns never
read the same folder: each would take the other's mail as its own.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from errors import ConfigError
from formbot.settings.config import Settings, mailbox_key

# Merged key by key; any other key an entry gives replaces the top level's value.
SECTIONS = ("mailbox", "smtp", "campaign", "schedule", "limits")
# Never inherited: the first campaign's extra mailboxes would be read twice, and its
# store is its own.
OWN_ONLY = ("mailboxes", "data_dir", "database")
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
    if "data_dir" not in entry:
        raise ConfigError(f"{config_path}：{where}data_dir：缺少这个配置项（每个活动要有自己的"
                          f"数据文件夹，例如 data_dir: data-2019；其中的数据库文件自动建立）")
    if "database" not in entry:
        data["database"] = f"sqlite:///{Path(str(entry['data_dir'])) / 'formbot.db'}"
    return data


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
              "请给每个活动不同的 data_dir")
        claim(("database", _store_key(settings.database)), code, "用了同一个数据库",
              "请给每个活动不同的 database")
        for box in settings.all_mailboxes():
            claim(("mailbox", mailbox_key(box)), code,
                  f"收同一个邮箱文件夹（{box.username} 的 {box.folder}）",
                  "两个活动的表格相同，同一封邮件无法分给两个活动：请给每个活动单独的邮箱，"
                  "或在邮箱里设收信规则，把各活动的邮件分到不同文件夹（mailbox.folder）")
    for settings in campaigns:
        for box in settings.all_mailboxes():
            if box.processed_folder is None:
                continue
            moved_to = mailbox_key(box.model_copy(update={"folder": box.processed_folder}))
            reader = seen.get(("mailbox", moved_to))
            if reader is not None and reader != settings.campaign.code:
                raise ConfigError(
                    f"{config_path}：活动 {settings.campaign.code} 把处理过的邮件移到 "
                    f"{box.processed_folder}，而活动 {reader} 正收这个文件夹，会再处理一遍；"
                    f"请换一个 processed_folder")


def _store_key(url: str) -> object:
    """One database however its URL is spelt: driver, host case and default port aside."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return (backend, str(Path(parsed.database).resolve()) if parsed.database else url)
    port = parsed.port or (5432 if backend == "postgresql" else None)
    return (backend, (parsed.host or "").lower(), port, parsed.database)


def _typed(text: str) -> str:
    """A code as typed on a command line: 〔2019〕, [2019] and (2019) are one."""
    return unicodedata.normalize("NFKC", text).strip().translate(_BRACKETS)


_BRACKETS = str.maketrans("〔【[〕】]", "((()))")


def find(campaigns: list[Settings], text: str) -> Settings:
    """The campaign whose code or title is TEXT, else the only one whose code or title
    holds it; brackets of any kind match (a terminal has no 〔〕 key)."""
    wanted = _typed(text)
    for settings in campaigns:
        if wanted in (_typed(settings.campaign.code), _typed(settings.campaign.title)):
            return settings
    hits = [s for s in campaigns if wanted and (wanted in _typed(s.campaign.code)
                                                 or wanted in _typed(s.campaign.title))]
    codes = "、".join(s.campaign.code for s in campaigns)
    if not hits:
        raise ConfigError(f"--campaign {text}：配置中没有这个活动（可选：{codes}）")
    if len(hits) > 1:
        raise ConfigError(f"--campaign {text}：对应多个活动（"
                          f"{'、'.join(s.campaign.code for s in hits)}），请写得更完整")
    return hits[0]
