"""What a receipt (回执) says, from facts the pipeline gathered."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FormTaken:
    title: str
    rows: int
    files: tuple[str, ...]
    problems: tuple[str, ...] = ()
    unit: str = ""     # the unit it went to, when not the mail's own (another unit's form)


@dataclass(frozen=True)
class ReceiptFacts:
    campaign_code: str
    campaign_title: str
    deadline: str                      # e.g. 2018年6月15日
    contact: str
    unit_name: str | None              # the registry's name, None when not identified
    unit_text: str | None              # what the form said under 填报单位
    original_subject: str
    forms: tuple[FormTaken, ...] = ()
    unreadable: tuple[tuple[str, str], ...] = ()   # (file name, why)
    notes: tuple[str, ...] = ()        # other things the sender should know
    missing: tuple[str, ...] = ()      # form titles this unit has still not sent
    # When one mail carried several units' forms: (unit name, its titles still missing)
    # for each, instead of `missing`.
    missing_by_unit: tuple[tuple[str, tuple[str, ...]], ...] = ()
    all_forms: tuple[str, ...] = field(default=())

    @property
    def has_forms(self) -> bool:
        return bool(self.forms)


def receipt_subject(facts: ReceiptFacts) -> str:
    original = facts.original_subject.strip() or facts.campaign_code
    status = "已收到" if facts.has_forms else ("无需再报送" if not facts.missing and facts.unit_name
                                             and not facts.unreadable else "未能读取表格")
    return f"回执（{status}）：{original}"[:200]
