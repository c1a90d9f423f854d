"""config.yaml → a Config: every campaign's validated Settings, relative paths resolved
from the file's folder, and the rules that keep campaigns apart applied."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from errors import ConfigError
from formbot.settings.campaigns import entries, find, keep_apart
from formbot.settings.config import DEFAULT_PATH, Settings, validate
from formbot.settings.configerrors import ConfigLoader
from parsers.errors import DeclarationError


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """The config's campaign (`campaign:`): what every single-campaign command works on."""
    return load_config(path).primary


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the config with every campaign it declares (`campaigns:`).

    Relative paths are taken from the config's folder. A wrong key in any campaign
    refuses the whole file, so no command runs on half a config.
    """
    config_path = Path(path or os.environ.get("FORMBOT_CONFIG") or DEFAULT_PATH)
    data = _read(config_path)
    more = data.pop("campaigns", None)
    base = config_path.resolve().parent
    primary = _with_forms(_resolved(validate(data, config_path), base), config_path)
    others = [_with_forms(_resolved(validate(entry, config_path, where=where), base),
                          config_path, where)
              for where, entry in entries(data, more, config_path)]
    campaigns = [primary, *others]
    keep_apart(campaigns, config_path)
    for settings in campaigns:
        settings._siblings = tuple(address for other in campaigns if other is not settings
                                   for address in other.addresses())
    return Config(config_path, campaigns)


class Config:
    """Every campaign of one config.yaml, `campaign:` first."""

    def __init__(self, path: Path, campaigns: list[Settings]) -> None:
        self.path = path
        self.campaigns = campaigns

    @property
    def primary(self) -> Settings:
        return self.campaigns[0]

    def select(self, text: str | None) -> Settings:
        """`--campaign TEXT`: the campaign whose code or title is, or alone contains, TEXT."""
        return self.primary if text is None else find(self.campaigns, text)

    def chosen(self, text: str | None) -> list[Settings]:
        """Every campaign, or the one `--campaign TEXT` names (poll, remind, run, doctor)."""
        return list(self.campaigns) if text is None else [self.select(text)]


def _read(config_path: Path) -> dict[str, object]:
    if not config_path.is_file():
        raise ConfigError(
            f"找不到配置文件 {config_path}（用 --config 指定，或设置 FORMBOT_CONFIG）"
        )
    try:
        # Dates stay text here: pydantic refuses a wrong one with a sentence (configerrors).
        data = yaml.load(config_path.read_text(encoding="utf-8"), Loader=ConfigLoader)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{config_path}：文件不是 UTF-8 编码，请用 UTF-8 保存") from exc
    except yaml.YAMLError as exc:
        # One line: the CLI prints this sentence as it is, and PyYAML's own text spans
        # several lines with a caret drawing.
        mark = getattr(exc, "problem_mark", None)
        where = f"第{mark.line + 1}行第{mark.column + 1}列：" if mark is not None else ""
        detail = getattr(exc, "problem", None) or str(exc)
        detail = " ".join(str(detail).split())
        raise ConfigError(f"{config_path}：不是有效的 YAML（{where}{detail}）") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{config_path}：内容应为键值对（mailbox:、smtp:、campaign: …）")
    return data


def _resolved(settings: Settings, base: Path) -> Settings:
    updates: dict[str, object] = {}
    if not settings.data_dir.is_absolute():
        updates["data_dir"] = base / settings.data_dir
    if settings.units_file and not settings.units_file.is_absolute():
        updates["units_file"] = base / settings.units_file
    if settings.database.startswith("sqlite:///") and not settings.database.startswith(
        ("sqlite:////", "sqlite:///:memory:")
    ):
        updates["database"] = "sqlite:///" + str(base / settings.database.removeprefix("sqlite:///"))
    return settings.model_copy(update=updates)


def _with_forms(settings: Settings, config_path: Path, where: str = "") -> Settings:
    """Read and check `campaign.forms`: a list in config.yaml (templates relative to it)
    or a file beside it (templates relative to that file)."""
    from parsers.declare import parse_declarations, read_declarations

    declared = settings.campaign.forms
    if declared is None:
        return settings
    try:
        if isinstance(declared, str):
            path = Path(declared)
            path = path if path.is_absolute() else config_path.resolve().parent / path
            if not path.is_file():
                raise ConfigError(f"{config_path}：{where}campaign.forms：找不到表格声明文件 "
                                  f"{path}（路径相对于配置文件所在的文件夹）")
            settings._forms = read_declarations(path)
        else:
            settings._forms = parse_declarations(declared, source=config_path,
                                                 where=f"{where}campaign.forms")
    except DeclarationError as exc:
        raise ConfigError(str(exc)) from None
    return settings
