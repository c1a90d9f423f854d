"""The database tables. Times are stored as aware UTC datetimes (ISO text in SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, Column, LargeBinary, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """SQLite forgets time zones; store UTC and hand back aware datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def _when(**kw: object) -> object:
    return Field(sa_column=Column(UTCDateTime(), **kw))  # type: ignore[arg-type]


def _json(default: object) -> object:
    return Field(default_factory=lambda: type(default)(), sa_column=Column(JSON, nullable=False))


class Unit(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    aliases: list[str] = _json([])  # type: ignore[assignment]
    emails: list[str] = _json([])  # type: ignore[assignment]
    source: str = "config"       # config | file | import
    active: bool = True          # gone from its source: kept for history, out of status


class KnownSender(SQLModel, table=True):
    """An address the admin confirmed for a unit when filing its mail by hand: later mail
    from it is that unit's, as if registered. Kept apart from `Unit.emails`, which
    config.yaml and the units file own and rewrite at every poll."""

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(unique=True, index=True)   # lower case
    unit_id: int = Field(foreign_key="unit.id", index=True)
    learned_at: datetime = _when(nullable=False)  # type: ignore[assignment]
    learned_by: str = ""
    message_ref: int | None = Field(default=None, foreign_key="message.id")


class FolderState(SQLModel, table=True):
    """Where polling stopped in one folder: the UIDs above `last_uid` are new."""

    __table_args__ = (UniqueConstraint("account", "folder"),)
    id: int | None = Field(default=None, primary_key=True)
    account: str
    folder: str
    # RFC 3501 UIDs and UIDVALIDITY are unsigned 32-bit: above PostgreSQL's INTEGER.
    uidvalidity: int = Field(sa_type=BigInteger)
    last_uid: int = Field(default=0, sa_type=BigInteger)


class Message(SQLModel, table=True):
    """Every message ever fetched, with or without a form, so none is fetched twice."""

    id: int | None = Field(default=None, primary_key=True)
    # Message-ID; `<id>#<digest part>` for a second, different mail with that Message-ID;
    # `content:<digest>` without one (`sha256:<raw sha256>` before 0005). formbot/poll/identity.py
    key: str = Field(unique=True, index=True)
    message_id: str | None = Field(default=None, index=True)
    # What the sender wrote (identity headers and body), not trace headers: two deliveries
    # of one mail have the same. NULL for mail recorded before 0005 (filled when needed).
    digest: str | None = Field(default=None, index=True)
    sha256: str = Field(index=True)
    raw_path: str
    size: int
    from_addr: str = Field(default="", index=True)
    from_name: str = ""
    subject: str = ""
    sent_at: datetime | None = _when(nullable=True)  # type: ignore[assignment]
    received_at: datetime = _when(nullable=False)  # type: ignore[assignment]
    status: str = Field(default="new", index=True)  # new | processed | failed | ignored
    outcome: str = ""        # why it was answered or not (receipt, no-form, auto-reply…)
    error: str | None = None
    attempts: int = 0
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    unit_text: str | None = None
    match_method: str | None = None
    sender_matches_unit: bool | None = None
    auth_results: str | None = None


class MailboxCopy(SQLModel, table=True):
    """A message's place on the IMAP server; a mailbox rebuild adds a second row."""

    __table_args__ = (UniqueConstraint("account", "folder", "uidvalidity", "uid"),)
    id: int | None = Field(default=None, primary_key=True)
    message_ref: int = Field(foreign_key="message.id", index=True)
    account: str
    folder: str
    uidvalidity: int = Field(sa_type=BigInteger)
    uid: int = Field(sa_type=BigInteger)
    handled: bool = False


class AttachmentRecord(SQLModel, table=True):
    __tablename__ = "attachment"
    id: int | None = Field(default=None, primary_key=True)
    message_ref: int = Field(foreign_key="message.id", index=True)
    name: str
    sha256: str
    size: int
    kind: str
    forms: str = ""                 # form keys found, comma-separated
    problem: str | None = None


class Submission(SQLModel, table=True):
    """One form as one message carried it. The latest per (unit, form) is current."""

    id: int | None = Field(default=None, primary_key=True)
    message_ref: int = Field(foreign_key="message.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    form: str = Field(index=True)
    received_at: datetime = _when(nullable=False)  # type: ignore[assignment]
    current: bool = Field(default=False, index=True)
    file_name: str = ""
    unit_text: str | None = None
    contact: str | None = None
    phone: str | None = None
    filled_on: str | None = None
    filled_on_raw: str | None = None
    row_count: int = 0
    problems: list[str] = _json([])  # type: ignore[assignment]
    extra_columns: list[str] = _json([])  # type: ignore[assignment]
    # Read from paper: "pdf" (a text layer) or "ocr" (a scan or photo); None for Office.
    source: str | None = None
    # The cells a person should check: {"row", "field", "text", "reasons", "page", "file",
    # "sentence"} (formbot/poll/paperwork.py).
    doubts: list[dict] = _json([])  # type: ignore[assignment]


# Values as JSON: JSONB on PostgreSQL (indexable, `->>` reads a field), JSON text on SQLite.
JSON_VALUES = JSON().with_variant(JSONB(), "postgresql")


class RowRecord(SQLModel, table=True):
    """A row of any form: its values by the declaration's column keys (`FieldSpec.columns`),
    the text as typed, and its problems. One table for every form, so a new notice needs
    no schema change; a view per form (`store/views.py`) shows it as a table."""

    __tablename__ = "form_row"
    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    form: str = Field(index=True)       # the form's key, as its submission's
    seq: int
    data: dict[str, object] = Field(default_factory=dict,
                                    sa_column=Column(JSON_VALUES, nullable=False))
    raw: dict[str, str] = Field(default_factory=dict,
                                sa_column=Column(JSON_VALUES, nullable=False))
    problems: list[str] = Field(default_factory=list,
                                sa_column=Column(JSON_VALUES, nullable=False))

    def value(self, column: str) -> object:
        return self.seq if column == "seq" else self.data.get(column)

    def __getitem__(self, column: str) -> object:
        # Templates read a row's cells as `row[column]`, whatever the form.
        return self.value(column)


class FormView(SQLModel, table=True):
    """A view this database holds for a form, and the SQL it was built from: when the
    declaration changes, the SQL differs and the views are built again."""

    __tablename__ = "form_view"
    name: str = Field(primary_key=True)
    form: str
    definition: str


class Outgoing(SQLModel, table=True):
    """The outbox: a mail is written here first, then sent; `dedup_key` makes it once-only."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)              # receipt | reminder | digest
    dedup_key: str = Field(unique=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    message_ref: int | None = Field(default=None, foreign_key="message.id")
    recipients: list[str] = _json([])  # type: ignore[assignment]
    subject: str = ""
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(default="pending", index=True)  # pending | sent | failed | dropped
    attempts: int = 0
    last_error: str | None = None   # a Chinese sentence for the admin, never a repr
    created_at: datetime = _when(nullable=False)  # type: ignore[assignment]
    sent_at: datetime | None = _when(nullable=True)  # type: ignore[assignment]
    # A temporarily refused mail waits until then (back-off); null: due now.
    next_attempt_at: datetime | None = _when(nullable=True)  # type: ignore[assignment]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Lease(SQLModel, table=True):
    """A named lock with an expiry, held in the database so it binds every worker that
    shares it (two `formbot poll` at once, or two machines on one PostgreSQL)."""

    name: str = Field(primary_key=True)
    owner: str
    expires_at: datetime = _when(nullable=False)  # type: ignore[assignment]
