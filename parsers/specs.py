"""The forms of a campaign, each declared once, as data.

A declaration (CONTRACT.md, `campaign.forms`) drives everything downstream: which
table is which form (its header words and title words), how a cell is read (its
kind), what is flagged (required, length limits, options), and which export headers
show it. The declarations are YAML read by `declare.py`; without any, a campaign has
the two forms of 杨工〔2018〕14号, shipped as `declarations/yangpu-2018-14.yaml`.
The next notice is a new declaration, never a code change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

FieldKind = Literal["seq", "text", "count", "number", "money", "date", "leader", "phone",
                    "idcard", "choice", "yesno"]
# What a declaration may name (`seq`, the 序号 column, is every form's and never declared).
KINDS: tuple[str, ...] = ("text", "count", "number", "money", "date", "leader", "phone",
                          "idcard", "choice", "yesno")
MONEY_UNITS: tuple[str, ...] = ("元", "万元")
BUILTIN_PATH = Path(__file__).with_name("declarations") / "yangpu-2018-14.yaml"


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str                          # the header as the notice prints it, without （…字内）
    kind: FieldKind = "text"
    aliases: tuple[str, ...] = ()       # other headers clerks use for the same column
    max_len: int | None = None          # characters, as the notice's （100字内）
    required: bool = False              # a row without it is a problem, not silently kept
    # A leader may be split over two columns (负责人 above 姓名 | 职务): the headers that
    # name each part, by part ("name", "title"). Alone, such a header is the whole field
    # when it is also among the label and aliases; else (职务) it names only the part.
    parts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    export: tuple[str, ...] = ()        # export headers; default: the label (a leader: two)
    options: tuple[str, ...] = ()       # choice: the values allowed
    unit: str | None = None             # money: 元 or 万元, the unit values are kept in

    @property
    def columns(self) -> tuple[str, ...]:
        """Value keys this field fills (a leader is two: name and title)."""
        if self.kind == "leader":
            return (f"{self.key}_name", f"{self.key}_title")
        return (self.key,)

    @property
    def export_headers(self) -> tuple[str, ...]:
        if self.export:
            return self.export
        if self.kind == "leader":
            return ("负责人姓名", "负责人职务")
        return (self.label,)


@dataclass(frozen=True)
class FormSpec:
    key: str                 # identifier in status JSON and the store
    title: str               # the form's full title, as in the notice
    short: str               # how receipts and the export name it (the sheet name)
    title_words: tuple[str, ...]
    fields: tuple[FieldSpec, ...]
    attachment: str | None = None   # how the notice numbers it: 附件1
    template: str | None = None     # the blank form's path, resolved against its declaration

    @property
    def data_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.kind != "seq")

    def field(self, key: str) -> FieldSpec:
        return next(f for f in self.fields if f.key == key)

    @property
    def names(self) -> tuple[str, ...]:
        """Every way a text may name this form: its title, short name, title words and
        attachment label (a mail naming one is about the campaign)."""
        named = (self.title, self.short, *self.title_words, self.attachment or "")
        return tuple(dict.fromkeys(n for n in named if n))


SEQ = FieldSpec("seq", "序号", kind="seq", aliases=("编号", "序"))
