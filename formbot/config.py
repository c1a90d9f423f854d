"""config.yaml → validated settings, refused at start with the file, the key and what is wanted."""

from __future__ import annotations

import os
import re
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from parsers.errors import FormbotError
from parsers.limits import (
    DEFAULT_ATTACHMENT_MB,
    DEFAULT_MESSAGE_MB,
    DEFAULT_PARSE_SECONDS,
    DEFAULT_PARTS,
    DEFAULT_UNPACKED_MB,
    HARD_MAX_PARTS,
)

DEFAULT_PATH = "config.yaml"


class ConfigError(FormbotError):
    """config.yaml is missing, unreadable or wrong; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Email = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True,
                                         pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class ServerSettings(_Strict):
    host: str
    port: int = Field(ge=1, le=65535)
    security: Literal["ssl", "starttls", "plain"] = "ssl"
    username: str
    password_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timeout: float = Field(default=60, gt=0)

    def password(self) -> str:
        value = os.environ.get(self.password_env)
        if not value:
            raise ConfigError(
                f"环境变量 {self.password_env} 未设置：请把邮箱密码（126/163 为客户端授权码）"
                f"放进这个环境变量（配置项 password_env）"
            )
        return value


class MailboxSettings(ServerSettings):
    folder: str = "INBOX"
    processed_folder: str | None = None
    batch_size: int = Field(default=50, ge=1, le=1000)
    max_attempts: int = Field(default=5, ge=1, le=100)


class SmtpSettings(ServerSettings):
    from_address: Email
    from_name: str = ""


class CampaignSettings(_Strict):
    code: str
    title: str
    deadline: date
    timezone: str = "Asia/Shanghai"
    reminders: list[int] = Field(default_factory=lambda: [-7, -3, -1, 1])
    contact: str = ""
    admin_emails: list[Email] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"未知的时区 {value!r}（例如 Asia/Shanghai）") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class UnitSettings(_Strict):
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    emails: list[Email] = Field(default_factory=list)


class LimitSettings(_Strict):
    """Safety limits; the defaults suit a union mailbox and rarely need changing.

    A mail over `max_message_mb` is kept raw and recorded but not opened, and its sender
    is told; a file over `max_attachment_mb`, or one that unpacks (zip, .docx/.xlsx) to
    more than `max_unpacked_mb`, is named in the receipt as not read. A mail that takes
    longer than `parse_seconds` to read is stopped and recorded as failed (retried on
    the next polls, then shown in `formbot status`).
    """

    receipts_per_sender_per_day: int = Field(default=20, ge=1, le=10000)
    # An address no unit registered or the admin confirmed: a stranger, maybe forged.
    receipts_per_stranger_per_day: int = Field(default=3, ge=0, le=10000)
    max_message_mb: float = Field(default=DEFAULT_MESSAGE_MB, gt=0, le=1024)
    max_attachment_mb: float = Field(default=DEFAULT_ATTACHMENT_MB, gt=0, le=1024)
    max_unpacked_mb: float = Field(default=DEFAULT_UNPACKED_MB, gt=0, le=1024)
    max_parts: int = Field(default=DEFAULT_PARTS, ge=10, le=HARD_MAX_PARTS)
    parse_seconds: float = Field(default=DEFAULT_PARSE_SECONDS, ge=1, le=3600)


class ScheduleSettings(_Strict):
    poll_minutes: int = Field(default=5, ge=1, le=1440)
    remind_time: str = "09:00"

    @field_validator("remind_time", mode="before")
    @classmethod
    def _sexagesimal(cls, value: object) -> object:
        # YAML 1.1 reads an unquoted `9:00` as the base-60 integer 540 (`09:00`, with
        # its leading zero, stays a string): turn it back into the time it was.
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
            return f"{value // 60:02d}:{value % 60:02d}"
        return value

    @field_validator("remind_time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not re.fullmatch(r"\d{1,2}:\d{2}", value):
            raise ValueError("应为 HH:MM，例如 \"09:00\"")
        time.fromisoformat(value.zfill(5))
        return value

    @property
    def remind_at(self) -> time:
        return time.fromisoformat(self.remind_time.zfill(5))


class Settings(_Strict):
    mailbox: MailboxSettings
    # More mailboxes polled into the same store (e.g. a second address units also write
    # to); each keeps its own place, and a mail sent to several is stored once.
    mailboxes: list[MailboxSettings] = Field(default_factory=list)
    smtp: SmtpSettings
    database: str = "sqlite:///data/formbot.db"
    data_dir: Path = Path("data")
    campaign: CampaignSettings
    units: list[UnitSettings] = Field(default_factory=list)
    units_file: Path | None = None
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    # The other campaigns' addresses in the same config (set by load_config).
    _siblings: tuple[str, ...] = PrivateAttr(default=())

    # A field validator, not a model one: the error then names `units`, not the
    # whole file (and does not echo the whole config back as "当前值").
    @field_validator("units")
    @classmethod
    def _unique_units(cls, units: list[UnitSettings]) -> list[UnitSettings]:
        names = [u.name for u in units]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"单位重复：{'、'.join(duplicates)}")
        return units

    @field_validator("mailboxes")
    @classmethod
    def _distinct_mailboxes(cls, extra: list[MailboxSettings],
                            info: ValidationInfo) -> list[MailboxSettings]:
        # The same folder twice would make two polls race for it under two leases.
        first = info.data.get("mailbox")
        seen = {mailbox_key(first)} if first is not None else set()
        for box in extra:
            key = mailbox_key(box)
            if key in seen:
                raise ValueError(f"邮箱重复：{box.username}@{box.host} 的 {box.folder} "
                                 f"已在 mailbox 或 mailboxes 中出现过")
            seen.add(key)
        return extra

    def all_mailboxes(self) -> list[MailboxSettings]:
        """`mailbox:` first, then the optional `mailboxes:` list."""
        return [self.mailbox, *self.mailboxes]

    def addresses(self) -> list[str]:
        """The addresses this campaign reads or sends as."""
        return [self.smtp.from_address, *(box.username for box in self.all_mailboxes())]

    def own_addresses(self) -> list[str]:
        """Every address the bot reads or sends as, in this campaign and the config's
        others: mail from them is never answered, so two campaigns cannot loop."""
        own = self.addresses()
        return own + [a for a in self._siblings if a not in own]


def mailbox_key(box: MailboxSettings) -> tuple[str, int, str, str]:
    """One folder on one account: what two polls must never share. INBOX is one folder
    in any case (RFC 3501); other names are case-sensitive."""
    folder = "INBOX" if box.folder.upper() == "INBOX" else box.folder
    return (box.host.lower(), box.port, box.username.lower(), folder)


def _describe(error: dict[str, object]) -> str:
    key = ".".join(str(p) for p in error["loc"]) or "(整个文件)"  # type: ignore[union-attr]
    kind = str(error["type"])
    if kind == "missing":
        return f"{key}：缺少这个配置项"
    if kind == "extra_forbidden":
        return f"{key}：未知的配置项（是否拼写错误？）"
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if isinstance(value, dict | list):
        return f"{key}：{message}"  # a whole section would drown the sentence
    return f"{key}：{message}（当前值 {value!r}）"


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """The config's campaign (`campaign:`): what every single-campaign command works on."""
    return load_config(path).primary


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the config with every campaign it declares (`campaigns:`).

    Relative paths are taken from the config's folder. A wrong key in any campaign
    refuses the whole file, so no command runs on half a config.
    """
    from .campaigns import entries, keep_apart

    config_path = Path(path or os.environ.get("FORMBOT_CONFIG") or DEFAULT_PATH)
    data = _read(config_path)
    more = data.pop("campaigns", None)
    base = config_path.resolve().parent
    primary = _resolved(_validate(data, config_path), base)
    others = [_resolved(_validate(entry, config_path, where=where), base)
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
        from .campaigns import find

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
        data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
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


def _validate(data: dict[str, object], config_path: Path, *, where: str = "") -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "；".join(_describe(e) for e in exc.errors())  # type: ignore[arg-type]
        raise ConfigError(f"{config_path}：{where}{problems}") from None


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
