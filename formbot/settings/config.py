"""config.yaml → validated settings, refused at start with the file, the key and what is wanted."""

from __future__ import annotations

import os
import re
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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

from errors import ConfigError
from formbot.settings.configerrors import describe
from parsers.builtin import builtin_forms
from parsers.limits import (
    DEFAULT_ATTACHMENT_MB,
    DEFAULT_MESSAGE_MB,
    DEFAULT_PARSE_SECONDS,
    DEFAULT_PARTS,
    DEFAULT_UNPACKED_MB,
    HARD_MAX_PARTS,
)
from parsers.specs import FormSpec

DEFAULT_PATH = "config.yaml"




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
    # The notice's forms: a list of declarations, or a YAML file of them beside config.yaml
    # (CONTRACT.md `campaign.forms`); checked by load_config, read through Settings.forms.
    forms: list[object] | str | None = None

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
    # The campaign's checked form declarations (set by load_config from campaign.forms).
    _forms: tuple[FormSpec, ...] | None = PrivateAttr(default=None)

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

    @property
    def forms(self) -> tuple[FormSpec, ...]:
        """The forms this campaign collects, in declared order: `campaign.forms`, else the
        built-in two of 杨工〔2018〕14号."""
        return self._forms if self._forms is not None else builtin_forms()

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


def validate(data: dict[str, object], config_path: Path, *, where: str = "") -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "；".join(describe(e) for e in exc.errors())  # type: ignore[arg-type]
        raise ConfigError(f"{config_path}：{where}{problems}") from None
