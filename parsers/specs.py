"""The forms of the campaign, each declared once.

A declaration drives everything downstream: which table is which form (its
header words), how a cell is read (its kind), what is flagged (length
limits), which store column holds it and which export header shows it.
Next year's form is one more `FormSpec` here plus its row table in `store/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["seq", "text", "count", "date", "leader"]


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

    @property
    def columns(self) -> tuple[str, ...]:
        """Store columns this field fills (a leader is two: name and title)."""
        if self.kind == "leader":
            return (f"{self.key}_name", f"{self.key}_title")
        return (self.key,)

    @property
    def export_headers(self) -> tuple[str, ...]:
        if self.kind == "leader":
            return ("负责人姓名", "负责人职务")
        return (self.label,)


@dataclass(frozen=True)
class FormSpec:
    key: str                 # identifier in status JSON and the store
    title: str               # the form's full title, as in the notice
    short: str               # how receipts and the export name it
    title_words: tuple[str, ...]
    fields: tuple[FieldSpec, ...]

    @property
    def data_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.kind != "seq")

    def field(self, key: str) -> FieldSpec:
        return next(f for f in self.fields if f.key == key)


SEQ = FieldSpec("seq", "序号", kind="seq", aliases=("编号", "序"))

ACTIVITY = FormSpec(
    key="activity",
    title="“弘扬劳模精神，建功‘创新杨浦’”主题活动申报表",
    short="主题活动申报表",
    title_words=("主题活动申报表", "主题活动"),
    fields=(
        SEQ,
        FieldSpec("name", "活动名称", aliases=("活动主题", "项目名称"), required=True),
        FieldSpec("form", "活动形式", aliases=("形式",)),
        FieldSpec("schedule", "时间安排", aliases=("活动时间", "时间")),
        FieldSpec("content", "主要内容和形式", max_len=100,
                  aliases=("主要内容及形式", "主要内容", "活动内容", "内容和形式")),
        FieldSpec("participants", "参与人数", kind="count",
                  aliases=("参加人数", "人数", "参与人次")),
    ),
)

VOLUNTEER_TEAM = FormSpec(
    key="volunteer_team",
    title="杨浦职工志愿者服务队登记表",
    short="志愿者服务队登记表",
    title_words=("志愿者服务队登记表", "服务队登记表", "志愿者服务队"),
    fields=(
        SEQ,
        FieldSpec("team_name", "登记服务队名称",
                  aliases=("服务队名称", "队伍名称", "志愿者服务队名称"), required=True),
        FieldSpec("leader", "负责人姓名及职务", kind="leader",
                  aliases=("负责人姓名和职务", "负责人及职务", "负责人姓名", "负责人",
                           "负责人职务", "负责人职位"),
                  # bare 职务 beside a name column (负责人姓名 | 职务) is the title; alone it
                  # is no leader column: a part-only header (forms.py)
                  parts=(("name", ("负责人姓名", "负责人")),
                         ("title", ("负责人职务", "负责人职位", "职务", "职位")))),
        FieldSpec("size", "服务队人数", kind="count", aliases=("队员人数", "人数")),
        FieldSpec("founded", "服务队组建时间", kind="date", aliases=("组建时间", "成立时间")),
        FieldSpec("service", "服务内容", max_len=50, aliases=("服务项目",)),
        FieldSpec("results", "服务成效简介", max_len=100, aliases=("服务成效", "成效简介")),
    ),
)

FORMS: tuple[FormSpec, ...] = (ACTIVITY, VOLUNTEER_TEAM)


def form_by_key(key: str) -> FormSpec:
    return next(f for f in FORMS if f.key == key)
